import numpy as np
import pytest

from utils.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


def test_rel_error_zero_for_equal_and_scale_free():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, a * (1 + 1e-6)) == pytest.approx(rel_error(1e3 * a, 1e3 * a * (1 + 1e-6)))
    with pytest.raises(ValueError, match=r"^rel_error: y must have shape \(\.\.\.\) = \(3,\), got \(2,\)$"):
        rel_error(a, a[:2])


def test_numerical_gradient_of_scalar_function_matches_analytic():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    A = rng.normal(size=(4, 4))
    f = lambda z: float(np.sum(np.tanh(z @ A) ** 2))
    t = np.tanh(x @ A)
    analytic = (2 * t * (1 - t ** 2)) @ A.T
    x_before = x.copy()
    numeric = eval_numerical_gradient(f, x)
    assert rel_error(numeric, analytic) < 1e-7
    np.testing.assert_array_equal(x, x_before)  # restored


def test_numerical_gradient_array_matches_analytic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5))
    W = rng.normal(size=(5, 3))
    dout = rng.normal(size=(2, 3))
    numeric = eval_numerical_gradient_array(lambda z: z @ W, x, dout)
    assert rel_error(numeric, dout @ W.T) < 1e-8


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="float numpy array"):
        eval_numerical_gradient(lambda z: z.sum(), np.arange(3))


def test_numerical_gradient_array_reports_shape_mismatch():
    with pytest.raises(ValueError, match=r"^eval_numerical_gradient_array: dout must have shape "
                                         r"\(\.\.\.\) = \(3,\), got \(4,\)$"):
        eval_numerical_gradient_array(lambda z: z * 2, np.ones(3), np.ones(4))
