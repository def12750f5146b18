"""The shapes world (utils.data.shapes, shapes_language, shapes_questions): pixels, splits, words.

Every statement the generator makes (relations, answers, candidates) is recomputed here from the
objects' metadata with independent code, so a bug in the grammar cannot hide behind itself.
"""
import itertools
import re
from collections import Counter

import numpy as np
import pytest

from utils.data import shapes as S
from utils.data import shapes_language as L
from utils.data import shapes_questions as Q


@pytest.fixture(scope="module")
def train_scenes():
    return S.make_scenes("train", 150)


@pytest.fixture(scope="module")
def heldout_scenes():
    return S.make_scenes("heldout", 80)


def colour_mask(image, colour):
    return np.all(image == np.array(S.COLOUR_RGB[colour], dtype=np.uint8), axis=-1)   # (H, W)


# ----------------------------------------------------------------------------- scenes

def test_same_seed_same_scene_and_different_seeds_differ():
    a, b = S.make_scene(123), S.make_scene(123)
    assert np.array_equal(a.image, b.image) and a.objects == b.objects and a.seed == b.seed == 123
    c = S.make_scene(124)
    assert not np.array_equal(a.image, c.image) or a.objects != c.objects
    assert a.image.shape == (S.IMAGE_SIZE, S.IMAGE_SIZE, 3) and a.image.dtype == np.uint8
    assert not a.image.flags.writeable


def test_make_scenes_is_deterministic_and_indexable():
    first = S.make_scenes("val", 6)
    again = S.make_scenes("val", 6)
    later = S.make_scenes("val", 2, start=4)
    for x, y in zip(first, again):
        assert x.seed == y.seed and x.objects == y.objects and np.array_equal(x.image, y.image)
    for x, y in zip(first[4:], later):
        assert x.seed == y.seed and x.objects == y.objects
    assert S.make_scenes("test", 0) == []


def test_number_of_objects(train_scenes):
    counts = Counter(len(s.objects) for s in train_scenes)
    assert set(counts) == {2, 3, 4}
    for n in range(1, S.MAX_OBJECTS + 1):
        assert len(S.make_scene(9, num_objects=n).objects) == n


def test_boxes_inside_disjoint_and_separated(train_scenes):
    extra = [S.make_scene(s, num_objects=6) for s in range(10)]
    for scene in train_scenes + extra:
        size = scene.image.shape[0]
        for o in scene.objects:
            x0, y0, x1, y1 = o.box
            assert all(isinstance(v, int) for v in o.box)
            assert S.EDGE <= x0 < x1 <= size - S.EDGE and S.EDGE <= y0 < y1 <= size - S.EDGE
            assert x0 <= o.centre[0] < x1 and y0 <= o.centre[1] < y1
        for a, b in itertools.combinations(scene.objects, 2):
            gap_x = max(b.box[0] - a.box[2], a.box[0] - b.box[2])   # empty columns between boxes
            gap_y = max(b.box[1] - a.box[3], a.box[1] - b.box[3])
            assert max(gap_x, gap_y) >= S.GAP, (scene.seed, a, b)
        assert len({o.colour for o in scene.objects}) == len(scene.objects)


def test_each_colour_only_inside_its_own_box_and_box_is_tight(train_scenes):
    for scene in train_scenes:
        painted = np.zeros(scene.image.shape[:2], dtype=bool)
        for o in scene.objects:
            mask = colour_mask(scene.image, o.colour)
            x0, y0, x1, y1 = o.box
            inside = np.zeros_like(mask)
            inside[y0:y1, x0:x1] = True
            assert mask.any() and not (mask & ~inside).any(), (scene.seed, o)
            rows, cols = np.nonzero(mask)
            assert (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1) == o.box
            painted |= mask
        background = np.all(scene.image == np.array(S.BACKGROUND_RGB, dtype=np.uint8), axis=-1)
        assert np.array_equal(background, ~painted)                # no other colour anywhere
        used = {o.colour for o in scene.objects}
        for colour in set(S.COLOURS) - used:
            assert not colour_mask(scene.image, colour).any()


