"""The shapes world: small procedural scenes of coloured circles, squares and triangles.

The offline image world of notebooks 06-08 (captioning, attention, visual question answering),
in the spirit of Sort-of-CLEVR and CLEVR CoGenT: every scene is drawn from one integer seed, so
the data never has to be downloaded and the same seed always gives the same picture.

What is where:
- constants: ``IMAGE_SIZE``, ``COLOURS`` with ``COLOUR_RGB``, ``SHAPES``, ``SIZES`` with
  ``RADIUS``, ``SPLITS``, ``ALL_PAIRS``, ``HELDOUT_PAIRS``, ``TRAIN_PAIRS``, ``GRID_CLASSES``
  and ``NUM_GRID_CLASSES``;
- ``ShapeObject`` and ``Scene``: the metadata of one object and one scene (image + objects);
- ``make_scene``: one scene from a seed; ``render``: pixels from a list of objects;
- ``make_scenes`` and ``split_pairs``: the train/val/test/heldout splits;
- ``images_array`` and ``grid_labels``: arrays for torch (images and per-cell labels).

Geometry. An object of radius r (small 5 px, large 9 px) with integer centre (cx, cy) fills
part of the box of columns cx-r..cx+r and rows cy-r..cy+r (a circle, a square of half-side r-1,
or a triangle with its apex up and its base on the bottom row). Pixel (row y, column x) is the
point (x, y): x grows to the right, y grows downwards. Boxes are half-open,
``(x0, y0, x1, y1)`` = columns x0..x1-1 and rows y0..y1-1. Boxes of one scene are at least
``GAP`` px apart and ``EDGE`` px from the image border, so the dark-grey background always
separates objects; objects of one scene have distinct colours, which keeps captions and
questions unambiguous ("the red object").

Splits (compositional generalisation, as CLEVR CoGenT). Six of the 18 colour-shape pairs,
``HELDOUT_PAIRS`` (one per colour, two per shape), never appear in train, val or test scenes;
every object of a heldout scene is a held-out pair. Each colour and each shape still occurs in
training, so a model that learned colour and shape separately can name a held-out pair.
"""
import itertools
import numbers
from dataclasses import dataclass

import numpy as np

from utils import validate

IMAGE_SIZE = 64
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
COLOUR_RGB = {  # flat colours, far apart in RGB so a pixel's colour names its object
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 200),
    "orange": (250, 140, 20),
}
BACKGROUND_RGB = (30, 30, 30)  # dark grey
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")
RADIUS = {"small": 5, "large": 9}  # half the box side minus one half pixel: boxes are 11 or 19 px
SPLITS = ("train", "val", "test", "heldout")
MAX_OBJECTS = len(COLOURS)  # colours are distinct within a scene
MIN_IMAGE_SIZE = 2 * max(RADIUS.values()) + 1 + 2  # one large object plus the border
EDGE = 1  # background pixels at least between any box and the image border
GAP = 2   # background pixels at least between two boxes

ALL_PAIRS = frozenset(itertools.product(COLOURS, SHAPES))
HELDOUT_PAIRS = frozenset({
    ("red", "triangle"), ("green", "square"), ("blue", "circle"),
    ("yellow", "triangle"), ("purple", "circle"), ("orange", "square"),
})
TRAIN_PAIRS = ALL_PAIRS - HELDOUT_PAIRS

# Grid classes: 0 = empty cell, 1 + i for GRID_CLASSES[i] = (colour, shape, size).
GRID_CLASSES = tuple(itertools.product(COLOURS, SHAPES, SIZES))
NUM_GRID_CLASSES = 1 + len(GRID_CLASSES)
_GRID_CLASS_INDEX = {key: i + 1 for i, key in enumerate(GRID_CLASSES)}

_SPLIT_INDEX = {name: i for i, name in enumerate(SPLITS)}
_PAIR_ORDER = {pair: i for i, pair in enumerate(itertools.product(COLOURS, SHAPES))}
_MAX_LAYOUTS = 50  # fresh layouts tried before a scene is declared impossible


