"""Captions of the shapes world as arrays: the training set and the references of notebook 06.

    CAPTION_LENGTH        T + 1 = 20 ids per row: <START>, at most 18 tokens, <END>, <NULL> padding
    caption_dataset       (scene index, caption ids) pairs of a split, for teacher forcing
    caption_references    the reference captions of each scene (what BLEU compares with)

Numpy and python only: the torch side (features, models, training) lives in ``utils.models``
and ``utils.training``. The captions themselves come from ``utils.data.shapes_language``.
"""
import numpy as np

from utils import validate
from utils.data import shapes
from utils.data import shapes_language as language

CAPTION_LENGTH = language.MAX_CAPTION_TOKENS + 2  # <START> + 18 tokens + <END>: T + 1 = 20


def _check_vocab(fname, vocab):
    if not isinstance(vocab, language.WordVocab):
        raise ValueError(f"{fname}: vocab must be a shapes_language.WordVocab (build_vocab()), "
                         f"got {validate.shown(vocab)}")
    return vocab


def caption_dataset(split, count, vocab, captions_per_scene=5, start=0):
    """Every (scene, caption) pair of scenes start..start+count-1 of a split, as id arrays.

    split: one of shapes.SPLITS. count: number of scenes (>= 1). vocab: a WordVocab.
    captions_per_scene: K captions per scene, from ``shapes_language.captions(scene, K)`` with
        the scene's own seed: the same K sentences every time, and for K = 5 the same sentences
        ``caption_references`` gives as references.
    start: index of the first scene in the split.
    Returns: scene_index (M,) int64, M = count * K, the row of each caption's scene in
        ``shapes.make_scenes(split, count, start)`` (0..count-1, so ``features[scene_index]``
        lines the image features up with the captions); and captions (M, CAPTION_LENGTH) int64:
        <START>, the word ids, <END>, then <NULL> (0) padding. Deterministic.
    """
    fname = "caption_dataset"
    validate.one_of(fname, "split", split, shapes.SPLITS)
    count = validate.positive_int(fname, "count", count)
    vocab = _check_vocab(fname, vocab)
    per_scene = validate.positive_int(fname, "captions_per_scene", captions_per_scene)
    start = validate.int_in_range(fname, "start", start, 0)
    scenes = shapes.make_scenes(split, count, start=start)
    sentences = [c for scene in scenes for c in language.captions(scene, per_scene)]
    ids = vocab.encode_batch(sentences, max_length=CAPTION_LENGTH)     # (M, T + 1)
    scene_index = np.repeat(np.arange(count, dtype=np.int64), per_scene)  # (M,)
    return scene_index, ids


def caption_references(scenes, kind="sampled", count=5):
    """The reference captions of each scene, the way BLEU sees them.

    scenes: non-empty list of S shapes.Scene.
    kind: "sampled" (default): the ``count`` captions ``shapes_language.captions(scene, count)``
        draws with the scene's own seed, like the five human captions of a COCO image. They are
        a sample: a true caption that none of the five happens to say (e.g. one of the many
        relation captions) loses n-gram matches although it is right.
        "all": every caption the grammar can say about the scene
        (``shapes_language.caption_options``): any true, well-formed caption then scores 1, so
        the score measures correctness rather than agreement with a sample. Not comparable with
        COCO-style numbers.
    count: captions per scene for kind "sampled" (>= 1).
    Returns: list of S lists of strings.
    """
    fname = "caption_references"
    if not isinstance(scenes, (list, tuple)) or not scenes \
            or not all(isinstance(s, shapes.Scene) for s in scenes):
        raise ValueError(f"{fname}: scenes must be a non-empty list of shapes.Scene, "
                         f"got {validate.shown(scenes)}")
    validate.one_of(fname, "kind", kind, ("sampled", "all"))
    count = validate.positive_int(fname, "count", count)
    if kind == "sampled":
        return [language.captions(scene, count) for scene in scenes]
    return [[c for found in language.caption_options(scene).values() for c in found]
            for scene in scenes]
