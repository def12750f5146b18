"""What the cells of a character-level LSTM track: traces of c_t and h_t, text features, correlations.

    lstm_cell_trace                   run a CharLM (cell="lstm") over a text and record c_t, h_t of one layer
    line_position, inside_brackets,   simple properties of every character of a text
    speaker_lines, word_position
    correlations, best_cells          each cell's correlation with such a property; the strongest cells

The pictures (coloured text, the cell widget) are in utils.viz.cells. The idea follows Karpathy,
Johnson and Fei-Fei (2015), "Visualizing and understanding recurrent networks".
"""
import numpy as np
import torch

from utils import validate
from utils.course import model_device, torch_threads
from utils.models.cells import lstm_recurrence, weights_from_module

def check_text(fname, text):
    return validate.non_empty_str(fname, "text", text)


def lstm_cell_trace(model, vocab, text, layer=0):
    """Cell states c_t and hidden states h_t of one LSTM layer of a CharLM while it reads ``text``.

    model: a utils.models.char_lm.CharLM with cell="lstm"; vocab: its CharVocab; text: a str whose
    characters are all in the vocabulary; layer: which layer to record (0 = the bottom one).
    Returns: dict with c (T, H) and h (T, H) numpy arrays, row t after reading text[t].
    """
    with torch_threads(1):  # one small step at a time: extra threads only wait for each other
        return _lstm_cell_trace(model, vocab, text, layer)


def _lstm_cell_trace(model, vocab, text, layer):
    fname = "lstm_cell_trace"
    text = check_text(fname, text)
    if getattr(model, "cell", None) != "lstm":
        raise ValueError(f"{fname}: the model must be a CharLM with cell='lstm', got cell={getattr(model, 'cell', None)!r}")
    layer = validate.int_in_range(fname, "layer", layer, 0, model.num_layers - 1)
    ids = torch.from_numpy(np.asarray(vocab.encode(text), dtype=np.int64))
    with torch.no_grad():
        device = model_device(model)
        inp = (torch.nn.functional.one_hot(ids, model.vocab_size).double() if model.embed is None
               else model.embed(ids.to(device)).double().cpu())  # (T, E)
        H = model.hidden_size
        for k in range(layer + 1):
            W = {k: torch.from_numpy(v) for k, v in weights_from_module(model.rnn, layer=k)[1].items()}
            ax = inp @ W["Wx"] + W["b"]  # (T, 4H): the input part of every step at once
            h, c = torch.zeros(1, H, dtype=torch.float64), torch.zeros(1, H, dtype=torch.float64)  # device: float64 on the CPU, as W
            hs, cs = [], []
            for t in range(len(ids)):  # a batch of one sequence
                h, c = lstm_recurrence(ax[t:t + 1], h, c, W["Wh"], H)
                hs.append(h[0])
                cs.append(c[0])
            inp = torch.stack(hs)  # the next layer reads this layer's hidden states
    return {"c": torch.stack(cs).numpy(), "h": inp.numpy()}


def line_position(text):
    """For every character, how many characters precede it on its line (0 right after a newline)."""
    text = check_text("line_position", text)
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
    text = check_text("inside_brackets", text)
    out = np.zeros(len(text))
    depth = 0
    for k, ch in enumerate(text):
        if ch == open_char:
            depth += 1
        out[k] = float(depth > 0)
        if ch == close_char and depth > 0:
            depth -= 1
    return out


def speaker_lines(text):
    """1.0 for the characters of a line that names the speaker, else 0.0.

    In this corpus a speech starts after a blank line with the speaker's name alone on its
    line, ending with a period: "Ham.", "OTHELLO.", "First Witch." (the newline is included).
    """
    text = check_text("speaker_lines", text)
    out = np.zeros(len(text))
    start = 0
    for line in text.split("\n"):
        stop = start + len(line)
        after_blank = start >= 2 and text[start - 2:start] == "\n\n" or start == 0
        heading = line.startswith(("[", "ACT", "Act", "SCENE", "Scene"))
        if after_blank and line.endswith(".") and 1 < len(line) <= 30 and not heading:
            out[start:stop + 1] = 1.0
        start = stop + 1
    return out


def word_position(text):
    """For every character, how many letters precede it in its word (0 on a non-letter)."""
    text = check_text("word_position", text)
    out = np.zeros(len(text))
    pos = 0
    for k, ch in enumerate(text):
        pos = pos + 1 if ch.isalpha() else 0
        out[k] = max(pos - 1, 0)
    return out


def correlations(activations, feature):
    """Pearson correlation of every cell's activation over time with a feature.

    activations: (T, H) array (e.g. the c of lstm_cell_trace); feature: (T,) numbers.
    Returns: (H,) array (0 for a cell that never changes).
    """
    validate.shapes("correlations", "activations: T H, feature: T", activations, feature)
    A = validate.float_array("correlations", "activations", activations)
    f = validate.float_array("correlations", "feature", feature)
    if f.std() == 0:
        raise ValueError("best_cells / correlations: the feature is constant over the text, so no correlation is defined")
    A0 = A - A.mean(axis=0)
    std = A.std(axis=0)
    return (A0 * ((f - f.mean()) / f.std())[:, None]).mean(axis=0) / np.where(std > 0, std, np.inf)


def best_cells(activations, feature, top=3):
    """Cells whose activation over time correlates most (in absolute value) with a feature.

    activations: (T, H) array (e.g. the c of lstm_cell_trace); feature: (T,) numbers;
    top: how many cells to return.
    Returns: list of (cell index, Pearson correlation), strongest first.
    """
    top = validate.positive_int("best_cells", "top", top)
    corr = correlations(activations, feature)
    order = np.argsort(-np.abs(corr), kind="stable")[:top]
    return [(int(k), float(corr[k])) for k in order]
