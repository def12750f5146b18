"""What the cells of a character-level LSTM track: traces, text features, coloured text, a widget.

    lstm_cell_trace     run a CharLM (cell="lstm") over a text and record c_t and h_t of one layer
    line_position, inside_brackets    simple properties of every character of a text
    best_cells          the cells whose activation correlates most with such a property
    draw_cell_text      the text with each character's background coloured by one cell (a Figure)
    cell_html           the same as an HTML string; cell_widget picks the cell with a slider

The visualisation follows Karpathy, Johnson and Fei-Fei (2015), "Visualizing and understanding
recurrent networks": colour every character by the value of one cell after reading it.
"""
import html
import numbers

import numpy as np


def _check_text(fname, text):
    if not isinstance(text, str) or not text:
        raise ValueError(f"{fname}: text must be a non-empty str")
    return text


def lstm_cell_trace(model, vocab, text, layer=0):
    """Cell states c_t and hidden states h_t of one LSTM layer of a CharLM while it reads ``text``.

    model: a utils.char_lm.CharLM with cell="lstm"; vocab: its CharVocab; text: a str whose
    characters are all in the vocabulary; layer: which layer to record (0 = the bottom one).
    Returns: dict with c (T, H) and h (T, H) numpy arrays, row t after reading text[t].
    """
    from utils.long_range import torch_threads

    with torch_threads(1):  # one small step at a time: extra threads only wait for each other
        return _lstm_cell_trace(model, vocab, text, layer)


def _lstm_cell_trace(model, vocab, text, layer):
    import torch

    from utils.torch_cells import lstm_weights_from_torch

    fname = "lstm_cell_trace"
    text = _check_text(fname, text)
    if getattr(model, "cell", None) != "lstm":
        raise ValueError(f"{fname}: the model must be a CharLM with cell='lstm', got cell={getattr(model, 'cell', None)!r}")
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer < model.num_layers:
        raise ValueError(f"{fname}: layer must be an integer in [0, {model.num_layers - 1}], got {layer!r}")
    ids = torch.from_numpy(np.asarray(vocab.encode(text), dtype=np.int64))
    with torch.no_grad():
        device = next(model.parameters()).device
        inp = (torch.nn.functional.one_hot(ids, model.vocab_size).double() if model.embed is None
               else model.embed(ids.to(device)).double().cpu())  # (T, E)
        H = model.hidden_size
        for k in range(layer + 1):
            Wx, Wh, b = lstm_weights_from_torch(model.rnn, k)
            ax = inp @ Wx + b  # (T, 4H): the input part of every step at once
            h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
            hs, cs = [], []
            for t in range(len(ids)):
                a = ax[t] + h @ Wh
                i, f, o = torch.sigmoid(a[:3 * H]).chunk(3)
                c = f * c + i * torch.tanh(a[3 * H:])
                h = o * torch.tanh(c)
                hs.append(h)
                cs.append(c)
            inp = torch.stack(hs)  # the next layer reads this layer's hidden states
    return {"c": torch.stack(cs).numpy(), "h": inp.numpy()}


def line_position(text):
    """For every character, how many characters precede it on its line (0 right after a newline)."""
    text = _check_text("line_position", text)
    out = np.zeros(len(text))
    pos = 0
    for k, ch in enumerate(text):
        out[k] = pos
        pos = 0 if ch == "\n" else pos + 1
    return out


def inside_brackets(text, open_char="[", close_char="]"):
    """1.0 for characters from an opening bracket up to its closing bracket, else 0.0.

    In the course's Shakespeare corpus, stage directions are written in square brackets.
    """
    text = _check_text("inside_brackets", text)
    out = np.zeros(len(text))
    depth = 0
    for k, ch in enumerate(text):
        if ch == open_char:
            depth += 1
        out[k] = float(depth > 0)
        if ch == close_char and depth > 0:
            depth -= 1
    return out