@dataclass(frozen=True)
class ShapeObject:
    """One object of a scene.

    colour: one of COLOURS; shape: one of SHAPES; size: one of SIZES.
    centre: (x, y) float pixels (column, row) of the box centre.
    box: (x0, y0, x1, y1) int pixels, half-open: columns x0..x1-1, rows y0..y1-1.
    """
    colour: str
    shape: str
    size: str
    centre: tuple
    box: tuple

    @property
    def name(self):
        """'colour shape', e.g. 'red circle' (unique within a scene, colours being distinct)."""
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True, eq=False)
class Scene:
    """One scene: image (H, W, 3) uint8 (read-only), objects (tuple of ShapeObject), seed (int)."""
    image: np.ndarray
    objects: tuple
    seed: int


def _make_templates():
    """Boolean masks (2r+1, 2r+1) of every (shape, size), the object centred in its box."""
    templates = {}
    for size, r in RADIUS.items():
        y, x = np.mgrid[-r:r + 1, -r:r + 1]                       # (2r+1, 2r+1) offsets
        templates["circle", size] = x * x + y * y <= r * r
        templates["square", size] = (np.abs(x) <= r - 1) & (np.abs(y) <= r - 1)
        templates["triangle", size] = 2 * np.abs(x) <= y + r    # apex (0, -r), base row y = r
    for mask in templates.values():
        mask.flags.writeable = False
    return templates


_TEMPLATES = _make_templates()
_RGB = {name: np.array(rgb, dtype=np.uint8) for name, rgb in COLOUR_RGB.items()}


def object_box(shape, size, centre):
    """The half-open box (x0, y0, x1, y1) of an object with this shape and size at centre (x, y).

    The box is tight: its first and last rows and columns each hold a pixel of the object.
    """
    fname = "object_box"
    validate.one_of(fname, "shape", shape, SHAPES)
    validate.one_of(fname, "size", size, SIZES)
    cx, cy = _integer_centre(fname, centre)
    r = RADIUS[size] - (1 if shape == "square" else 0)
    return (cx - r, cy - r, cx + r + 1, cy + r + 1)


def _integer_centre(fname, centre):
    ok = isinstance(centre, (tuple, list)) and len(centre) == 2 and all(
        isinstance(c, numbers.Real) and not isinstance(c, bool) and float(c).is_integer()
        for c in centre)
    if not ok:
        raise ValueError(f"{fname}: centre must be a pair (x, y) of whole numbers, "
                         f"got {validate.shown(centre)}")
    return int(centre[0]), int(centre[1])


def render(objects, image_size=IMAGE_SIZE):
    """Draw objects on the dark-grey background.

    objects: sequence of ShapeObject (integer centres, inside the image).
    Returns: image (image_size, image_size, 3) uint8. Later objects are drawn over earlier ones
    (objects of make_scene never overlap, so the order does not matter there).
    """
    fname = "render"
    image_size = validate.int_in_range(fname, "image_size", image_size, MIN_IMAGE_SIZE, 1024)
    if not isinstance(objects, (list, tuple)) or not all(isinstance(o, ShapeObject) for o in objects):
        raise ValueError(f"{fname}: objects must be a list of ShapeObject, got {validate.shown(objects)}")
    image = np.empty((image_size, image_size, 3), dtype=np.uint8)
    image[:] = BACKGROUND_RGB
    for obj in objects:
        cx, cy = _integer_centre(fname, obj.centre)
        r = RADIUS[obj.size]
        if cx - r < 0 or cy - r < 0 or cx + r >= image_size or cy + r >= image_size:
            raise ValueError(f"{fname}: objects must lie inside the {image_size}x{image_size} image, "
                             f"got a {obj.size} {obj.name} centred at {obj.centre}")
        patch = image[cy - r:cy + r + 1, cx - r:cx + r + 1]      # (2r+1, 2r+1, 3) view
        patch[_TEMPLATES[obj.shape, obj.size]] = _RGB[obj.colour]
    return image


