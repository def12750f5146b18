"""Diagrams: computational graphs of unrolled RNNs, the BPTT graph, the truncated-BPTT mask.

Every function draws with matplotlib and returns the Figure, so a notebook cell shows it and
its text form (``<Figure size ... with N Axes>``) is the same on every run.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from utils.training.tbptt import tbptt_gradient_mask
from utils.viz.widgets import interactive_figure

COLORS = {"input": "#f4a6a6", "hidden": "#a8d5a2", "decoder": "#9cc3e6", "output": "#f7d58b"}


def _box(ax, x, y, color, label=""):
    ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.22), 0.6, 0.44, boxstyle="round,pad=0.02",
                                facecolor=color, edgecolor="black", linewidth=0.8))
    if label:
        ax.text(x, y, label, ha="center", va="center", fontsize=8)


def _arrow(ax, start, end, color="black"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8,
                                 color=color, linewidth=0.9, shrinkA=0, shrinkB=0))


def draw_unrolled(ax, steps, inputs_at, outputs_at, title, decoder_from=None):
    """Draw one unrolled recurrent network on ``ax``.

    steps: number of time steps (columns). inputs_at / outputs_at: the steps that take an input
    x_t or emit an output y_t. decoder_from: first step of a decoder (drawn in another colour),
    or None. A network of one step with one input and one output is the plain feed-forward net.
    """
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
    ax.set_xlim(-0.6 - pad, steps - 0.4 + pad)
    ax.set_ylim(-0.5, 2.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)


def draw_sequence_patterns():
    """The five input/output patterns: one-to-one and the four a recurrent network opens.

    Returns: the matplotlib Figure (1 row of 5 panels).
    """
    fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
    draw_unrolled(axes[0], 1, [0], [0], "one to one\n(plain network)")
    draw_unrolled(axes[1], 4, [0], [0, 1, 2, 3], "one to many\n(image captioning)")
    draw_unrolled(axes[2], 4, [0, 1, 2, 3], [3], "many to one\n(sentiment, video action)")
    draw_unrolled(axes[3], 4, [0, 1, 2, 3], [0, 1, 2, 3], "many to many, aligned\n(per-frame labels)")
    draw_unrolled(axes[4], 5, [0, 1, 2], [3, 4], "encoder-decoder\n(translation)", decoder_from=3)
    fig.tight_layout()
    return fig


def draw_bptt_graph(steps=4):
    """The unrolled many-to-many RNN with its losses, forward arrows and the backward flow.

    steps: number of time steps drawn (2 to 8). Returns the Figure.
    """
    if not 2 <= steps <= 8:
        raise ValueError(f"draw_bptt_graph: steps must be between 2 and 8, got {steps}")
    fig, ax = plt.subplots(figsize=(1.9 * steps + 1, 3.6))
    draw_unrolled(ax, steps, range(steps), range(steps),
                  "forward (black): h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)\n"
                  "backward (red): dL/dh_t collects its own loss and the flow from h_{t+1}")
    for t in range(steps):
        _box(ax, t, 3, "#dddddd", f"L{t + 1}")
        _arrow(ax, (t, 2.22), (t, 2.78))
        _arrow(ax, (t + 0.12, 2.78), (t + 0.12, 1.22), color="crimson")  # from the loss down
        if t > 0:
            _arrow(ax, (t - 0.3, 0.9), (t - 0.7, 0.9), color="crimson")  # from h_t back to h_{t-1}
        ax.text(t + 0.08, 0.5, "W", fontsize=7, ha="left", color="dimgray")
    ax.set_ylim(-0.5, 3.5)
    ax.title.set_fontsize(8)
    return fig


def draw_tbptt_mask(T=24, k1=6, k2=6):
    """Draw ``tbptt_gradient_mask(T, k1, k2)``. Returns the Figure."""
    mask = tbptt_gradient_mask(T, k1, k2)
    no_grad = int((~mask.any(axis=1)).sum())
    longest = int(mask.sum(axis=1).max())
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(mask, cmap="Greens", vmin=0, vmax=1.3, origin="upper")
    for u in range(k1, T, k1):
        ax.axhline(u - 0.5, color="black", linewidth=0.6)
    ax.set_xlabel("hidden state h_t that receives gradient (t)")
    ax.set_ylabel("loss at step s")
    ax.set_title(f"T={T}, k1={k1}, k2={k2}: gradient reaches at most {longest} steps back,\n"
                 f"{no_grad} of {T} losses send no gradient at all", fontsize=9)
    ax.grid(False)
    plt.show()
    return fig


def tbptt_widget():
    """Sliders for T, k1 and k2 redrawing ``draw_tbptt_mask``."""
    return interactive_figure(
        draw_tbptt_mask,
        T=widgets.IntSlider(value=24, min=4, max=64, description="T"),
        k1=widgets.IntSlider(value=6, min=1, max=32, description="k1"),
        k2=widgets.IntSlider(value=6, min=1, max=32, description="k2"))
