"""Words about the shapes world: a vocabulary and reference captions.

What is where:
- ``WordVocab``, ``build_vocab``: word <-> id, with ``<NULL>``=0, ``<START>``=1, ``<END>``=2,
  ``<UNK>``=3; the fixed vocabulary of every word the grammar can produce, in captions and in
  the questions of ``utils.data.shapes_questions``.
- ``captions``, ``caption_options``: several reference captions of a scene (lists, relations,
  counts).
- ``relation``: the relations that clearly hold between two objects; ``scene_rng`` and
  ``check_scene``, the random generator and argument check that captions and questions share.

Every sentence is lowercase with tokens separated by single spaces; punctuation ("," ":" "?")
is a token of its own. Statements are true of the scene's metadata, never guessed from pixels:
a relation ("left of", "above", "closest") is only used when the gap is clear (more than
``CLEAR_GAP`` pixels), so a model is never asked to judge a near tie.
"""
import itertools
from collections import Counter

import numpy as np

from utils import validate
from utils.data.shapes import COLOURS, SHAPES, SIZES, Scene

NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
SPECIAL_TOKENS = (NULL, START, END, UNK)
CLEAR_GAP = 4.0        # px: relations and "closest"/"farthest" need at least this margin
MAX_CAPTION_TOKENS = 18  # longest caption in tokens (at most 16 words plus punctuation)
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles"}
RELATIONS = ("left of", "right of", "above", "below")

_GRAMMAR_WORDS = (
    # captions
    "a", "an", "the", "there", "is", "are", "and", ",", ":", "shape", "shapes",
    "left", "right", "of", "above", "below",
    # questions
    "what", "colour", "size", "object", "objects", "?", "on", "or", "at", "top", "bottom",
    "how", "many", "larger", "smaller", "than", "same", "closest", "to", "farthest", "from",
    "which", "yes", "no",
) + COLOURS + SHAPES + tuple(PLURALS.values()) + SIZES + NUMBERS


class WordVocab:
    """A word <-> id mapping with the special tokens <NULL>=0, <START>=1, <END>=2, <UNK>=3.

    words: the ordinary words, in id order from 4 (special tokens among them are skipped).
    Attributes: ``word_to_id`` (dict str -> int), ``id_to_word`` (list, index = id).
    """

    def __init__(self, words):
        fname = "WordVocab"
        if isinstance(words, str) or not hasattr(words, "__iter__"):
            raise ValueError(f"{fname}: words must be a list of strings, got {validate.shown(words)}")
        self.id_to_word = list(SPECIAL_TOKENS)
        self.word_to_id = {w: i for i, w in enumerate(SPECIAL_TOKENS)}
        for word in words:
            if not isinstance(word, str) or not word or word != word.strip() or len(word.split()) != 1:
                raise ValueError(f"{fname}: words must be non-empty strings without spaces, "
                                 f"got {validate.shown(word)}")
            if word in SPECIAL_TOKENS:
                continue
            if word in self.word_to_id:
                raise ValueError(f"{fname}: words must be distinct, got {word!r} twice")
            self.word_to_id[word] = len(self.id_to_word)
            self.id_to_word.append(word)

    def __len__(self):
        return len(self.id_to_word)

    def __repr__(self):
        return f"WordVocab({len(self)} tokens)"

    def _words(self, fname, text):
        if isinstance(text, str):
            return text.split()
        if isinstance(text, (list, tuple)) and all(isinstance(w, str) for w in text):
            return list(text)
        raise ValueError(f"{fname}: text must be a string or a list of words, got {validate.shown(text)}")

    def encode(self, text):
        """Word ids of a sentence: text is a string (split on spaces) or a list of words.

        Returns: list of T ints (no <START>/<END>); unknown words map to <UNK> (3).
        """
        unk = self.word_to_id[UNK]
        return [self.word_to_id.get(w, unk) for w in self._words("WordVocab.encode", text)]

    def decode(self, ids):
        """The sentence of a sequence of ids: (T,) ints, a list or a 1-D array.

        Stops at the first <END>, skips <NULL> and <START>; <UNK> is written '<UNK>'.
        Returns: str, words joined by single spaces.
        """
        ids = validate.int_array("WordVocab.decode", "ids", ids, ndim=1, low=0, high=len(self))
        words = []
        for i in ids.tolist():
            if i == 2:       # <END>
                break
            if i > 1:        # not <NULL> or <START>
                words.append(self.id_to_word[i])
        return " ".join(words)

    def decode_batch(self, ids):
        """decode for each row of ids (N, T) ints; returns a list of N strings."""
        ids = validate.int_array("WordVocab.decode_batch", "ids", ids, ndim=2, low=0, high=len(self))
        return [self.decode(row) for row in ids]

    def encode_batch(self, sentences, max_length=None):
        """Sentences as one padded id array for teacher forcing.

        sentences: list of N strings or word lists.
        max_length: T, the row length including <START> and <END> (>= 2); None fits the
            longest sentence. Longer sentences are cut to T-2 words and still end with <END>.
        Returns: (N, T) int64: <START>, the word ids, <END>, then <NULL> (0) padding.
        """
        fname = "WordVocab.encode_batch"
        if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
            raise ValueError(f"{fname}: sentences must be a list of strings or word lists, "
                             f"got {validate.shown(sentences)}")
        encoded = [self._words(fname, s) for s in sentences]
        longest = max((len(words) for words in encoded), default=0) + 2
        length = longest if max_length is None else validate.int_in_range(fname, "max_length", max_length, 2)
        out = np.zeros((len(encoded), length), dtype=np.int64)        # (N, T) <NULL>-padded
        for n, words in enumerate(encoded):
            ids = self.encode(words[:length - 2])
            out[n, 0] = self.word_to_id[START]
            out[n, 1:1 + len(ids)] = ids
            out[n, 1 + len(ids)] = self.word_to_id[END]
        return out


