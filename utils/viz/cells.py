"""Pictures of what LSTM cells track: text coloured by one cell, as a figure, as HTML, in a widget."""
import html

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display

from utils import validate
from utils.analysis.cell_trace import check_text
from utils.palette import BLACK, DIVERGING_MAP, WHITE
from utils.viz.figure import show
from utils.viz.widgets import interactive_figure

def _scaled(values):
    """Values mapped to [-1, 1] by their largest magnitude (0 stays the colour map's white)."""
    v = np.asarray(values, dtype=np.float64)
    top = np.max(np.abs(v)) if v.size else 0.0
    return v / top if top > 0 else v


_CELL_MAP = matplotlib.colormaps[DIVERGING_MAP]


def _ink(background):
    """BLACK or WHITE, whichever contrasts more with ``background`` (a matplotlib colour): the
    text of a coloured cell keeps its colour in any theme (WCAG 2 relative luminance, whose
    contrast against black beats white's above 0.179)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
              for c in matplotlib.colors.to_rgb(background)]
    return BLACK if 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] > 0.179 else WHITE


def draw_cell_text(text, values, title="", max_chars=700, width=90):
    """Draw text with every character's background coloured by a value (purple < 0 < orange).

    text: str; values: (len(text),) numbers, e.g. one column of lstm_cell_trace's c;
    title: figure title; max_chars: only the first max_chars characters are drawn;
    width: characters per row before a long line wraps.
    Returns: the matplotlib Figure.
    """
    text = check_text("draw_cell_text", text)
    validate.shapes("draw_cell_text", "values: T", values, T=len(text))
    values = validate.float_array("draw_cell_text", "values", values)
    max_chars = validate.positive_int("draw_cell_text", "max_chars", max_chars)
    width = validate.positive_int("draw_cell_text", "width", width, 1000)
    text, scaled = text[:max_chars], _scaled(values[:max_chars])
    rows, row, col = [], [], 0
    for ch, v in zip(text, scaled):
        row.append((ch, v))
        col += 1
        if ch == "\n" or col >= width:
            rows.append(row)
            row, col = [], 0
    if row:
        rows.append(row)
    grid = np.full((len(rows), width), np.nan)
    fig, ax = plt.subplots(figsize=(width * 0.105, 0.22 * len(rows) + 0.6))
    for r, chars in enumerate(rows):
        for c, (ch, v) in enumerate(chars):
            grid[r, c] = v
            shown = "↵" if ch == "\n" else ch
            ax.text(c, r, shown, ha="center", va="center", fontsize=7, family="monospace",
                    color=_ink(_CELL_MAP(0.5 + 0.5 * v)))
    ax.imshow(grid, cmap=DIVERGING_MAP, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks([]); ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()

    def around(k):  # the characters around position k, one line
        return " ".join(text[max(0, k - 12):k + 12].split())

    extremes = (f"the strongest orange is at '{around(int(np.argmax(scaled)))}', the strongest purple "
                f"at '{around(int(np.argmin(scaled)))}'" if np.any(scaled) else "every value is 0")
    show(fig, f"{title + ': ' if title else ''}the first {len(text)} characters of the text starting "
              f"'{' '.join(text[:40].split())}', in {len(rows)} rows, each character's background "
              f"coloured by its value, purple below 0, white at 0, orange above; {np.mean(scaled > 0):.0%} "
              f"of the characters are orange; {extremes}.")
    return fig


def cell_html(text, values, max_chars=1500):
    """HTML for text whose characters have backgrounds coloured by values (purple < 0 < orange),
    the colour map of draw_cell_text."""
    text = check_text("cell_html", text)
    validate.shapes("cell_html", "values: T", values, T=len(text), finite=False)
    values = np.asarray(values, dtype=np.float64)
    spans = []
    for ch, v in zip(text[:max_chars], _scaled(values[:max_chars])):
        color = matplotlib.colors.to_hex(_CELL_MAP(0.5 + 0.5 * v))  # v in [-1, 1]
        shown = "↵<br>" if ch == "\n" else html.escape(ch)
        spans.append(f'<span style="background:{color}; color:{_ink(color)}">{shown}</span>')
    return ('<div style="font-family:monospace; font-size:12px; line-height:1.5; white-space:pre-wrap">'
            + "".join(spans) + "</div>")


def cell_widget(text, activations, start_cell=0, labels=None):
    """A slider over the cells of ``activations`` (T, H) that colours ``text`` by the chosen cell.

    labels: optional {cell index: description} shown next to the slider for notable cells.
    Returns: the widget box.
    """
    text = check_text("cell_widget", text)
    T, H = validate.shapes("cell_widget", "activations: T H", activations, T=len(text))
    A = validate.float_array("cell_widget", "activations", activations)
    start_cell = validate.int_in_range("cell_widget", "start_cell", start_cell, 0, H - 1)
    labels = labels or {}

    def draw(cell):
        note = f" ({labels[cell]})" if cell in labels else ""
        display(HTML(f"<b>cell {cell}{note}</b>" + cell_html(text, A[:, cell])))

    return interactive_figure(draw, cell=widgets.IntSlider(value=start_cell, min=0, max=H - 1,
                                                           description="cell"))
