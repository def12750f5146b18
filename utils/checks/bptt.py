"""Checks of notebook 03 (backpropagation through time).

``rnn_step_backward`` and ``rnn_backward`` are compared with numerical gradients (centred
differences of the reference forward pass) and with torch autograd on the same numbers;
``make_streams`` and ``tbptt_epoch`` with the reference implementations in utils.
"""
import numpy as np
import torch

from utils.course import seeded
from utils.checks.core import (CheckFailed, call_student, exercise_check, expect_array, expect_tuple,
                               expect_unchanged, passed, slip_hint)
from utils.gradcheck import eval_numerical_gradient_array
from utils.data.text import make_streams
from utils.layers import rnn_forward, rnn_step_forward
from utils.models.char_lm import CharLM
from utils.training.tbptt import tbptt_epoch

GRAD_NAMES_STEP = ("dx", "dprev_h", "dWx", "dWh", "db")
GRAD_NAMES_SEQ = ("dx", "dh0", "dWx", "dWh", "db")
CASES = [(3, 5, 4, 4), (2, 3, 6, 7)]  # (N, D, H, T): D != H so swapped weights show


def _torch_grads(fn, inputs, dout):
    """Gradients of sum(fn(*inputs) * dout) with respect to every input, by torch autograd."""
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    (out * torch.tensor(dout)).sum().backward()
    return [t.grad.numpy() for t in tensors]


def _torch_rnn_step(x, prev_h, Wx, Wh, b):
    return torch.tanh(prev_h @ Wh + x @ Wx + b)


def _torch_rnn(x, h0, Wx, Wh, b):
    h, states = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(h @ Wh + x[:, t] @ Wx + b)
        states.append(h)
    return torch.stack(states, dim=1)


def _numerical_grads(forward, inputs, dout):
    grads = []
    for i in range(len(inputs)):
        def f(value, i=i):
            args = list(inputs)
            args[i] = value
            return forward(*args)
        grads.append(eval_numerical_gradient_array(f, inputs[i].copy(), dout))
    return grads


def _compare_grads(name, got, inputs, dout, forward_np, forward_torch, names, label):
    numeric = _numerical_grads(forward_np, inputs, dout)
    autograd = _torch_grads(forward_torch, inputs, dout)
    for g, num, auto, what in zip(got, numeric, autograd, names):
        expect_array(name, g, auto, what=f"{what} ({label}, vs torch autograd)", rtol=1e-8)
        expect_array(name, g, num, what=f"{what} ({label}, vs numerical gradient)", rtol=1e-6)


def _affine_backward(da, x, prev_h, Wx, Wh):
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


TANH_SLIPS = {  # the idea to revisit -> dL/da as a student who made that slip computes it
    "the gradient skips the tanh: on its way from h_t back to a it is multiplied elementwise by "
    "tanh'(a)": lambda d, prev_h, next_h: d,
    "the slope that matters is the one of this step's tanh, whose output is next_h, not prev_h":
        lambda d, prev_h, next_h: d * (1 - prev_h ** 2),
    "the cache holds next_h = tanh(a) already; tanh'(a) can be written with it, without another tanh":
        lambda d, prev_h, next_h: d * (1 - np.tanh(next_h) ** 2),
}


def _tanh_slip_hint(got, dnext, cache):
    """Name the derivation slip whose gradients the student's answer matches, if any."""
    x, prev_h, Wx, Wh, next_h = cache
    return slip_hint(got, {idea: lambda da_of=da_of: _affine_backward(da_of(dnext, prev_h, next_h), x, prev_h, Wx, Wh)
                           for idea, da_of in TANH_SLIPS.items()})


@exercise_check
def check_rnn_step_backward(student_fn, seed=0):
    """Check ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``.

    The cache comes from the reference ``rnn_step_forward``: (x, prev_h, Wx, Wh, next_h).
    """
    name = "rnn_step_backward"
    rng = np.random.default_rng(seed)
    for N, D, H, _ in CASES:
        inputs = [rng.normal(size=(N, D)), rng.normal(size=(N, H)),
                  rng.normal(scale=0.5, size=(D, H)), rng.normal(scale=0.5, size=(H, H)),
                  rng.normal(size=H)]
        dnext = rng.normal(size=(N, H))
        _, cache = rnn_step_forward(*inputs)
        dnext_before = dnext.copy()
        got = expect_tuple(name, call_student(name, student_fn, dnext, cache), GRAD_NAMES_STEP)
        expect_unchanged(name, dnext_before, dnext, "dnext_h")
        try:
            _compare_grads(name, got, inputs, dnext, lambda *a: rnn_step_forward(*a)[0],
                           _torch_rnn_step, GRAD_NAMES_STEP, f"case N={N}, D={D}, H={H}")
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}{_tanh_slip_hint(got, dnext, cache)}") from None
    passed(name, "all five gradients match torch autograd (rel. error < 1e-8) and numerical "
                 "gradients (< 1e-6)")


