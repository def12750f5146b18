"""Questions about the shapes world, with their answers, and their encoding as word ids.

What is where:
- ``Question``, ``questions``, ``all_questions``, ``question_set``: questions of six types
  (``QUESTION_TYPES``) with their answer, four multiple-choice candidates and the object the
  answer is about; ``answer_vocab`` lists every possible answer; ``question_set`` balances
  types and answers (over ``balanced_answers``).
- ``nearest_and_farthest``: the objects clearly closest to and farthest from an object.
- ``encode_question``, ``encode_questions``: question text to word ids, in the vocabulary of
  ``utils.data.shapes_language``, which also holds the words the questions share with captions.

Questions follow the captions' conventions (``utils.data.shapes_language``): lowercase tokens
separated by single spaces, "?" a token of its own, and only clear facts: a position or a
"closest"/"farthest" is asked only when the gap is more than ``CLEAR_GAP`` pixels.
"""
import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from utils import validate
from utils.data.shapes import COLOURS, SHAPES, SIZES, SPLITS, make_scene, scene_seed, split_pairs
from utils.data.shapes_language import CLEAR_GAP, NUMBERS, PLURALS, WordVocab, check_scene, scene_rng

QUESTION_TYPES = ("attribute", "position", "count", "compare", "relational", "pointing")


def encode_question(vocab, text):
    """Word ids of one question (no <START>/<END>): list of T ints; unknown words -> <UNK>."""
    if not isinstance(vocab, WordVocab):
        raise ValueError(f"encode_question: vocab must be a WordVocab, got {validate.shown(vocab)}")
    validate.non_empty_str("encode_question", "text", text)
    return vocab.encode(text)


def encode_questions(vocab, texts, max_length=None):
    """Several questions as a padded array for an LSTM encoder.

    vocab: WordVocab. texts: list of N question strings.
    max_length: T (longer questions are cut), or None for the longest question.
    Returns: ids (N, T) int64 padded with <NULL> (0), no <START>/<END>; lengths (N,) int64.
    """
    fname = "encode_questions"
    if not isinstance(vocab, WordVocab):
        raise ValueError(f"{fname}: vocab must be a WordVocab, got {validate.shown(vocab)}")
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not texts \
            or not all(isinstance(t, str) and t for t in texts):
        raise ValueError(f"{fname}: texts must be a non-empty list of strings, got {validate.shown(texts)}")
    encoded = [vocab.encode(t) for t in texts]
    length = max(len(e) for e in encoded) if max_length is None \
        else validate.positive_int(fname, "max_length", max_length)
    ids = np.zeros((len(encoded), length), dtype=np.int64)            # (N, T)
    lengths = np.zeros(len(encoded), dtype=np.int64)                   # (N,)
    for n, e in enumerate(encoded):
        e = e[:length]
        ids[n, :len(e)] = e
        lengths[n] = len(e)
    return ids, lengths


# ----------------------------------------------------------------------------- helpers

def _distance(a, b):
    return float(np.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1]))


def nearest_and_farthest(scene, index):
    """(closest, farthest) object indices from object ``index`` of scene, by centre distance.

    Each is None when it is not clear: the runner-up is within CLEAR_GAP px (with only one
    other object, that object is both).
    """
    objects = scene.objects
    others = sorted((_distance(objects[index], o), j) for j, o in enumerate(objects) if j != index)
    if not others:
        return None, None
    if len(others) == 1:
        return others[0][1], others[0][1]
    closest = others[0][1] if others[1][0] - others[0][0] > CLEAR_GAP else None
    farthest = others[-1][1] if others[-1][0] - others[-2][0] > CLEAR_GAP else None
    return closest, farthest


# ----------------------------------------------------------------------------- questions