def _canonical_pairs(fname, pairs):
    """pairs as a tuple sorted in (COLOURS, SHAPES) order (frozenset order is not reproducible)."""
    if pairs is None:
        return tuple(sorted(ALL_PAIRS, key=_PAIR_ORDER.get))
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise ValueError(f"{fname}: pairs must be a collection of (colour, shape) pairs, "
                         f"got {validate.shown(pairs)}")
    checked = set()
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"{fname}: pairs must hold (colour, shape) pairs, got {validate.shown(pair)}")
        colour, shape = pair
        if colour not in COLOURS or shape not in SHAPES:
            raise ValueError(f"{fname}: pairs must hold (colour, shape) with colour in {COLOURS} and "
                             f"shape in {SHAPES}, got {validate.shown(tuple(pair))}")
        checked.add((colour, shape))
    if not checked:
        raise ValueError(f"{fname}: pairs must hold at least one (colour, shape) pair, got none")
    return tuple(sorted(checked, key=_PAIR_ORDER.get))


def _place(rng, radii, image_size):
    """Integer centres (cx, cy) for objects of the given radii, boxes GAP apart, or None.

    Objects are placed largest first; each centre is drawn uniformly among the free positions
    (a numpy mask over every admissible centre), so a layout fails only if no position is left.
    """
    order = sorted(range(len(radii)), key=lambda i: -radii[i])
    centres = [None] * len(radii)
    for i in order:
        r = radii[i]
        coords = np.arange(EDGE + r, image_size - EDGE - r)          # admissible centre values
        free = np.ones((coords.size, coords.size), dtype=bool)        # (rows cy, columns cx)
        for j, placed in enumerate(centres):
            if placed is None:
                continue
            reach = r + radii[j] + 1 + GAP       # |dx| or |dy| must reach this for a clear gap
            blocked_x = np.abs(coords - placed[0]) < reach
            blocked_y = np.abs(coords - placed[1]) < reach
            free &= ~(blocked_y[:, None] & blocked_x[None, :])
        flat = np.flatnonzero(free)
        if flat.size == 0:
            return None
        pick = flat[rng.integers(flat.size)]
        centres[i] = (int(coords[pick % coords.size]), int(coords[pick // coords.size]))
    return centres


def make_scene(seed, num_objects=None, pairs=None, image_size=IMAGE_SIZE):
    """One scene, fully determined by its arguments.

    seed: int >= 0, seeds ``np.random.default_rng``.
    num_objects: 1..MAX_OBJECTS, or None to draw it from 2..4 with the seed.
    pairs: the (colour, shape) pairs objects may take, or None for all 18. Objects of a scene
        have distinct colours, so pairs must offer at least num_objects colours.
    image_size: side of the square image in pixels.
    Returns: Scene with image (image_size, image_size, 3) uint8 and num_objects ShapeObjects.
    Raises ValueError for unknown pairs or a number of objects that cannot fit.
    """
    fname = "make_scene"
    seed = validate.int_in_range(fname, "seed", seed, 0)
    if num_objects is not None:
        num_objects = validate.int_in_range(fname, "num_objects", num_objects, 1, MAX_OBJECTS)
    pairs = _canonical_pairs(fname, pairs)
    image_size = validate.int_in_range(fname, "image_size", image_size, MIN_IMAGE_SIZE, 1024)

    shapes_of = {}                                   # colour -> allowed shapes, canonical order
    for colour, shape in pairs:
        shapes_of.setdefault(colour, []).append(shape)
    colours = [c for c in COLOURS if c in shapes_of]
    rng = np.random.default_rng(validate.seed("make_scene", seed))
    n = int(rng.integers(2, 5)) if num_objects is None else num_objects
    if n > len(colours):
        raise ValueError(f"{fname}: pairs must offer at least {n} colours for {n} objects "
                         f"(objects of a scene have distinct colours), got {len(colours)}: {colours}")
    chosen = [colours[i] for i in rng.permutation(len(colours))[:n]]
    kinds = [(c, shapes_of[c][int(rng.integers(len(shapes_of[c])))], SIZES[int(rng.integers(2))])
             for c in chosen]
    radii = [RADIUS[size] for _, _, size in kinds]
    for _ in range(_MAX_LAYOUTS):
        centres = _place(rng, radii, image_size)
        if centres is not None:
            break
    else:
        raise ValueError(f"{fname}: num_objects must fit in a {image_size}x{image_size} image, "
                         f"got {n} objects ({', '.join(s for _, _, s in kinds)}) that found no "
                         f"layout in {_MAX_LAYOUTS} tries")
    objects = tuple(
        ShapeObject(colour, shape, size, (float(cx), float(cy)), object_box(shape, size, (cx, cy)))
        for (colour, shape, size), (cx, cy) in zip(kinds, centres))
    image = render(objects, image_size)
    image.flags.writeable = False
    return Scene(image=image, objects=objects, seed=seed)


def split_pairs(split):
    """The (colour, shape) pairs objects of a split may take: a frozenset of 2-tuples.

    train, val and test: TRAIN_PAIRS (12 pairs); heldout: HELDOUT_PAIRS (6 pairs, one per colour).
    """
    validate.one_of("split_pairs", "split", split, SPLITS)
    return HELDOUT_PAIRS if split == "heldout" else TRAIN_PAIRS


def scene_seed(split, index):
    """The seed of scene ``index`` (int >= 0) of a split: 4 * index + (position of split in SPLITS).

    Seeds of different splits interleave, so they never coincide however many scenes are made.
    """
    fname = "scene_seed"
    validate.one_of(fname, "split", split, SPLITS)
    index = validate.int_in_range(fname, "index", index, 0)
    return len(SPLITS) * index + _SPLIT_INDEX[split]


def make_scenes(split, count, start=0):
    """Scenes start, start+1, ..., start+count-1 of a split (2 to 4 objects each).

    split: one of SPLITS; count: int >= 0; start: index of the first scene, int >= 0.
    Returns: list of count Scene. Deterministic: make_scenes(s, n)[k] is make_scenes(s, 1, k)[0].
    """
    fname = "make_scenes"
    validate.one_of(fname, "split", split, SPLITS)
    count = validate.int_in_range(fname, "count", count, 0)
    start = validate.int_in_range(fname, "start", start, 0)
    pairs = split_pairs(split)
    return [make_scene(scene_seed(split, start + i), pairs=pairs) for i in range(count)]


def _scene_list(fname, scenes):
    if isinstance(scenes, Scene) or not isinstance(scenes, (list, tuple)) or not scenes \
            or not all(isinstance(s, Scene) for s in scenes):
        raise ValueError(f"{fname}: scenes must be a non-empty list of Scene, got {validate.shown(scenes)}")
    sizes = {s.image.shape for s in scenes}
    if len(sizes) > 1:
        raise ValueError(f"{fname}: scenes must all have the same image size, got {sorted(sizes)}")
    return scenes


def images_array(scenes):
    """The images of scenes as one array for torch.

    scenes: non-empty list of N Scene with the same image size S.
    Returns: (N, 3, S, S) float32 in [0, 1], channels first.
    """
    scenes = _scene_list("images_array", scenes)
    stacked = np.stack([s.image for s in scenes])                  # (N, S, S, 3) uint8
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)


def grid_labels(scenes, grid=8):
    """Which object has its centre in each cell of a grid x grid partition of the image.

    scenes: non-empty list of N Scene with the same image size S. grid: cells per side, 1..S.
    Returns: (N, grid, grid) int64; [n, row, col] is 0 when no object centre lies in that cell,
    else 1 + index of (colour, shape, size) in GRID_CLASSES (so values lie in
    [0, NUM_GRID_CLASSES)). Cell (row, col) covers rows row*S/grid .. (row+1)*S/grid. When two
    centres share a cell (possible only for coarse grids), the object listed first keeps it.
    At grid=8 on 64-px images two centres never share a cell.
    """
    fname = "grid_labels"
    scenes = _scene_list(fname, scenes)
    size = scenes[0].image.shape[0]
    grid = validate.int_in_range(fname, "grid", grid, 1, size)
    labels = np.zeros((len(scenes), grid, grid), dtype=np.int64)
    for n, scene in enumerate(scenes):
        for obj in reversed(scene.objects):                        # first listed writes last
            col = min(grid - 1, int(obj.centre[0] * grid // size))
            row = min(grid - 1, int(obj.centre[1] * grid // size))
            labels[n, row, col] = _GRID_CLASS_INDEX[obj.colour, obj.shape, obj.size]
    return labels
