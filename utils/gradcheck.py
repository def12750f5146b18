"""Numerical gradients by centred finite differences, and the relative error used by checks.

These are how every backward pass in the course is verified: compare the analytic gradient
with (f(x + h) - f(x - h)) / 2h, coordinate by coordinate.
"""
import numpy as np

from utils import validate


def rel_error(x, y, eps=1e-8):
    """Largest elementwise relative error max |x - y| / max(eps, |x| + |y|) between two arrays.

    x, y: arrays of the same shape (any shape). Returns a python float.
    """
    x = validate.float_array("rel_error", "x", x)
    y = validate.float_array("rel_error", "y", y)
    validate.shapes("rel_error", "x: ..., y: ...", x, y)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def _check_float_array(x, fname):
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise validate.WrongType(f"{fname}: x must be a float numpy array (it is perturbed in place), "
                        f"got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"{fname}: x must be a non-empty array of finite numbers, got shape "
                         f"{x.shape}" + ("" if x.size == 0 else " with NaN or inf"))


def _centred_differences(f, x, h):
    """Yield (index, f(x + h e_i), f(x - h e_i)) for every coordinate i of x, restoring x."""
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        plus = f(x)
        x[ix] = old - h
        minus = f(x)
        x[ix] = old
        yield ix, plus, minus
        it.iternext()


def eval_numerical_gradient(f, x, h=1e-5):
    """Numerical gradient of a scalar function at x.

    f: function taking the array x (it is perturbed in place) and returning a float.
    x: float array of any shape; restored to its original values on return.
    Returns: array of the same shape as x, df/dx.
    """
    _check_float_array(x, "eval_numerical_gradient")
    grad = np.zeros_like(x)
    for ix, plus, minus in _centred_differences(lambda z: float(f(z)), x, h):
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f, x, dout, h=1e-5):
    """Numerical gradient of an array-valued function, contracted with an upstream gradient.

    f: function taking x and returning an array ``out`` (any shape).
    x: float array of any shape; restored on return.
    dout: upstream gradient dL/dout, same shape as f(x).
    Returns: array of the same shape as x, dL/dx = sum(dout * dout/dx).
    """
    _check_float_array(x, "eval_numerical_gradient_array")
    dout = np.asarray(dout)
    grad = np.zeros_like(x)
    copy_out = lambda z: np.array(f(z), dtype=np.float64, copy=True)  # f may reuse its buffer
    for ix, plus, minus in _centred_differences(copy_out, x, h):
        validate.shapes("eval_numerical_gradient_array", "f(x): ..., dout: ...", plus, dout, finite=False)
        grad[ix] = np.sum((plus - minus) * dout) / (2 * h)
    return grad
