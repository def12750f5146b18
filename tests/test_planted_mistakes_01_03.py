"""Every exercise check of notebooks 00, 01 and 03 fails on typical mistakes, naming the exercise.

Each planted mistake is a small wrong implementation a student could plausibly write; the
check must raise CheckFailed (or ExerciseNotImplemented) with the exercise's name in it.
"""
import numpy as np
import pytest

from notebook_helpers import assert_check_fails
import torch
import torch.nn.functional as F

from utils.models.char_lm import detach_state
from utils.checks.core import CheckFailed, ExerciseNotImplemented
from utils.checks.bptt import (check_make_streams, check_rnn_backward, check_rnn_step_backward,
                               check_tbptt_epoch)
from utils.checks.rnn_basics import (check_output_projection, check_rnn_forward,
                                     check_rnn_step_forward)
from utils.checks.welcome import check_softmax
from utils.layers import rnn_step_backward as ref_step_backward
from utils.layers import rnn_step_forward as ref_step_forward
from utils.data.text import iter_chunks


_fails = assert_check_fails


# ---- 00: softmax -----------------------------------------------------------------------
def test_softmax_mistakes():
    def unstable(s):
        e = np.exp(s)
        return e / e.sum(axis=-1, keepdims=True)

    def wrong_axis(s):
        e = np.exp(s - s.max())
        return e / e.sum(axis=0, keepdims=True)

    def no_keepdims(s):
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum()

    with np.errstate(all="ignore"):
        assert "NaN" in _fails(check_softmax, unstable, "softmax")
    _fails(check_softmax, wrong_axis, "softmax")
    _fails(check_softmax, no_keepdims, "softmax")


# ---- 01: forward passes ----------------------------------------------------------------
def test_rnn_step_forward_mistakes():
    _fails(check_rnn_step_forward, lambda x, h, Wx, Wh, b: (h @ Wh + x @ Wx + b, None),
           "rnn_step_forward")  # no tanh
    _fails(check_rnn_step_forward, lambda x, h, Wx, Wh, b: (np.tanh(h @ Wh + x @ Wx), None),
           "rnn_step_forward")  # no bias
    msg = _fails(check_rnn_step_forward, lambda x, h, Wx, Wh, b: np.tanh(h @ Wh + x @ Wx + b),
                 "rnn_step_forward")  # forgot the cache
    assert "(next_h, cache)" in msg
    msg = _fails(check_rnn_step_forward, lambda x, h, Wx, Wh, b: (np.tanh(h @ Wx + x @ Wh + b), None),
                 "rnn_step_forward")  # Wx and Wh swapped: the check's sizes make it a shape error
    assert "which weight multiplies which input" in msg and "Wx (" in msg

    def in_place(x, h, Wx, Wh, b):
        h += x @ Wx
        return np.tanh(h @ Wh + b), None
    with pytest.raises(CheckFailed):
        check_rnn_step_forward(in_place)


def _rnn_forward_from(step, use_h0=True, keep_first=False):
    def rnn_forward(x, h0, Wx, Wh, b):
        N, T, D = x.shape
        H = Wh.shape[0]
        prev = h0 if (use_h0 and h0 is not None) else np.zeros((N, H))
        h = np.zeros((N, T, H))
        for t in range(T):
            nxt, _ = step(x[:, t], prev, Wx, Wh, b)
            h[:, t] = nxt
            if not keep_first:
                prev = nxt
        return h, None
    return rnn_forward


def test_rnn_forward_mistakes():
    _fails(check_rnn_forward, _rnn_forward_from(ref_step_forward, use_h0=False), "rnn_forward")
    _fails(check_rnn_forward, _rnn_forward_from(ref_step_forward, keep_first=True), "rnn_forward")

    def last_only(x, h0, Wx, Wh, b):
        h, c = _rnn_forward_from(ref_step_forward)(x, h0, Wx, Wh, b)
        return h[:, -1], c
    assert "shape" in _fails(check_rnn_forward, last_only, "rnn_forward")

    def crashes_on_none(x, h0, Wx, Wh, b):
        return _rnn_forward_from(ref_step_forward)(x, h0 + 0, Wx, Wh, b)
    assert "raised TypeError" in _fails(check_rnn_forward, crashes_on_none, "rnn_forward")


def test_output_projection_mistakes():
    _fails(check_output_projection, lambda h, Wy, by: h @ Wy, "output_projection")
    _fails(check_output_projection, lambda h, Wy, by: (h @ Wy + by)[:, -1], "output_projection")
    _fails(check_output_projection, lambda h, Wy, by: np.tanh(h @ Wy + by), "output_projection")


# ---- 03: backward passes and truncated BPTT --------------------------------------------
def test_rnn_step_backward_mistakes():
    def no_tanh_derivative(dnext, cache):
        x, prev_h, Wx, Wh, next_h = cache
        return dnext @ Wx.T, dnext @ Wh.T, x.T @ dnext, prev_h.T @ dnext, dnext.sum(0)

    def transposed_dWh(dnext, cache):
        dx, dprev, dWx, dWh, db = ref_step_backward(dnext, cache)
        return dx, dprev, dWx, dWh.T, db

    def db_not_summed(dnext, cache):
        dx, dprev, dWx, dWh, db = ref_step_backward(dnext, cache)
        return dx, dprev, dWx, dWh, (dnext * (1 - cache[4] ** 2)).mean(0)

    for wrong in (no_tanh_derivative, transposed_dWh, db_not_summed):
        _fails(check_rnn_step_backward, wrong, "rnn_step_backward")


