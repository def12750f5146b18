"""How gradients travel back through time in vanilla, LSTM and GRU cells (notebooks 04 and 05).

    gradient_norms_reference     the notebook-04 exercise: ||dL/dh_t|| for a numpy vanilla RNN
    log_gradient_norms           log10 ||dL/dh_t|| (and ||dL/dc_t||) for any cell, without overflow
    gradient_norms_through_time  an untrained cell of a chosen spectral radius, measured in one call

Shapes: B (or N) sequences, T steps, D input features, H hidden units. The loss L reads only
the last hidden state, L = sum_b v_b . h_T[b] with random unit vectors v_b, so dL/dh_T has norm
1 per sequence and ||dL/dh_t|| is exactly how much of it survives T - t steps back.
"""
import numpy as np
import torch

from utils import validate
from utils.course import torch_threads
from utils.models.cells import FLOW_CELLS, cell_step
from utils.models.weights import check_cell_weights, make_cell_weights, recurrent_block

MAX_LENGTH = 5000  # a guard against typing an extra zero; each step costs a backward call

def gradient_norms_reference(h, Wh, dh_last):
    """||dL/dh_t|| of a vanilla RNN, walking the Jacobian product back from the last step.

    h: (N, T, H) hidden states from rnn_forward (row-vector convention, next_h = tanh(prev_h @ Wh + ...));
    Wh: (H, H); dh_last: (N, H) gradient of the loss with respect to h[:, T-1] (the loss reads
    only the last state).
    Returns: norms (N, T), norms[n, t] = ||dL/dh[n, t]||. Going back one step multiplies by
    the Jacobian transpose: dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) @ Wh.T.
    """
    N, T, H = validate.shapes("gradient_norms_reference", "h: N T H, Wh: H H, dh_last: N H", h, Wh, dh_last)
    # BEGIN REFERENCE gradient_norms
    norms = np.zeros((N, T))
    d = dh_last
    norms[:, T - 1] = np.linalg.norm(d, axis=1)
    for t in range(T - 1, 0, -1):
        d = (d * (1 - h[:, t] ** 2)) @ Wh.T  # back through step t: tanh' of h_t, then Wh
        norms[:, t - 1] = np.linalg.norm(d, axis=1)
    # END REFERENCE
    return norms


def _rms_log10(log10_norms):
    """log10 of the root mean square over the batch, from per-sequence log10 norms (B,)."""
    a = 2.0 * np.log(10.0) * np.asarray(log10_norms)
    top = a.max()
    return float((top + np.log(np.mean(np.exp(a - top)))) / (2.0 * np.log(10.0)))


def log_gradient_norms(cell, weights, x, seed=0):
    """log10 of ||dL/dh_t|| (and ||dL/dc_t|| for an LSTM) at every step, for any cell.

    cell: "vanilla", "residual", "lstm" or "gru"; weights: dict in the course layout (make_cell_weights or
    weights_from_module); x: (B, T, D) inputs (numpy or torch); seed: picks the unit vectors v_b
    of the loss L = sum_b v_b . h_T[b].
    Returns: dict with "h" (T,), "c" (T,) or None and "c_direct" (T,) or None: log10 of the
    root mean square over the batch of ||dL/dh_t|| (||dL/dc_t||); entry T-1 of "h" is 0 (norm 1).
    dL/dh_t is the gradient with respect to the state h_t (what lstm_backward carries as
    dprev_h); dL/dc_t is the total gradient of the cell state, through c_{t+1} and through
    h_t = o_t * tanh(c_t). "c_direct" is the part of dL/dc_t that comes back along the cell
    state alone, dL/dc_T * f_T * ... * f_(t+1) with the forget gates of this run: the path with
    no weight matrix. The rest of dL/dc_t arrives through h and the gates.

    The backward walk renormalises the gradient after every step and keeps the logarithm of
    the scale, so norms like 1e-300 or 1e+300 come out as finite numbers instead of 0 or inf.
    """
    with torch_threads(1):  # tiny tensors: threads only add synchronisation (see torch_threads)
        return _log_gradient_norms(cell, weights, x, seed)


