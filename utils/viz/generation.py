"""Looking inside generation: the next-character distribution and a live sampling widget."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from utils import validate
from utils.models.char_lm import next_char_probs, sample
from utils.palette import BLUE
from utils.viz.figure import show
from utils.viz.widgets import interactive_figure

def _printable(char):
    return {"\n": "\\n", " ": "␣"}.get(char, char)


def draw_next_char_distribution(model, vocab, prefix="ROMEO:", temperature=1.0, top=20,
                                n_chars=200, seed=0):
    """Bar chart of the next-character distribution, and a sample continuing the prefix.

    top: how many most likely characters to show. n_chars: length of the printed sample
    (0: none). seed: seed of the sample, so moving a slider back gives the same text.
    Returns: the Figure.
    """
    fname = "draw_next_char_distribution"
    top = validate.positive_int(fname, "top", top)
    n_chars = validate.int_in_range(fname, "n_chars", n_chars, 0)
    seed = validate.seed(fname, seed)
    probs = next_char_probs(model, vocab, prefix, temperature)
    order = np.argsort(-probs)[:top]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.bar(range(len(order)), probs[order], color=BLUE)
    ax.set_xticks(range(len(order)), [_printable(vocab.chars[i]) for i in order])
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    shown = prefix[-30:].replace("\n", "\\n")
    ax.set_title(f"next character after '…{shown}' at temperature {temperature:g}", fontsize=9)
    spoken = {"\n": "newline", " ": "space"}
    likely = ", ".join(f"{spoken.get(vocab.chars[i], repr(vocab.chars[i]))} {probs[i]:.2f}" for i in order[:3])
    show(fig, f"Bar chart of the probabilities, on a scale from 0 to 1, of the {len(order)} most likely "
              f"characters to follow '…{shown}' at temperature {temperature:g}: most likely are "
              f"{likely}; the {len(order)} bars hold {probs[order].sum():.0%} of the probability.")
    if n_chars:
        generator = torch.Generator().manual_seed(seed)
        print(sample(model, vocab, prefix, n_chars, temperature=temperature, generator=generator))
    return fig


def sampling_widget(model, vocab, prefix="ROMEO:"):
    """Temperature slider, prefix box and seed slider regenerating text live from the model.

    prefix: the text shown first in the box (a non-empty str of the corpus's characters).
    """
    validate.non_empty_str("sampling_widget", "prefix", prefix)
    def draw(prefix, temperature, seed):
        unknown = sorted({c for c in prefix if c not in set(vocab.chars)})
        if not prefix or unknown:
            print("type a prefix made of characters of the corpus"
                  + (f"; not in the vocabulary: {unknown}" if unknown else ""))
            return
        draw_next_char_distribution(model, vocab, prefix, temperature, seed=seed)

    return interactive_figure(
        draw,
        prefix=widgets.Text(value=prefix, description="prefix", continuous_update=False),
        temperature=widgets.FloatSlider(value=0.8, min=0.1, max=2.0, step=0.05,
                                        description="temperature", continuous_update=False),
        seed=widgets.IntSlider(value=0, min=0, max=20, description="seed",
                               continuous_update=False))
