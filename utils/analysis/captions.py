"""Measuring captions of the shapes world: BLEU against references, and what a caption gets wrong.

    caption_references   the reference captions of scenes (re-exported from utils.data.captions)
    decode_split         captions of the first scenes of a split with one of the decoders
    evaluate_bleu        corpus BLEU-1..4 of a model's captions on a split
    caption_claims       what one caption says about its scene, claim by claim, each true or false
    error_analysis       the fraction of true claims per caption part over many captions
    evaluate_errors      error_analysis of a model's captions on a split
    fractions            {part: fraction} from an error_analysis result

BLEU only counts shared n-grams with a few references; the shapes world knows the truth, so the
error analysis checks each part of a caption against the scene's metadata instead: are the
named colours, shapes, colour-shape pairs and sizes there, are the counts and the spatial
relations right.
"""
import torch

from utils import validate
from utils.analysis.bleu import bleu_scores
from utils.data import shapes
from utils.data import shapes_language as language
from utils.data.captions import caption_references
from utils.models import encoder as image_encoder
from utils.models.captioner import Captioner
from utils.models.captions import caption_beam, caption_greedy, caption_sample

__all__ = ["caption_references", "decode_split", "evaluate_bleu", "caption_claims",
           "error_analysis", "evaluate_errors", "fractions", "PARTS", "DECODERS"]

DECODERS = ("greedy", "beam", "sample")
PARTS = ("colours", "shapes", "pairs", "sizes", "counts", "relations", "true_caption")
_PLURAL_TO_SHAPE = {plural: shape for shape, plural in language.PLURALS.items()}


def decode_split(model, split, count, decoder="greedy", *, start=0, vocab=None, features=None,
                 max_length=20, beam_size=3, length_penalty=0.0, temperature=1.0, seed=0):
    """Captions of scenes start..start+count-1 of a split.

    model: a Captioner. split: one of shapes.SPLITS. count: number of scenes (>= 1).
    decoder: "greedy", "beam" (beam_size, length_penalty) or "sample" (temperature, and a
        torch.Generator seeded with seed).
    vocab: the WordVocab (default: model.vocab if the model was loaded, else build_vocab()).
    features: (count, P) summary vectors of those scenes; default
        ``encoder.cached_features(split, count, start)[0]`` from the shipped image encoder.
    Returns: list of count caption strings.
    """
    fname = "decode_split"
    validate.one_of(fname, "split", split, shapes.SPLITS)
    count = validate.positive_int(fname, "count", count)
    validate.one_of(fname, "decoder", decoder, DECODERS)
    if not isinstance(model, Captioner):
        raise ValueError(f"{fname}: model must be a Captioner, got {validate.shown(model)}")
    vocab = getattr(model, "vocab", None) if vocab is None else vocab
    vocab = language.build_vocab() if vocab is None else vocab
    if features is None:
        features = image_encoder.cached_features(split, count, start)[0]
    validate.shapes(fname, "features: count P", features, count=count)
    if decoder == "greedy":
        return caption_greedy(model, features, vocab, max_length)
    if decoder == "beam":
        return caption_beam(model, features, vocab, max_length, beam_size, length_penalty)
    generator = torch.Generator().manual_seed(validate.int_in_range(fname, "seed", seed, 0))
    return caption_sample(model, features, vocab, max_length, temperature, generator)


def _captions_of_split(fname, model, split, count, decoder, start, captions, decoder_options):
    """(captions, count): the given captions of scenes start..start+count-1 of a split, checked
    to hold one per scene, or the model's, decoded with decode_split."""
    validate.one_of(fname, "split", split, shapes.SPLITS)
    count = validate.positive_int(fname, "count", count)
    if captions is None:
        captions = decode_split(model, split, count, decoder, start=start, **decoder_options)
    elif len(captions) != count:
        raise ValueError(f"{fname}: captions must hold one caption per scene ({count}), "
                         f"got {validate.shown(captions)}")
    return captions, count


