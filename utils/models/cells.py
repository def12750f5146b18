"""Recurrent cells in PyTorch, written from the equations, that match torch.nn.RNN / LSTM / GRU.

    CELLS, CELL_MODULES            the course's cell names ("vanilla", "lstm", "gru") and torch's modules
    vanilla_step, residual_step, lstm_step, gru_step, cell_step   one step on tensors, the equations
    lstm_recurrence, gru_recurrence                the part of a step that needs h (input part precomputed)
    LSTMFromEquations              a whole-sequence LSTM layer (gate order i, f, o, g)
    GRUFromEquations               a whole-sequence GRU layer (gate order r, z, n)
    torch_blocks_to_course         the one place where torch's gate order becomes the course's
    copy_lstm_from_torch / copy_gru_from_torch   load an nn.LSTM / nn.GRU's weights into ours
    weights_from_module            any layer of an nn.RNN / nn.LSTM / nn.GRU as course-layout numpy arrays

Weights are stored in the course's row-vector layout, the same as the numpy layers:
``Wx`` (D, kH), ``Wh`` (H, kH), so a step is ``x @ Wx + h @ Wh + b``. torch.nn stores the
transposes, (kH, D) and (kH, H), with the LSTM gates in the order i, f, g, o and two bias
vectors that are always added together. The copy functions say all of that explicitly.

Speed: the input projection ``x @ Wx + b`` does not depend on the recurrence, so the layers
compute it for all T steps in one matrix product before the loop; inside the loop there is
one (B, H) @ (H, kH) product per step for all gates together.
"""
import numpy as np
import torch
from torch import nn

from utils import validate

CELLS = ("vanilla", "lstm", "gru")  # the course's names; "vanilla" is torch's nn.RNN with tanh
# The gradient-flow figures of 04 and 05 also know a residual RNN, h_t = h_{t-1} + tanh(...):
# a vanilla step added to an identity path through time (no torch module, no training).
FLOW_CELLS = CELLS + ("residual",)
CELL_MODULES = {"vanilla": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
TORCH_LSTM_GATES = ("i", "f", "g", "o")  # row blocks of nn.LSTM.weight_ih_l0 / weight_hh_l0
COURSE_LSTM_GATES = ("i", "f", "o", "g")  # column blocks of Wx / Wh here and in utils.layers
TORCH_GRU_GATES = ("r", "z", "n")
COURSE_GRU_GATES = ("r", "z", "n")
GATE_ORDERS = {"vanilla": (("h",), ("h",)), "lstm": (TORCH_LSTM_GATES, COURSE_LSTM_GATES),
               "gru": (TORCH_GRU_GATES, COURSE_GRU_GATES)}  # cell -> (torch order, course order)


def lstm_step(x, h, c, Wx, Wh, b):
    """One LSTM step on torch tensors (differentiable). Gate blocks in order i, f, o, g.

    x: (B, D); h, c: (B, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,).
    Returns: next_h (B, H), next_c (B, H).
    """
    B, D, H = validate.shapes("lstm_step", "x: B D, h: B H, c: B H, Wx: D 4H, Wh: H 4H, b: 4H",
                              x, h, c, Wx, Wh, b, finite=False)
    return lstm_recurrence(x @ Wx + b, h, c, Wh, H)


def lstm_recurrence(ax, h, c, Wh, H):
    """The part of an LSTM step that needs h: ax is x @ Wx + b, precomputed. Returns h, c."""
    # split/chunk rather than indexing a[:, :H]: their backward joins the pieces with one
    # concatenation, where each index would allocate and fill a full-size zero gradient
    a_ifo, a_g = torch.addmm(ax, h, Wh).split([3 * H, H], dim=1)  # (B, 3H), (B, H)
    i, f, o = torch.sigmoid(a_ifo).chunk(3, dim=1)  # i, f, o are adjacent: one sigmoid call
    c = torch.addcmul(f * c, i, torch.tanh(a_g))  # f * c + i * g, one operation fewer
    return o * torch.tanh(c), c


def gru_step(x, h, Wx, Wh, bx, bh):
    """One GRU step on torch tensors, with torch.nn.GRU's equations. Gate blocks r, z, n.

    x: (B, D); h: (B, H); Wx: (D, 3H); Wh: (H, 3H); bx, bh: (3H,).
    r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r); z likewise;
    n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)); next_h = (1 - z) * n + z * h.
    Returns: next_h (B, H).
    """
    B, D, H = validate.shapes("gru_step", "x: B D, h: B H, Wx: D 3H, Wh: H 3H, bx: 3H, bh: 3H",
                              x, h, Wx, Wh, bx, bh, finite=False)
    # BEGIN REFERENCE gru_step
    ax = x @ Wx + bx  # (B, 3H): the input's part of r, z and n
    ah = h @ Wh + bh  # (B, 3H): the state's part
    r = torch.sigmoid(ax[:, :H] + ah[:, :H])
    z = torch.sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = torch.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])  # r gates the state's part of n only
    next_h = (1 - z) * n + z * h
    # END REFERENCE
    return next_h