def test_pixels_match_metadata(train_scenes):
    area = {"small": [], "large": []}
    for scene in train_scenes:
        for o in scene.objects:
            x, y = int(o.centre[0]), int(o.centre[1])
            assert tuple(scene.image[y, x]) == S.COLOUR_RGB[o.colour]
            area[o.size].append(int(colour_mask(scene.image, o.colour).sum()))
            side = o.box[2] - o.box[0]
            assert side == o.box[3] - o.box[1] == 2 * S.RADIUS[o.size] + 1 - 2 * (o.shape == "square")
    assert min(area["large"]) > max(area["small"])
    shapes_area = {}
    for scene in train_scenes:
        for o in scene.objects:
            shapes_area.setdefault((o.shape, o.size), set()).add(int(colour_mask(scene.image, o.colour).sum()))
    # one template per (shape, size): a square fills its box, a circle and a triangle do not
    assert all(len(v) == 1 for v in shapes_area.values())
    assert shapes_area["square", "large"] == {17 * 17}
    assert next(iter(shapes_area["circle", "large"])) < 19 * 19
    assert next(iter(shapes_area["triangle", "large"])) < next(iter(shapes_area["circle", "large"]))


def test_split_seeds_are_disjoint():
    seeds = {split: {s.seed for s in S.make_scenes(split, 40)} for split in S.SPLITS}
    for a, b in itertools.combinations(S.SPLITS, 2):
        assert not seeds[a] & seeds[b]
    by_formula = {split: {S.scene_seed(split, i) for i in range(10_000)} for split in S.SPLITS}
    for a, b in itertools.combinations(S.SPLITS, 2):
        assert not by_formula[a] & by_formula[b]


def test_heldout_pairs_and_splits(train_scenes, heldout_scenes):
    assert 4 <= len(S.HELDOUT_PAIRS) <= 6 and S.HELDOUT_PAIRS <= S.ALL_PAIRS
    assert len(S.ALL_PAIRS) == 18 and S.TRAIN_PAIRS == S.ALL_PAIRS - S.HELDOUT_PAIRS
    assert {c for c, _ in S.TRAIN_PAIRS} == set(S.COLOURS)
    assert {s for _, s in S.TRAIN_PAIRS} == set(S.SHAPES)
    # heldout scenes need up to 4 distinct colours among the held-out pairs
    assert len({c for c, _ in S.HELDOUT_PAIRS}) >= 4
    for split in ("train", "val", "test"):
        assert S.split_pairs(split) == S.TRAIN_PAIRS
    assert S.split_pairs("heldout") == S.HELDOUT_PAIRS
    more = S.make_scenes("val", 40) + S.make_scenes("test", 40)
    for scene in train_scenes + more:
        assert all((o.colour, o.shape) not in S.HELDOUT_PAIRS for o in scene.objects)
    for scene in heldout_scenes:                 # documented: every object is a held-out pair
        assert all((o.colour, o.shape) in S.HELDOUT_PAIRS for o in scene.objects)
    seen = {(o.colour, o.shape) for s in train_scenes for o in s.objects}
    assert seen == S.TRAIN_PAIRS


def test_pairs_restrict_objects():
    pairs = {("red", "circle"), ("blue", "circle"), ("green", "square")}
    for seed in range(20):
        scene = S.make_scene(seed, num_objects=3, pairs=pairs)
        assert {(o.colour, o.shape) for o in scene.objects} == pairs
    # frozenset order must not matter: the same pairs given as a list in another order
    a = S.make_scene(5, pairs=frozenset(S.TRAIN_PAIRS))
    b = S.make_scene(5, pairs=sorted(S.TRAIN_PAIRS, reverse=True))
    assert a.objects == b.objects


def test_images_array_and_grid_labels(train_scenes):
    scenes = train_scenes[:5]
    images = S.images_array(scenes)
    assert images.shape == (5, 3, 64, 64) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert np.allclose(images[2].transpose(1, 2, 0) * 255, scenes[2].image)
    labels = S.grid_labels(train_scenes, grid=8)
    assert labels.shape == (len(train_scenes), 8, 8) and labels.dtype == np.int64
    assert S.NUM_GRID_CLASSES == 1 + len(S.COLOURS) * len(S.SHAPES) * len(S.SIZES)
    assert 0 <= labels.min() and labels.max() < S.NUM_GRID_CLASSES
    for n, scene in enumerate(train_scenes):
        expected = np.zeros((8, 8), dtype=np.int64)
        for o in scene.objects:
            row, col = int(o.centre[1]) // 8, int(o.centre[0]) // 8
            assert expected[row, col] == 0                        # never two centres in a cell
            expected[row, col] = 1 + S.GRID_CLASSES.index((o.colour, o.shape, o.size))
        assert np.array_equal(labels[n], expected)
    one = S.grid_labels([train_scenes[0]], grid=1)               # every centre in one cell
    o = train_scenes[0].objects[0]
    assert one.shape == (1, 1, 1) and one[0, 0, 0] == 1 + S.GRID_CLASSES.index((o.colour, o.shape, o.size))