def evaluate_bleu(model, split, count, decoder="greedy", *, start=0, references="sampled",
                  captions=None, **decoder_options):
    """Corpus BLEU-1..4 of a model's captions of the first scenes of a split.

    model, split, count, decoder, start, decoder_options: as decode_split.
    references: "sampled" (the 5 captions each scene's seed draws, like COCO's five) or "all"
        (every true caption of the grammar); see caption_references.
    captions: the model's captions of those scenes if already decoded (then model may be None).
    Returns: {"BLEU-1": float, ..., "BLEU-4": float}, each in [0, 1].
    """
    fname = "evaluate_bleu"
    captions, count = _captions_of_split(fname, model, split, count, decoder, start, captions,
                                         decoder_options)
    scenes = shapes.make_scenes(split, count, start=start)
    return bleu_scores(caption_references(scenes, kind=references), captions)


# ------------------------------------------------------------------------- error analysis
def _parse(tokens):
    """Items of a caption: ("object", {size, colour, shape, number, plural}), ("relation", name),
    ("total", n) for the head "n shapes :", in order; other words are skipped."""
    items, i = [], 0
    attribute_words = set(shapes.SIZES) | set(shapes.COLOURS) | set(shapes.SHAPES) | set(_PLURAL_TO_SHAPE)
    while i < len(tokens):
        word = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if word in language.NUMBERS and nxt in ("shape", "shapes"):
            items.append(("total", language.NUMBERS.index(word)))
            i += 2
            continue
        if word in ("left", "right") and nxt == "of":
            items.append(("relation", f"{word} of"))
            i += 2
            continue
        if word in ("above", "below"):
            items.append(("relation", word))
            i += 1
            continue
        number = None
        if word in language.NUMBERS and nxt in attribute_words:
            number = language.NUMBERS.index(word)
            i += 1
            word = tokens[i]
        if word in attribute_words:
            phrase = {"size": None, "colour": None, "shape": None, "number": number, "plural": False}
            while i < len(tokens) and tokens[i] in attribute_words:
                w = tokens[i]
                if w in shapes.SIZES:
                    phrase["size"] = w
                elif w in shapes.COLOURS:
                    phrase["colour"] = w
                else:
                    phrase["shape"] = _PLURAL_TO_SHAPE.get(w, w)
                    phrase["plural"] = w in _PLURAL_TO_SHAPE
                    i += 1
                    break  # a shape word ends the phrase
                i += 1
            items.append(("object", phrase))
            continue
        i += 1
    return items


def _referent(scene, phrase):
    """The scene object a phrase names, or None: by colour (unique in a scene), else by
    shape and size when exactly one object fits."""
    objects = scene.objects
    if phrase["colour"] is not None:
        found = [o for o in objects if o.colour == phrase["colour"]]
        if found and (phrase["shape"] is None or found[0].shape == phrase["shape"]):
            return found[0]
        return None
    found = [o for o in objects if (phrase["shape"] in (None, o.shape))
             and (phrase["size"] in (None, o.size))]
    return found[0] if len(found) == 1 else None


