"""Vanilla RNN layers (numpy reference implementations).

The equations, in the column-vector form of the lecture:
    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b),    y_t = W_hy h_t + b_y
In code we keep a minibatch of row vectors, so the same step reads
    next_h = tanh(prev_h @ Wh + x @ Wx + b)     with Wx = W_xh^T (D, H), Wh = W_hh^T (H, H).
"""
import numpy as np

from utils import validate


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a vanilla RNN with tanh.

    x: (N, D) inputs at this step; prev_h: (N, H) previous hidden state;
    Wx: (D, H) input-to-hidden; Wh: (H, H) hidden-to-hidden; b: (H,) bias.
    Returns: next_h (N, H), cache for rnn_step_backward.
    """
    validate.shapes("rnn_step_forward", "x: N D, prev_h: N H, Wx: D H, Wh: H H, b: H",
                    x, prev_h, Wx, Wh, b)
    # BEGIN REFERENCE rnn_step_forward
    next_h = np.tanh(prev_h @ Wh + x @ Wx + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    # END REFERENCE
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one RNN step.

    dnext_h: (N, H) gradient of the loss with respect to next_h.
    cache: from rnn_step_forward.
    Returns: dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    # BEGIN REFERENCE rnn_step_backward
    da = dnext_h * (1 - next_h ** 2)  # tanh'(a) = 1 - tanh(a)^2, reusing the output
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END REFERENCE
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla RNN over whole sequences, with the same weights at every step.

    x: (N, T, D) input sequences; h0: (N, H) initial hidden state, or None for zeros;
    Wx: (D, H); Wh: (H, H); b: (H,).
    Returns: h (N, T, H) hidden states of every step, cache for rnn_backward.
    """
    N, T, D, H = validate.shapes("rnn_forward", "x: N T D, h0: N H, Wx: D H, Wh: H H, b: H",
                                 x, h0, Wx, Wh, b)
    # BEGIN REFERENCE rnn_forward
    prev_h = np.zeros((N, H)) if h0 is None else h0
    h = np.zeros((N, T, H))
    cache = []
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    # END REFERENCE
    return h, cache


def rnn_backward(dh, cache):
    """Backpropagation through time for rnn_forward.

    dh: (N, T, H) gradient of the loss with respect to every hidden state (from the losses
        at each step; the gradient through the recurrence is added here).
    cache: from rnn_forward.
    Returns: dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    N, T, H = validate.shapes("rnn_backward", "dh: N T H", dh, T=len(cache))
    D = cache[0][0].shape[1]
    # BEGIN REFERENCE rnn_backward
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev = np.zeros((N, H))  # the gradient arriving from step t+1
    for t in reversed(range(T)):
        dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dWx += dWx_t  # the same weights are used at every step: their gradients add up
        dWh += dWh_t
        db += db_t
    dh0 = dprev
    # END REFERENCE
    return dx, dh0, dWx, dWh, db
