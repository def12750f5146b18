"""LSTM and GRU layers in PyTorch, written from the equations, that match torch.nn.LSTM / GRU.

    lstm_step, gru_step            one step on tensors, the equations of notebook 05 line by line
    LSTMFromEquations              a whole-sequence LSTM layer (gate order i, f, o, g)
    GRUFromEquations               a whole-sequence GRU layer (gate order r, z, n)
    copy_lstm_from_torch / copy_gru_from_torch   load an nn.LSTM / nn.GRU's weights, gates mapped by name

Weights are stored in the course's row-vector layout, the same as the numpy layers:
``Wx`` (D, kH), ``Wh`` (H, kH), so a step is ``x @ Wx + h @ Wh + b``. torch.nn stores the
transposes, (kH, D) and (kH, H), with the LSTM gates in the order i, f, g, o and two bias
vectors that are always added together. The copy functions say all of that explicitly.

Speed: the input projection ``x @ Wx + b`` does not depend on the recurrence, so the layers
compute it for all T steps in one matrix product before the loop; inside the loop there is
one (B, H) @ (H, kH) product per step for all gates together.
"""
import numbers

import torch
from torch import nn

TORCH_LSTM_GATES = ("i", "f", "g", "o")  # row blocks of nn.LSTM.weight_ih_l0 / weight_hh_l0
COURSE_LSTM_GATES = ("i", "f", "o", "g")  # column blocks of Wx / Wh here and in utils.layers
TORCH_GRU_GATES = ("r", "z", "n")
COURSE_GRU_GATES = ("r", "z", "n")


def _positive_int(fname, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{fname}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _check_step_shapes(fname, x, h, Wx, Wh, k):
    if x.dim() != 2:
        raise ValueError(f"{fname}: x should have shape (B, D), got {tuple(x.shape)}")
    if h.dim() != 2 or h.shape[0] != x.shape[0]:
        raise ValueError(f"{fname}: h should have shape ({x.shape[0]}, H), got {tuple(h.shape)}")
    H = h.shape[1]
    if tuple(Wx.shape) != (x.shape[1], k * H):
        raise ValueError(f"{fname}: Wx should have shape ({x.shape[1]}, {k * H}), got {tuple(Wx.shape)}")
    if tuple(Wh.shape) != (H, k * H):
        raise ValueError(f"{fname}: Wh should have shape ({H}, {k * H}), got {tuple(Wh.shape)}")
    return H


def lstm_step(x, h, c, Wx, Wh, b):
    """One LSTM step on torch tensors (differentiable). Gate blocks in order i, f, o, g.

    x: (B, D); h, c: (B, H); Wx: (D, 4H); Wh: (H, 4H); b: (4H,).
    Returns: next_h (B, H), next_c (B, H).
    """
    H = _check_step_shapes("lstm_step", x, h, Wx, Wh, 4)
    return _lstm_recurrence(x @ Wx + b, h, c, Wh, H)


def _lstm_recurrence(ax, h, c, Wh, H):
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
    H = _check_step_shapes("gru_step", x, h, Wx, Wh, 3)
    return _gru_recurrence(x @ Wx + bx, h, Wh, bh, H)


def _gru_recurrence(ax, h, Wh, bh, H):
    """The part of a GRU step that needs h: ax is x @ Wx + bx, precomputed. Returns next h."""
    ax_rz, ax_n = ax.split([2 * H, H], dim=1)
    ah_rz, ah_n = torch.addmm(bh, h, Wh).split([2 * H, H], dim=1)
    r, z = torch.sigmoid(ax_rz + ah_rz).chunk(2, dim=1)
    n = torch.tanh(ax_n + r * ah_n)
    return n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer


def _check_sequence(name, x, D):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}.forward: x must be a torch tensor, got {type(x).__name__}")
    if x.dim() != 3 or x.shape[2] != D:
        raise ValueError(f"{name}.forward: x should have shape (B, T, {D}), got {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}.forward: the sequence length T must be at least 1, got {x.shape[1]}")


def _check_state(name, what, s, B, H):
    if s is not None and tuple(s.shape) != (B, H):
        raise ValueError(f"{name}.forward: {what} should have shape ({B}, {H}), got {tuple(s.shape)}")


