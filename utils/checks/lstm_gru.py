"""Checks of notebook 05 (LSTM and GRU).

lstm_step_forward and lstm_forward are compared with the references in utils.layers;
lstm_step_backward and lstm_backward run the student's own forward (so any cache layout
works), then the student's backward, and compare every gradient with numerical gradients of
the reference forward; gru_step is compared with torch.nn.GRU after copying its weights.
Shapes: D != H != N so that transposed or swapped weights fail; inputs large enough that the
gates are neither all 0.5 nor saturated.
"""
import numpy as np
import torch

from utils.course import seeded
from utils.checks.core import (CheckFailed, call_student, exercise_check, expect_array, expect_tuple,
                               expect_unchanged, passed, slip_hint)
from utils.gradcheck import eval_numerical_gradient_array
from utils.layers import lstm_forward, lstm_step_forward
from utils.models.cells import GRUFromEquations, copy_gru_from_torch

STEP_CASES = [(3, 5, 4), (2, 3, 6), (4, 6, 2)]  # (N, D, H)
SEQ_CASES = [(2, 4, 3, 5), (3, 3, 4, 3)]  # (N, D, H, T)
GATE_HINT = ("the course orders the 4H columns i, f, o, g: i = a[:, :H], f = a[:, H:2H], "
             "o = a[:, 2H:3H], g = a[:, 3H:]")


def _lstm_params(rng, N, D, H):
    return [rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H)),
            rng.normal(scale=0.6, size=(D, 4 * H)), rng.normal(scale=0.6, size=(H, 4 * H)),
            rng.normal(scale=0.5, size=4 * H)]


def _gate_order_hint(got, args):
    """A hint if the student's next_h matches the reference with torch's gate order i, f, g, o."""
    x, prev_h, prev_c, Wx, Wh, b = args
    H = prev_h.shape[1]
    swap = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]  # exchange the o and g blocks
    alt_h, _, _ = lstm_step_forward(x, prev_h, prev_c, Wx[:, swap], Wh[:, swap], b[swap])
    try:
        if np.allclose(np.asarray(got, dtype=np.float64), alt_h):
            return f" It matches with the o and g blocks exchanged: {GATE_HINT}."
    except (TypeError, ValueError):
        pass
    return ""


@exercise_check
def check_lstm_step_forward(student_fn, seed=0):
    """Check ``lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)``."""
    name = "lstm_step_forward"
    rng = np.random.default_rng(seed)
    for N, D, H in STEP_CASES:
        args = _lstm_params(rng, N, D, H)
        copies = [a.copy() for a in args]
        result = expect_tuple(name, call_student(name, student_fn, *copies), ("next_h", "next_c", "cache"))
        next_h, next_c, _ = lstm_step_forward(*args)
        label = f"case N={N}, D={D}, H={H}"
        try:
            expect_array(name, result[1], next_c, what=f"next_c ({label})")
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\nnext_c = f * prev_c + i * g, with f, i sigmoids and g a tanh."
                              f"{_gate_order_hint(result[0], args)}") from None
        try:
            expect_array(name, result[0], next_h, what=f"next_h ({label})")
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\nnext_c is right; next_h = o * tanh(next_c)."
                              f"{_gate_order_hint(result[0], args)}") from None
        for before, after, what in zip(args, copies, ("x", "prev_h", "prev_c", "Wx", "Wh", "b")):
            expect_unchanged(name, before, after, what)
    passed(name, f"next_h and next_c match the reference on {len(STEP_CASES)} random cases "
                 f"(max relative error < 1e-8)")


def _numerical(forward, inputs, douts):
    """Numerical gradients of sum_k <douts[k], forward(*inputs)[k]> for every input."""
    grads = []
    for i in range(len(inputs)):
        def f(value, i=i):
            args = [a.copy() for a in inputs]
            args[i] = value
            return np.concatenate([np.ravel(o) for o in forward(*args)])
        dflat = np.concatenate([np.ravel(d) for d in douts])
        grads.append(eval_numerical_gradient_array(f, inputs[i].copy(), dflat))
    return grads


