"""Checks of notebook 01 (RNN basics): rnn_step_forward, rnn_forward, output_projection.

Each check runs the student's function on several random cases with D != H (so a swapped
weight matrix is caught), a non-zero initial state and inputs large enough for tanh to bend.
"""
import numpy as np

from utils.checks.core import CheckFailed, call_student, exercise_check, expect_array, expect_tuple, expect_unchanged, passed
from utils.layers import output_projection, rnn_forward, rnn_step_forward

CASES = [(3, 5, 4, 6), (2, 7, 6, 3), (1, 4, 8, 5)]  # (N, D, H, T)


def _rnn_params(rng, N, D, H):
    x = rng.normal(size=(N, D))
    prev_h = rng.normal(size=(N, H))
    Wx = rng.normal(scale=0.6, size=(D, H))
    Wh = rng.normal(scale=0.6, size=(H, H))
    b = rng.normal(scale=0.5, size=H)
    return x, prev_h, Wx, Wh, b


@exercise_check
def check_rnn_step_forward(student_fn, seed=0):
    """Check ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``."""
    name = "rnn_step_forward"
    rng = np.random.default_rng(seed)
    for N, D, H, _ in CASES:
        args = _rnn_params(rng, N, D, H)
        copies = [a.copy() for a in args]
        result = expect_tuple(name, call_student(name, student_fn, *args), ("next_h", "cache"))
        expected, _ = rnn_step_forward(*copies)
        expect_array(name, result[0], expected, what=f"next_h (case N={N}, D={D}, H={H})")
        for arg, before, label in zip(args, copies, ("x", "prev_h", "Wx", "Wh", "b")):
            expect_unchanged(name, before, arg, label)
    passed(name, f"matches the reference on {len(CASES)} random cases "
                 f"(max relative error < 1e-8)")


@exercise_check(earlier=("rnn_step_forward",))
def check_rnn_forward(student_fn, seed=1):
    """Check ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` with h0 given and with h0=None."""
    name = "rnn_forward"
    rng = np.random.default_rng(seed)
    for N, D, H, T in CASES:
        _, h0, Wx, Wh, b = _rnn_params(rng, N, D, H)
        x = rng.normal(size=(N, T, D))
        for initial in (h0, None):
            label = "h0 given" if initial is not None else "h0=None"
            result = expect_tuple(name, call_student(name, student_fn, x.copy(),
                                                     None if initial is None else initial.copy(),
                                                     Wx, Wh, b), ("h", "cache"))
            expected, _ = rnn_forward(x, initial, Wx, Wh, b)
            expect_array(name, result[0], expected,
                         what=f"h (case N={N}, T={T}, D={D}, H={H}, {label})")
    passed(name, f"matches the reference on {len(CASES)} random cases, with h0 given "
                 f"and h0=None (max relative error < 1e-8)")


@exercise_check
def check_output_projection(student_fn, seed=2):
    """Check ``output_projection(h, Wy, by) -> scores`` of shape (N, T, V)."""
    name = "output_projection"
    rng = np.random.default_rng(seed)
    for N, _, H, T in CASES:
        V = H + 3
        h = np.tanh(rng.normal(size=(N, T, H)))
        Wy = rng.normal(size=(H, V))
        by = rng.normal(size=V)
        scores = call_student(name, student_fn, h.copy(), Wy.copy(), by.copy())
        if isinstance(scores, tuple):
            raise CheckFailed(f"{name}: should return only the scores array (N, T, V), "
                              f"got a tuple of {len(scores)}")
        expected = output_projection(h, Wy, by)
        expect_array(name, scores, expected, what=f"scores (case N={N}, T={T}, H={H}, V={V})")
    passed(name, f"matches the reference on {len(CASES)} random cases "
                 f"(max relative error < 1e-8)")