class LSTMFromEquations(nn.Module):
    """A one-layer LSTM written from its equations (batch first), numerically equal to nn.LSTM.

    input_size: D; hidden_size: H.
    Parameters: Wx (D, 4H), Wh (H, 4H), b (4H,), gate blocks i, f, o, g.
    Initialised like nn.LSTM: uniform in [-1/sqrt(H), 1/sqrt(H)].
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        D = _positive_int("LSTMFromEquations", "input_size", input_size)
        H = _positive_int("LSTMFromEquations", "hidden_size", hidden_size)
        self.input_size, self.hidden_size = D, H
        bound = H ** -0.5
        self.Wx = nn.Parameter(torch.empty(D, 4 * H).uniform_(-bound, bound))
        self.Wh = nn.Parameter(torch.empty(H, 4 * H).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.empty(4 * H).uniform_(-bound, bound))

    def forward(self, x, state=None):
        """x: (B, T, D); state: None (zeros) or a tuple (h0, c0) of two (B, H).

        Returns: out (B, T, H) the hidden state of every step, (h_T, c_T) each (B, H).
        """
        _check_sequence("LSTMFromEquations", x, self.input_size)
        B, T, _ = x.shape
        H = self.hidden_size
        if state is None:
            h = c = x.new_zeros(B, H)
        else:
            h, c = state
            _check_state("LSTMFromEquations", "h0", h, B, H)
            _check_state("LSTMFromEquations", "c0", c, B, H)
        ax = torch.addmm(self.b, x.reshape(B * T, -1), self.Wx).view(B, T, 4 * H)  # all steps at once
        out = []
        for ax_t in ax.unbind(1):  # unbind, not ax[:, t]: one cheap backward instead of T big ones
            h, c = _lstm_recurrence(ax_t, h, c, self.Wh, H)
            out.append(h)
        return torch.stack(out, dim=1), (h, c)


class GRUFromEquations(nn.Module):
    """A one-layer GRU written from its equations (batch first), numerically equal to nn.GRU.

    input_size: D; hidden_size: H.
    Parameters: Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,), gate blocks r, z, n.
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        D = _positive_int("GRUFromEquations", "input_size", input_size)
        H = _positive_int("GRUFromEquations", "hidden_size", hidden_size)
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
        _check_sequence("GRUFromEquations", x, self.input_size)
        B, T, _ = x.shape
        H = self.hidden_size
        if h is None:
            h = x.new_zeros(B, H)
        _check_state("GRUFromEquations", "h0", h, B, H)
        ax = torch.addmm(self.bx, x.reshape(B * T, -1), self.Wx).view(B, T, 3 * H)
        out = []
        for ax_t in ax.unbind(1):
            h = _gru_recurrence(ax_t, h, self.Wh, self.bh, H)
            out.append(h)
        return torch.stack(out, dim=1), h


def _blocks(weight, names, H):
    """Split the (kH, ...) torch weight into its k gate blocks, keyed by gate name."""
    return {name: weight[k * H:(k + 1) * H] for k, name in enumerate(names)}


def _check_source(fname, module, kind, ours):
    if not isinstance(module, kind):
        raise TypeError(f"{fname}: expected a torch.nn.{kind.__name__}, got {type(module).__name__}")
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
    H = ours.hidden_size
    w_ih = _blocks(lstm.weight_ih_l0, TORCH_LSTM_GATES, H)
    w_hh = _blocks(lstm.weight_hh_l0, TORCH_LSTM_GATES, H)
    b = _blocks(lstm.bias_ih_l0 + lstm.bias_hh_l0, TORCH_LSTM_GATES, H)
    ours.Wx.copy_(torch.cat([w_ih[gate] for gate in COURSE_LSTM_GATES]).T)
    ours.Wh.copy_(torch.cat([w_hh[gate] for gate in COURSE_LSTM_GATES]).T)
    ours.b.copy_(torch.cat([b[gate] for gate in COURSE_LSTM_GATES]))
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
    H = ours.hidden_size
    parts = {name: _blocks(getattr(gru, name), TORCH_GRU_GATES, H)
             for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
    pick = lambda name: torch.cat([parts[name][gate] for gate in COURSE_GRU_GATES])  # noqa: E731
    ours.Wx.copy_(pick("weight_ih_l0").T)
    ours.Wh.copy_(pick("weight_hh_l0").T)
    ours.bx.copy_(pick("bias_ih_l0"))
    ours.bh.copy_(pick("bias_hh_l0"))
    return ours


def count_parameters(module):
    """Number of trainable scalars in a torch module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def lstm_weights_from_torch(lstm, layer=0):
    """The weights of one layer of an ``nn.LSTM`` in the course layout (float64 copies).

    lstm: a one-direction nn.LSTM with biases; layer: which layer (0 is the bottom one).
    Returns: Wx (D_layer, 4H), Wh (H, 4H), b (4H,) with gate blocks i, f, o, g.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"lstm_weights_from_torch: expected a torch.nn.LSTM, got {type(lstm).__name__}")
    if lstm.bidirectional or not lstm.bias or getattr(lstm, "proj_size", 0):
        raise ValueError("lstm_weights_from_torch: only one-direction LSTMs with biases and no projection")
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer < lstm.num_layers:
        raise ValueError(f"lstm_weights_from_torch: layer must be an integer in [0, {lstm.num_layers - 1}], "
                         f"got {layer!r}")
    H = lstm.hidden_size

    def course(name):
        blocks = _blocks(getattr(lstm, f"{name}_l{layer}").detach().double().cpu(), TORCH_LSTM_GATES, H)
        return torch.cat([blocks[gate] for gate in COURSE_LSTM_GATES])

    return course("weight_ih").T.contiguous(), course("weight_hh").T.contiguous(), \
        course("bias_ih") + course("bias_hh")
