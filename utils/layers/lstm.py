"""LSTM layers and a GRU step (numpy reference implementations).

The LSTM, in the row-vector form used in code (a minibatch of N rows):
    a      = x_t @ Wx + h_{t-1} @ Wh + b             (N, 4H): all four gates in one product
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), sigmoid(a[:, 2H:3H])
    g      = tanh(a[:, 3H:])
    c_t    = f * c_{t-1} + i * g                     the cell state: an elementwise update
    h_t    = o * tanh(c_t)
The course orders the gate blocks i, f, o, g: the three sigmoid gates first, so one sigmoid
call covers 3H columns. torch.nn.LSTM uses i, f, g, o; see utils.torch_cells for the mapping.

The GRU step follows torch.nn.GRU (gate blocks r, z, n; the reset gate multiplies the
recurrent product *after* it is computed, with its own bias):
    r = sigmoid(x @ Wx_r + bx_r + h @ Wh_r + bh_r),  z = sigmoid(x @ Wx_z + bx_z + h @ Wh_z + bh_z)
    n = tanh(x @ Wx_n + bx_n + r * (h @ Wh_n + bh_n)),  h_t = (1 - z) * n + z * h_{t-1}
"""
import numpy as np



def _expect_shape(fname, name, array, shape):
    """Raise a ValueError naming the function and argument if ``array`` has the wrong shape."""
    got = np.shape(array)
    if len(got) != len(shape) or any(s is not None and a != s for a, s in zip(got, shape)):
        pretty = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{fname}: {name} should have shape {pretty}, got {got}")


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])  # for x < 0 write it as e^x / (1 + e^x): exp never overflows
    out[~pos] = ex / (1.0 + ex)
    return out


def _lstm_shapes(fname, x, prev_h, prev_c, Wx, Wh, b):
    _expect_shape(fname, "x", x, (None, None))
    N, D = np.shape(x)
    _expect_shape(fname, "Wh", Wh, (None, None))
    H = np.shape(Wh)[0]
    _expect_shape(fname, "Wh", Wh, (H, 4 * H))
    _expect_shape(fname, "prev_h", prev_h, (N, H))
    _expect_shape(fname, "prev_c", prev_c, (N, H))
    _expect_shape(fname, "Wx", Wx, (D, 4 * H))
    _expect_shape(fname, "b", b, (4 * H,))
    return N, D, H


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step. Gate blocks of the 4H columns, in order: i, f, o, g.

    x: (N, D) inputs; prev_h: (N, H) previous hidden state; prev_c: (N, H) previous cell state;
    Wx: (D, 4H) input-to-gates; Wh: (H, 4H) hidden-to-gates; b: (4H,) gate biases.
    Returns: next_h (N, H), next_c (N, H), cache for lstm_step_backward.
    """
    N, D, H = _lstm_shapes("lstm_step_forward", x, prev_h, prev_c, Wx, Wh, b)
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    sig = sigmoid(a[:, :3 * H])
    i, f, o = sig[:, :H], sig[:, H:2 * H], sig[:, 2 * H:]
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    dnext_h: (N, H) gradient of the loss with respect to next_h;
    dnext_c: (N, H) gradient with respect to next_c (from the step after, zeros at the end);
    cache: from lstm_step_forward.
    Returns: dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
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
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over whole sequences. The initial cell state is zero.

    x: (N, T, D); h0: (N, H) initial hidden state, or None for zeros;
    Wx: (D, 4H); Wh: (H, 4H); b: (4H,).
    Returns: h (N, T, H) hidden states of every step, cache for lstm_backward.
    """
    _expect_shape("lstm_forward", "x", x, (None, None, None))
    _expect_shape("lstm_forward", "Wh", Wh, (None, None))
    N, T, D = np.shape(x)
    H = np.shape(Wh)[0]
    if h0 is None:
        h0 = np.zeros((N, H))
    _expect_shape("lstm_forward", "h0", h0, (N, H))
    prev_h, prev_c = h0, np.zeros((N, H))
    h = np.zeros((N, T, H))
    step_caches = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        step_caches.append(step_cache)
    return h, step_caches


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh: (N, T, H) gradient of the loss with respect to every hidden state (from the outputs;
        the gradients through the recurrence are added here); cache: from lstm_forward.
    Returns: dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    step_caches = cache
    _expect_shape("lstm_backward", "dh", dh, (None, len(step_caches), None))
    N, T, H = dh.shape
    D = step_caches[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, step_caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    """One GRU step with torch.nn.GRU's equations. Gate blocks of the 3H columns: r, z, n.

    x: (N, D); prev_h: (N, H); Wx: (D, 3H); Wh: (H, 3H); bx: (3H,) input bias;
    bh: (3H,) recurrent bias (kept separate because the reset gate multiplies h @ Wh_n + bh_n).
    Returns: next_h (N, H), cache (x, prev_h, r, z, n, hn) with hn = h @ Wh_n + bh_n.
    """
    _expect_shape("gru_step_forward", "x", x, (None, None))
    _expect_shape("gru_step_forward", "Wh", Wh, (None, None))
    N, D = np.shape(x)
    H = np.shape(Wh)[0]
    _expect_shape("gru_step_forward", "Wh", Wh, (H, 3 * H))
    _expect_shape("gru_step_forward", "prev_h", prev_h, (N, H))
    _expect_shape("gru_step_forward", "Wx", Wx, (D, 3 * H))
    _expect_shape("gru_step_forward", "bx", bx, (3 * H,))
    _expect_shape("gru_step_forward", "bh", bh, (3 * H,))
    ax = x @ Wx + bx  # (N, 3H)
    ah = prev_h @ Wh + bh  # (N, 3H)
    rz = sigmoid(ax[:, :2 * H] + ah[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    hn = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    next_h = (1.0 - z) * n + z * prev_h
    return next_h, (x, prev_h, r, z, n, hn)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """Run a GRU over whole sequences (forward only).

    x: (N, T, D); h0: (N, H) or None for zeros; Wx: (D, 3H); Wh: (H, 3H); bx, bh: (3H,).
    Returns: h (N, T, H).
    """
    _expect_shape("gru_forward", "x", x, (None, None, None))
    _expect_shape("gru_forward", "Wh", Wh, (None, None))
    N, T, _ = np.shape(x)
    H = np.shape(Wh)[0]
    prev_h = np.zeros((N, H)) if h0 is None else h0
    _expect_shape("gru_forward", "h0", prev_h, (N, H))
    h = np.zeros((N, T, H))
    for t in range(T):
        prev_h, _ = gru_step_forward(x[:, t], prev_h, Wx, Wh, bx, bh)
        h[:, t] = prev_h
    return h