@pytest.mark.parametrize("slip, da_of", [
    ("tanh' at h_(t-1)", lambda d, prev_h, next_h: d * (1 - prev_h ** 2)),
    ("tanh applied again", lambda d, prev_h, next_h: d * (1 - np.tanh(next_h) ** 2)),
    ("no tanh'", lambda d, prev_h, next_h: d),
])
def test_rnn_step_backward_names_the_derivation_slip(slip, da_of):
    """A student who derives the backward alone makes these slips; the message names the idea."""
    def derived(dnext, cache):
        x, prev_h, Wx, Wh, next_h = cache
        da = da_of(dnext, prev_h, next_h)
        return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    message = _fails(check_rnn_step_backward, derived, "rnn_step_backward")
    assert "known slip" in message and "** 2" not in message, message  # the idea, not the line


def test_rnn_step_backward_catches_swapped_weight_gradients():
    def swapped(dnext, cache):  # dx through Wh and dprev_h through Wx: shapes differ when D != H
        x, prev_h, Wx, Wh, next_h = cache
        da = dnext * (1 - next_h ** 2)
        return da @ Wh.T, da @ Wx.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    _fails(check_rnn_step_backward, swapped, "rnn_step_backward")


def _rnn_backward(accumulate=True, carry=True):
    def rnn_backward(dh, cache):
        N, T, H = dh.shape
        D = cache[0][0].shape[1]
        dx = np.zeros((N, T, D))
        dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
        dprev = np.zeros((N, H))
        for t in reversed(range(T)):
            upstream = dh[:, t] + dprev if carry else dh[:, t]
            dx[:, t], dprev, a, b_, c = ref_step_backward(upstream, cache[t])
            if accumulate:
                dWx, dWh, db = dWx + a, dWh + b_, db + c
            else:
                dWx, dWh, db = a, b_, c
        return dx, dprev, dWx, dWh, db
    return rnn_backward


def test_rnn_backward_mistakes():
    _fails(check_rnn_backward, _rnn_backward(accumulate=False), "rnn_backward")
    _fails(check_rnn_backward, _rnn_backward(carry=False), "rnn_backward")

    def forward_order(dh, cache):  # walks forwards in time: dprev is not yet known
        N, T, H = dh.shape
        D = cache[0][0].shape[1]
        dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
        dprev = np.zeros((N, H))
        for t in range(T):
            dx[:, t], dprev, a, b_, c = ref_step_backward(dh[:, t] + dprev, cache[t])
            dWx, dWh, db = dWx + a, dWh + b_, db + c
        return dx, dprev, dWx, dWh, db
    _fails(check_rnn_backward, forward_order, "rnn_backward")


def test_make_streams_mistakes():
    def interleaved(ids, B):  # round-robin instead of contiguous
        L = len(ids) // B
        return np.asarray(ids[: L * B]).reshape(L, B).T

    def array_split(ids, B):  # keeps the remainder: rows of unequal length
        return np.stack([part[: len(ids) // B] for part in np.array_split(np.asarray(ids), B)])

    _fails(check_make_streams, interleaved, "make_streams")
    _fails(check_make_streams, array_split, "make_streams")
    _fails(check_make_streams, lambda ids, B: np.asarray(ids).reshape(B, -1), "make_streams")


def _tbptt(detach=True, carry=True, step_every_chunk=True):
    def tbptt_epoch(model, streams, k, optimizer):
        losses, state = [], None
        for x, y in iter_chunks(streams, k):
            x, y = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
            logits, new_state = model(x, state if carry else None)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            if step_every_chunk:
                optimizer.step()
            state = detach_state(new_state) if detach else new_state
            losses.append(loss.item())
        return losses
    return tbptt_epoch


def test_tbptt_epoch_mistakes():
    assert "backward through the graph a second time" in _fails(
        check_tbptt_epoch, _tbptt(detach=False), "tbptt_epoch")
    _fails(check_tbptt_epoch, _tbptt(carry=False), "tbptt_epoch")
    _fails(check_tbptt_epoch, _tbptt(step_every_chunk=False), "tbptt_epoch")


def test_unfinished_exercises_report_not_implemented(monkeypatch):
    def todo(*args):
        raise NotImplementedError
    monkeypatch.setenv("COURSE_SELFCHECK", "1")  # under a grader the check fails (see test_classroom)
    for check in (check_softmax, check_rnn_step_forward, check_rnn_forward,
                  check_output_projection, check_rnn_step_backward, check_rnn_backward,
                  check_make_streams, check_tbptt_epoch):
        with pytest.raises(ExerciseNotImplemented, match="not implemented yet"):
            check(todo)