@pytest.mark.parametrize("call, fname", [
    (lambda: S.make_scenes("training", 3), "make_scenes"),
    (lambda: S.make_scenes("train", -1), "make_scenes"),
    (lambda: S.make_scenes("train", 2, start=-3), "make_scenes"),
    (lambda: S.make_scene(-1), "make_scene"),
    (lambda: S.make_scene(1.5), "make_scene"),
    (lambda: S.make_scene(1, num_objects=0), "make_scene"),
    (lambda: S.make_scene(1, num_objects=7), "make_scene"),
    (lambda: S.make_scene(1, pairs=[("pink", "circle")]), "make_scene"),
    (lambda: S.make_scene(1, pairs=[("red", "hexagon")]), "make_scene"),
    (lambda: S.make_scene(1, pairs=[]), "make_scene"),
    (lambda: S.make_scene(1, pairs="red circle"), "make_scene"),
    (lambda: S.make_scene(1, num_objects=3, pairs=[("red", "circle"), ("red", "square")]), "make_scene"),
    (lambda: S.make_scene(1, num_objects=6, image_size=32), "make_scene"),
    (lambda: S.make_scene(1, image_size=8), "make_scene"),
    (lambda: S.split_pairs("dev"), "split_pairs"),
    (lambda: S.images_array([]), "images_array"),
    (lambda: S.images_array(S.make_scene(1)), "images_array"),
    (lambda: S.grid_labels([S.make_scene(1)], grid=0), "grid_labels"),
    (lambda: S.grid_labels(["scene"]), "grid_labels"),
])
def test_bad_arguments_raise_value_error_naming_the_function(call, fname):
    with pytest.raises(ValueError, match=rf"^{fname}: "):
        call()


def test_too_many_objects_for_the_image_says_so():
    with pytest.raises(ValueError, match="must fit in a 32x32 image"):
        S.make_scene(1, num_objects=6, image_size=32)
    with pytest.raises(ValueError, match="distinct colours"):
        S.make_scene(1, num_objects=5, pairs=S.HELDOUT_PAIRS - {("red", "triangle"), ("green", "square")})


# ----------------------------------------------------------------------------- vocabulary

def test_vocab_round_trip_and_unknown_words():
    vocab = L.build_vocab()
    assert [vocab.id_to_word[i] for i in range(4)] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert vocab.id_to_word == L.build_vocab().id_to_word               # fixed order
    assert all(vocab.word_to_id[w] == i for i, w in enumerate(vocab.id_to_word))
    text = "there is a small red circle left of an orange square"
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text and vocab.encode(text.split()) == ids
    assert vocab.encode("a purple elephant") == [vocab.word_to_id["a"], vocab.word_to_id["purple"], 3]
    assert vocab.decode([1, vocab.word_to_id["red"], 0, vocab.word_to_id["circle"], 2,
                         vocab.word_to_id["square"]]) == "red circle"
    batch = vocab.encode_batch(["red circle", "a blue square left of a red circle"])
    assert batch.dtype == np.int64 and batch.shape == (2, 10)
    assert batch[0].tolist() == [1, vocab.word_to_id["red"], vocab.word_to_id["circle"], 2] + [0] * 6
    assert vocab.decode_batch(batch) == ["red circle", "a blue square left of a red circle"]
    cut = vocab.encode_batch(["a blue square left of a red circle"], max_length=5)
    assert cut.shape == (1, 5) and cut[0, -1] == 2 and vocab.decode(cut[0]) == "a blue square"
    with pytest.raises(ValueError, match=r"^WordVocab.decode: "):
        vocab.decode([len(vocab)])
    with pytest.raises(ValueError, match=r"^WordVocab.encode: "):
        vocab.encode(12)
    with pytest.raises(ValueError, match=r"^WordVocab: "):
        L.WordVocab(["red", "red"])


