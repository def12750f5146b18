"""How gradients travel back through time in vanilla, LSTM and GRU cells (notebooks 04 and 05).

    gradient_norms_reference     the notebook-04 exercise: ||dL/dh_t|| for a numpy vanilla RNN
    scale_to_spectral_radius     rescale a matrix so that its largest |eigenvalue| is a given number
    random_recurrent_matrix      a random H x H matrix with a chosen spectral radius
    make_cell_weights            weights of a vanilla / LSTM / GRU cell built around such a matrix
    weights_from_module          the same dictionary read from a trained nn.RNN / nn.LSTM / nn.GRU
    log_gradient_norms           log10 ||dL/dh_t|| (and ||dL/dc_t||) for any cell, without overflow
    gradient_norms_through_time  the two steps above in one call, as the widget uses them
    draw_gradient_flow, gradient_flow_widget   the figure and its live version
    clip_by_global_norm, clip_by_value         gradient clipping (reference implementations)

Shapes: B (or N) sequences, T steps, D input features, H hidden units. The loss L reads only
the last hidden state, L = sum_b v_b . h_T[b] with random unit vectors v_b, so dL/dh_T has norm
1 per sequence and ||dL/dh_t|| is exactly how much of it survives T - t steps back.
"""
import math
import numbers

import numpy as np

