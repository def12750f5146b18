"""Argument checks with one message style, used by every public function of utils.

Each check returns the value it accepted (converted: an int, a float, a float64 array) or raises
a ValueError that reads ``<function>: <argument> must be <what was expected>, got <what came>``,
so a student sees which call and which argument to fix, never a traceback from deep inside numpy
or torch. This module imports only numpy, so every other module of utils may use it.
"""
import math
import numbers

import numpy as np


def shown(value):
    """A short description of a value for an error message (arrays show shape, not contents)."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def positive_int(fname, name, value, maximum=None):
    """``value`` as an int, or ValueError unless it is an integer in [1, maximum]."""
    return int_in_range(fname, name, value, 1, maximum)


def int_in_range(fname, name, value, low, high=None):
    """``value`` as an int, or ValueError unless it is an integer with low <= value <= high.

    high: None for no upper limit. Booleans are refused (True is not a length).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < low or (high is not None and value > high):
        wanted = (f"an integer between {low} and {high}" if high is not None
                  else "a positive integer" if low == 1 else f"an integer >= {low}")
        raise ValueError(f"{fname}: {name} must be {wanted}, got {shown(value)}")
    return int(value)


def finite_number(fname, name, value, low=None, high=None, low_open=False):
    """``value`` as a float, or ValueError unless it is a finite real number in the range.

    low, high: optional bounds (inclusive); low_open=True makes the lower bound strict (> low).
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        parts = ["a finite number"]
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            parts.append(f"<= {high}")
        raise ValueError(f"{fname}: {name} must be {' '.join(parts)}, got {shown(value)}")
    return float(value)


def positive_number(fname, name, value):
    """``value`` as a float, or ValueError unless it is finite and > 0."""
    return finite_number(fname, name, value, low=0, low_open=True)


def temperature(fname, value):
    """A sampling temperature as a float: finite and > 0 (greedy decoding is 'temperature 0')."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) \
        and math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{fname}: temperature must be a finite number > 0, got {shown(value)} "
                         "(for 'temperature 0' use greedy/argmax decoding)")
    return float(value)


def one_of(fname, name, value, choices):
    """``value`` unchanged, or ValueError unless it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{fname}: {name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {shown(value)}")
    return value


def non_empty_str(fname, name, value):
    """``value`` unchanged, or ValueError unless it is a non-empty str."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{fname}: {name} must be a non-empty string, got {shown(value)}")
    return value


def float_array(fname, name, value, ndim=None, shape=None, finite=True):
    """``value`` as a float64 numpy array, checked.

    ndim: required number of axes (or None). shape: required shape, a tuple whose entries are
    ints or None (any size on that axis); a string per axis name is allowed too and is only
    used in the message, e.g. ``shape=(None, "T", 3)`` is written ``(N, T, 3)``.
    finite: refuse NaN and inf.
    """
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        raw = np.asarray(value)  # "1.5" would convert to 1.5: refuse text before converting
        array = raw.astype(np.float64, copy=False) if raw.dtype.kind in "biuf" else None
    except (TypeError, ValueError):
        array = None
    if array is None:
        raise ValueError(f"{fname}: {name} must be an array of numbers, got {shown(value)}")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and array.ndim != ndim:
        wanted = _shape_text(shape) if shape is not None else f"{ndim}-D"
        raise ValueError(f"{fname}: {name} must have shape {wanted}, got shape {array.shape}")
    if shape is not None:
        for axis, size in enumerate(shape):
            if isinstance(size, numbers.Integral) and array.shape[axis] != size:
                raise ValueError(f"{fname}: {name} must have shape {_shape_text(shape)}, "
                                 f"got shape {array.shape}")
    if finite and array.size and not np.all(np.isfinite(array)):
        raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
    return array


def probability_vector(fname, name, value):
    """``value`` as a 1-D float64 array of non-negative numbers summing to 1, checked."""
    probs = float_array(fname, name, value)
    if probs.ndim != 1 or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"{fname}: {name} must be a 1-D probability vector summing to 1")
    return probs


def int_array(fname, name, value, ndim=None, low=None, high=None):
    """``value`` as an int64 numpy array of whole numbers in [low, high), checked."""
    array = np.asarray(value)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{fname}: {name} must hold integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{fname}: {name} must be {ndim}-D, got shape {array.shape}")
    if array.size and ((low is not None and array.min() < low) or (high is not None and array.max() >= high)):
        raise ValueError(f"{fname}: {name} must lie in [{low}, {high}), got values from "
                         f"{array.min()} to {array.max()}")
    return array


def same_shape(fname, names, *arrays):
    """ValueError unless all arrays have the same shape; ``names`` is e.g. ('x', 'dx')."""
    shapes = [tuple(np.shape(a)) for a in arrays]
    if len(set(shapes)) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{fname}: {' and '.join(names)} must have the same shape, got {listed}")


def _shape_text(shape):
    letters = iter("NTDHVLKM")
    out = []
    for size in shape:
        if isinstance(size, numbers.Integral):
            out.append(str(size))
        elif isinstance(size, str):
            out.append(size)
        else:
            out.append(next(letters, "?"))
    return "(" + ", ".join(out) + ("," if len(out) == 1 else "") + ")"


def expect_shape(fname, name, array, shape):
    """ValueError unless ``array`` is a non-empty array of finite numbers with ``shape``.

    shape: a tuple of ints or None (any size on that axis). Works on numpy arrays and torch
    tensors without copying them. The message prints the wanted shape with ``?`` for free
    axes, e.g. ``(?, 12)``.
    """
    got = tuple(np.shape(array))
    if len(got) != len(shape) or any(s is not None and a != s for a, s in zip(got, shape)):
        wanted = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{fname}: {name} must have shape {wanted}, got {got}")
    finite_numbers(fname, name, array)
    if 0 in got:
        raise ValueError(f"{fname}: {name} must not be empty, got shape {got}")


def finite_numbers(fname, name, array):
    """ValueError unless ``array`` (numpy, torch or nested lists) holds only finite numbers."""
    if hasattr(array, "isfinite") and hasattr(array, "is_floating_point"):  # a torch tensor
        if array.is_floating_point() and array.numel() and not bool(array.isfinite().all()):
            raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
        return
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{fname}: {name} must hold numbers, got dtype {values.dtype}")
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")


def seed(fname, value, name="seed"):
    """A random seed as an int: a whole number in [0, 2**32 - 1], what numpy and torch accept."""
    return int_in_range(fname, name, value, 0, 2 ** 32 - 1)


class WrongType(TypeError, ValueError):
    """A value of the wrong kind (a str where numbers belong...): both a TypeError and a ValueError."""


def matrix(fname, name, W, square=True):
    """``W`` (numpy or torch) as a finite float64 2-D numpy array; square unless square=False."""
    W = float_array(fname, name, W)
    if W.ndim != 2 or (square and W.shape[0] != W.shape[1]) or W.size == 0:
        raise ValueError(f"{fname}: {name} must be a non-empty {'square ' if square else ''}2-D matrix, "
                         f"got shape {W.shape}")
    return W


def choice_of_cell(fname, cell, cells=("vanilla", "lstm", "gru")):
    """The recurrent cell name, one of the course's names ('vanilla', 'lstm', 'gru')."""
    return one_of(fname, "cell", cell, cells)