@dataclass(frozen=True)
class Question:
    """One question about a scene.

    text: the question, e.g. "what colour is the circle ?".
    answer: the right answer, one of answer_vocab().
    qtype: one of QUESTION_TYPES.
    candidates: tuple of 4 distinct answers, the right one exactly once (multiple choice).
    target_object: index in scene.objects of the object the answer is about (the named object
        for attribute and position questions, the found object for relational and pointing
        questions), or None (count and compare questions).
    template: short name of the question's form, e.g. "colour_of_shape".
    candidate_objects: pointing only: for each candidate its index in scene.objects, or None
        for a distractor that is not in the scene; None for the other types.
    """
    text: str
    answer: str
    qtype: str
    candidates: tuple
    target_object: object = None
    template: str = ""
    candidate_objects: object = None


_ANSWER_KINDS = {
    "colour": COLOURS, "shape": SHAPES, "size": SIZES, "yesno": ("yes", "no"),
    "leftright": ("left", "right"), "topbottom": ("top", "bottom"), "number": NUMBERS,
    "object": tuple(f"{c} {s}" for c, s in itertools.product(COLOURS, SHAPES)),
}
_KIND_OF = {a: kind for kind, answers in _ANSWER_KINDS.items() for a in answers}
# Where to find wrong candidates when an answer's own kind has fewer than four members.
_FALLBACK = {"shape": ("size", "colour"), "size": ("shape", "colour"),
             "yesno": ("leftright", "topbottom"), "leftright": ("topbottom", "yesno"),
             "topbottom": ("leftright", "yesno"), "colour": (), "number": (), "object": ()}


def answer_vocab():
    """Every answer a question can have, in a fixed order: list of 42 strings.

    Colours, shapes, sizes, yes/no, left/right/top/bottom, numbers zero..six, then the 18
    'colour shape' object names (answers of pointing questions).
    """
    return [a for kind in ("colour", "shape", "size", "yesno", "leftright", "topbottom", "number",
                           "object") for a in _ANSWER_KINDS[kind]]


def _answer_set(qtype, split):
    """The answers of a question type that question_set balances over, for a split."""
    if qtype == "attribute":
        return COLOURS + SHAPES + SIZES
    if qtype == "position":
        return ("left", "right", "top", "bottom")
    if qtype == "count":
        return NUMBERS[:5]
    if qtype == "compare":
        return ("yes", "no")
    if qtype == "relational":
        return COLOURS + SHAPES
    pairs = split_pairs(split)
    return tuple(f"{c} {s}" for c, s in itertools.product(COLOURS, SHAPES) if (c, s) in pairs)


