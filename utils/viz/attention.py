"""Pictures of attention: where the captioner looked for each word (Xu et al. 2015, fig. 2-3).

    attention_overlay      the image lit where an attention map is high
    attention_peak         where a map peaks and the object there, in words (for alt text)
    draw_attention_strip   the image, then one panel per generated word with its map
    attention_widget       choose a scene and step through its words, live from the model
    draw_training_curves   the words' loss of several trainings; REINFORCE's reward and baseline
"""
import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from utils import validate
from utils.data.shapes import Scene
from utils.data import shapes_language as language
from utils.models import encoder as image_encoder
from utils.models.attention_captioner import check_attention_model
from utils.models.captions import caption_with_attention
from utils.palette import SEQUENTIAL_MAP
from utils.viz.figure import show
from utils.viz.shapes import describe_scene, draw_scene, where
from utils.viz.widgets import interactive_figure

DIM = 0.2  # brightness of the image where the map is 0 (1 where it is at its maximum)


def attention_overlay(image, alpha):
    """The image lit by an attention map: bilinear upsampling of the map, scaled to its maximum.

    image: (S, S, 3) uint8. alpha: (L,) attention over a G x G grid (L = G * G).
    Returns: (S, S, 3) float in [0, 1]: image * (DIM + (1 - DIM) * map / max(map)).
    """
    fname = "attention_overlay"
    validate.shapes(fname, "image: S S 3, alpha: L", image, alpha)
    image = np.asarray(image)
    alpha = validate.float_array(fname, "alpha", alpha)
    G = int(round(np.sqrt(alpha.size)))
    if G * G != alpha.size:
        raise ValueError(f"{fname}: alpha must have a square number of locations, got {alpha.size}")
    grid = torch.from_numpy(alpha.reshape(1, 1, G, G))
    up = F.interpolate(grid, size=image.shape[:2], mode="bilinear", align_corners=False)[0, 0].numpy()
    light = DIM + (1 - DIM) * up / max(float(up.max()), 1e-12)
    return np.clip(image / 255.0 * light[:, :, None], 0, 1)


def _check_caption(fname, words, alphas, probs):
    if isinstance(words, str):
        words = words.split()
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{fname}: words must be a list of strings, got {validate.shown(words)}")
    if len(words):
        validate.shapes(fname, "alphas: T L, probs: T", alphas, probs, T=len(words))
    alphas = validate.float_array(fname, "alphas", alphas) if len(words) else np.zeros((0, 1))
    probs = validate.float_array(fname, "probs", probs) if len(words) else np.zeros(0)
    return list(words), alphas, probs