def gru_recurrence(ax, h, Wh, bh, H):
    """The part of a GRU step that needs h: ax is x @ Wx + bx, precomputed. Returns next h."""
    ax_rz, ax_n = ax.split([2 * H, H], dim=1)
    ah_rz, ah_n = torch.addmm(bh, h, Wh).split([2 * H, H], dim=1)
    r, z = torch.sigmoid(ax_rz + ah_rz).chunk(2, dim=1)
    n = torch.tanh(ax_n + r * ah_n)
    return n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer


class LSTMFromEquations(nn.Module):
    """A one-layer LSTM written from its equations (batch first), numerically equal to nn.LSTM.

    input_size: D; hidden_size: H.
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,), gate blocks i, f, o, g.
    Initialised like nn.LSTM: uniform in [-1/sqrt(H), 1/sqrt(H)].
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        D = validate.positive_int("LSTMFromEquations", "input_size", input_size)
        H = validate.positive_int("LSTMFromEquations", "hidden_size", hidden_size)
        self.input_size, self.hidden_size = D, H
        bound = H ** -0.5
        self.Wx = nn.Parameter(torch.empty(D, 4 * H).uniform_(-bound, bound))
        self.Wh = nn.Parameter(torch.empty(H, 4 * H).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.empty(4 * H).uniform_(-bound, bound))

    def forward(self, x, state=None):
        """x: (B, T, D); state: None (zeros) or a tuple (h0, c0) of two (B, H).

        Returns: out (B, T, H) the hidden state of every step, (h_T, c_T) each (B, H).
        """
        h, c = (None, None) if state is None else state
        B, T, D, H = validate.shapes("LSTMFromEquations.forward", "x: B T D, h0: B H, c0: B H", x, h, c,
                                     D=self.input_size, H=self.hidden_size, kind="torch", finite=False)
        if state is None:
            h = c = x.new_zeros(B, H)
        ax = torch.addmm(self.b, x.reshape(B * T, -1), self.Wx).view(B, T, 4 * H)  # all steps at once
        out = []
        for ax_t in ax.unbind(1):  # unbind, not ax[:, t]: one cheap backward instead of T big ones
            h, c = lstm_recurrence(ax_t, h, c, self.Wh, H)
            out.append(h)
        return torch.stack(out, dim=1), (h, c)


class GRUFromEquations(nn.Module):
    """A one-layer GRU written from its equations (batch first), numerically equal to nn.GRU.

    input_size: D; hidden_size: H.
    Parameters: Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,), gate blocks r, z, n.
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        D = validate.positive_int("GRUFromEquations", "input_size", input_size)
        H = validate.positive_int("GRUFromEquations", "hidden_size", hidden_size)
        self.input_size, self.hidden_size = D, H
        bound = H ** -0.5
        self.Wx = nn.Parameter(torch.empty(D, 3 * H).uniform_(-bound, bound))
        self.Wh = nn.Parameter(torch.empty(H, 3 * H).uniform_(-bound, bound))
        self.bx = nn.Parameter(torch.empty(3 * H).uniform_(-bound, bound))
        self.bh = nn.Parameter(torch.empty(3 * H).uniform_(-bound, bound))

    def forward(self, x, h=None):
        """x: (B, T, D); h: None (zeros) or h0 (B, H).

        Returns: out (B, T, H) the hidden state of every step, h_T (B, H).
        """
        B, T, D, H = validate.shapes("GRUFromEquations.forward", "x: B T D, h0: B H", x, h,
                                     D=self.input_size, H=self.hidden_size, kind="torch", finite=False)
        if h is None:
            h = x.new_zeros(B, H)
        ax = torch.addmm(self.bx, x.reshape(B * T, -1), self.Wx).view(B, T, 3 * H)
        out = []
        for ax_t in ax.unbind(1):
            h = gru_recurrence(ax_t, h, self.Wh, self.bh, H)
            out.append(h)
        return torch.stack(out, dim=1), h


