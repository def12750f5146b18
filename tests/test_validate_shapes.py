"""utils.validate.shapes: the one shape check of utils (one line at the top of a function)."""
import re

import numpy as np
import pytest
import torch

from utils import validate

RNN_STEP = "x: N D, prev_h: N H, Wx: D H, Wh: H H, b: H"


def rnn_step_arrays(N=2, D=3, H=4):
    return np.ones((N, D)), np.ones((N, H)), np.ones((D, H)), np.ones((H, H)), np.ones(H)


def refused(spec, *arrays, **options):
    with pytest.raises(ValueError) as info:
        validate.shapes("f", spec, *arrays, **options)
    return str(info.value)


def test_consistent_sizes_are_returned_in_the_order_the_spec_names_them():
    assert validate.shapes("rnn_step_forward", RNN_STEP, *rnn_step_arrays()) == (2, 3, 4)
    assert validate.shapes("f", "Wx: D 4H, b: 4H", np.ones((3, 20)), np.ones(20)) == (3, 5)
    assert validate.shapes("f", "image: S S 3", np.zeros((8, 8, 3), dtype=np.uint8)) == (8,)
    assert validate.shapes("f", "dh: N T H", np.ones((2, 5, 3)), T=5) == (2, 5, 3)
    assert validate.shapes("f", "x: N D, h0: N H", np.ones((2, 3)), None) == (2, 3, None)
    tensors = [torch.ones(s) for s in [(2, 3), (2, 4), (3, 4), (4, 4), (4,)]]
    assert validate.shapes("f", RNN_STEP, *tensors, kind="torch") == (2, 3, 4)
    assert validate.shapes("f", "scores: ... V", np.ones((2, 3, 5))) == (5,)


def test_the_message_format():
    x, prev_h, Wx, _, b = rnn_step_arrays()
    message = refused(RNN_STEP, x, prev_h, Wx, np.ones((4, 5)), b).replace("f:", "rnn_step_forward:", 1)
    assert message == "rnn_step_forward: Wh must have shape (H, H) = (4, 4), got (4, 5)"
    with pytest.raises(ValueError, match=re.escape(
            "rnn_step_forward: Wh must have shape (H, H) = (4, 4), got (4, 5)")):
        validate.shapes("rnn_step_forward", RNN_STEP, x, prev_h, Wx, np.ones((4, 5)), b)


def test_a_named_size_that_differs_between_two_arguments():
    x, prev_h, Wx, Wh, b = rnn_step_arrays()
    assert refused(RNN_STEP, x, np.ones((3, 4)), Wx, Wh, b) == "f: prev_h must have shape (N, H) = (2, 4), got (3, 4)"
    assert refused(RNN_STEP, x, prev_h, Wx, Wh, np.ones(5)) == "f: b must have shape (H,) = (4,), got (5,)"
    assert refused("Wh: H 4H", np.ones((5, 18))) == "f: Wh must have shape (H, 4H) = (5, 20), got (5, 18)"
    assert refused("dh: N T H", np.ones((2, 4, 3)), T=5) == "f: dh must have shape (N, T, H) = (2, 5, 3), got (2, 4, 3)"
    assert refused("x: ..., y: ...", np.ones((2, 3)), np.ones(3)) == "f: y must have shape (...) = (2, 3), got (3,)"


def test_a_wrong_rank():
    x, prev_h, Wx, Wh, b = rnn_step_arrays()
    assert refused(RNN_STEP, x[None], prev_h, Wx, Wh, b) == "f: x must have shape (N, D), got (1, 2, 3)"
    assert refused(RNN_STEP, x, prev_h, Wx, Wh, b[None]) == "f: b must have shape (H,) = (4,), got (1, 4)"
    assert refused("dh: N T H", np.ones((2, 5)), T=5) == "f: dh must have shape (N, T, H) = (?, 5, ?), got (2, 5)"
    assert refused("scores: ... V", np.float64(1.0)) == "f: scores must have shape (..., V), got ()"


def test_an_empty_axis_is_refused_where_a_name_stands():
    x, prev_h, Wx, Wh, b = rnn_step_arrays()
    assert refused(RNN_STEP, x[:0], prev_h, Wx, Wh, b) == "f: x must have shape (N, D) with N >= 1, got (0, 3)"
    assert refused("scores: ... V", np.ones((2, 0))) == "f: scores must have shape (..., V) with V >= 1, got (2, 0)"
    assert validate.shapes("f", "scores: ... V", np.ones((0, 5))) == (5,)  # "..." may be empty


def test_a_wrong_type_is_a_wrong_type():
    x, prev_h, Wx, Wh, b = rnn_step_arrays()
    with pytest.raises(validate.WrongType, match=r"^f: x must be an array of numbers, got ndarray of dtype <U1$"):
        validate.shapes("f", RNN_STEP, np.full((2, 3), "a"), prev_h, Wx, Wh, b)
    with pytest.raises(validate.WrongType, match=r"^f: b must be an array of numbers, got str"):
        validate.shapes("f", RNN_STEP, x, prev_h, Wx, Wh, "1, 2, 3, 4")
    with pytest.raises(validate.WrongType, match=r"^f: x must be a torch tensor, got ndarray"):
        validate.shapes("f", "x: B T D", np.ones((2, 3, 4)), kind="torch")
    with pytest.raises(validate.WrongType, match=r"^f: x must be a numpy array of numbers, got a torch tensor"):
        validate.shapes("f", "x: B D", torch.ones(2, 3), kind="numpy")
    assert issubclass(validate.WrongType, ValueError)


@pytest.mark.parametrize("make", [np.array, torch.tensor])
def test_nan_and_inf_are_refused_unless_finite_is_false(make):
    x, prev_h, Wx, Wh, b = rnn_step_arrays()
    bad = make(np.where(np.eye(4) > 0, np.nan, 1.0))
    with pytest.raises(ValueError, match=r"^f: Wh must contain only finite numbers, got NaN or inf$"):
        validate.shapes("f", RNN_STEP, x, prev_h, Wx, bad, b)
    assert validate.shapes("f", RNN_STEP, x, prev_h, Wx, bad, b, finite=False) == (2, 3, 4)


def test_arrays_are_neither_converted_nor_copied():
    x = np.ones((2, 3), dtype=np.float32)
    validate.shapes("f", "x: N D", x)
    assert x.dtype == np.float32
    t = torch.ones(2, 3, requires_grad=True)
    assert validate.shapes("f", "x: N D", t) == (2, 3) and t.requires_grad


def test_a_spec_that_does_not_match_the_arrays_is_a_programming_error():
    with pytest.raises(TypeError, match="names 2 arrays, 1 given"):
        validate.shapes("f", "x: N D, y: N", np.ones((2, 3)))
    with pytest.raises(TypeError, match="cannot read"):
        validate.shapes("f", "x N D", np.ones((2, 3)))
