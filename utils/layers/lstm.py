"""LSTM layers (numpy reference implementations).

The LSTM, in the row-vector form used in code (a minibatch of N rows):
    a      = x_t @ Wx + h_{t-1} @ Wh + b             (N, 4H): all four gates in one product
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), sigmoid(a[:, 2H:3H])
    g      = tanh(a[:, 3H:])
    c_t    = f * c_{t-1} + i * g                     the cell state: an elementwise update
    h_t    = o * tanh(c_t)
The course orders the gate blocks i, f, o, g: the three sigmoid gates first, so one sigmoid
call covers 3H columns. torch.nn.LSTM uses i, f, g, o; see utils.models.cells for the mapping.
"""
import numpy as np

from utils.layers.common import sigmoid
from utils import validate


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step. Gate blocks of the 4H columns, in order: i, f, o, g.

    x: (N, D) inputs; prev_h: (N, H) previous hidden state; prev_c: (N, H) previous cell state;
    Wx: (D, 4H) input-to-gates; Wh: (H, 4H) hidden-to-gates; b: (4H,) gate biases.
    Returns: next_h (N, H), next_c (N, H), cache for lstm_step_backward.
    """
    N, D, H = validate.shapes("lstm_step_forward",
                              "x: N D, prev_h: N H, prev_c: N H, Wx: D 4H, Wh: H 4H, b: 4H",
                              x, prev_h, prev_c, Wx, Wh, b)
    # BEGIN REFERENCE lstm_step_forward
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    sig = sigmoid(a[:, :3 * H])  # the three sigmoid gates are the first 3H columns
    i, f, o = sig[:, :H], sig[:, H:2 * H], sig[:, 2 * H:]
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    # END REFERENCE
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    dnext_h: (N, H) gradient of the loss with respect to next_h;
    dnext_c: (N, H) gradient with respect to next_c (from the step after, zeros at the end);
    cache: from lstm_step_forward.
    Returns: dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    # BEGIN REFERENCE lstm_step_backward
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    do = dnext_h * tanh_c
    # next_c reaches the loss directly (dnext_c) and through next_h = o * tanh(next_c)
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c ** 2)
    di, df, dg = dc * g, dc * prev_c, dc * i
    dprev_c = dc * f  # the cell-state path: an elementwise product, no weight matrix
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o),
                         dg * (1 - g ** 2)], axis=1)  # (N, 4H), same block order as the forward
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END REFERENCE
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over whole sequences. The initial cell state is zero.

    x: (N, T, D); h0: (N, H) initial hidden state, or None for zeros;
    Wx: (D, 4H); Wh: (H, 4H); b: (4H,).
    Returns: h (N, T, H) hidden states of every step, cache for lstm_backward.
    """
    N, T, D, H = validate.shapes("lstm_forward", "x: N T D, h0: N H, Wx: D 4H, Wh: H 4H, b: 4H",
                                 x, h0, Wx, Wh, b)
    # BEGIN REFERENCE lstm_forward
    prev_h = np.zeros((N, H)) if h0 is None else h0
    prev_c = np.zeros((N, H))  # the cell state starts at zero
    h = np.zeros((N, T, H))
    cache = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    # END REFERENCE
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh: (N, T, H) gradient of the loss with respect to every hidden state (from the outputs;
        the gradients through the recurrence are added here); cache: from lstm_forward.
    Returns: dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    N, T, H = validate.shapes("lstm_backward", "dh: N T H", dh, T=len(cache))
    # BEGIN REFERENCE lstm_backward
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, cache[t])  # the cell state carries dprev_c back
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    # END REFERENCE
    return dx, dh0, dWx, dWh, db