def test_vocab_covers_every_sentence_and_answer(train_scenes, heldout_scenes):
    vocab = L.build_vocab()
    words = set(vocab.id_to_word)
    for scene in train_scenes[:60] + heldout_scenes[:20]:
        sentences = captions_all(scene) + [q.text for q in Q.questions(scene)]
        for sentence in sentences:
            assert set(sentence.split()) <= words, sentence
    for answer in Q.answer_vocab():
        assert set(answer.split()) <= words
    ids, lengths = Q.encode_questions(vocab, ["how many circles are there ?", "what colour is the zebra ?"])
    assert ids.shape == (2, 6) and lengths.tolist() == [6, 6] and ids[1, 4] == 3
    assert Q.encode_question(vocab, "how many circles are there ?") == ids[0].tolist()


def captions_all(scene):
    return [c for found in L.caption_options(scene).values() for c in found]


# ----------------------------------------------------------------------------- captions

def find(scene, colour=None, shape=None, size=None):
    return [i for i, o in enumerate(scene.objects)
            if (colour is None or o.colour == colour) and (shape is None or o.shape == shape)
            and (size is None or o.size == size)]


WORD_NUMBERS = {w: i for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six"])}
OBJ = r"(small|large) (\w+) (circle|square|triangle)"


def test_captions_are_true_short_and_deterministic(train_scenes):
    for scene in train_scenes[:80]:
        every = captions_all(scene)
        assert len(every) == len(set(every))
        for caption in every:
            assert caption == caption.lower() and "  " not in caption
            assert len(caption.split()) <= L.MAX_CAPTION_TOKENS
            assert len([w for w in caption.split() if w not in ",:"]) <= 16
            check_caption(scene, caption)
        five = L.captions(scene)
        assert five == L.captions(scene) and len(five) == 5 and set(five) <= set(every)
        assert len(set(five)) == min(5, len(every))
    assert L.captions(train_scenes[0], count=3, rng_or_seed=1) == L.captions(train_scenes[0], 3, 1)
    many = L.captions(train_scenes[0], count=200, rng_or_seed=np.random.default_rng(0))
    assert len(many) == 200 and set(many) == set(captions_all(train_scenes[0]))


def check_caption(scene, caption):
    objects = scene.objects
    m = re.fullmatch(rf"(?:there is an? |the |an? ){OBJ} (?:is )?(left of|right of|above|below) (?:the |an? ){OBJ}",
                     caption)
    if m:
        size_a, colour_a, shape_a, rel, size_b, colour_b, shape_b = m.groups()
        (i,), (j,) = find(scene, colour_a, shape_a, size_a), find(scene, colour_b, shape_b, size_b)
        dx = objects[j].centre[0] - objects[i].centre[0]
        dy = objects[j].centre[1] - objects[i].centre[1]
        assert {"left of": dx, "right of": -dx, "above": dy, "below": -dy}[rel] > 4, caption
        return
    m = re.fullmatch(r"(\w+) shapes? : (.*)", caption)
    if m:
        assert WORD_NUMBERS[m.group(1)] == len(objects)
        names = re.split(r" , | and ", m.group(2))
        found = []
        for name in names:
            words = name.split()
            assert words[0] == ("an" if words[1][0] in "aeiou" else "a")
            size = words[1] if len(words) == 4 else None
            (i,) = find(scene, words[-2], words[-1], size)
            found.append(i)
        assert sorted(found) == list(range(len(objects)))
        xs = [objects[i].centre[0] for i in found]
        assert xs == sorted(xs)                                     # left to right
        return
    m = re.fullmatch(r"there (?:is|are) (.*)", caption)
    assert m, caption
    counted = {}
    for part in re.split(r" , | and ", m.group(1)):
        number, noun = part.split()
        counted[noun.rstrip("s") if noun != "circles" else "circle"] = WORD_NUMBERS[number]
    assert counted == {s: k for s, k in Counter(o.shape for o in objects).items()}


# ----------------------------------------------------------------------------- questions

def recompute(scene, text):
    """The answer to a question, and the object it is about, computed from metadata."""
    objects = scene.objects
    def one(**kw):
        (i,) = find(scene, **kw)
        return i
    def dists(i):
        return {j: np.hypot(o.centre[0] - objects[i].centre[0], o.centre[1] - objects[i].centre[1])
                for j, o in enumerate(objects) if j != i}
    def extreme(i, word):
        d = dists(i)
        order = sorted(d, key=d.get, reverse=(word == "farthest"))
        if len(order) > 1:
            assert abs(d[order[0]] - d[order[1]]) > 4             # a clear winner
        return order[0]
    if m := re.fullmatch(r"what colour is the (?:(small|large) )?(\w+) \?", text):
        i = one(size=m.group(1), shape=m.group(2))
        return objects[i].colour, i
    if m := re.fullmatch(r"what (shape|size) is the (\w+) object \?", text):
        i = one(colour=m.group(2))
        return getattr(objects[i], m.group(1)), i
    if m := re.fullmatch(r"is the (\w+) object (?:on the left or right|at the top or bottom) \?", text):
        i = one(colour=m.group(1))
        axis = 0 if "left" in text else 1
        c = objects[i].centre[axis]
        assert abs(c - 32) > 4
        return (["left", "right"] if axis == 0 else ["top", "bottom"])[int(c > 32)], i
    if m := re.fullmatch(r"how many (\w+)(?: objects)? are there \?", text):
        word = m.group(1)
        if word == "objects":
            k = len(objects)
        elif word in ("small", "large"):
            k = len(find(scene, size=word))
        else:
            k = len(find(scene, shape=word[:-1]))
        return ["zero", "one", "two", "three", "four", "five", "six"][k], None
    if m := re.fullmatch(r"is the (\w+) object (larger|smaller) than the (\w+) object \?", text):
        a, b = objects[one(colour=m.group(1))], objects[one(colour=m.group(3))]
        big = {"small": 0, "large": 1}
        truth = big[a.size] > big[b.size] if m.group(2) == "larger" else big[a.size] < big[b.size]
        return ("yes" if truth else "no"), None
    if m := re.fullmatch(r"are the (\w+) object and the (\w+) object the same (shape|size) \?", text):
        a, b = objects[one(colour=m.group(1))], objects[one(colour=m.group(2))]
        return ("yes" if getattr(a, m.group(3)) == getattr(b, m.group(3)) else "no"), None
    if m := re.fullmatch(r"what (colour|shape) is the object (closest|farthest) (?:to|from) the (\w+) object \?", text):
        j = extreme(one(colour=m.group(3)), m.group(2))
        return getattr(objects[j], m.group(1)), j
    if m := re.fullmatch(r"which object is (closest|farthest) (?:to|from) the (\w+) (\w+) \?", text):
        j = extreme(one(colour=m.group(2), shape=m.group(3)), m.group(1))
        return f"{objects[j].colour} {objects[j].shape}", j
    raise AssertionError(f"unknown question form: {text}")


def check_question(scene, q):
    assert q.qtype in Q.QUESTION_TYPES and q.answer in Q.answer_vocab()
    answer, target = recompute(scene, q.text)
    assert q.answer == answer, (scene.seed, q)
    assert q.target_object == target, (scene.seed, q)
    assert len(q.candidates) == 4 and len(set(q.candidates)) == 4
    assert q.candidates.count(q.answer) == 1
    if q.qtype == "pointing":
        names = [f"{o.colour} {o.shape}" for o in scene.objects]
        assert len(q.candidate_objects) == 4
        for name, index in zip(q.candidates, q.candidate_objects):
            assert (index is None and name not in names) or names[index] == name
        assert q.candidate_objects[q.candidates.index(q.answer)] == q.target_object
        assert sum(i is not None for i in q.candidate_objects) == min(4, len(scene.objects))
    else:
        assert q.candidate_objects is None
        assert all(c in Q.answer_vocab() for c in q.candidates)


def test_every_question_form_is_answered_correctly(train_scenes, heldout_scenes):
    templates = Counter()
    for scene in train_scenes[:60] + heldout_scenes[:20]:
        for qtype in Q.QUESTION_TYPES:
            for template, text, answer, target in Q.all_questions(scene, qtype):
                assert recompute(scene, text) == (answer, target), (scene.seed, text)
                templates[qtype, template] += 1
        qs = Q.questions(scene)
        types = [q.qtype for q in qs]
        assert types == [t for t in Q.QUESTION_TYPES if t in types]
        assert {"attribute", "count", "compare"} <= set(types)        # 2+ objects always allow these
        assert ("relational" in types) == ("pointing" in types)       # both need a clear closest/farthest
        for q in qs:
            check_question(scene, q)
    assert len(templates) == 19                                       # every form was exercised
    assert Q.questions(train_scenes[0]) == Q.questions(train_scenes[0])


def test_single_object_scene_has_no_relational_questions():
    scene = S.make_scene(3, num_objects=1)
    assert [q.qtype for q in Q.questions(scene, 0)] == ["attribute", "position", "count"] or \
        [q.qtype for q in Q.questions(scene, 0)] == ["attribute", "count"]
    assert len(L.captions(scene, count=4)) == 4


def test_answer_vocab_is_fixed_and_complete():
    answers = Q.answer_vocab()
    assert answers == Q.answer_vocab() and len(answers) == len(set(answers)) == 42
    for qtype in Q.QUESTION_TYPES:
        for split in S.SPLITS:
            assert set(Q.balanced_answers(qtype, split)) <= set(answers)


@pytest.mark.parametrize("split, count", [("train", 600), ("heldout", 150)])
def test_question_set_is_balanced_and_correct(split, count):
    qset = Q.question_set(split, count)
    assert len(qset) == count
    by_type = Counter(q.qtype for _, q in qset)
    assert set(by_type.values()) == {count // 6}
    indices = [i for i, _ in qset]
    assert indices == sorted(indices) and indices[0] == 0
    scenes = S.make_scenes(split, indices[-1] + 1)
    for qtype in Q.QUESTION_TYPES:
        answers = Counter(q.answer for _, q in qset if q.qtype == qtype)
        expected = Q.balanced_answers(qtype, split)
        assert set(answers) == set(expected), qtype
        assert max(answers.values()) - min(answers.values()) <= 1, (qtype, answers)
    yes_no = Counter(q.answer for _, q in qset if q.qtype == "compare")
    assert abs(yes_no["yes"] - yes_no["no"]) == (count // 6) % 2     # 50/50 (within one if odd)
    for index, q in qset[::3]:
        check_question(scenes[index], q)
    per_scene = Counter((i, q.qtype) for i, q in qset)
    assert max(per_scene.values()) == 1
    again = Q.question_set(split, count)
    assert again == qset


def test_question_set_start_and_uneven_count():
    qset = Q.question_set("val", 20, start=50)
    assert min(i for i, _ in qset) >= 50
    shares = Counter(q.qtype for _, q in qset)
    assert [shares[t] for t in Q.QUESTION_TYPES] == [4, 4, 3, 3, 3, 3]


@pytest.mark.parametrize("call, fname", [
    (lambda: L.captions("scene"), "captions"),
    (lambda: L.captions(S.make_scene(1), count=0), "captions"),
    (lambda: L.captions(S.make_scene(1), rng_or_seed=-2), "captions"),
    (lambda: Q.questions(None), "questions"),
    (lambda: Q.question_set("train", 0), "question_set"),
    (lambda: Q.question_set("dev", 10), "question_set"),
    (lambda: Q.question_set("train", 10, start=-1), "question_set"),
    (lambda: Q.all_questions(S.make_scene(1), "colour"), "all_questions"),
    (lambda: Q.encode_question("vocab", "what ?"), "encode_question"),
    (lambda: Q.encode_question(L.build_vocab(), ""), "encode_question"),
    (lambda: Q.encode_questions(L.build_vocab(), []), "encode_questions"),
    (lambda: L.build_vocab().encode_batch("a red circle"), "WordVocab.encode_batch"),
    (lambda: L.build_vocab().encode_batch(["a"], max_length=1), "WordVocab.encode_batch"),
])
def test_language_bad_arguments(call, fname):
    with pytest.raises(ValueError, match=rf"^{re.escape(fname)}: "):
        call()


def test_same_data_in_every_process(repo_root):
    """Sets and frozensets iterate in a per-process order; no output may depend on it."""
    import subprocess
    import sys
    code = ("import hashlib\n"
            "from utils.data import shapes as S, shapes_language as L, shapes_questions as Q\n"
            "m = hashlib.sha256()\n"
            "for s in S.make_scenes('heldout', 20) + S.make_scenes('train', 20):\n"
            "    m.update(s.image.tobytes()); m.update(repr((L.captions(s), Q.questions(s))).encode())\n"
            "m.update(repr((Q.question_set('train', 60), L.build_vocab().id_to_word)).encode())\n"
            "print(m.hexdigest())\n")
    digests = set()
    for hash_seed in ("1", "2"):
        env = {"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env,
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