def _forward_or_fail(name, forward_name, forward_fn, args, n_out, check_outputs):
    """Run the student's forward; if its outputs are wrong, send the student back to it."""
    result = call_student(forward_name, forward_fn, *[a.copy() for a in args])
    if not isinstance(result, (tuple, list)) or len(result) != n_out:
        raise CheckFailed(f"{name}: your {forward_name} should return {n_out} values; "
                          f"fix it first (its own check above says how)")
    try:
        check_outputs(result)
    except CheckFailed:
        raise CheckFailed(f"{name}: your {forward_name} gives wrong outputs, so its cache cannot be "
                          f"trusted; fix {forward_name} first (its own check above says how)") from None
    return result


def _lstm_step_backward_with(slip, dnext_h, dnext_c, args):
    """The LSTM step's six gradients computed with one derivation slip (see LSTM_SLIPS)."""
    x, prev_h, prev_c, Wx, Wh, _ = args
    _, _, (_, _, _, _, _, i, f, o, g, tanh_c) = lstm_step_forward(*args)
    do = dnext_h if slip == "do without tanh(c_t)" else dnext_h * tanh_c
    through_h = {"dc without the path through h_t": 0.0,
                 "the path through h_t without tanh'(c_t)": dnext_h * o}.get(slip, dnext_h * o * (1 - tanh_c ** 2))
    dc = dnext_c + through_h
    sig = (lambda s: s) if slip == "sigma' written as sigma" else (lambda s: s * (1 - s))
    dg_local = 1.0 if slip == "no tanh' for g" else 1 - g ** 2
    da = np.concatenate([dc * g * sig(i), dc * prev_c * sig(f), do * sig(o), dc * i * dg_local], axis=1)
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


LSTM_SLIPS = {  # a derivation slip -> the idea to revisit
    "dc without the path through h_t": "c_t is used twice, as an output and inside h_t = o * tanh(c_t); "
                                        "its gradient must collect both uses",
    "the path through h_t without tanh'(c_t)": "on the way from h_t back to c_t the gradient also passes the "
                                                "tanh of tanh(c_t)",
    "do without tanh(c_t)": "in h_t = o * tanh(c_t), the gradient of one factor is the upstream gradient times "
                            "the other factor",
    "sigma' written as sigma": "the slope of the sigmoid is sigma * (1 - sigma), written with the gate's value",
    "no tanh' for g": "g = tanh(a_g): its block of da needs the tanh's slope too",
}


def _lstm_slip_hint(got, dnext_h, dnext_c, args):
    """Name the derivation slip whose gradients the student's answer matches, if any."""
    return slip_hint(got, {idea: lambda slip=slip: _lstm_step_backward_with(slip, dnext_h, dnext_c, args)
                           for slip, idea in LSTM_SLIPS.items()})