def _feasible(scene, qtype):
    """Every clear question of one type about scene: list of (template, text, answer, target)."""
    objects = scene.objects
    n = len(objects)
    size = scene.image.shape[0]
    found = []
    if qtype == "attribute":
        shape_counts = Counter(o.shape for o in objects)
        sized_counts = Counter((o.size, o.shape) for o in objects)
        for i, o in enumerate(objects):
            if shape_counts[o.shape] == 1:
                found.append(("colour_of_shape", f"what colour is the {o.shape} ?", o.colour, i))
            elif sized_counts[o.size, o.shape] == 1:
                found.append(("colour_of_sized_shape", f"what colour is the {o.size} {o.shape} ?",
                              o.colour, i))
            found.append(("shape_of_colour", f"what shape is the {o.colour} object ?", o.shape, i))
            found.append(("size_of_colour", f"what size is the {o.colour} object ?", o.size, i))
    elif qtype == "position":
        middle = size / 2
        for i, o in enumerate(objects):
            if abs(o.centre[0] - middle) > CLEAR_GAP:
                found.append(("left_right", f"is the {o.colour} object on the left or right ?",
                              "left" if o.centre[0] < middle else "right", i))
            if abs(o.centre[1] - middle) > CLEAR_GAP:
                found.append(("top_bottom", f"is the {o.colour} object at the top or bottom ?",
                              "top" if o.centre[1] < middle else "bottom", i))
    elif qtype == "count":
        found.append(("count_all", "how many objects are there ?", NUMBERS[n], None))
        for shape in SHAPES:
            k = sum(o.shape == shape for o in objects)
            found.append(("count_shape", f"how many {PLURALS[shape]} are there ?", NUMBERS[k], None))
        for size_name in SIZES:
            k = sum(o.size == size_name for o in objects)
            found.append(("count_size", f"how many {size_name} objects are there ?", NUMBERS[k], None))
    elif qtype == "compare":
        for a, b in itertools.permutations(objects, 2):
            pair = f"the {a.colour} object and the {b.colour} object"
            yes = {True: "yes", False: "no"}
            found.append(("larger", f"is the {a.colour} object larger than the {b.colour} object ?",
                          yes[a.size == "large" and b.size == "small"], None))
            found.append(("smaller", f"is the {a.colour} object smaller than the {b.colour} object ?",
                          yes[a.size == "small" and b.size == "large"], None))
            found.append(("same_shape", f"are {pair} the same shape ?", yes[a.shape == b.shape], None))
            found.append(("same_size", f"are {pair} the same size ?", yes[a.size == b.size], None))
    elif qtype in ("relational", "pointing"):
        for i, o in enumerate(objects):
            closest, farthest = nearest_and_farthest(scene, i)
            for word, j in (("closest", closest), ("farthest", farthest)):
                if j is None:
                    continue
                place = "closest to" if word == "closest" else "farthest from"
                t = objects[j]
                if qtype == "relational":
                    for attribute in ("colour", "shape"):
                        found.append((f"{word}_{attribute}",
                                      f"what {attribute} is the object {place} the {o.colour} object ?",
                                      getattr(t, attribute), j))
                else:
                    found.append((word, f"which object is {place} the {o.name} ?", t.name, j))
    return found


def _candidates(rng, scene, qtype, answer):
    """(candidates, candidate_objects): 4 distinct answers in random order, the answer once."""
    if qtype == "pointing":
        objects = scene.objects
        index_of = {o.name: i for i, o in enumerate(objects)}
        others = [o.name for o in objects if o.name != answer]
        picked = [others[i] for i in rng.permutation(len(others))[:3]]
        if len(picked) < 3:                       # too few objects: describe absent ones
            used = {o.colour for o in objects}
            spare = [c for c in COLOURS if c not in used]
            for i in rng.permutation(len(spare))[:3 - len(picked)]:
                picked.append(f"{spare[i]} {SHAPES[int(rng.integers(len(SHAPES)))]}")
        options = [answer] + picked
        options = [options[i] for i in rng.permutation(4)]
        return tuple(options), tuple(index_of.get(name) for name in options)
    kind = _KIND_OF[answer]
    pool = _ANSWER_KINDS[kind]
    if kind == "number":
        pool = pool[:max(5, NUMBERS.index(answer) + 1)]   # zero..four, or up to the answer
    pool = [a for a in pool if a != answer]
    picked = [pool[i] for i in rng.permutation(len(pool))[:3]]
    for other in _FALLBACK[kind]:
        extra = _ANSWER_KINDS[other]
        picked += [extra[i] for i in rng.permutation(len(extra))[:3 - len(picked)]]
    options = [answer] + picked
    return tuple(options[i] for i in rng.permutation(4)), None


def _question(rng, scene, qtype, item):
    template, text, answer, target = item
    candidates, candidate_objects = _candidates(rng, scene, qtype, answer)
    return Question(text=text, answer=answer, qtype=qtype, candidates=candidates,
                    target_object=target, template=template, candidate_objects=candidate_objects)