def torch_blocks_to_course(weight, cell):
    """Reorder the gate blocks of a torch weight (kH, ...) or bias (kH,) into the course's order.

    cell: "vanilla" (one block), "lstm" (torch i, f, g, o -> course i, f, o, g) or "gru" (r, z, n
    in both). Works on torch tensors and numpy arrays; returns the same kind, not transposed.
    """
    torch_order, course_order = GATE_ORDERS[validate.choice_of_cell("torch_blocks_to_course", cell)]
    H = weight.shape[0] // len(torch_order)
    blocks = {gate: weight[k * H:(k + 1) * H] for k, gate in enumerate(torch_order)}
    parts = [blocks[gate] for gate in course_order]
    return torch.cat(parts) if isinstance(weight, torch.Tensor) else np.concatenate(parts)


def _check_source(fname, module, kind, ours):
    if not isinstance(module, kind):
        raise validate.WrongType(f"{fname}: expected a torch.nn.{kind.__name__}, got {type(module).__name__}")
    if module.num_layers != 1 or module.bidirectional or not module.bias or getattr(module, "proj_size", 0):
        raise ValueError(f"{fname}: only a one-layer, one-direction {kind.__name__} with biases "
                         f"and no projection can be copied")
    if (module.input_size, module.hidden_size) != (ours.input_size, ours.hidden_size):
        raise ValueError(f"{fname}: sizes differ: torch has input_size={module.input_size}, "
                         f"hidden_size={module.hidden_size}; ours has {ours.input_size}, {ours.hidden_size}")


@torch.no_grad()
def copy_lstm_from_torch(ours, lstm):
    """Load the weights of a one-layer ``nn.LSTM`` into ``ours`` (an LSTMFromEquations).

    Gate mapping: torch rows i, f, g, o become our columns i, f, o, g; the weights are
    transposed ((4H, D) -> (D, 4H)); torch's two biases, which are always summed, become one.
    Returns: ours.
    """
    _check_source("copy_lstm_from_torch", lstm, nn.LSTM, ours)
    ours.Wx.copy_(torch_blocks_to_course(lstm.weight_ih_l0, "lstm").T)
    ours.Wh.copy_(torch_blocks_to_course(lstm.weight_hh_l0, "lstm").T)
    ours.b.copy_(torch_blocks_to_course(lstm.bias_ih_l0 + lstm.bias_hh_l0, "lstm"))
    return ours


