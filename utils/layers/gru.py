"""GRU layers (numpy reference implementations).

The GRU step follows torch.nn.GRU (gate blocks r, z, n; the reset gate multiplies the
recurrent product *after* it is computed, with its own bias):
    r = sigmoid(x @ Wx_r + bx_r + h @ Wh_r + bh_r),  z = sigmoid(x @ Wx_z + bx_z + h @ Wh_z + bh_z)
    n = tanh(x @ Wx_n + bx_n + r * (h @ Wh_n + bh_n)),  h_t = (1 - z) * n + z * h_{t-1}
"""
import numpy as np

from utils.layers.common import sigmoid
from utils import validate


def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    """One GRU step with torch.nn.GRU's equations. Gate blocks of the 3H columns: r, z, n.

    x: (N, D); prev_h: (N, H); Wx: (D, 3H); Wh: (H, 3H); bx: (3H,) input bias;
    bh: (3H,) recurrent bias (kept separate because the reset gate multiplies h @ Wh_n + bh_n).
    Returns: next_h (N, H), cache (x, prev_h, Wx, Wh, r, z, n, hn) with hn = h @ Wh_n + bh_n.
    """
    N, D, H = validate.shapes("gru_step_forward",
                              "x: N D, prev_h: N H, Wx: D 3H, Wh: H 3H, bx: 3H, bh: 3H",
                              x, prev_h, Wx, Wh, bx, bh)
    ax = x @ Wx + bx  # (N, 3H)
    ah = prev_h @ Wh + bh  # (N, 3H)
    rz = sigmoid(ax[:, :2 * H] + ah[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    hn = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    next_h = (1.0 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_backward(dnext_h, cache):
    """Backward pass of one GRU step.

    dnext_h: (N, H) gradient of the loss with respect to next_h; cache: from gru_step_forward.
    Returns: dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,).
    """
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dn = dnext_h * (1.0 - z)
    dz = dnext_h * (prev_h - n)
    dan = dn * (1.0 - n ** 2)  # pre-activation of n: x Wx_n + bx_n + r * hn
    dr = dan * hn
    dhn = dan * r  # gradient of hn = prev_h @ Wh_n + bh_n
    dax = np.concatenate([dr * r * (1 - r), dz * z * (1 - z), dan], axis=1)  # (N, 3H)
    dah = np.concatenate([dax[:, :2 * dr.shape[1]], dhn], axis=1)  # r and z see both sums alike
    dx = dax @ Wx.T
    dprev_h = dnext_h * z + dah @ Wh.T
    return dx, dprev_h, x.T @ dax, prev_h.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run a GRU over whole sequences.

    x: (N, T, D); h0: (N, H) or None for zeros; Wx: (D, 3H); Wh: (H, 3H); bx, bh: (3H,).
    Returns: h (N, T, H) hidden states of every step, cache for gru_backward.
    """
    N, T, D, H = validate.shapes("gru_forward", "x: N T D, h0: N H, Wx: D 3H, Wh: H 3H, bx: 3H, bh: 3H",
                                 x, h0, Wx, Wh, bx, bh)
    h, step_caches = np.zeros((N, T, H)), []  # every step's state, every step's cache
    prev_h = np.zeros((N, H)) if h0 is None else h0
    for t in range(T):
        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, bx, bh)
        h[:, t] = prev_h
        step_caches.append(step_cache)
    return h, step_caches


def gru_backward(dh, cache):
    """Backpropagation through time for gru_forward.

    dh: (N, T, H) gradient of the loss with respect to every hidden state; cache: from gru_forward.
    Returns: dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), dbx (3H,), dbh (3H,).
    """
    step_caches = cache
    N, T, H = validate.shapes("gru_backward", "dh: N T H", dh, T=len(step_caches))
    D = step_caches[0][0].shape[1]
    dx = np.zeros((N, T, D))
    grads = [np.zeros((D, 3 * H)), np.zeros((H, 3 * H)), np.zeros(3 * H), np.zeros(3 * H)]
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, *step_grads = gru_step_backward(dh[:, t] + dprev_h, step_caches[t])
        for total, g in zip(grads, step_grads):
            total += g
    return (dx, dprev_h, *grads)