def questions(scene, rng_or_seed=None):
    """One question of each type that the scene allows, chosen at random.

    scene: shapes.Scene. rng_or_seed: np.random.Generator, int seed, or None (from scene.seed).
    Returns: list of Question, in QUESTION_TYPES order; a type is missing when the scene has
    no clear question of it (one object: no compare, relational or pointing question).
    """
    fname = "questions"
    check_scene(fname, scene)
    rng = scene_rng(fname, rng_or_seed, scene)
    out = []
    for qtype in QUESTION_TYPES:
        found = _feasible(scene, qtype)
        if found:
            out.append(_question(rng, scene, qtype, found[int(rng.integers(len(found)))]))
    return out


def all_questions(scene, qtype):
    """Every clear question of one type about a scene, without candidates.

    Returns: list of (template, text, answer, target_object) tuples.
    """
    fname = "all_questions"
    check_scene(fname, scene)
    validate.one_of(fname, "qtype", qtype, QUESTION_TYPES)
    return _feasible(scene, qtype)


def question_set(split, count, start=0):
    """A question set balanced over types and, within each type, over answers.

    split: one of SPLITS. count: number of questions (>= 1); the types get equal shares
    (count // 6 each, the first count % 6 types one more). start: index of the first scene.
    Scenes start, start+1, ... of the split are visited in order and each gives at most one
    question per type. For a type whose answers are A (see ``balanced_answers``), a scene's
    question is accepted only if its answer is one of the least used answers of A so far
    (rejection sampling: answers take turns), choosing the least used form for that answer,
    then at random. So the answer counts of every type stay within one of each other, at any
    prefix of the scenes too (yes/no 50/50).
    Returns: list of (scene_index, Question), sorted by scene index; scene_index is the scene's
    index in the split: make_scenes(split, 1, start=scene_index)[0].
    Deterministic for given arguments.
    """
    fname = "question_set"
    validate.one_of(fname, "split", split, SPLITS)
    count = validate.positive_int(fname, "count", count)
    start = validate.int_in_range(fname, "start", start, 0)
    share = {t: count // len(QUESTION_TYPES) + (k < count % len(QUESTION_TYPES))
             for k, t in enumerate(QUESTION_TYPES)}
    answers = {t: _answer_set(t, split) for t in QUESTION_TYPES}
    used = {t: Counter() for t in QUESTION_TYPES}                   # answer -> count
    used_form = {t: Counter() for t in QUESTION_TYPES}              # (template, answer) -> count
    rng = np.random.default_rng([SPLITS.index(split), start, count, 7])
    pairs = split_pairs(split)
    out = []
    index = start
    limit = start + 200 * count + 1000
    while any(sum(used[t].values()) < share[t] for t in QUESTION_TYPES):
        if index >= limit:
            raise RuntimeError(f"{fname}: could not balance {count} questions of split {split!r} "
                               f"within {limit - start} scenes")
        scene = make_scene(scene_seed(split, index), pairs=pairs)
        for qtype in QUESTION_TYPES:
            if sum(used[qtype].values()) >= share[qtype]:
                continue
            least = min(used[qtype][a] for a in answers[qtype])
            open_items = [item for item in _feasible(scene, qtype)
                          if item[2] in answers[qtype] and used[qtype][item[2]] == least]
            if not open_items:
                continue
            options = sorted({item[2] for item in open_items})
            answer = options[int(rng.integers(len(options)))]
            items = [item for item in open_items if item[2] == answer]
            fewest = min(used_form[qtype][item[0], answer] for item in items)
            items = [item for item in items if used_form[qtype][item[0], answer] == fewest]
            item = items[int(rng.integers(len(items)))]
            used[qtype][answer] += 1
            used_form[qtype][item[0], answer] += 1
            out.append((index, _question(rng, scene, qtype, item)))
        index += 1
    return out


def balanced_answers(qtype, split):
    """The answers question_set balances a type over, for a split: tuple of strings."""
    fname = "balanced_answers"
    validate.one_of(fname, "qtype", qtype, QUESTION_TYPES)
    validate.one_of(fname, "split", split, SPLITS)
    return _answer_set(qtype, split)