def caption_claims(scene, caption):
    """What a caption says about a scene, claim by claim, each judged on the scene's metadata.

    scene: shapes.Scene. caption: a string (or a list of words).
    Returns: list of (part, claim, correct) with part one of PARTS, claim a short text and
        correct a bool. The parts:
        colours: each colour named is the colour of an object of the scene;
        shapes: each shape named (also in counts, "two circles") is the shape of an object;
        pairs: each colour+shape phrase ("red circle") names an object of that colour and shape;
        sizes: each size named is right for the object its phrase names (the object of that
            colour, or of that shape if no colour is named); not judged when no such object
            exists (the colour or pair claim already counts that error);
        counts: "n shapes :" names the number of objects, "two circles" the number of circles;
        relations: "A left of / right of / above / below B" holds (utils.data.shapes_language
            .relation, the same clear-gap rule the references use); false if A or B is not
            in the scene;
        true_caption: the whole caption is one of the captions the grammar can truly say
            about the scene (shapes_language.caption_options).
    """
    fname = "caption_claims"
    if not isinstance(scene, shapes.Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    if isinstance(caption, (list, tuple)) and all(isinstance(w, str) for w in caption):
        caption = " ".join(caption)
    if not isinstance(caption, str):
        raise ValueError(f"{fname}: caption must be a string or a list of words, "
                         f"got {validate.shown(caption)}")
    tokens = caption.split()
    objects = scene.objects
    claims = []
    items = _parse(tokens)
    for kind, value in items:
        if kind == "total":
            claims.append(("counts", f"{value} objects", len(objects) == value))
        elif kind == "object":
            p = value
            if p["colour"] is not None:
                claims.append(("colours", p["colour"], any(o.colour == p["colour"] for o in objects)))
            if p["shape"] is not None:
                claims.append(("shapes", p["shape"], any(o.shape == p["shape"] for o in objects)))
            if p["colour"] is not None and p["shape"] is not None:
                claims.append(("pairs", f"{p['colour']} {p['shape']}",
                               any((o.colour, o.shape) == (p["colour"], p["shape"]) for o in objects)))
            if p["size"] is not None:
                if p["colour"] is not None:
                    owners = [o for o in objects if o.colour == p["colour"]]
                else:
                    owners = [o for o in objects if p["shape"] in (None, o.shape)]
                if owners:
                    claims.append(("sizes", " ".join(w for w in (p["size"], p["colour"], p["shape"]) if w),
                                   any(o.size == p["size"] for o in owners)))
            if p["number"] is not None and p["shape"] is not None:
                claims.append(("counts", f"{p['number']} {p['shape']}",
                               sum(o.shape == p["shape"] for o in objects) == p["number"]))
    for k, (kind, value) in enumerate(items):
        if kind != "relation":
            continue
        before = next((v for kd, v in reversed(items[:k]) if kd == "object"), None)
        after = next((v for kd, v in items[k + 1:] if kd == "object"), None)
        if before is None or after is None:
            claims.append(("relations", f"? {value} ?", False))
            continue
        a, b = _referent(scene, before), _referent(scene, after)
        text = f"{_phrase_text(before)} {value} {_phrase_text(after)}"
        claims.append(("relations", text, a is not None and b is not None
                       and value in language.relation(a, b)))
    true_captions = {c for found in language.caption_options(scene).values() for c in found}
    claims.append(("true_caption", caption, " ".join(tokens) in true_captions))
    return claims


def _phrase_text(phrase):
    return " ".join(w for w in (phrase["size"], phrase["colour"], phrase["shape"]) if w)


def error_analysis(scenes, captions):
    """Fraction of true claims per caption part over many (scene, caption) pairs.

    scenes: list of S shapes.Scene; captions: list of S caption strings (one per scene).
    Returns: dict part -> {"correct": int, "total": int, "fraction": float or None (no claim
        of that part)}, for every part of PARTS (see caption_claims); "true_caption" has one
        claim per caption.
    """
    fname = "error_analysis"
    if not isinstance(scenes, (list, tuple)) or not isinstance(captions, (list, tuple)) \
            or len(scenes) != len(captions) or not scenes:
        raise ValueError(f"{fname}: scenes and captions must be non-empty lists of the same "
                         f"length, got {validate.shown(scenes)} and {validate.shown(captions)}")
    correct = {part: 0 for part in PARTS}
    total = {part: 0 for part in PARTS}
    for scene, caption in zip(scenes, captions):
        for part, _, ok in caption_claims(scene, caption):
            total[part] += 1
            correct[part] += bool(ok)
    return {part: {"correct": correct[part], "total": total[part],
                   "fraction": correct[part] / total[part] if total[part] else None}
            for part in PARTS}


def evaluate_errors(model, split, count, decoder="greedy", *, start=0, captions=None,
                    **decoder_options):
    """error_analysis of a model's captions of scenes start..start+count-1 of a split.

    model, split, count, decoder, start, decoder_options: as decode_split; captions: already
    decoded captions of those scenes (then model may be None).
    Returns: as error_analysis.
    """
    fname = "evaluate_errors"
    captions, count = _captions_of_split(fname, model, split, count, decoder, start, captions,
                                         decoder_options)
    return error_analysis(shapes.make_scenes(split, count, start=start), list(captions))


def fractions(analysis):
    """{part: fraction} from an error_analysis result (None where a part had no claim)."""
    return {part: entry["fraction"] for part, entry in analysis.items()}
