"""Pictures of gradient flow through time: the log-norm plot, the figure of 04/05 and its widget."""
import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from utils import validate
from utils.analysis.gradient_flow import MAX_LENGTH, gradient_norms_through_time
from utils.models.cells import FLOW_CELLS
from utils.models.weights import singular_values
from utils.palette import BLACK, CELL_COLORS, CELL_MARKERS, GREY, REDDISH_PURPLE, VERMILLION
from utils.viz.figure import show
from utils.viz.widgets import interactive_figure

CELL_LABELS = {"vanilla": "vanilla RNN", "lstm": "LSTM", "gru": "GRU", "residual": "residual RNN"}


def _log_ticks(ax):
    """Label a log10-valued y axis as powers of ten (works far beyond float range)."""
    ax.yaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"$10^{{{int(round(y))}}}$"))


def plot_log_norms(ax, log10_norms, label=None, color=None, style="-"):
    """Plot log10 gradient norms (T,) against the step t = 1..T on ``ax``, y labelled as 10^k.

    label: legend text or None; color: a matplotlib colour or None; style: a format string
    such as "-" or "--".
    """
    fname = "plot_log_norms"
    validate.shapes(fname, "log10_norms: T", log10_norms)
    log10_norms = validate.float_array(fname, "log10_norms", log10_norms)
    if color is not None and not matplotlib.colors.is_color_like(color):
        raise ValueError(f"{fname}: color must be a matplotlib colour such as 'C0' or '#1f77b4', "
                         f"got {validate.shown(color)}")
    validate.non_empty_str(fname, "style", style)
    T = len(log10_norms)
    ax.plot(np.arange(1, T + 1), log10_norms, style, label=label, color=color, linewidth=1.6,
            markersize=4, markevery=max(1, T // 8))  # a marker in the style: a few, not one per step
    _log_ticks(ax)
    ax.set_xlabel("step t (the loss reads h_T)")
    ax.set_ylabel("||dL/dh_t||  (log scale)")


def draw_gradient_flow(radius=1.0, input_scale=1.0, length=100, cell="vanilla", forget_bias=1.0,
                       hidden_size=32, seed=0):
    """The gradient-flow figure: ||dL_T/dh_t|| against t, and the singular values of W_hh.

    Arguments as in gradient_norms_through_time; cell may also be "all" to draw every cell
    (vanilla, LSTM, GRU and the residual RNN) on the left panel (the singular values shown are
    then the vanilla W_hh).
    Left: log-scale gradient norm at every step t, 1 at t = T; for the vanilla RNN, the dashed
    line is the bound sigma_max^(T-t) (Pascanu et al., 2013, with gamma = 1 for tanh); for the
    LSTM, the dotted line is ||dL/dc_t||, the cell-state path.
    Right: singular values of the recurrent matrix, the threshold 1 = 1/gamma, and the
    spectral radius. Returns the Figure.
    """
    fname = "draw_gradient_flow"
    validate.one_of(fname, "cell", cell, FLOW_CELLS + ("all",))
    radius = validate.positive_number(fname, "radius", radius)
    length = validate.positive_int(fname, "length", length, MAX_LENGTH)
    cells = FLOW_CELLS if cell == "all" else (cell,)
    results = [gradient_norms_through_time(c, radius, input_scale, length, hidden_size,
                                           forget_bias, seed=seed) for c in cells]
    fig, (ax, ax_sv) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2.2, 1]})
    for res in results:
        c = res["cell"]
        plot_log_norms(ax, res["log10_h"], label=f"{CELL_LABELS[c]}: ||dL/dh_t||", color=CELL_COLORS[c],
                       style=f"-{CELL_MARKERS[c]}")
        if res["log10_c"] is not None:
            plot_log_norms(ax, res["log10_c"], label="LSTM: ||dL/dc_t||", color=CELL_COLORS[c], style=":")
    W = results[0]["W"]
    sv = singular_values(W)
    steps_back = length - np.arange(1, length + 1)
    if "vanilla" in cells:  # |tanh'| <= 1: each step multiplies the norm by at most sigma_max
        ax.plot(np.arange(1, length + 1), steps_back * np.log10(sv[0]), "--", color=GREY,
                linewidth=1, label="vanilla bound sigma_max^(T-t)")
    for res in (r for r in results if r["cell"] == "residual"):  # I + D W: at most 1 + sigma_max
        ax.plot(np.arange(1, length + 1), steps_back * np.log10(1 + singular_values(res["W"])[0]), "-.",
                color=CELL_COLORS["residual"], linewidth=1, label="residual bound (1 + sigma_max)^(T-t)")
    lo = min(min(r["log10_h"].min() for r in results), -1.0)
    hi = max(max(r["log10_h"].max() for r in results), 1.0)
    if "vanilla" in cells:  # keep the bound from squashing the curves
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.legend(fontsize=7, loc="best")
    gates = "" if cell == "vanilla" else f", forget bias {forget_bias:g}" if cell == "lstm" else ""
    ax.set_title(f"{'all cells' if cell == 'all' else CELL_LABELS[cell]}: radius {radius:g}, "
                 f"input scale {input_scale:g}, T = {length}{gates}", fontsize=9)
    ax_sv.plot(np.arange(1, len(sv) + 1), sv, "o", markersize=3, color=BLACK)
    ax_sv.axhline(1.0, color=VERMILLION, linewidth=1, label="1 = 1/gamma (tanh)")
    ax_sv.axhline(radius, color=REDDISH_PURPLE, linestyle="--", linewidth=1, label=f"spectral radius {radius:g}")
    ax_sv.set_yscale("log")
    ax_sv.set_xlabel("index")
    which = {"lstm": "W_hg (g block)", "gru": "W_hn (n block)"}.get(cell, "W_hh")
    ax_sv.set_title(f"singular values of {which}: largest {sv[0]:.2f}", fontsize=9)
    ax_sv.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    bias = f", LSTM forget bias {forget_bias:g}" if "lstm" in cells else ""
    at_start = []
    for res in results:
        text = f"10^{round(res['log10_h'][0]):d} for the {CELL_LABELS[res['cell']]}"
        if res["log10_c"] is not None:
            text += f" (10^{round(res['log10_c'][0]):d} along its cell state c_t, dotted)"
        at_start.append(text)
    bounds = ("; a dashed grey line is the vanilla bound sigma_max^(T-t)" if "vanilla" in cells else "") \
        + ("; a dash-dot line is the residual bound (1 + sigma_max)^(T-t)" if "residual" in cells else "")
    show(fig, f"Left: the gradient norm ||dL/dh_t|| on a log scale against the step t from 1 to {length} "
              f"for {'every cell' if cell == 'all' else 'the ' + CELL_LABELS[cell]} with spectral radius "
              f"{radius:g}, input scale {input_scale:g}{bias}: 1 at t = {length} and, at t = 1, about "
              f"{', '.join(at_start)}{bounds}. Right: the {len(sv)} singular values of {which} on a log "
              f"scale, the largest {sv[0]:.2f}, against a line at 1 and a dashed line at the spectral "
              f"radius.")
    return fig


