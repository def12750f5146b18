"""Question sets of the shapes world as arrays, for the VQA models of notebook 08.

    vqa_arrays        question_set(split, count) as one dict of numpy arrays (ids, answers, types,
                      multiple-choice candidates, candidate boxes, target boxes)
    answer_word_ids   every answer of answer_vocab() as word ids (the multiple-choice model
                      embeds an answer as the mean of its words' embeddings)
    encode_typed_question   a typed question -> ids, with the words that became <UNK>

Shapes: M questions, T the longest question in words, K = 4 candidates, A = 42 answers.
Boxes are ``(x0, y0, x1, y1)`` in pixels, half-open, as ``utils.data.shapes``.
"""
import numpy as np

from utils import validate
from utils.data import shapes_language as language
from utils.data import shapes_questions
from utils.data.shapes import SPLITS, make_scene, scene_seed, split_pairs

NUM_CANDIDATES = 4


def answer_word_ids(vocab):
    """(A, 2) int64: the word ids of each answer of answer_vocab(), <NULL>-padded (one-word
    answers such as "red" have one id, object names such as "red circle" two)."""
    answers = shapes_questions.answer_vocab()
    out = np.zeros((len(answers), 2), dtype=np.int64)
    for a, text in enumerate(answers):
        ids = vocab.encode(text)
        out[a, :len(ids)] = ids
    return out


def vqa_arrays(split, count, vocab=None, start=0):
    """The balanced question set of a split as arrays.

    split: one of shapes.SPLITS; count: number of questions (>= 6, types share equally);
    vocab: WordVocab (default build_vocab()); start: index of the first scene.
    Returns: dict with
        scene (M,) int64        the question's scene index in the split (a row of
                                cached_features(split, num_scenes))
        num_scenes int          1 + the largest scene index
        question (M, T) int64   word ids, <NULL>-padded; lengths (M,) int64
        answer (M,) int64       index in answer_vocab()
        qtype (M,) int64        index in QUESTION_TYPES
        candidates (M, K) int64 answer indices of the four multiple-choice candidates
        correct (M,) int64      which candidate is right
        candidate_boxes (M, K, 4) float32 box of each candidate object (pointing questions,
                                candidates in the scene), zeros otherwise;
        candidate_present (M, K) bool
        target_box (M, 4) float32 the box of the object the answer is about (zeros when none);
        has_target (M,) bool
        texts list of M str, answers list of M str
    """
    fname = "vqa_arrays"
    validate.one_of(fname, "split", split, SPLITS)
    count = validate.int_in_range(fname, "count", count, len(shapes_questions.QUESTION_TYPES))
    vocab = language.build_vocab() if vocab is None else vocab
    if not isinstance(vocab, language.WordVocab):
        raise ValueError(f"{fname}: vocab must be a WordVocab, got {validate.shown(vocab)}")
    items = shapes_questions.question_set(split, count, start=start)
    answer_index = {a: i for i, a in enumerate(shapes_questions.answer_vocab())}
    texts = [q.text for _, q in items]
    ids, lengths = shapes_questions.encode_questions(vocab, texts)
    M = len(items)
    out = {
        "scene": np.array([s for s, _ in items], dtype=np.int64),
        "question": ids, "lengths": lengths,
        "answer": np.array([answer_index[q.answer] for _, q in items], dtype=np.int64),
        "qtype": np.array([shapes_questions.QUESTION_TYPES.index(q.qtype) for _, q in items], dtype=np.int64),
        "candidates": np.array([[answer_index[c] for c in q.candidates] for _, q in items],
                               dtype=np.int64),
        "correct": np.array([q.candidates.index(q.answer) for _, q in items], dtype=np.int64),
        "candidate_boxes": np.zeros((M, NUM_CANDIDATES, 4), dtype=np.float32),
        "candidate_present": np.zeros((M, NUM_CANDIDATES), dtype=bool),
        "target_box": np.zeros((M, 4), dtype=np.float32),
        "has_target": np.zeros(M, dtype=bool),
        "texts": texts, "answers": [q.answer for _, q in items],
    }
    pairs = split_pairs(split)
    scene, scene_index = None, None
    for m, (s, q) in enumerate(items):
        if s != scene_index:
            scene, scene_index = make_scene(scene_seed(split, s), pairs=pairs), s
        if q.target_object is not None:
            out["target_box"][m] = scene.objects[q.target_object].box
            out["has_target"][m] = True
        if q.candidate_objects is not None:
            for k, j in enumerate(q.candidate_objects):
                if j is not None:
                    out["candidate_boxes"][m, k] = scene.objects[j].box
                    out["candidate_present"][m, k] = True
    out["num_scenes"] = int(out["scene"].max()) + 1
    return out


def encode_typed_question(vocab, text, fname="encode_typed_question"):
    """A question typed by a person: (ids (1, T) int64, unknown words list).

    Lowercases, puts spaces around "?" and ",", and maps words outside the vocabulary to
    <UNK>; the list names them so that a widget can say so. An empty or blank question is a
    ValueError with a message a person can act on, starting with ``fname`` (the function the
    person called).
    """
    if not isinstance(text, str):
        raise ValueError(f"{fname}: the question must be a string, got {validate.shown(text)}")
    cleaned = text.lower().replace("?", " ? ").replace(",", " , ")
    words = cleaned.split()
    if not [w for w in words if w not in ("?", ",")]:
        raise ValueError(f"{fname}: the question is empty: type a question such as "
                         f"'what colour is the circle ?'")
    unknown = [w for w in words if w not in vocab.word_to_id]
    ids = np.array([vocab.encode(words)], dtype=np.int64)
    return ids, unknown