CELLS = ("vanilla", "lstm", "gru")
CELL_LABELS = {"vanilla": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
CELL_COLORS = {"vanilla": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
MAX_LENGTH = 5000  # a guard against typing an extra zero; each step costs a backward call


# ----------------------------------------------------------------------------- input checks
def _finite_number(fname, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{fname}: {name} must be a finite number, got {value!r}")
    return float(value)


def check_radius(fname, radius, name="radius"):
    """Return ``radius`` as a float, or raise ValueError unless it is a finite number > 0."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) \
            or not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"{fname}: {name} must be a finite number > 0, got {radius!r}")
    return float(radius)


def check_length(fname, length, name="length", maximum=MAX_LENGTH):
    """Return ``length`` as an int, or raise ValueError unless it is an integer in [1, maximum]."""
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or not 1 <= length <= maximum:
        raise ValueError(f"{fname}: {name} must be an integer between 1 and {maximum}, got {length!r}")
    return int(length)


def _check_nonnegative(fname, name, value):
    value = _finite_number(fname, name, value)
    if value < 0:
        raise ValueError(f"{fname}: {name} must be >= 0, got {value!r}")
    return value


def _check_cell(fname, cell):
    if cell not in CELLS:
        raise ValueError(f"{fname}: cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")
    return cell


def _check_matrix(fname, name, W, square=True):
    W = np.asarray(W, dtype=np.float64) if not hasattr(W, "detach") else W.detach().cpu().numpy()
    if W.ndim != 2 or (square and W.shape[0] != W.shape[1]) or W.size == 0:
        raise ValueError(f"{fname}: {name} must be a {'square ' if square else ''}2-D matrix, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{fname}: {name} contains NaN or inf")
    return W.astype(np.float64)


# ---------------------------------------------------------------- spectra and the exercise
def spectral_radius(W):
    """Largest |eigenvalue| of a square matrix W (H, H). Returns a float."""
    W = _check_matrix("spectral_radius", "W", W)
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def singular_values(W):
    """Singular values of a matrix W (any 2-D shape), largest first. Returns (min(W.shape),)."""
    return np.linalg.svd(_check_matrix("singular_values", "W", W, square=False), compute_uv=False)


def scale_to_spectral_radius(W, radius):
    """Return a rescaled copy of the square matrix W (H, H) whose spectral radius is ``radius``.

    The spectral radius is the largest |eigenvalue|; it sets how fast W^k grows or shrinks for
    large k (||W^k||^(1/k) tends to it), while the largest singular value bounds every single
    step. W must not be nilpotent (all eigenvalues 0), or no scaling can reach the radius.
    """
    radius = check_radius("scale_to_spectral_radius", radius)
    W = _check_matrix("scale_to_spectral_radius", "W", W)
    rho = np.max(np.abs(np.linalg.eigvals(W)))
    if rho < 1e-12:
        raise ValueError("scale_to_spectral_radius: W has spectral radius 0 (all eigenvalues are 0), "
                         "so no rescaling gives it another one")
    return W * (radius / rho)


def random_recurrent_matrix(hidden_size, radius, seed=0):
    """A random Gaussian (H, H) matrix rescaled to spectral radius ``radius``.

    hidden_size: H; radius: finite > 0; seed: for numpy's default_rng.
    Its singular values spread around the radius (the largest is above it): the gap between
    the two numbers is what notebook 04 discusses.
    """
    H = check_length("random_recurrent_matrix", hidden_size, "hidden_size", maximum=4096)
    radius = check_radius("random_recurrent_matrix", radius)
    W = np.random.default_rng(seed).normal(size=(H, H)) / np.sqrt(H)
    return scale_to_spectral_radius(W, radius)


def gradient_norms_reference(h, Wh, dh_last):
    """||dL/dh_t|| of a vanilla RNN, walking the Jacobian product back from the last step.

    h: (N, T, H) hidden states from rnn_forward (row-vector convention, next_h = tanh(prev_h @ Wh + ...));
    Wh: (H, H); dh_last: (N, H) gradient of the loss with respect to h[:, T-1] (the loss reads
    only the last state).
    Returns: norms (N, T), norms[n, t] = ||dL/dh[n, t]||. Going back one step multiplies by
    the Jacobian transpose: dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) @ Wh.T.
    """
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"gradient_norms_reference: h should have shape (N, T, H), got {h.shape}")
    N, T, H = h.shape
    Wh = _check_matrix("gradient_norms_reference", "Wh", Wh)
    if Wh.shape != (H, H):
        raise ValueError(f"gradient_norms_reference: Wh should have shape ({H}, {H}), got {Wh.shape}")
    d = np.asarray(dh_last, dtype=np.float64)
    if d.shape != (N, H):
        raise ValueError(f"gradient_norms_reference: dh_last should have shape ({N}, {H}), got {d.shape}")
    norms = np.zeros((N, T))
    norms[:, T - 1] = np.linalg.norm(d, axis=1)
    for t in range(T - 1, 0, -1):
        d = (d * (1.0 - h[:, t] ** 2)) @ Wh.T
        norms[:, t - 1] = np.linalg.norm(d, axis=1)
    return norms


# ------------------------------------------------------------------------ cells in torch
def make_cell_weights(cell, hidden_size=32, input_size=4, radius=1.0, input_scale=1.0,
                      forget_bias=1.0, seed=0):
    """Weights of an untrained cell whose recurrent matrices have a chosen spectral radius.

    cell: "vanilla", "lstm" or "gru"; hidden_size: H; input_size: D;
    radius: spectral radius of every H x H recurrent block (W_hh, or each gate's block);
    input_scale: the input weights are scaled so that x_t @ Wx has standard deviation about
    input_scale when x_t is standard normal (0 disconnects the input);
    forget_bias: bias of the LSTM forget gate (ignored by the other cells); other biases are 0.
    Returns: dict of float64 numpy arrays in the course layout (see utils.torch_cells):
    vanilla {Wx (D, H), Wh (H, H), b (H,)}, lstm {Wx (D, 4H), Wh (H, 4H), b (4H,)} with gate
    blocks i, f, o, g; gru {Wx (D, 3H), Wh (H, 3H), bx, bh (3H,)} with blocks r, z, n.
    """
    fname = "make_cell_weights"
    cell = _check_cell(fname, cell)
    H = check_length(fname, hidden_size, "hidden_size", maximum=4096)
    D = check_length(fname, input_size, "input_size", maximum=4096)
    radius = check_radius(fname, radius)
    input_scale = _check_nonnegative(fname, "input_scale", input_scale)
    forget_bias = _finite_number(fname, "forget_bias", forget_bias)
    k = {"vanilla": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    Wh = np.concatenate([random_recurrent_matrix(H, radius, seed=int(rng.integers(2 ** 31)))
                         for _ in range(k)], axis=1)
    Wx = rng.normal(size=(D, k * H)) * (input_scale / np.sqrt(D))
    if cell == "gru":
        return {"Wx": Wx, "Wh": Wh, "bx": np.zeros(3 * H), "bh": np.zeros(3 * H)}
    b = np.zeros(k * H)
    if cell == "lstm":
        b[H:2 * H] = forget_bias
    return {"Wx": Wx, "Wh": Wh, "b": b}


def recurrent_block(cell, weights):
    """The H x H recurrent matrix the figures show: W_hh (vanilla), the candidate block
    (LSTM: g, the last block; GRU: n, the last block). Returns a numpy (H, H) array."""
    Wh = np.asarray(weights["Wh"])
    H = Wh.shape[0]
    return Wh[:, -H:]


def weights_from_module(rnn):
    """Read a one-layer torch nn.RNN (tanh), nn.LSTM or nn.GRU into the course layout.

    Returns: (cell name, weights dict as in make_cell_weights, float64 numpy arrays).
    """
    from torch import nn

    if isinstance(rnn, nn.LSTM):
        cell, order = "lstm", (0, 1, 3, 2)  # torch i, f, g, o -> course i, f, o, g
    elif isinstance(rnn, nn.GRU):
        cell, order = "gru", (0, 1, 2)
    elif isinstance(rnn, nn.RNN) and rnn.nonlinearity == "tanh":
        cell, order = "vanilla", (0,)
    else:
        raise TypeError(f"weights_from_module: expected a torch nn.RNN (tanh), nn.LSTM or nn.GRU, "
                        f"got {type(rnn).__name__}")
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError("weights_from_module: only one-layer, one-direction modules with biases")
    H = rnn.hidden_size

    def course(name):
        w = getattr(rnn, name).detach().cpu().double().numpy()
        return np.concatenate([w[k * H:(k + 1) * H] for k in order], axis=0)

    Wx, Wh = course("weight_ih_l0").T, course("weight_hh_l0").T
    if cell == "gru":
        return cell, {"Wx": Wx, "Wh": Wh, "bx": course("bias_ih_l0"), "bh": course("bias_hh_l0")}
    return cell, {"Wx": Wx, "Wh": Wh, "b": course("bias_ih_l0") + course("bias_hh_l0")}


def _step(cell, W, x, state):
    """One step of a cell on torch tensors; state is (h,) or (h, c). Returns the new state."""
    import torch

    from utils.torch_cells import gru_step, lstm_step

    if cell == "vanilla":
        return (torch.tanh(x @ W["Wx"] + state[0] @ W["Wh"] + W["b"]),)
    if cell == "lstm":
        return lstm_step(x, state[0], state[1], W["Wx"], W["Wh"], W["b"])
    return (gru_step(x, state[0], W["Wx"], W["Wh"], W["bx"], W["bh"]),)


def _rms_log10(log10_norms):
    """log10 of the root mean square over the batch, from per-sequence log10 norms (B,)."""
    a = 2.0 * np.log(10.0) * np.asarray(log10_norms)
    top = a.max()
    return float((top + np.log(np.mean(np.exp(a - top)))) / (2.0 * np.log(10.0)))


def log_gradient_norms(cell, weights, x, seed=0):
    """log10 of ||dL/dh_t|| (and ||dL/dc_t|| for an LSTM) at every step, for any cell.

    cell: "vanilla", "lstm" or "gru"; weights: dict in the course layout (make_cell_weights or
    weights_from_module); x: (B, T, D) inputs (numpy or torch); seed: picks the unit vectors v_b
    of the loss L = sum_b v_b . h_T[b].
    Returns: dict with "h" (T,) and "c" (T,) or None: log10 of the root mean square over the
    batch of ||dL/dh_t|| (||dL/dc_t||); entry T-1 of "h" is 0 (norm 1). dL/dh_t is the gradient
    with respect to the state h_t (what lstm_backward carries as dprev_h); dL/dc_t is the total
    gradient of the cell state, through c_{t+1} and through h_t = o_t * tanh(c_t).

    The backward walk renormalises the gradient after every step and keeps the logarithm of
    the scale, so norms like 1e-300 or 1e+300 come out as finite numbers instead of 0 or inf.
    """
    from utils.long_range import torch_threads

    with torch_threads(1):  # tiny tensors: threads only add synchronisation (see torch_threads)
        return _log_gradient_norms(cell, weights, x, seed)


def _log_gradient_norms(cell, weights, x, seed):
    import torch

    fname = "log_gradient_norms"
    cell = _check_cell(fname, cell)
    W = {k: torch.as_tensor(np.asarray(v), dtype=torch.float64) for k, v in weights.items()}
    H = W["Wh"].shape[0]
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.dim() != 3 or x.shape[2] != W["Wx"].shape[0]:
        raise ValueError(f"{fname}: x should have shape (B, T, {W['Wx'].shape[0]}), got {tuple(x.shape)}")
    B, T, _ = x.shape
    check_length(fname, T, "the sequence length T")
    n_state = 2 if cell == "lstm" else 1
    with torch.no_grad():  # forward pass once, keeping every state
        states = [tuple(torch.zeros(B, H, dtype=torch.float64) for _ in range(n_state))]
        c_to_h = [None]  # LSTM: dh_t/dc_t = o_t * (1 - tanh(c_t)^2), elementwise
        for t in range(T):
            if cell == "lstm":
                o = torch.sigmoid(x[:, t] @ W["Wx"][:, 2 * H:3 * H] + states[-1][0] @ W["Wh"][:, 2 * H:3 * H]
                                  + W["b"][2 * H:3 * H])
            states.append(_step(cell, W, x[:, t], states[-1]))
            if cell == "lstm":
                c_to_h.append(o * (1 - torch.tanh(states[-1][1]) ** 2))
    v = torch.as_tensor(np.random.default_rng(seed).normal(size=(B, H)), dtype=torch.float64)
    grad = [v / v.norm(dim=1, keepdim=True)] + [torch.zeros(B, H, dtype=torch.float64)] * (n_state - 1)
    log_scale = np.zeros(B)  # log10 of the factor divided out of grad so far, per sequence
    out_h, out_c = np.zeros(T), np.zeros(T) if cell == "lstm" else None

    def record(t):  # out_h[t] and out_c[t] describe h_{t+1}, c_{t+1} (steps counted from 1)
        out_h[t] = _rms_log10(np.log10(np.maximum(grad[0].norm(dim=1).numpy(), 1e-300)) + log_scale)
        if out_c is not None:
            # the total gradient of c_t: through c_{t+1} and through h_t = o_t * tanh(c_t)
            dc = grad[1] + grad[0] * c_to_h[t + 1]
            out_c[t] = _rms_log10(np.log10(np.maximum(dc.norm(dim=1).numpy(), 1e-300)) + log_scale)

    record(T - 1)
    for t in range(T - 1, 0, -1):  # states[t] holds h_t (and c_t); step t+1 reads x[:, t]
        prev = tuple(s.clone().requires_grad_(True) for s in states[t])
        new = _step(cell, W, x[:, t], prev)
        grad = list(torch.autograd.grad(new, prev, grad_outputs=grad, allow_unused=True))
        grad = [torch.zeros(B, H, dtype=torch.float64) if g is None else g for g in grad]
        total = torch.sqrt(sum((g ** 2).sum(dim=1) for g in grad)).numpy()  # (B,)
        total = np.where(total > 0, total, 1.0)
        grad = [g / torch.as_tensor(total)[:, None] for g in grad]
        log_scale += np.log10(total)
        record(t - 1)
    return {"h": out_h, "c": out_c}


def gradient_norms_through_time(cell="vanilla", radius=1.0, input_scale=1.0, length=100,
                                hidden_size=32, forget_bias=1.0, batch_size=8, seed=0):
    """||dL/dh_t|| for an untrained cell with the given spectral radius and input scale.

    cell: "vanilla", "lstm" or "gru"; radius: spectral radius of the recurrent blocks (> 0);
    input_scale: std of x_t @ Wx (>= 0, larger values push tanh and the gates into saturation);
    length: T (>= 1); hidden_size: H; forget_bias: LSTM forget-gate bias; batch_size: number of
    random input sequences (x_t standard normal); seed: weights, inputs and loss vectors.
    Returns: dict with "log10_h" (T,), "log10_c" (T,) or None, "W" the (H, H) recurrent block,
    "weights" (the full dict) and the settings.
    """
    fname = "gradient_norms_through_time"
    cell = _check_cell(fname, cell)
    length = check_length(fname, length)
    batch_size = check_length(fname, batch_size, "batch_size", maximum=4096)
    weights = make_cell_weights(cell, hidden_size, 4, radius, input_scale, forget_bias, seed)
    x = np.random.default_rng(seed + 1).normal(size=(batch_size, length, 4))
    logs = log_gradient_norms(cell, weights, x, seed=seed + 2)
    return {"log10_h": logs["h"], "log10_c": logs["c"], "W": recurrent_block(cell, weights),
            "weights": weights, "cell": cell, "radius": float(radius),
            "input_scale": float(input_scale), "length": length, "forget_bias": float(forget_bias)}


# ---------------------------------------------------------------------------- the figure
def _log_ticks(ax):
    """Label a log10-valued y axis as powers of ten (works far beyond float range)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"$10^{{{int(round(y))}}}$"))


def plot_log_norms(ax, log10_norms, label=None, color=None, style="-"):
    """Plot log10 gradient norms (T,) against the step t = 1..T on ``ax``, y labelled as 10^k."""
    T = len(log10_norms)
    ax.plot(np.arange(1, T + 1), log10_norms, style, label=label, color=color, linewidth=1.6)
    _log_ticks(ax)
    ax.set_xlabel("step t (the loss reads h_T)")
    ax.set_ylabel("||dL/dh_t||  (log scale)")


def draw_gradient_flow(radius=1.0, input_scale=1.0, length=100, cell="vanilla", forget_bias=1.0,
                       hidden_size=32, seed=0):
    """The gradient-flow figure: ||dL_T/dh_t|| against t, and the singular values of W_hh.

    Arguments as in gradient_norms_through_time; cell may also be "all" to draw the three
    cells on the left panel (the singular values shown are then the vanilla W_hh).
    Left: log-scale gradient norm at every step t, 1 at t = T; for the vanilla RNN, the dashed
    line is the bound sigma_max^(T-t) (Pascanu et al., 2013, with gamma = 1 for tanh); for the
    LSTM, the dotted line is ||dL/dc_t||, the cell-state path.
    Right: singular values of the recurrent matrix, the threshold 1 = 1/gamma, and the
    spectral radius. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    fname = "draw_gradient_flow"
    if cell != "all":
        _check_cell(fname, cell)
    radius = check_radius(fname, radius)
    length = check_length(fname, length)
    cells = CELLS if cell == "all" else (cell,)
    results = [gradient_norms_through_time(c, radius, input_scale, length, hidden_size,
                                           forget_bias, seed=seed) for c in cells]
    fig, (ax, ax_sv) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    for res in results:
        c = res["cell"]
        plot_log_norms(ax, res["log10_h"], label=f"{CELL_LABELS[c]}: ||dL/dh_t||", color=CELL_COLORS[c])
        if res["log10_c"] is not None:
            plot_log_norms(ax, res["log10_c"], label="LSTM: ||dL/dc_t||", color=CELL_COLORS[c], style=":")
    W = results[0]["W"]
    sv = singular_values(W)
    if "vanilla" in cells:
        steps_back = length - np.arange(1, length + 1)
        ax.plot(np.arange(1, length + 1), steps_back * np.log10(sv[0]), "--", color="gray",
                linewidth=1, label="bound sigma_max^(T-t)")
    lo = min(min(r["log10_h"].min() for r in results), -1.0)
    hi = max(max(r["log10_h"].max() for r in results), 1.0)
    if "vanilla" in cells:  # keep the bound from squashing the curves
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.legend(fontsize=7, loc="best")
    gates = "" if cell == "vanilla" else f", forget bias {forget_bias:g}" if cell == "lstm" else ""
    ax.set_title(f"{'all cells' if cell == 'all' else CELL_LABELS[cell]}: radius {radius:g}, "
                 f"input scale {input_scale:g}, T = {length}{gates}", fontsize=9)
    ax_sv.plot(np.arange(1, len(sv) + 1), sv, "o", markersize=3, color="black")
    ax_sv.axhline(1.0, color="crimson", linewidth=1, label="1 = 1/gamma (tanh)")
    ax_sv.axhline(radius, color="tab:purple", linestyle="--", linewidth=1, label=f"spectral radius {radius:g}")
    ax_sv.set_yscale("log")
    ax_sv.set_xlabel("index")
    which = "W_hh" if cell in ("vanilla", "all") else "W_hg (g block)" if cell == "lstm" else "W_hn (n block)"
    ax_sv.set_title(f"singular values of {which}: largest {sv[0]:.2f}", fontsize=9)
    ax_sv.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    plt.show()
    return fig


def gradient_flow_widget(radius=1.0, input_scale=1.0, length=100, cell="vanilla", forget_bias=1.0):
    """Sliders for draw_gradient_flow: spectral radius, input scale, length, cell, forget bias.

    The starting values are checked like draw_gradient_flow's arguments. Returns the widget box.
    """
    import ipywidgets as widgets

    from utils.widgets import interactive_figure

    fname = "gradient_flow_widget"
    radius = check_radius(fname, radius)
    length = check_length(fname, length, maximum=400)
    input_scale = _check_nonnegative(fname, "input_scale", input_scale)
    forget_bias = _finite_number(fname, "forget_bias", forget_bias)
    if cell not in CELLS + ("all",):
        raise ValueError(f"{fname}: cell must be one of 'vanilla', 'lstm', 'gru', 'all', got {cell!r}")
    if not 0.1 <= radius <= 3.0 or input_scale > 5.0 or not -3.0 <= forget_bias <= 6.0:
        raise ValueError(f"{fname}: starting values must lie on the sliders: radius in [0.1, 3], "
                         f"input_scale in [0, 5], forget_bias in [-3, 6]")
    style = {"description_width": "initial"}
    return interactive_figure(
        draw_gradient_flow,
        radius=widgets.FloatSlider(value=radius, min=0.1, max=3.0, step=0.05, description="spectral radius", style=style),
        input_scale=widgets.FloatSlider(value=input_scale, min=0.0, max=5.0, step=0.1, description="input scale", style=style),
        length=widgets.IntSlider(value=length, min=2, max=400, step=1, description="length T", style=style),
        cell=widgets.Dropdown(options=[("vanilla", "vanilla"), ("LSTM", "lstm"), ("GRU", "gru"), ("all three", "all")],
                              value=cell, description="cell"),
        forget_bias=widgets.FloatSlider(value=forget_bias, min=-3.0, max=6.0, step=0.5, description="LSTM forget bias", style=style),
    )


# ------------------------------------------------------------------------------ clipping
def _check_grads(fname, grads):
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)) or not grads:
        raise ValueError(f"{fname}: grads must be a non-empty list of arrays (one per parameter)")
    arrays = [np.asarray(g, dtype=np.float64) for g in grads]
    for k, g in enumerate(arrays):
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{fname}: grads[{k}] contains NaN or inf; clipping cannot repair it "
                             f"(lower the learning rate or find where it overflowed)")
    return arrays


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    grads: list of arrays (any shapes), one per parameter; max_norm: finite > 0.
    Returns: (clipped, total_norm): a list of new arrays of the same shapes, and the joint
    norm before clipping, sqrt(sum of all squared entries). If total_norm <= max_norm the
    gradients are returned unchanged (as copies); otherwise each is multiplied by
    max_norm / total_norm, so the update keeps its direction and only gets shorter.
    """
    fname = "clip_by_global_norm"
    max_norm = check_radius(fname, max_norm, "max_norm")
    arrays = _check_grads(fname, grads)
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in arrays)))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [g * scale for g in arrays], total


