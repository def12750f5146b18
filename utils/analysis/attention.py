"""Does the captioner look at what it names? Attention correctness against object boxes.

    alpha_to_image         an attention map over the L = 8 x 8 grid as a 64 x 64 pixel map
    box_mass, peak_in_box  how much of one map lies in a box; whether its peak does
    object_cells           which grid locations lie on some object (peak_in_box's rule)
    referring_words        which generated words name which object of the scene
    correctness_of_maps    the two scores over many (scene, words, maps)
    attention_correctness  the scores of a model on a split (its own captions or the references),
                           or of uniform maps on the same words
    ablation_measures      loss, coverage term, mean gate and peak correctness of a variant

The shapes world knows where every object is (``ShapeObject.box``), so the attention of a
captioner can be checked the way Liu et al. (2017, "Attention correctness in neural image
captioning") checked it against human-drawn regions: for every word that names an object,

- mass: the fraction of the attention map that lies inside the object's box;
- peak: whether the map's most attended location falls inside the box.

From grid to pixels. Location l = row * 8 + col covers the 8 x 8 pixels [8 col, 8 col + 8) x
[8 row, 8 row + 8). ``alpha_to_image`` spreads alpha_l evenly over its cell (nearest-neighbour
upsampling divided by the cell's 64 pixels), so the pixel map still sums to 1 and the mass in a
box is the sum of its pixels: the sum over cells of alpha_l times the fraction of the cell that
the box covers. A uniform map puts box area / image area in every box.

The peak falls in the box when the centre of the peak's cell, the point (8 col + 4, 8 row + 4)
in pixel coordinates, lies inside the box (its closed extent [x0, x1] x [y0, y1]). The cell that
holds an object's centre always passes (every box reaches at least 4 px from the centre), a
cell that only grazes the box does not. When several locations tie for the maximum (a uniform
map), the score is the fraction of them that pass: the chance of a random pick among them.

Which words name an object (``referring_words``): a colour word names the scene's object of
that colour (colours are unique within a scene); a shape word names the object its phrase
points to: the object of the phrase's colour if it has that shape ("circle" in "a red circle"),
or, without a colour, the only object of that shape (and size, if one was said: "the small
square"). Plurals, sizes, numbers and words about absent objects name nothing and are not
scored.
"""
import numpy as np
import torch

from utils import validate
from utils.course import eval_mode
from utils.data import shapes
from utils.data import shapes_language as language
from utils.models import encoder as image_encoder
from utils.models.attention_captioner import check_attention_model
from utils.models.captions import caption_with_attention

MAPS = ("model", "uniform")
SOURCES = ("generated", "reference")


def _grid_side(fname, L):
    G = int(round(np.sqrt(L)))
    if G * G != L or L < 1:
        raise ValueError(f"{fname}: alpha must have a square number of locations (G x G), got {L}")
    return G


def _alpha(fname, alpha):
    validate.shapes(fname, "alpha: L", alpha)
    alpha = validate.float_array(fname, "alpha", alpha)
    _grid_side(fname, alpha.shape[0])
    if (alpha < 0).any():
        raise ValueError(f"{fname}: alpha must be non-negative (an attention distribution), "
                         f"got a minimum of {alpha.min():.3g}")
    return alpha


def alpha_to_image(alpha, size=shapes.IMAGE_SIZE):
    """An attention map over a G x G grid as a size x size pixel map.

    alpha: (L,) non-negative, L = G * G, location l = row * G + col (row-major).
    size: the image side in pixels, a multiple of G (64 for the shapes world).
    Returns: (size, size) float64; each location's alpha_l is spread evenly over the pixels of
        its cell, so the map sums to alpha.sum() (1 for an attention distribution).
    """
    fname = "alpha_to_image"
    alpha = _alpha(fname, alpha)
    G = _grid_side(fname, alpha.shape[0])
    size = validate.positive_int(fname, "size", size)
    if size % G:
        raise ValueError(f"{fname}: size must be a multiple of the grid side {G}, got {size}")
    cell = size // G
    return np.kron(alpha.reshape(G, G), np.ones((cell, cell))) / (cell * cell)


def _box(fname, box, size):
    ok = isinstance(box, (tuple, list, np.ndarray)) and len(box) == 4
    if ok:
        x0, y0, x1, y1 = (int(v) for v in box)
        ok = 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
    if not ok:
        raise ValueError(f"{fname}: box must be (x0, y0, x1, y1) half-open pixels inside the "
                         f"{size}x{size} image, got {validate.shown(box)}")
    return x0, y0, x1, y1


def box_mass(alpha, box, size=shapes.IMAGE_SIZE):
    """The fraction of an attention map inside a box.

    alpha: (L,) attention over the grid (sums to 1). box: (x0, y0, x1, y1) half-open pixels.
    size: image side. Returns: float, sum of alpha_to_image(alpha) over the box's pixels.
    """
    fname = "box_mass"
    x0, y0, x1, y1 = _box(fname, box, size)
    return float(alpha_to_image(alpha, size)[y0:y1, x0:x1].sum())