@exercise_check(earlier=("rnn_step_backward",))
def check_rnn_backward(student_fn, seed=1):
    """Check ``rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)`` on the reference forward's cache."""
    name = "rnn_backward"
    rng = np.random.default_rng(seed)
    for N, D, H, T in CASES:
        inputs = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
                  rng.normal(scale=0.5, size=(D, H)), rng.normal(scale=0.5, size=(H, H)),
                  rng.normal(size=H)]
        dh = rng.normal(size=(N, T, H))
        _, cache = rnn_forward(*inputs)
        got = expect_tuple(name, call_student(name, student_fn, dh.copy(), cache), GRAD_NAMES_SEQ)
        _compare_grads(name, got, inputs, dh, lambda *a: rnn_forward(*a)[0], _torch_rnn,
                       GRAD_NAMES_SEQ, f"case N={N}, T={T}, D={D}, H={H}")
    # a loss only at the last step: the gradient must still reach x at step 0 through h
    N, D, H, T = CASES[0]
    inputs = [rng.normal(size=(N, T, D)), rng.normal(size=(N, H)),
              rng.normal(scale=0.5, size=(D, H)), rng.normal(scale=0.5, size=(H, H)),
              rng.normal(size=H)]
    dh = np.zeros((N, T, H))
    dh[:, -1] = rng.normal(size=(N, H))
    _, cache = rnn_forward(*inputs)
    got = expect_tuple(name, call_student(name, student_fn, dh.copy(), cache), GRAD_NAMES_SEQ)
    _compare_grads(name, got, inputs, dh, lambda *a: rnn_forward(*a)[0], _torch_rnn,
                   GRAD_NAMES_SEQ, "loss at the last step only")
    passed(name, "all five gradients match torch autograd (rel. error < 1e-8) and numerical "
                 "gradients (< 1e-6), including a loss at the last step only")


@exercise_check
def check_make_streams(student_fn):
    """Check ``make_streams(ids, batch_size) -> (B, L)`` against the reference batching."""

    name = "make_streams"
    for length, batch in ((26, 4), (100, 7), (12, 3), (9, 1)):
        ids = np.arange(length) * 3 + 1  # distinct values, so any reordering shows
        got = call_student(name, student_fn, ids.copy(), batch)
        expected = make_streams(ids, batch)
        expect_array(name, got, expected, what=f"streams for {length} ids in {batch} streams",
                     rtol=0)
    passed(name, "matches the reference batching into contiguous streams on 4 cases")


@exercise_check
def check_tbptt_epoch(student_fn, seed=0):
    """Check ``tbptt_epoch(model, streams, seq_len, optimizer) -> losses`` against the reference.

    Runs the student's loop and the reference loop from the same initial weights on the same
    streams and compares the per-chunk losses and the final weights: resetting the state, not
    carrying it, reading chunks in the wrong order or updating at the wrong time all show.
    """

    name = "tbptt_epoch"
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 6, size=203)
    ids[1::2] = (ids[0:-1:2] + 1) % 6  # some structure so carried state matters
    for cell, batch, k in (("vanilla", 4, 5), ("lstm", 3, 7)):
        streams = ids[: (len(ids) // batch) * batch].reshape(batch, -1)
        with seeded(seed):
            reference_model = CharLM(6, 8, cell=cell)
        student_model = CharLM(6, 8, cell=cell)
        student_model.load_state_dict(reference_model.state_dict())
        ref_losses = tbptt_epoch(reference_model, streams, k,
                                 torch.optim.SGD(reference_model.parameters(), lr=0.5))
        got = call_student(name, student_fn, student_model, streams.copy(), k,
                           torch.optim.SGD(student_model.parameters(), lr=0.5))
        if got is None:
            raise CheckFailed(f"{name}: returned None; return the list of chunk losses")
        got = [float(v) for v in got]
        if len(got) != len(ref_losses):
            raise CheckFailed(f"{name}: returned {len(got)} losses for {streams.shape[1]}-step "
                              f"streams in chunks of {k}; expected {len(ref_losses)} (one per "
                              f"chunk, the last chunk may be shorter)")
        label = f"{cell} model, {batch} streams, chunks of {k}"
        expect_array(name, np.array(got), np.array(ref_losses), what=f"chunk losses ({label})",
                     rtol=1e-5)
        for (pname, p_ref), p_got in zip(reference_model.named_parameters(),
                                         student_model.parameters()):
            expect_array(name, p_got, p_ref, what=f"parameter {pname} after the epoch ({label})",
                         rtol=1e-5)
    passed(name, "losses and final weights match the reference loop for an RNN and an LSTM")