def clip_by_value(grads, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value] (entrywise; changes the direction).

    grads: list of arrays; clip_value: finite > 0. Returns: a list of new arrays.
    """
    clip_value = check_radius("clip_by_value", clip_value, "clip_value")
    return [np.clip(g, -clip_value, clip_value) for g in _check_grads("clip_by_value", grads)]


# --------------------------------------------------------------- the cliff of a one-unit RNN
def one_unit_rnn(w, b=-0.2, length=50, h0=0.5, target=0.8):
    """Loss and slope of the smallest recurrent network: one tanh unit, no input.

    h_t = tanh(w h_{t-1} + b) for t = 1..T from h_0; loss L = (h_T - target)^2.
    w: the recurrent weight, a number or an array of them (evaluated elementwise);
    b: bias; length: T (>= 1); h0: initial state; target: wanted final state.
    Returns: (L, dL/dw), arrays shaped like w. The slope is carried forward alongside h:
    dh_t/dw = (1 - h_t^2) (h_{t-1} + w dh_{t-1}/dw).
    """
    fname = "one_unit_rnn"
    length = check_length(fname, length)
    for name, value in (("b", b), ("h0", h0), ("target", target)):
        _finite_number(fname, name, value)
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{fname}: w must be finite")
    h = np.full_like(w, h0)
    dh = np.zeros_like(w)
    for _ in range(length):
        h_new = np.tanh(w * h + b)
        dh = (1.0 - h_new ** 2) * (h + w * dh)
        h = h_new
    return (h - target) ** 2, 2.0 * (h - target) * dh


def descend_one_unit(w0, lr, steps, max_step=None, **rnn_kwargs):
    """Gradient descent on the weight w of one_unit_rnn, optionally with the step clipped.

    w0: start; lr: learning rate (> 0); steps: number of updates (>= 1);
    max_step: None, or the largest allowed |gradient| (clipping by norm in one dimension);
    rnn_kwargs: b, length, h0, target for one_unit_rnn.
    Returns: array (steps + 1,) of the visited weights.
    """
    fname = "descend_one_unit"
    w = _finite_number(fname, "w0", w0)
    lr = check_radius(fname, lr, "lr")
    steps = check_length(fname, steps, "steps")
    if max_step is not None:
        max_step = check_radius(fname, max_step, "max_step")
    path = [w]
    for _ in range(steps):
        _, g = one_unit_rnn(w, **rnn_kwargs)
        g = float(g)
        if max_step is not None and abs(g) > max_step:
            g = max_step * np.sign(g)
        w = w - lr * g
        path.append(w)
    return np.array(path)