@exercise_check
def check_lstm_step_backward(forward_fn, backward_fn, seed=1):
    """Check ``lstm_step_backward(dnext_h, dnext_c, cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db)``.

    forward_fn: the student's lstm_step_forward, which makes the cache.
    """
    name = "lstm_step_backward"
    names = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
    rng = np.random.default_rng(seed)
    for N, D, H in STEP_CASES[:2]:
        args = _lstm_params(rng, N, D, H)
        ref_h, ref_c, _ = lstm_step_forward(*args)

        def outputs_ok(result):
            expect_array("lstm_step_forward", result[0], ref_h, what="next_h")
            expect_array("lstm_step_forward", result[1], ref_c, what="next_c")

        _, _, cache = _forward_or_fail(name, "lstm_step_forward", forward_fn, args, 3, outputs_ok)
        dnext_h, dnext_c = rng.normal(size=(N, H)), rng.normal(size=(N, H))
        douts = (dnext_h.copy(), dnext_c.copy())
        got = expect_tuple(name, call_student(name, backward_fn, dnext_h, dnext_c, cache), names)
        expect_unchanged(name, douts[0], dnext_h, "dnext_h")
        expect_unchanged(name, douts[1], dnext_c, "dnext_c")
        numeric = _numerical(lambda *a: lstm_step_forward(*a)[:2], args, douts)
        label = f"case N={N}, D={D}, H={H}, vs numerical gradient"
        for g, num, what in zip(got, numeric, names):
            try:
                expect_array(name, g, num, what=f"{what} ({label})", rtol=1e-6)
            except CheckFailed as exc:
                hint = _lstm_slip_hint(got, douts[0], douts[1], args)
                if not hint and what == "dprev_c":
                    hint = ("\nc_(t-1) reaches the loss only through c_t = f * c_(t-1) + i * g: one "
                            "elementwise product; and the gradient of c_t collects both of its uses.")
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, "all six gradients match numerical gradients on 2 random cases "
                 "(relative error < 1e-6)")


@exercise_check(earlier=("lstm_step_forward",))
def check_lstm_forward(student_fn, seed=2):
    """Check ``lstm_forward(x, h0, Wx, Wh, b) -> (h, cache)`` with h0 given and h0=None."""
    name = "lstm_forward"
    rng = np.random.default_rng(seed)
    for N, D, H, T in SEQ_CASES:
        x = rng.normal(size=(N, T, D))
        h0 = rng.normal(size=(N, H))
        Wx, Wh, b = (rng.normal(scale=0.6, size=(D, 4 * H)), rng.normal(scale=0.6, size=(H, 4 * H)),
                     rng.normal(scale=0.5, size=4 * H))
        for initial in (h0, None):
            label = f"case N={N}, T={T}, D={D}, H={H}, " + ("h0 given" if initial is not None else "h0=None")
            x_copy = x.copy()
            result = expect_tuple(name, call_student(name, student_fn, x_copy,
                                                     None if initial is None else initial.copy(),
                                                     Wx.copy(), Wh.copy(), b.copy()), ("h", "cache"))
            expect_unchanged(name, x, x_copy, "x")
            expected, _ = lstm_forward(x, initial, Wx, Wh, b)
            expect_array(name, result[0], expected, what=f"h ({label})")
    passed(name, f"matches the reference on {len(SEQ_CASES)} random cases, with h0 given and "
                 f"h0=None (max relative error < 1e-8)")


@exercise_check
def check_lstm_backward(forward_fn, backward_fn, seed=3):
    """Check ``lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)``.

    forward_fn: the student's lstm_forward, which makes the cache.
    """
    name = "lstm_backward"
    names = ("dx", "dh0", "dWx", "dWh", "db")
    rng = np.random.default_rng(seed)
    for N, D, H, T in SEQ_CASES:
        args = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
                rng.normal(scale=0.6, size=(D, 4 * H)), rng.normal(scale=0.6, size=(H, 4 * H)),
                rng.normal(scale=0.5, size=4 * H)]
        ref_h, _ = lstm_forward(*args)
        _, cache = _forward_or_fail(name, "lstm_forward", forward_fn, args, 2,
                                    lambda result: expect_array("lstm_forward", result[0], ref_h, what="h"))
        dh = rng.normal(size=(N, T, H))
        dh_copy = dh.copy()
        got = expect_tuple(name, call_student(name, backward_fn, dh_copy, cache), names)
        expect_unchanged(name, dh, dh_copy, "dh")
        numeric = _numerical(lambda *a: (lstm_forward(*a)[0],), args, (dh,))
        label = f"case N={N}, T={T}, D={D}, H={H}, vs numerical gradient"
        for g, num, what in zip(got, numeric, names):
            try:
                expect_array(name, g, num, what=f"{what} ({label})", rtol=1e-6)
            except CheckFailed as exc:
                hint = ("\nWalking back, carry both dprev_h and dprev_c from step t to step t-1 "
                        "(the cell state's gradient starts at zeros after the last step), and add "
                        "the weight gradients of every step.")
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"all five gradients match numerical gradients on {len(SEQ_CASES)} random "
                 f"cases (relative error < 1e-6)")