def gradient_flow_widget(radius=1.0, input_scale=1.0, length=100, cell="vanilla", forget_bias=1.0):
    """Sliders for draw_gradient_flow: spectral radius, input scale, length, cell, forget bias.

    The starting values are checked like draw_gradient_flow's arguments. The sliders redraw
    when released (continuous_update=False): with every cell at T = 400 one figure takes
    longer than a drag leaves between two positions. Returns the widget box.
    """
    fname = "gradient_flow_widget"
    radius = validate.positive_number(fname, "radius", radius)
    length = validate.int_in_range(fname, "length", length, 2, 400)
    input_scale = validate.finite_number(fname, "input_scale", input_scale, low=0)
    forget_bias = validate.finite_number(fname, "forget_bias", forget_bias)
    validate.one_of(fname, "cell", cell, FLOW_CELLS + ("all",))
    if not 0.1 <= radius <= 3.0 or input_scale > 5.0 or not -3.0 <= forget_bias <= 6.0:
        raise ValueError(f"{fname}: starting values must lie on the sliders: radius in [0.1, 3], "
                         f"input_scale in [0, 5], forget_bias in [-3, 6]")
    style = {"description_width": "initial"}
    slider = {"style": style, "continuous_update": False}
    return interactive_figure(
        draw_gradient_flow,
        radius=widgets.FloatSlider(value=radius, min=0.1, max=3.0, step=0.05, description="spectral radius", **slider),
        input_scale=widgets.FloatSlider(value=input_scale, min=0.0, max=5.0, step=0.1, description="input scale", **slider),
        length=widgets.IntSlider(value=length, min=2, max=400, step=1, description="length T", **slider),
        cell=widgets.Dropdown(options=[("vanilla", "vanilla"), ("residual RNN", "residual"), ("LSTM", "lstm"),
                                       ("GRU", "gru"), ("all four", "all")],
                              value=cell, description="cell"),
        forget_bias=widgets.FloatSlider(value=forget_bias, min=-3.0, max=6.0, step=0.5, description="LSTM forget bias", **slider),
    )