def _log_gradient_norms(cell, weights, x, seed):
    fname = "log_gradient_norms"
    cell = validate.choice_of_cell(fname, cell, FLOW_CELLS)
    check_cell_weights(fname, cell, weights)
    W = {k: torch.as_tensor(np.asarray(v), dtype=torch.float64) for k, v in weights.items()}
    H = W["Wh"].shape[0]
    B, T, D = validate.shapes(fname, "x: B T D", x, D=W["Wx"].shape[0])
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    validate.positive_int(fname, "the sequence length T", T, MAX_LENGTH)
    n_state = 2 if cell == "lstm" else 1
    with torch.no_grad():  # forward pass once, keeping every state
        states = [tuple(torch.zeros(B, H, dtype=torch.float64) for _ in range(n_state))]  # device: numpy in, CPU
        c_to_h = [None]  # LSTM: dh_t/dc_t = o_t * (1 - tanh(c_t)^2), elementwise
        forget = [None]  # LSTM: f_t, the factor of the cell-state path from c_(t-1) to c_t
        for t in range(T):
            if cell == "lstm":
                gates = torch.sigmoid(x[:, t] @ W["Wx"][:, H:3 * H] + states[-1][0] @ W["Wh"][:, H:3 * H]
                                      + W["b"][H:3 * H])
                f, o = gates[:, :H], gates[:, H:]
            states.append(cell_step(cell, W, x[:, t], states[-1]))
            if cell == "lstm":
                c_to_h.append(o * (1 - torch.tanh(states[-1][1]) ** 2))
                forget.append(f)
    rng = np.random.default_rng(validate.seed("log_gradient_norms", seed))
    v = torch.as_tensor(rng.normal(size=(B, H)), dtype=torch.float64)
    grad = [v / v.norm(dim=1, keepdim=True)] + [torch.zeros(B, H, dtype=torch.float64)] * (n_state - 1)  # device: CPU
    log_scale = np.zeros(B)  # log10 of the factor divided out of grad so far, per sequence
    out_h, out_c = np.zeros(T), np.zeros(T) if cell == "lstm" else None
    out_direct = _cell_path_log_norms(grad[0] * c_to_h[T], forget) if cell == "lstm" else None

    def record(t):  # out_h[t] and out_c[t] describe h_{t+1}, c_{t+1} (steps counted from 1)
        out_h[t] = _rms_log10(np.log10(np.maximum(grad[0].norm(dim=1).numpy(), 1e-300)) + log_scale)
        if out_c is not None:
            # the total gradient of c_t: through c_{t+1} and through h_t = o_t * tanh(c_t)
            dc = grad[1] + grad[0] * c_to_h[t + 1]
            out_c[t] = _rms_log10(np.log10(np.maximum(dc.norm(dim=1).numpy(), 1e-300)) + log_scale)

    record(T - 1)
    for t in range(T - 1, 0, -1):  # states[t] holds h_t (and c_t); step t+1 reads x[:, t]
        prev = tuple(s.clone().requires_grad_(True) for s in states[t])
        new = cell_step(cell, W, x[:, t], prev)
        grad = list(torch.autograd.grad(new, prev, grad_outputs=grad, allow_unused=True))
        grad = [torch.zeros(B, H, dtype=torch.float64) if g is None else g for g in grad]  # device: CPU
        total = torch.sqrt(sum((g ** 2).sum(dim=1) for g in grad)).numpy()  # (B,)
        total = np.where(total > 0, total, 1.0)
        grad = [g / torch.as_tensor(total)[:, None] for g in grad]
        log_scale += np.log10(total)
        record(t - 1)
    return {"h": out_h, "c": out_c, "c_direct": out_direct}


def _cell_path_log_norms(dc_last, forget):
    """log10 RMS over the batch of ||dc_T * f_T * ... * f_(t+1)||, t = T..1, without underflow.

    dc_last: (B, H) gradient of c_T; forget: [None, f_1, ..., f_T], each (B, H).
    """
    T = len(forget) - 1
    log_abs = torch.log(dc_last.abs().clamp_min(1e-300)).numpy()  # (B, H), natural log
    out = np.zeros(T)
    for t in range(T, 0, -1):  # out[t-1] describes c_t
        top = log_abs.max(axis=1, keepdims=True)
        norms = top[:, 0] + 0.5 * np.log(np.sum(np.exp(2 * (log_abs - top)), axis=1))  # ln ||.|| per sequence
        out[t - 1] = _rms_log10(norms / np.log(10.0))
        log_abs = log_abs + torch.log(forget[t]).numpy()
    return out


def gradient_norms_through_time(cell="vanilla", radius=1.0, input_scale=1.0, length=100,
                                hidden_size=32, forget_bias=1.0, batch_size=8, seed=0):
    """||dL/dh_t|| for an untrained cell with the given spectral radius and input scale.

    cell: "vanilla", "residual", "lstm" or "gru"; radius: spectral radius of the recurrent blocks (> 0);
    input_scale: std of x_t @ Wx (>= 0, larger values push tanh and the gates into saturation);
    length: T (>= 1); hidden_size: H; forget_bias: LSTM forget-gate bias; batch_size: number of
    random input sequences (x_t standard normal); seed: weights, inputs and loss vectors.
    Returns: dict with "log10_h" (T,), "log10_c" (T,) or None, "log10_c_direct" (T,) or None
    (see log_gradient_norms), "W" the (H, H) recurrent block,
    "weights" (the full dict) and the settings.
    """
    fname = "gradient_norms_through_time"
    cell = validate.choice_of_cell(fname, cell, FLOW_CELLS)
    length = validate.positive_int(fname, "length", length, MAX_LENGTH)
    batch_size = validate.positive_int(fname, "batch_size", batch_size, 4096)
    weights = make_cell_weights(cell, hidden_size, 4, radius, input_scale, forget_bias, seed)
    x = np.random.default_rng(seed + 1).normal(size=(batch_size, length, 4))
    logs = log_gradient_norms(cell, weights, x, seed=seed + 2)
    return {"log10_h": logs["h"], "log10_c": logs["c"], "log10_c_direct": logs["c_direct"],
            "W": recurrent_block(cell, weights),
            "weights": weights, "cell": cell, "radius": float(radius),
            "input_scale": float(input_scale), "length": length, "forget_bias": float(forget_bias)}