def peak_in_box(alpha, box, size=shapes.IMAGE_SIZE):
    """Whether the most attended location falls in a box (module docstring), in [0, 1].

    alpha: (L,). box: (x0, y0, x1, y1) half-open pixels. size: image side.
    Returns: float, the fraction of the locations tied for the maximum whose cell centre lies
        in the box (1.0 or 0.0 for a single peak).
    """
    fname = "peak_in_box"
    alpha = _alpha(fname, alpha)
    x0, y0, x1, y1 = _box(fname, box, size)
    G = _grid_side(fname, alpha.shape[0])
    cell = size / G
    peaks = np.flatnonzero(alpha >= alpha.max() - 1e-12 * max(1.0, abs(alpha.max())))
    cx = (peaks % G) * cell + cell / 2
    cy = (peaks // G) * cell + cell / 2
    inside = (x0 <= cx) & (cx <= x1) & (y0 <= cy) & (cy <= y1)
    return float(inside.mean())


def object_cells(scene, grid_side=8):
    """Which grid locations lie on an object: their cell centre is inside some object's box.

    The rule of peak_in_box (closed box extent), so a map that peaks at location l peaks on an
    object exactly when object_cells(scene, G)[l] is True.
    scene: shapes.Scene. grid_side: G, the grid is G x G (8 for the course's encoder).
    Returns: (G * G,) bool, location l = row * G + col (row-major, as alpha).
    """
    fname = "object_cells"
    if not isinstance(scene, shapes.Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    G = validate.positive_int(fname, "grid_side", grid_side)
    centres = (np.arange(G) + 0.5) * scene.image.shape[0] / G           # (G,) pixels
    cx, cy = centres[None, :], centres[:, None]                          # columns, rows
    on = np.zeros((G, G), dtype=bool)
    for o in scene.objects:
        x0, y0, x1, y1 = o.box
        on |= (x0 <= cx) & (cx <= x1) & (y0 <= cy) & (cy <= y1)
    return on.ravel()


def referring_words(scene, words):
    """Which words of a caption name which object of the scene (module docstring).

    scene: shapes.Scene. words: list of strings (or a caption string).
    Returns: list of (t, object_index): word t names scene.objects[object_index].
    """
    fname = "referring_words"
    if not isinstance(scene, shapes.Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    if isinstance(words, str):
        words = words.split()
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{fname}: words must be a list of strings, got {validate.shown(words)}")
    objects = scene.objects
    by_colour = {o.colour: i for i, o in enumerate(objects)}
    found = []
    colour = size = None                        # of the phrase being read
    for t, word in enumerate(words):
        if word in shapes.SIZES:
            size = word
            continue
        if word in shapes.COLOURS:
            colour = word
            if word in by_colour:
                found.append((t, by_colour[word]))
            continue
        if word in shapes.SHAPES:
            if colour is not None:
                i = by_colour.get(colour)
                match = [i] if i is not None and objects[i].shape == word else []
            else:
                match = [i for i, o in enumerate(objects)
                         if o.shape == word and size in (None, o.size)]
            if len(match) == 1:
                found.append((t, match[0]))
        colour = size = None                    # a shape or any other word ends the phrase
    return found


def correctness_of_maps(scenes, words_list, alphas_list):
    """Attention correctness over many captions.

    scenes: list of S shapes.Scene. words_list: S word lists. alphas_list: S arrays (T_s, L),
        the map of each word (T_s = len(words_list[s])).
    Returns: dict with "mass" (mean fraction of attention inside the named object's box),
        "peak" (mean of peak_in_box), "words" (number of scored words), "captions" (S), and
        "by_kind": the same three for colour words and for shape words separately; mass and
        peak are None when no word names an object.
    """
    fname = "correctness_of_maps"
    if not isinstance(scenes, (list, tuple)) or not isinstance(words_list, (list, tuple)) \
            or not isinstance(alphas_list, (list, tuple)) \
            or not len(scenes) == len(words_list) == len(alphas_list):
        raise ValueError(f"{fname}: scenes, words_list and alphas_list must be lists of the "
                         f"same length, got {validate.shown(scenes)}, {validate.shown(words_list)} "
                         f"and {validate.shown(alphas_list)}")
    masses, peaks, kinds = [], [], []
    for s, (scene, words, alphas) in enumerate(zip(scenes, words_list, alphas_list)):
        words = words.split() if isinstance(words, str) else words
        validate.shapes(fname, f"alphas_list[{s}]: T L", alphas, T=len(words))
        alphas = validate.float_array(fname, f"alphas_list[{s}]", alphas)
        size = scene.image.shape[0]
        for t, i in referring_words(scene, list(words)):
            box = scene.objects[i].box
            masses.append(box_mass(alphas[t], box, size))
            peaks.append(peak_in_box(alphas[t], box, size))
            kinds.append("colour" if words[t] in shapes.COLOURS else "shape")
    by_kind = {}
    for kind in ("colour", "shape"):
        chosen = [k for k, found in enumerate(kinds) if found == kind]
        by_kind[kind] = {"mass": float(np.mean([masses[k] for k in chosen])) if chosen else None,
                         "peak": float(np.mean([peaks[k] for k in chosen])) if chosen else None,
                         "words": len(chosen)}
    return {"mass": float(np.mean(masses)) if masses else None,
            "peak": float(np.mean(peaks)) if peaks else None,
            "words": len(masses), "captions": len(scenes), "by_kind": by_kind}


def _reference_maps(model, grid, scenes, vocab, captions_per_scene):
    """Teacher-forced maps of each scene's reference captions: (scenes, words, alphas) lists."""
    sentences = [c for scene in scenes for c in language.captions(scene, captions_per_scene)]
    ids = vocab.encode_batch(sentences)                                  # (S * K, T + 1)
    index = np.repeat(np.arange(len(scenes)), captions_per_scene)
    with eval_mode(model):                                              # hard: argmax locations
        alphas = model.run(grid[torch.from_numpy(index)], torch.from_numpy(ids[:, :-1])).alphas
    alphas = alphas.cpu().double().numpy()                               # (S * K, T, L)
    words = [s.split() for s in sentences]
    return ([scenes[i] for i in index], words,
            [alphas[k, :len(w)] for k, w in enumerate(words)])


def attention_correctness(model, split, count, *, start=0, maps="model", source="generated",
                          grid=None, vocab=None, max_length=20, captions_per_scene=5):
    """Attention correctness of a model on scenes start..start+count-1 of a split.

    model: an AttentionCaptioner (trained or not; "uniform" works and scores the uniform map).
    split: one of shapes.SPLITS. count: number of scenes (>= 1). start: first scene.
    maps: "model" (the model's attention maps) or "uniform" (a uniform map for every word,
        the chance level: mass = box area / image area).
    source: "generated" (the words of the model's greedy captions, the maps that produced
        them) or "reference" (the scene's ``captions_per_scene`` reference captions,
        teacher-forced: every model is then scored on the same words).
    grid: (count, L, D) grid features of those scenes (default: the shipped encoder's,
        ``encoder.cached_features``). vocab: default model.vocab or build_vocab().
    max_length: tokens per generated caption.
    Returns: dict as correctness_of_maps ("mass", "peak", "words", "captions"), plus "maps"
        and "source".
    """
    fname = "attention_correctness"
    check_attention_model(fname, model)
    validate.one_of(fname, "split", split, shapes.SPLITS)
    count = validate.positive_int(fname, "count", count)
    start = validate.int_in_range(fname, "start", start, 0)
    validate.one_of(fname, "maps", maps, MAPS)
    validate.one_of(fname, "source", source, SOURCES)
    captions_per_scene = validate.positive_int(fname, "captions_per_scene", captions_per_scene)
    vocab = getattr(model, "vocab", None) if vocab is None else vocab
    vocab = language.build_vocab() if vocab is None else vocab
    if grid is None:
        grid = image_encoder.cached_features(split, count, start)[1]
    validate.shapes(fname, "grid: count L D", grid, count=count)
    grid = model._grid(fname, grid)
    scenes = shapes.make_scenes(split, count, start=start)
    if source == "generated":
        found = caption_with_attention(model, grid, vocab, max_length)
        words = [w for w, _, _ in found]
        alphas = [a for _, a, _ in found]
    else:
        scenes, words, alphas = _reference_maps(model, grid, scenes, vocab, captions_per_scene)
    if maps == "uniform":
        alphas = [np.full_like(a, 1.0 / model.num_locations) for a in alphas]
    result = correctness_of_maps(scenes, words, alphas)
    result.update(maps=maps, source=source)
    return result


def ablation_measures(model, grid, captions, correctness_scenes=100):
    """What notebook 07 compares between training variants (gate, regulariser) of a captioner.

    model: an AttentionCaptioner. grid (M, L, D) and captions (M, T + 1): the validation
    captions, one grid row each. correctness_scenes: test scenes for the peak correctness.
    Returns: dict "val loss" (words' loss per caption), "coverage term" (the doubly stochastic
    regulariser at lambda = 1), "mean gate" (beta over the real steps), "peak" (section 8's
    peak correctness on the model's own captions of the first test scenes).
    """
    fname = "ablation_measures"
    check_attention_model(fname, model)
    validate.shapes(fname, "grid: M L D, captions: M T", grid, captions)
    captions = validate.int_array(fname, "captions", captions, ndim=2, low=0, high=model.vocab_size - 1)
    with eval_mode(model), torch.no_grad():
        parts = model.loss_parts(torch.as_tensor(grid), torch.as_tensor(captions), doubly_stochastic=1.0)
        mask = parts["mask"]
        beta = (parts["run"].betas * mask).sum() / mask.sum()
    return {"val loss": parts["nll"].item(), "coverage term": parts["regulariser"].item(),
            "mean gate": beta.item(),
            "peak": attention_correctness(model, "test", validate.positive_int(fname, "correctness_scenes",
                                                                           correctness_scenes))["peak"]}