@torch.no_grad()
def copy_gru_from_torch(ours, gru):
    """Load the weights of a one-layer ``nn.GRU`` into ``ours`` (a GRUFromEquations).

    Gate mapping by name (torch and the course both use r, z, n); the weights are transposed.
    The two biases stay separate: the reset gate multiplies (h Wh_n + bh_n), so bh_n cannot be
    merged into bx_n.
    Returns: ours.
    """
    _check_source("copy_gru_from_torch", gru, nn.GRU, ours)
    ours.Wx.copy_(torch_blocks_to_course(gru.weight_ih_l0, "gru").T)
    ours.Wh.copy_(torch_blocks_to_course(gru.weight_hh_l0, "gru").T)
    ours.bx.copy_(torch_blocks_to_course(gru.bias_ih_l0, "gru"))
    ours.bh.copy_(torch_blocks_to_course(gru.bias_hh_l0, "gru"))
    return ours


def count_parameters(module):
    """Number of trainable scalars in a torch module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def weights_from_module(rnn, layer=0):
    """Read one layer of a torch nn.RNN (tanh), nn.LSTM or nn.GRU into the course layout.

    rnn: a one-direction module with biases (no LSTM projection); layer: 0 is the bottom one.
    Returns: (cell name, weights) with float64 numpy arrays: vanilla and lstm {Wx (D, kH),
    Wh (H, kH), b (kH,)} (torch's two biases summed: they are always added together), gru
    {Wx, Wh, bx, bh} (kept apart: the reset gate multiplies h @ Wh_n + bh_n only).
    """
    fname = "weights_from_module"
    for cell, kind in CELL_MODULES.items():
        if isinstance(rnn, kind) and (cell != "vanilla" or rnn.nonlinearity == "tanh"):
            break
    else:
        raise validate.WrongType(f"{fname}: expected a torch nn.RNN (tanh), nn.LSTM or nn.GRU, "
                        f"got {type(rnn).__name__}")
    if rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError(f"{fname}: only one-direction modules with biases (and no projection)")
    layer = validate.int_in_range(fname, "layer", layer, 0, rnn.num_layers - 1)

    def course(name):
        w = getattr(rnn, f"{name}_l{layer}").detach().cpu().double().numpy()
        return torch_blocks_to_course(w, cell)

    Wx, Wh = course("weight_ih").T.copy(), course("weight_hh").T.copy()
    if cell == "gru":
        return cell, {"Wx": Wx, "Wh": Wh, "bx": course("bias_ih"), "bh": course("bias_hh")}
    return cell, {"Wx": Wx, "Wh": Wh, "b": course("bias_ih") + course("bias_hh")}


def vanilla_step(x, h, Wx, Wh, b):
    """One vanilla (tanh) RNN step on torch tensors: x (B, D), h (B, H), Wx (D, H), Wh (H, H), b (H,).

    Returns: next_h (B, H) = tanh(x @ Wx + h @ Wh + b).
    """
    return torch.tanh(x @ Wx + h @ Wh + b)


def residual_step(x, h, Wx, Wh, b):
    """One residual RNN step: next_h = h + tanh(x @ Wx + h @ Wh + b), shapes as vanilla_step.

    The identity path h -> next_h carries the gradient back unchanged, like the skip connection
    of a residual network (He et al., 2016) laid along time; its Jacobian is I + W_hh diag(tanh').
    """
    return h + torch.tanh(x @ Wx + h @ Wh + b)


def cell_step(cell, weights, x, state):
    """One step of any course cell on torch tensors.

    cell: "vanilla", "residual", "lstm" or "gru"; weights: course-layout tensors (see
    weights_from_module; a residual cell has the vanilla layout);
    x: (B, D); state: (h,) or, for an LSTM, (h, c), each (B, H).
    Returns: the new state, a tuple of the same structure.
    """
    W = weights
    if cell == "vanilla":
        return (vanilla_step(x, state[0], W["Wx"], W["Wh"], W["b"]),)
    if cell == "residual":
        return (residual_step(x, state[0], W["Wx"], W["Wh"], W["b"]),)
    if cell == "lstm":
        return lstm_step(x, state[0], state[1], W["Wx"], W["Wh"], W["b"])
    return (gru_step(x, state[0], W["Wx"], W["Wh"], W["bx"], W["bh"]),)
