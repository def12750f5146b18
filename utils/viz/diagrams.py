"""Diagrams: unrolled RNNs, the character model in training and generation, BPTT, truncated BPTT,
the LSTM cell with its cell-state path.

Every function draws with matplotlib and returns the Figure; the notebook shows it with
``utils.viz.figure.show`` and alt text written for its place in the lesson. ``draw_tbptt_mask``,
which its widget redraws, shows itself with alt text computed from T, k1 and k2.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from utils import validate
from utils.palette import BLACK, BLUE, COUNTS_MAP, DIAGRAM_FILLS, GREY, LIGHT_GREY, MID_GREY, REDDISH_PURPLE, VERMILLION, WHITE
from utils.training.tbptt import tbptt_gradient_mask
from utils.viz.figure import show
from utils.viz.widgets import interactive_figure

COLORS = DIAGRAM_FILLS


def _box(ax, x, y, color, label=""):
    ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.22), 0.6, 0.44, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor=BLACK, linewidth=0.8))
    if label:
        ax.text(x, y, label, ha="center", va="center", fontsize=8)


def _arrow(ax, start, end, color=BLACK):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8,
                                 color=color, linewidth=0.9, shrinkA=0, shrinkB=0))


def draw_unrolled(ax, steps, inputs_at, outputs_at, title, decoder_from=None, input_as_h0=False):
    """Draw one unrolled recurrent network on ``ax``.

    steps: number of time steps (columns). inputs_at / outputs_at: the steps that take an input
    x_t or emit an output y_t. decoder_from: first step of a decoder (drawn in another colour),
    or None. input_as_h0: draw one input x on the left that becomes the initial state h0 (the
    one-to-many convention of the course's code and of notebook 06's captioner). A network of
    one step with one input and one output is the plain feed-forward net.
    """
    if input_as_h0:
        _box(ax, -1, 1, COLORS["input"], "x")
        _arrow(ax, (-0.7, 1), (-0.3, 1))
        ax.text(-0.5, 1.3, "h0", ha="center", fontsize=7)
    for t in range(steps):
        decoder = decoder_from is not None and t >= decoder_from
        _box(ax, t, 1, COLORS["decoder" if decoder else "hidden"], f"h{t + 1}")
        if t in inputs_at:
            _box(ax, t, 0, COLORS["input"], f"x{t + 1}")
            _arrow(ax, (t, 0.22), (t, 0.78))
        if t in outputs_at:
            _box(ax, t, 2, COLORS["output"], f"y{t + 1}")
            _arrow(ax, (t, 1.22), (t, 1.78))
        if t > 0:
            _arrow(ax, (t - 0.7, 1), (t - 0.3, 1))
    pad = (max(steps, 3) - steps) / 2  # keep short graphs centred in their panel
    ax.set_xlim(-0.6 - pad - (1 if input_as_h0 else 0), steps - 0.4 + pad)
    ax.set_ylim(-0.5, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)


def draw_sequence_patterns():
    """The five input/output patterns: one-to-one and the four a recurrent network opens.

    Returns: the matplotlib Figure (1 row of 5 panels).
    """
    fig, axes = plt.subplots(1, 5, figsize=(13, 2.8), gridspec_kw={"width_ratios": [3, 5, 4, 4, 5]})
    draw_unrolled(axes[0], 1, [0], [0], "one to one\n(plain network)")
    draw_unrolled(axes[1], 4, [], [0, 1, 2, 3], "one to many\n(image captioning)", input_as_h0=True)
    draw_unrolled(axes[2], 4, [0, 1, 2, 3], [3], "many to one\n(sentiment, video action)")
    draw_unrolled(axes[3], 4, [0, 1, 2, 3], [0, 1, 2, 3], "many to many, aligned\n(per-frame labels)")
    draw_unrolled(axes[4], 5, [0, 1, 2], [3, 4], "encoder-decoder\n(translation)", decoder_from=3)
    fig.tight_layout()
    return fig


def draw_bptt_graph(steps=4):
    """The unrolled many-to-many RNN with its losses, forward arrows and the backward flow.

    steps: number of time steps drawn (2 to 8). Returns the Figure.
    """
    steps = validate.int_in_range("draw_bptt_graph", "steps", steps, 2, 8)
    fig, ax = plt.subplots(figsize=(1.9 * steps + 1, 3.6))
    draw_unrolled(ax, steps, range(steps), range(steps),
                  "forward (black): h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)\n"
                  "backward (red): dL/dh_t collects its own loss and the flow from h_{t+1}")
    for t in range(steps):
        _box(ax, t, 3, LIGHT_GREY, f"L{t + 1}")
        _arrow(ax, (t, 2.22), (t, 2.78))
        _arrow(ax, (t + 0.12, 2.78), (t + 0.12, 1.22), color=VERMILLION)  # from the loss down
        if t > 0:
            _arrow(ax, (t - 0.3, 0.9), (t - 0.7, 0.9), color=VERMILLION)  # from h_t back to h_{t-1}
        ax.text(t + 0.08, 0.5, "W", fontsize=7, ha="left", color=GREY)
    ax.set_ylim(-0.5, 3.5)
    ax.title.set_fontsize(8)
    return fig


def _wide_box(ax, x, y, color, label, width=1.1):
    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.22), width, 0.44, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor=BLACK, linewidth=0.8))
    ax.text(x, y, label, ha="center", va="center", fontsize=8)


def _label(ax, x, y, text):
    ax.text(x, y, text, fontsize=7, ha="center", va="center", color=GREY,
            bbox={"facecolor": WHITE, "edgecolor": "none", "pad": 0.3})


def draw_char_lm_graph(word="hello"):
    """The character-level language model unrolled over a word, in training and in generation.

    Top: training with teacher forcing. The inputs are the true characters word[:-1], every step
    has a loss L_t = -log p_t[target] for the true next character, and L is their sum; the same
    W_xh, W_hh, W_hy are used at every step. Bottom: generation. Only the first character is
    given; each later input is the character sampled at the step before.
    word: 3 to 6 characters. Returns the Figure.
    """
    if not isinstance(word, str) or not 3 <= len(word) <= 6:
        raise ValueError(f"draw_char_lm_graph: word must be a str of 3 to 6 characters, got {word!r}")
    steps, dx = len(word) - 1, 2.0  # columns dx apart
    fig, axes = plt.subplots(2, 1, figsize=(2.3 * steps + 2.6, 7.0))
    for ax, generating in zip(axes, (False, True)):
        for t in range(steps):
            x = dx * t
            given = t == 0 or not generating
            _wide_box(ax, x, 0, COLORS["input"], f"x{t + 1} = {word[t]}" if given else f"x{t + 1} = sample {t}")
            _wide_box(ax, x, 1, COLORS["hidden"], f"h{t + 1}")
            _wide_box(ax, x, 2, COLORS["output"], f"scores y{t + 1}")
            top = f"sample {t + 1}: {word[t + 1]}" if generating else f"L{t + 1}: target {word[t + 1]}"
            _wide_box(ax, x, 3, LIGHT_GREY, top)
            for y0 in (0, 1, 2):
                _arrow(ax, (x, y0 + 0.22), (x, y0 + 0.78))
            _label(ax, x, 0.5, "W_xh")
            _label(ax, x, 1.5, "W_hy")
            _label(ax, x, 2.5, "softmax" + (", sample" if generating else ", -log p"))
            if t > 0:
                _arrow(ax, (x - dx + 0.55, 1), (x - 0.55, 1))
                _label(ax, x - dx / 2, 1.0, "W_hh")
            if generating and t + 1 < steps:  # the sample becomes the next input
                ax.add_patch(FancyArrowPatch((x + 0.55, 3), (x + dx - 0.55, 0), arrowstyle="-|>",
                                             mutation_scale=8, color=REDDISH_PURPLE, linewidth=0.9,
                                             linestyle="--", connectionstyle="arc3,rad=-0.25"))
        if generating:
            ax.set_title("generation: only the first character is given; each sample (purple) "
                         "is fed back as the next input", fontsize=9)
        else:
            _wide_box(ax, dx * (steps - 1) + 1.9, 3, MID_GREY,
                      "L = " + " + ".join(f"L{t + 1}" for t in range(steps)), width=2.2)
            ax.set_title("training with teacher forcing: the inputs are the true characters; "
                         "the same W_xh, W_hh, W_hy at every step", fontsize=9)
        ax.set_xlim(-0.8, dx * (steps - 1) + 3.1)
        ax.set_ylim(-0.4, 3.4)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def _node(ax, x, y, text, color=WHITE, r=0.28):
    ax.add_patch(plt.Circle((x, y), r, facecolor=color, edgecolor=BLACK, linewidth=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)


def _gate(ax, x, y, text, color):
    ax.add_patch(FancyBboxPatch((x - 0.62, y - 0.25), 1.24, 0.5, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor=BLACK, linewidth=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, zorder=4)


def draw_lstm_cell():
    """One LSTM step, with the cell-state path drawn as the highway it is for the gradient.

    Top (blue): c_(t-1) -> x f -> + i*g -> c_t, elementwise operations only, so going back one
    step along it multiplies the gradient by f and nothing else. Below: the four gates, all
    computed from one affine map of [h_(t-1), x_t], and the output h_t = o * tanh(c_t).
    Returns the Figure.
    """
    fig, ax = plt.subplots(figsize=(9, 4.6))
    blue, gate_color = BLUE, DIAGRAM_FILLS["output"]
    top = 5.0
    # the highway
    ax.add_patch(FancyArrowPatch((0.4, top), (9.6, top), arrowstyle="-|>", mutation_scale=14,
                                 color=blue, linewidth=3.5, zorder=1))
    ax.text(0.3, top - 0.45, "c_(t-1)", fontsize=10, color=blue, ha="left")
    ax.text(9.7, top - 0.45, "c_t", fontsize=10, color=blue, ha="right")
    _node(ax, 3.0, top, "×")
    _node(ax, 5.6, top, "+")
    ax.add_patch(FancyArrowPatch((8.6, top + 0.25), (1.4, top + 0.25), arrowstyle="-|>", mutation_scale=10,
                                 color=VERMILLION, linewidth=1.0, linestyle="--", zorder=1))
    ax.text(5.0, top + 0.45, "backward along c: dc_(t-1) = dc_t * f  (no weight matrix, no tanh')",
            fontsize=8, color=VERMILLION, ha="center")
    # the affine map and the gates
    ax.add_patch(FancyBboxPatch((1.6, 0.75), 6.8, 0.6, boxstyle="round,pad=0.03", facecolor=LIGHT_GREY,
                                edgecolor=BLACK, linewidth=0.8))
    ax.text(5.0, 1.05, "a = [h_(t-1), x_t] W + b   (one matrix product for the four gates)",
            ha="center", va="center", fontsize=8)
    gates = {"f": (3.0, "f = σ(a_f)"), "i": (4.6, "i = σ(a_i)"), "g": (6.2, "g = tanh(a_g)"),
             "o": (7.8, "o = σ(a_o)")}
    for name, (x, label) in gates.items():
        _gate(ax, x, 2.3, label, gate_color)
        _arrow(ax, (x, 1.38), (x, 2.05))
    _arrow(ax, (3.0, 2.55), (3.0, top - 0.28))  # f into the product on the highway
    _node(ax, 5.4, 3.5, "×")
    _arrow(ax, (4.6, 2.55), (5.2, 3.3))
    _arrow(ax, (6.2, 2.55), (5.6, 3.3))
    _arrow(ax, (5.45, 3.78), (5.58, top - 0.28))  # i * g into the sum
    # the output
    ax.add_patch(FancyArrowPatch((8.4, top), (8.4, 4.05), arrowstyle="-|>", mutation_scale=8,
                                 color=BLACK, linewidth=0.9))
    _gate(ax, 8.4, 3.8, "tanh(c_t)", WHITE)
    _node(ax, 8.4, 2.9, "×")
    _arrow(ax, (8.4, 3.55), (8.4, 3.18))
    _arrow(ax, (7.8, 2.55), (8.15, 2.8))
    _arrow(ax, (8.68, 2.9), (9.6, 2.9))
    ax.text(9.65, 2.9, "h_t", fontsize=10, va="center")
    # the inputs
    ax.text(0.3, 1.05, "h_(t-1)", fontsize=10, va="center")
    _arrow(ax, (1.05, 1.05), (1.55, 1.05))
    ax.text(5.0, 0.05, "x_t", fontsize=10, ha="center")
    _arrow(ax, (5.0, 0.3), (5.0, 0.72))
    ax.text(0.3, 3.2, "the other paths from c_(t-1) to c_t\ngo through h_(t-1) = o * tanh(c_(t-1)),\n"
            "the matrix W and the gates'\nslopes, as in a vanilla RNN", fontsize=7.5, color=GREY, va="center")
    ax.set_xlim(0, 10.4)
    ax.set_ylim(-0.2, 5.9)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("one LSTM step: the cell state is a highway for the gradient", fontsize=10)
    fig.tight_layout()
    return fig


def draw_tbptt_mask(T=24, k1=6, k2=6):
    """Draw ``tbptt_gradient_mask(T, k1, k2)``. Returns the Figure."""
    mask = tbptt_gradient_mask(T, k1, k2)
    no_grad = int((~mask.any(axis=1)).sum())
    longest = int(mask.sum(axis=1).max())
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(mask, cmap=COUNTS_MAP, vmin=0, vmax=1.3, origin="upper")
    for u in range(k1, T, k1):
        ax.axhline(u - 0.5, color=BLACK, linewidth=0.6)
    ax.set_xlabel("hidden state h_t that receives gradient (t)")
    ax.set_ylabel("loss at step s")
    ax.set_title(f"T={T}, k1={k1}, k2={k2}: gradient reaches at most {longest} steps back,\n"
                 f"{no_grad} of {T} losses send no gradient at all", fontsize=9)
    ax.grid(False)
    updates = -(-T // k1)
    show(fig, f"A {T} by {T} grid for truncated BPTT with T = {T}, k1 = {k1} and k2 = {k2}: row s is "
              f"the loss at step s, column t the hidden state h_t, shaded where that loss sends "
              f"gradient to h_t. The shading is {updates} blocks along the diagonal, one per update "
              f"every {k1} steps (lines between them), each reaching back {k2} steps from its update: "
              f"gradient reaches at most {longest} steps back, and {no_grad} of the {T} losses send "
              f"no gradient at all.")
    return fig


def tbptt_widget():
    """Sliders for T, k1 and k2 redrawing ``draw_tbptt_mask``."""
    return interactive_figure(
        draw_tbptt_mask,
        T=widgets.IntSlider(value=24, min=4, max=64, description="T"),
        k1=widgets.IntSlider(value=6, min=1, max=32, description="k1"),
        k2=widgets.IntSlider(value=6, min=1, max=32, description="k2"))