def build_vocab():
    """The fixed vocabulary of every word captions, questions and answers can use.

    Returns: WordVocab; the same order on every run, independent of any data.
    """
    return WordVocab(_GRAMMAR_WORDS)


# ----------------------------------------------------------------------------- helpers

def scene_rng(fname, rng_or_seed, scene):
    """A Generator from rng_or_seed: a Generator (used as is), an int seed >= 0, or None
    (the scene's own seed, so results are a function of the scene)."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if rng_or_seed is None:
        return np.random.default_rng([scene.seed, 1])
    seed = validate.int_in_range(fname, "rng_or_seed", rng_or_seed, 0)
    return np.random.default_rng(seed)


def check_scene(fname, scene):
    """scene itself when it is a shapes.Scene; otherwise a ValueError naming fname."""
    if not isinstance(scene, Scene):
        raise ValueError(f"{fname}: scene must be a shapes.Scene, got {validate.shown(scene)}")
    return scene


def _full(obj):
    return f"{obj.size} {obj.colour} {obj.shape}"


def _a(phrase):
    """The phrase with its indefinite article: 'a red circle', 'an orange square'."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def relation(a, b):
    """The relations that clearly hold between objects a and b: a tuple from RELATIONS.

    'left of' when b's centre is more than CLEAR_GAP px to the right of a's, 'above' when b's
    centre is more than CLEAR_GAP px lower (rows grow downwards); likewise 'right of', 'below'.
    """
    dx = b.centre[0] - a.centre[0]
    dy = b.centre[1] - a.centre[1]
    found = []
    if dx > CLEAR_GAP:
        found.append("left of")
    if dx < -CLEAR_GAP:
        found.append("right of")
    if dy > CLEAR_GAP:
        found.append("above")
    if dy < -CLEAR_GAP:
        found.append("below")
    return tuple(found)


# ----------------------------------------------------------------------------- captions

def _numbered(count, shape):
    return f"{NUMBERS[count]} {shape if count == 1 else PLURALS[shape]}"


def caption_options(scene):
    """Every caption the grammar can say about a scene, by kind.

    Returns: dict with keys 'list', 'relation', 'count', each a list of distinct strings.
    - list: the objects from left to right, "three shapes : a red circle , a blue square and
      a green triangle" (with sizes too when there are at most 3 objects; none above 4 objects);
    - relation: for each pair with a clear relation, "a small red circle left of a large blue
      square", "there is a ... above a ...", "the ... is below the ...";
    - count: objects by shape, "there are two circles and one square".
    """
    check_scene("caption_options", scene)
    objects = scene.objects
    n = len(objects)
    ordered = sorted(objects, key=lambda o: (o.centre[0], o.centre[1]))
    head = f"{NUMBERS[n]} {'shape' if n == 1 else 'shapes'} :"

    def listing(phrases):
        if len(phrases) == 1:
            return phrases[0]
        return " , ".join(phrases[:-1]) + " and " + phrases[-1]

    lists = []
    if n <= 4:
        lists.append(f"{head} {listing([_a(o.name) for o in ordered])}")
    if n <= 3:
        lists.append(f"{head} {listing([_a(_full(o)) for o in ordered])}")
    relations = []
    for a, b in itertools.permutations(objects, 2):
        for rel in relation(a, b):
            relations.append(f"{_a(_full(a))} {rel} {_a(_full(b))}")
            relations.append(f"there is {_a(_full(a))} {rel} {_a(_full(b))}")
            relations.append(f"the {_full(a)} is {rel} the {_full(b)}")
    counts = Counter(o.shape for o in objects)
    parts = [_numbered(counts[s], s) for s in SHAPES if counts[s]]
    verb = "is" if counts[next(s for s in SHAPES if counts[s])] == 1 else "are"
    count_caption = f"there {verb} {listing(parts)}" if len(parts) > 1 else f"there {verb} {parts[0]}"
    return {"list": lists, "relation": relations, "count": [count_caption]}


def captions(scene, count=5, rng_or_seed=None):
    """Reference captions of a scene, like the five human captions of a COCO image.

    scene: shapes.Scene. count: how many captions (>= 1).
    rng_or_seed: np.random.Generator, int seed, or None (derived from scene.seed).
    Returns: list of count strings, each at most MAX_CAPTION_TOKENS tokens. Kinds take turns
    (list, relation, count in a random order) and captions are distinct while the scene has
    enough of them; after that they repeat.
    """
    fname = "captions"
    check_scene(fname, scene)
    count = validate.positive_int(fname, "count", count)
    rng = scene_rng(fname, rng_or_seed, scene)
    options = {kind: list(found) for kind, found in caption_options(scene).items() if found}
    kinds = [k for k in ("list", "relation", "count") if k in options]
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    every = [c for k in kinds for c in options[k]]
    chosen = []
    turn = 0
    while len(chosen) < count:
        pending = [k for k in kinds if options[k]]
        if not pending:
            chosen.append(every[int(rng.integers(len(every)))])
            continue
        kind = pending[turn % len(pending)]
        turn += 1
        chosen.append(options[kind].pop(int(rng.integers(len(options[kind])))))
    return chosen