def best_cells(activations, feature, top=3):
    """Cells whose activation over time correlates most (in absolute value) with a feature.

    activations: (T, H) array (e.g. the c of lstm_cell_trace); feature: (T,) numbers;
    top: how many cells to return.
    Returns: list of (cell index, Pearson correlation), strongest first.
    """
    A = np.asarray(activations, dtype=np.float64)
    f = np.asarray(feature, dtype=np.float64)
    if A.ndim != 2 or f.shape != (A.shape[0],):
        raise ValueError(f"best_cells: activations must be (T, H) and feature (T,), got {A.shape} and {f.shape}")
    if f.std() == 0:
        raise ValueError("best_cells: the feature is constant over the text, so no correlation is defined")
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"best_cells: top must be a positive integer, got {top!r}")
    A0 = A - A.mean(axis=0)
    std = A.std(axis=0)
    corr = (A0 * ((f - f.mean()) / f.std())[:, None]).mean(axis=0) / np.where(std > 0, std, np.inf)
    order = np.argsort(-np.abs(corr), kind="stable")[:top]
    return [(int(k), float(corr[k])) for k in order]


def _scaled(values):
    """Values mapped to [-1, 1] by their largest magnitude (0 stays white)."""
    v = np.asarray(values, dtype=np.float64)
    top = np.max(np.abs(v)) if v.size else 0.0
    return v / top if top > 0 else v


def draw_cell_text(text, values, title="", max_chars=700, width=90):
    """Draw text with every character's background coloured by a value (blue < 0 < red).

    text: str; values: (len(text),) numbers, e.g. one column of lstm_cell_trace's c;
    title: figure title; max_chars: only the first max_chars characters are drawn;
    width: characters per row before a long line wraps.
    Returns: the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    text = _check_text("draw_cell_text", text)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(f"draw_cell_text: values must have one number per character, shape "
                         f"({len(text)},), got {values.shape}")
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
            ax.text(c, r, shown, ha="center", va="center", fontsize=7, family="monospace")
    ax.imshow(grid, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks([]); ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    plt.show()
    return fig


def cell_html(text, values, max_chars=1500):
    """HTML for text whose characters have backgrounds coloured by values (blue < 0 < red)."""
    text = _check_text("cell_html", text)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(f"cell_html: values must have shape ({len(text)},), got {values.shape}")
    spans = []
    for ch, v in zip(text[:max_chars], _scaled(values[:max_chars])):
        strength = int(round(255 * (1 - abs(v))))
        color = f"rgb(255,{strength},{strength})" if v > 0 else f"rgb({strength},{strength},255)"
        shown = "↵<br>" if ch == "\n" else html.escape(ch)
        spans.append(f'<span style="background:{color}">{shown}</span>')
    return ('<div style="font-family:monospace; font-size:12px; line-height:1.5; white-space:pre-wrap">'
            + "".join(spans) + "</div>")


def cell_widget(text, activations, start_cell=0, labels=None):
    """A slider over the cells of ``activations`` (T, H) that colours ``text`` by the chosen cell.

    labels: optional {cell index: description} shown next to the slider for notable cells.
    Returns: the widget box.
    """
    import ipywidgets as widgets
    from IPython.display import HTML, display

    from utils.widgets import interactive_figure

    A = np.asarray(activations)
    text = _check_text("cell_widget", text)
    if A.ndim != 2 or A.shape[0] != len(text):
        raise ValueError(f"cell_widget: activations must have shape ({len(text)}, H), got {A.shape}")
    H = A.shape[1]
    if isinstance(start_cell, bool) or not isinstance(start_cell, numbers.Integral) or not 0 <= start_cell < H:
        raise ValueError(f"cell_widget: start_cell must be an integer in [0, {H - 1}], got {start_cell!r}")
    labels = labels or {}

    def draw(cell):
        note = f" ({labels[cell]})" if cell in labels else ""
        display(HTML(f"<b>cell {cell}{note}</b>" + cell_html(text, A[:, cell])))

    return interactive_figure(draw, cell=widgets.IntSlider(value=start_cell, min=0, max=H - 1,
                                                           description="cell"))
