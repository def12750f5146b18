import numpy as np
import pytest

from utils.checks.core import CheckFailed, ExerciseNotImplemented, call_student, expect_array, expect_tuple, expect_unchanged


def test_not_implemented_becomes_one_line_message():
    def todo(x):
        raise NotImplementedError("exercise")
    with pytest.raises(ExerciseNotImplemented, match="rnn_step_forward: not implemented yet"):
        call_student("rnn_step_forward", todo, 1)


def test_student_exception_names_exercise_and_error():
    def broken(x):
        return x @ np.ones((3, 3))
    with pytest.raises(CheckFailed, match="my_fn raised ValueError"):
        call_student("my_fn", broken, np.ones((2, 2)))


def test_non_callable_is_reported():
    with pytest.raises(CheckFailed, match="expected your function"):
        call_student("f", 3)


def test_shape_mismatch_says_expected_and_got_and_hints_transpose():
    with pytest.raises(CheckFailed, match=r"shape \(3, 2\), expected \(2, 3\).*transpose"):
        expect_array("f", np.zeros((3, 2)), np.zeros((2, 3)))


def test_value_mismatch_gives_first_index_and_error_size():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 1] += 0.5
    got[1, 2] += 0.5
    with pytest.raises(CheckFailed) as info:
        expect_array("f", got, expected, what="out")
    message = str(info.value)
    assert "first at index (1, 1)" in message
    assert "2 of 6 entries" in message
    assert "expected 4, got 4.5" in message
    assert "max relative error" in message


def test_none_nan_and_tuple_errors():
    with pytest.raises(CheckFailed, match="return"):
        expect_array("f", None, np.zeros(2))
    with pytest.raises(CheckFailed, match="NaN or inf, first at index"):
        expect_array("f", np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(CheckFailed, match=r"should return a tuple \(out, cache\)"):
        expect_tuple("f", np.zeros(2), ("out", "cache"))
    with pytest.raises(CheckFailed, match="should return 2 values"):
        expect_tuple("f", (1, 2, 3), ("out", "cache"))


def test_in_place_modification_is_caught():
    with pytest.raises(CheckFailed, match="changed its input x in place"):
        expect_unchanged("f", np.zeros(2), np.ones(2), "x")


def test_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    assert expect_array("f", torch.ones(2, dtype=torch.float64), np.ones(2)) == 0.0


def test_render_traceback_is_one_readable_block():
    lines = CheckFailed("f: bad\nmore detail")._render_traceback_()
    assert lines == ["✗ f: bad", "  more detail"]


def test_slip_hint_names_the_matching_mistake_only():
    from utils.checks.core import slip_hint
    slips = {"forgot the bias": lambda: (np.ones(2), np.zeros(3)), "swapped": lambda: (np.zeros(3), np.ones(2))}
    assert slip_hint((np.ones(2), np.zeros(3)), slips) == "\nYour result is that of a known slip: forgot the bias."
    assert slip_hint((np.ones(2), np.ones(3)), slips) == ""
    assert slip_hint(np.ones(2), {"one": lambda: np.ones(2)}).endswith("one.")
    assert slip_hint("not an array", slips) == ""


def test_common_exceptions_come_with_a_diagnosis():
    """Shape errors name the shapes of the call; a division by zero and an index error say what to look at."""
    from utils.checks.core import CheckFailed, call_student

    def swapped(x, prev_h, Wx, Wh, b):  # a student's slip: Wx where Wh belongs
        return np.tanh(x @ Wx + prev_h @ Wx + b)

    rng = np.random.default_rng(0)
    args = (rng.normal(size=(3, 5)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(4, 4)),
            np.zeros(4))
    with pytest.raises(CheckFailed) as info:
        call_student("rnn_step_forward", swapped, *args)
    message = str(info.value)
    assert message.startswith("rnn_step_forward raised ValueError")
    assert "x (3, 5), prev_h (3, 4), Wx (5, 4), Wh (4, 4), b (4,)" in message and "which weight" in message
    with pytest.raises(CheckFailed, match="division by zero: a count"):
        call_student("mean_loss", lambda losses: sum(losses) / len(losses), [])
    with pytest.raises(CheckFailed, match="bounds of your loops"):
        call_student("last_state", lambda h: [h[t + 1] for t in range(len(h))], [1, 2])
    with pytest.raises(CheckFailed) as info:
        call_student("f", lambda x: x["key"], {})
    assert "\n" not in str(info.value)  # no diagnosis where none applies


def test_a_failing_earlier_exercise_is_named_as_the_likely_cause():
    """rnn_forward is wrong because the rnn_step_forward it calls is: the message says so."""
    from utils.checks.core import CheckFailed
    from utils.checks.rnn_basics import check_rnn_forward
    from utils.layers import rnn_forward as reference_forward
    notebook = {"np": np}  # the globals of a student's notebook
    exec("def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
         "    next_h = np.tanh(x @ Wx + prev_h @ Wh)  # the bias forgotten\n"
         "    return next_h, (x, prev_h, Wx, Wh, next_h)\n"
         "def rnn_forward(x, h0, Wx, Wh, b):\n"
         "    N, T, D = x.shape\n"
         "    prev_h = np.zeros((N, Wh.shape[0])) if h0 is None else h0\n"
         "    h, cache = np.zeros((N, T, Wh.shape[0])), []\n"
         "    for t in range(T):\n"
         "        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)\n"
         "        h[:, t] = prev_h\n"
         "        cache.append(step_cache)\n"
         "    return h, cache\n", notebook)
    with pytest.raises(CheckFailed) as info:
        check_rnn_forward(notebook["rnn_forward"])
    assert "Your rnn_step_forward, which rnn_forward calls, fails its own check" in str(info.value)
    # a wrong rnn_forward over a right step: no earlier exercise is blamed
    notebook["rnn_step_forward"] = lambda x, prev_h, Wx, Wh, b: (np.tanh(x @ Wx + prev_h @ Wh + b), None)
    notebook["rnn_forward"] = lambda x, h0, Wx, Wh, b: (reference_forward(x, h0, Wx, Wh, b)[0] * 2, [])
    with pytest.raises(CheckFailed) as info:
        check_rnn_forward(notebook["rnn_forward"])
    assert "fails its own check" not in str(info.value)