def _word_panel(ax, scene, word, alpha, prob):
    ax.imshow(attention_overlay(scene.image, alpha), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(f"{word} ({prob:.2f})", fontsize=9)


def attention_peak(scene, alpha):
    """Where an attention map (L,) over a G x G grid peaks, in words, and the object there:
    e.g. 'the top left, on the red circle' (scene: the shapes.Scene the map looks at)."""
    G = int(round(np.sqrt(alpha.size)))
    row, col = divmod(int(np.argmax(alpha)), G)
    x, y = (col + 0.5) * scene.image.shape[1] / G, (row + 0.5) * scene.image.shape[0] / G
    on = [o.name for o in scene.objects if o.box[0] <= x < o.box[2] and o.box[1] <= y < o.box[3]]
    return f"the {where(scene, x, y)}, " + (f"on the {on[0]}" if on else "on no object")


def draw_attention_strip(scene, words, alphas, probs, ncols=6, title=None):
    """The paper's figure: the image, then each generated word with its attention map.

    scene: shapes.Scene. words: T strings. alphas: (T, L) the map that produced each word.
    probs: (T,) each word's probability. ncols: panels per row (the image counts as one).
    title: figure title (default: the caption).
    Returns: the matplotlib Figure. Each word's panel shows the image lit where the map is
    high (bilinear upsampling of the 8 x 8 map), titled "word (probability)".
    """
    fname = "draw_attention_strip"
    if not isinstance(scene, Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    words, alphas, probs = _check_caption(fname, words, alphas, probs)
    ncols = validate.positive_int(fname, "ncols", ncols, 12)
    panels = 1 + len(words)
    nrows = -(-panels // ncols)
    cols = min(ncols, panels)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.6 * cols, 1.8 * nrows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k == 0:
            draw_scene(ax, scene, title="image")
        elif k < panels:
            _word_panel(ax, scene, words[k - 1], alphas[k - 1], probs[k - 1])
        else:
            ax.axis("off")
    caption = " ".join(words) if words else "(empty caption)"
    fig.suptitle("\n".join(textwrap.wrap(title or caption, 100)), fontsize=10)
    fig.tight_layout()
    looks = "; ".join(f"'{w}' peaks at {attention_peak(scene, a)}" for w, a in zip(words, alphas))
    show(fig, f"{title + ': the' if title else 'The'} image ({describe_scene(scene)}), then "
              + (f"one panel per word of the caption '{caption}', the image lit where that word's "
                 f"attention is high and dark elsewhere: {looks}." if words else "an empty caption."))
    return fig


def attention_widget(model, scenes, vocab=None, grid=None, scene=0, max_length=20, strip=True):
    """Choose a scene, step through the words of its greedy caption, see where the model looked.

    model: an AttentionCaptioner ("soft", "hard" or "uniform"; notebook 06's Captioner has no
        attention and is refused). scenes: non-empty list of shapes.Scene.
    vocab: the model's WordVocab (default model.vocab or build_vocab()).
    grid: (len(scenes), L, D) grid features of the scenes (default: the shipped encoder's).
    scene: the index shown first (0 <= scene < len(scenes)). max_length: tokens per caption.
    strip: first draw the default scene's strip (draw_attention_strip) as a static figure
        (False when the notebook has already drawn it in a cell of its own).
    Then shows two sliders (scene, word) over a figure: the word's attention over the image,
    the 8 x 8 map itself, and the caption with the word in brackets. A scene is decoded once, when it is
    first chosen; moving the word slider only redraws.
    Returns: the widget box.
    """
    fname = "attention_widget"
    check_attention_model(fname, model)
    if isinstance(scenes, Scene) or not isinstance(scenes, (list, tuple)) or not scenes \
            or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError(f"{fname}: scenes must be a non-empty list of shapes.Scene, "
                         f"got {validate.shown(scenes)}")
    scene = validate.int_in_range(fname, "scene", scene, 0, len(scenes) - 1)
    vocab = getattr(model, "vocab", None) if vocab is None else vocab
    vocab = language.build_vocab() if vocab is None else vocab
    max_length = validate.positive_int(fname, "max_length", max_length)
    if not isinstance(strip, bool):
        raise ValueError(f"{fname}: strip must be True or False, got {validate.shown(strip)}")
    if grid is None:
        grid = image_encoder.encode_scenes(image_encoder.load_encoder(), list(scenes))[1]
    validate.shapes(fname, "grid: S L D", grid, S=len(scenes))
    grid = model._grid(fname, grid)
    decoded = {}

    def decode(index):
        if index not in decoded:
            decoded[index] = caption_with_attention(model, grid[index:index + 1], vocab, max_length)[0]
        return decoded[index]

    if strip:
        draw_attention_strip(scenes[scene], *decode(scene))
    G = int(round(np.sqrt(model.num_locations)))

    def draw(scene, word):
        words, alphas, probs = decode(scene)
        fig, (left, right) = plt.subplots(1, 2, figsize=(6.4, 3.3))
        if not words:
            draw_scene(left, scenes[scene], title="(empty caption)")
            right.axis("off")
        else:
            t = min(word, len(words) - 1)
            _word_panel(left, scenes[scene], words[t], alphas[t], probs[t])
            right.imshow(alphas[t].reshape(G, G), cmap=SEQUENTIAL_MAP, interpolation="nearest")
            right.set_title(f"alpha over the {G} x {G} grid (max {alphas[t].max():.2f})", fontsize=9)
            right.set_xticks([])
            right.set_yticks([])
            right.grid(False)
            shown = words[:t] + [f"[{words[t]}]"] + words[t + 1:]
            fig.suptitle("\n".join(textwrap.wrap(" ".join(shown), 80)), fontsize=9)
        fig.tight_layout()
        if not words:
            alt = f"Scene {scene} ({describe_scene(scenes[scene])}), whose greedy caption is empty."
        else:
            alt = (f"Word {t + 1} of {len(words)}, '{words[t]}', of the caption '{' '.join(words)}' of "
                   f"scene {scene}: left, the image lit by the word's attention, which peaks at "
                   f"{attention_peak(scenes[scene], alphas[t])}; right, the {G} x {G} map itself, its "
                   f"largest weight {alphas[t].max():.2f}.")
        show(fig, alt)

    style = {"description_width": "50px"}
    scene_slider = widgets.IntSlider(value=scene, min=0, max=len(scenes) - 1, description="scene",
                                     continuous_update=False, style=style,
                                     layout=widgets.Layout(width="300px"))
    word_slider = widgets.IntSlider(value=0, min=0, max=max(0, len(decode(scene)[0]) - 1),
                                    description="word", style=style,
                                    layout=widgets.Layout(width="300px"))

    def new_scene(change):  # registered before the redraw, so the word slider fits first
        word_slider.max = max(0, len(decode(change["new"])[0]) - 1)
        word_slider.value = 0

    scene_slider.observe(new_scene, names="value")
    return interactive_figure(draw, scene=scene_slider, word=word_slider)


def _smooth(values, window):
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def draw_training_curves(histories, window=25):
    """Training curves of attention captioners (histories of train_attention_captioner).

    histories: dict name -> history (e.g. {"soft": ..., "hard": ..., "uniform": ...}).
    window: steps of the moving average.
    Returns: the Figure: left, each run's nll per caption (log scale); right, for the runs with
    hard attention, the mean reward log p(y | s) of each minibatch and the moving-average
    baseline b (the reward minus b is what REINFORCE multiplies grad log p(s) by).
    """
    fname = "draw_training_curves"
    if not isinstance(histories, dict) or not histories or not all(
            isinstance(h, dict) and "nll" in h and "step" in h for h in histories.values()):
        raise ValueError(f"{fname}: histories must be a non-empty dict name -> history of "
                         f"train_attention_captioner, got {validate.shown(histories)}")
    window = validate.positive_int(fname, "window", window)
    hard = {name: h for name, h in histories.items() if "reward" in h}
    fig, axes = plt.subplots(1, 2 if hard else 1, figsize=(10 if hard else 5.5, 3.4), squeeze=False)
    left = axes[0, 0]
    for name, h in histories.items():
        curve = _smooth(h["nll"], window)
        left.plot(np.asarray(h["step"])[len(h["step"]) - len(curve):], curve, label=name)
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("nll per caption (nats)")
    left.set_title(f"words' loss ({window}-step average)", fontsize=10)
    left.legend()
    if hard:
        right = axes[0, 1]
        for name, h in hard.items():
            steps = np.asarray(h["step"])
            right.plot(steps, h["reward"], alpha=0.3, lw=0.8, label=f"{name}: minibatch reward")
            right.plot(steps, h["baseline"], lw=1.5, label=f"{name}: baseline b")
        right.set_xlabel("step")
        right.set_ylabel("log p(caption | locations)")
        right.set_title("REINFORCE: reward and baseline", fontsize=10)
        right.legend(fontsize=8)
    fig.tight_layout()
    runs = "; ".join(f"{name}, which ends {'below' if c[-1] < c[0] else 'at or above'} where it starts"
                     for name, c in ((name, _smooth(h["nll"], window)) for name, h in histories.items()))
    show(fig, f"Left: the words' loss per caption in nats, log scale, {window}-step moving average, "
              f"against the training step, one line per run: {runs}."
              + (f" Right: for {', '.join(hard)}, REINFORCE's reward log p(caption | locations) of each "
                 f"minibatch, pale, and its moving-average baseline b, a smooth line through it."
                 if hard else ""))
    return fig
