"""Pictures of the shapes world: a grid of scenes with text under each, and object boxes."""
import textwrap

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from utils import validate
from utils.data.shapes import Scene
from utils.palette import WHITE
from utils.viz.figure import show


def _check_scenes(fname, scenes):
    if isinstance(scenes, Scene):
        scenes = [scenes]
    scenes = list(scenes)
    if not scenes or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError(f"{fname}: scenes must be a non-empty list of Scene objects "
                         f"(from utils.data.shapes.make_scenes), got {validate.shown(scenes)}")
    return scenes


def where(scene, x, y):
    """Where the pixel (x, y) lies in the scene's image, in words: 'top left', 'centre', ..."""
    size = scene.image.shape[0]
    row = ("top", "", "bottom")[min(2, int(3 * y / size))]
    column = ("left", "", "right")[min(2, int(3 * x / size))]
    return f"{row} {column}".strip() or "centre"


def describe_scene(scene):
    """The scene's objects in words, e.g. 'a large red circle at the top left and a small blue
    square at the centre' (the alt text of pictures of scenes)."""
    if not isinstance(scene, Scene):
        raise validate.WrongType(f"describe_scene: scene must be a shapes.Scene, got {validate.shown(scene)}")
    names = [f"a {o.size} {o.colour} {o.shape} at the {where(scene, *o.centre)}" for o in scene.objects]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def draw_scene(ax, scene, boxes=False, title=None):
    """Draw one scene's image on ``ax``; boxes=True outlines every object's bounding box."""
    ax.imshow(scene.image, interpolation="nearest")
    if boxes:
        for obj in scene.objects:
            x0, y0, x1, y1 = obj.box
            # one pixel outside the box, so the outline does not hide a square's edge
            ax.add_patch(Rectangle((x0 - 1.5, y0 - 1.5), x1 - x0 + 2, y1 - y0 + 2, fill=False,
                                   edgecolor=WHITE, linewidth=0.8, linestyle="--"))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=8)


def draw_scenes(scenes, texts=None, ncols=4, boxes=False, width=30, title=None):
    """A grid of scenes, each with its lines of text underneath.

    scenes: list of Scene; texts: None, or one list of strings (or one string) per scene, e.g.
    its captions or "question -> answer" lines; ncols: scenes per row; boxes: outline objects;
    width: characters per text line before wrapping; title: figure title.
    Returns: the matplotlib Figure.
    """
    fname = "draw_scenes"
    scenes = _check_scenes(fname, scenes)
    ncols = validate.positive_int(fname, "ncols", ncols, 12)
    width = validate.positive_int(fname, "width", width, 200)
    if texts is not None:
        texts = [[t] if isinstance(t, str) else list(t) for t in texts]
        if len(texts) != len(scenes):
            raise ValueError(f"{fname}: texts must have one entry per scene ({len(scenes)}), got {len(texts)}")
    wrapped = [[] if texts is None else
               [line for t in texts[k] for line in textwrap.wrap(t, width) or [""]] for k in range(len(scenes))]
    lines = max((len(w) for w in wrapped), default=0)
    nrows = -(-len(scenes) // ncols)
    cell_h = 2.3 + 0.16 * lines
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.45 * ncols, cell_h * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(scenes):
            ax.axis("off")
            continue
        draw_scene(ax, scenes[k], boxes=boxes)
        if wrapped[k]:
            ax.set_xlabel("\n".join(wrapped[k]), fontsize=7, loc="left", labelpad=3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    parts = [f"Scene {k + 1}: {describe_scene(scene)}"
             + ("" if texts is None else ", text under it: " + "; ".join(texts[k]))
             for k, scene in enumerate(scenes)]
    show(fig, f"{title + ': ' if title else ''}{len(scenes)} scenes of the shapes world in {nrows} "
              f"row{'s' if nrows > 1 else ''}{', each object in a dashed box' if boxes else ''}. "
              + ". ".join(parts) + ".")
    return fig