@exercise_check
def check_gru_step(student_fn, seed=4):
    """Check the torch ``gru_step(x, h, Wx, Wh, bx, bh) -> next_h`` against torch.nn.GRU.

    A random nn.GRU (float64) is copied into the course layout (utils.models.cells), the
    student's step is run over a whole sequence, and every hidden state must match nn.GRU's
    output to 1e-6.
    """
    name = "gru_step"
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for B, D, H, T in [(3, 5, 4, 6), (2, 3, 7, 4)]:
        with seeded(seed + D):
            gru = torch.nn.GRU(D, H, batch_first=True).double()
        with torch.no_grad():  # larger weights than the default so the gates are not all ~0.5
            for p in gru.parameters():
                p.mul_(2.5)
        ours = copy_gru_from_torch(GRUFromEquations(D, H).double(), gru)
        x = torch.randn(B, T, D, generator=gen, dtype=torch.float64)
        h0 = torch.randn(B, H, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            expected, _ = gru(x, h0[None])
        params = [ours.Wx.detach(), ours.Wh.detach(), ours.bx.detach(), ours.bh.detach()]
        h = h0
        for t in range(T):
            out = call_student(name, student_fn, x[:, t], h, *params)
            if not isinstance(out, torch.Tensor):
                raise CheckFailed(f"{name}: should return a torch tensor next_h of shape ({B}, {H}), "
                                  f"got {type(out).__name__}")
            label = f"next_h at step {t} (case B={B}, D={D}, H={H}), vs torch.nn.GRU"
            try:
                err = expect_array(name, out.detach(), expected[:, t], what=label, rtol=1e-6)
            except CheckFailed as exc:
                raise CheckFailed(f"{exc}\n{_gru_hint(x[:, t], h, params, out)}") from None
            worst = max(worst, err)
            h = out.detach()
    passed(name, "matches torch.nn.GRU over 2 random sequences after copying its weights "
                 "(relative error < 1e-6)")


def _gru_variants(x, h, params):
    """What two classic GRU slips give on one step: {slip: next_h (B, H)}."""
    # ALSO REFERENCE gru_step  (the slips are the answer with one change: withheld with it)
    Wx, Wh, bx, bh = params
    H = h.shape[1]
    ax, ah = x @ Wx + bx, h @ Wh + bh
    r = torch.sigmoid(ax[:, :H] + ah[:, :H])
    z = torch.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = torch.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    n_cho = torch.tanh(ax[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + bh[2 * H:])
    return {"z * n + (1 - z) * h": z * n + (1 - z) * h, "reset before the product": (1 - z) * n_cho + z * h}


def _gru_hint(x, h, params, got):
    """Name a classic GRU mistake if the student's output matches it."""
    variants = {
        "z * n + (1 - z) * h": "the update gate is swapped: torch's GRU keeps the old state where z is 1, "
                               "next_h = (1 - z) * n + z * h",
        "reset before the product": "you applied r to h before multiplying by Wh_n (Cho et al.'s original "
                                    "form); torch.nn.GRU applies it after: n = tanh(x Wx_n + bx_n + "
                                    "r * (h Wh_n + bh_n))",
    }
    for key, value in _gru_variants(x, h, params).items():
        try:
            if torch.allclose(got.detach().double(), value, atol=1e-9):
                return "It matches a known variant: " + variants[key] + "."
        except (RuntimeError, TypeError):
            break
    return ("Gate blocks of the 3H columns: r = [:H], z = [H:2H], n = [2H:]; r and z use both biases; "
            "n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)); next_h = (1 - z) * n + z * h.")
