"""Measurements on the VQA models of notebook 08.

    accuracy_by_type     accuracy per question type and overall, from predicted answer indices
    accuracy_table       many models x (types, overall) as rows of a table, for test and heldout
    confusion            the confusion matrix of one question type over its answers
    attention_hits       for each question with a target object: does the most attended cell
                         lie in the object's box (per hop, or the best hop)
    attention_vs_answer  the 2 x 2 counts of attention right/wrong against answer right/wrong,
                         with examples of "attention right, answer wrong" and the reverse
    parameter_count      parameters of a torch model
"""
import numpy as np

from utils import validate
from utils.data import shapes_questions
from utils.models.grid import CELL_PIXELS, GRID_SIDE

TYPES = shapes_questions.QUESTION_TYPES


def _answers(fname, predicted, data):
    validate.shapes(fname, "predicted: M", predicted, M=len(data["answer"]))
    return validate.int_array(fname, "predicted", predicted, low=0, high=len(shapes_questions.answer_vocab()))


def accuracy_by_type(predicted, data):
    """dict type -> accuracy (float in [0, 1], or None for a type without questions), and
    "overall": the mean over the types present (every type has the same share in a
    question_set, so this is also the plain accuracy)."""
    fname = "accuracy_by_type"
    predicted = _answers(fname, predicted, data)
    right = predicted == data["answer"]
    out = {}
    for t, name in enumerate(TYPES):
        rows = data["qtype"] == t
        out[name] = float(right[rows].mean()) if rows.any() else None
    present = [v for v in out.values() if v is not None]
    out["overall"] = float(np.mean(present)) if present else None
    return out


def accuracy_table(results, digits=3):
    """Rows of a printed table from {model name: {split: accuracy_by_type(...)}}.

    Returns: list of strings: a header and one line per (model, split), fixed widths, values
    rounded to ``digits`` (stable text for nbval).
    """
    digits = validate.int_in_range("accuracy_table", "digits", digits, 0, 10)
    columns = list(TYPES) + ["overall"]
    widths = [max(len(c), digits + 2) + 1 for c in columns]    # narrow: 90 characters for 08's table
    first = max([len("model")] + [len(name) for name in results]) + 1
    header = f"{'model':<{first}}{'split':<8}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths))
    lines = [header, "-" * len(header)]
    for name, by_split in results.items():
        for split, acc in by_split.items():
            cells = "".join(f"{'-' if acc.get(c) is None else format(acc[c], f'.{digits}f'):>{w}}"
                            for c, w in zip(columns, widths))
            lines.append(f"{name:<{first}}{split:<8}" + cells)
    return lines


def confusion(predicted, data, qtype):
    """Confusion matrix of one question type.

    Returns: (labels, matrix): labels the answers that occur as truth or prediction for that
    type (answer_vocab order), matrix (len(labels), len(labels)) int64, rows = true answer,
    columns = predicted answer.
    """
    fname = "confusion"
    predicted = _answers(fname, predicted, data)
    validate.one_of(fname, "qtype", qtype, TYPES)
    rows = data["qtype"] == TYPES.index(qtype)
    truth, guess = data["answer"][rows], predicted[rows]
    used = sorted(set(truth.tolist()) | set(guess.tolist()))
    index = {a: i for i, a in enumerate(used)}
    matrix = np.zeros((len(used), len(used)), dtype=np.int64)
    for t, g in zip(truth, guess):
        matrix[index[t], index[g]] += 1
    names = shapes_questions.answer_vocab()
    return [names[a] for a in used], matrix


def peak_in_box(attention, boxes):
    """(M,) bool: the most attended cell's centre lies inside the box (attention (M, L),
    boxes (M, 4) in pixels, half-open)."""
    peak = attention.argmax(axis=1)
    x = (peak % GRID_SIDE) * CELL_PIXELS + CELL_PIXELS / 2
    y = (peak // GRID_SIDE) * CELL_PIXELS + CELL_PIXELS / 2
    return (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])


def attention_hits(attention, data, hop=None):
    """Whether the attention found the answer's object.

    attention: (M, hops, L) maps of a StackedAttention model (predict(...)["attention"]).
    hop: which hop (0-based); None: the last hop; "any": right when the peak of at least one
        hop lies in the box.
    Returns: (mask (M,) bool of questions that have a target object, hit (M,) bool).
    """
    return _hits("attention_hits", attention, data, hop)


def _hits(fname, attention, data, hop):
    validate.shapes(fname, "attention: M hops L", attention, M=len(data["answer"]))
    attention = validate.float_array(fname, "attention", attention)
    if hop == "any":
        hit = np.zeros(len(attention), dtype=bool)
        for k in range(attention.shape[1]):
            hit |= peak_in_box(attention[:, k], data["target_box"])
        return data["has_target"].copy(), hit
    hop = attention.shape[1] - 1 if hop is None else validate.int_in_range(
        fname, "hop", hop, 0, attention.shape[1] - 1)
    return data["has_target"].copy(), peak_in_box(attention[:, hop], data["target_box"])


def attention_vs_answer(predicted, attention, data, hop=None, examples=3):
    """Attention right or wrong against answer right or wrong, over questions with a target.

    hop: as attention_hits (None: the last hop, "any": any hop).
    Returns: dict with "counts" {("attention right", "answer right"): int, ...} (4 keys),
    "attention_right_answer_wrong" and "attention_wrong_answer_right": lists of up to
    ``examples`` question indices (the first ones), and "by_type": for each type, the counts
    of those two cases.
    """
    fname = "attention_vs_answer"
    examples = validate.int_in_range(fname, "examples", examples, 0)
    predicted = _answers(fname, predicted, data)
    mask, hit = _hits(fname, attention, data, hop)
    right = predicted == data["answer"]
    counts = {}
    for a_name, a in (("attention right", True), ("attention wrong", False)):
        for r_name, r in (("answer right", True), ("answer wrong", False)):
            counts[a_name, r_name] = int((mask & (hit == a) & (right == r)).sum())
    rw = np.flatnonzero(mask & hit & ~right)
    wr = np.flatnonzero(mask & ~hit & right)
    by_type = {}
    for t, name in enumerate(TYPES):
        rows = mask & (data["qtype"] == t)
        if rows.any():
            by_type[name] = {"questions": int(rows.sum()),
                             "attention right, answer wrong": int((rows & hit & ~right).sum()),
                             "attention wrong, answer right": int((rows & ~hit & right).sum()),
                             "attention right": round(float(hit[rows].mean()), 3)}
    return {"counts": counts, "attention_right_answer_wrong": rw[:examples].tolist(),
            "attention_wrong_answer_right": wr[:examples].tolist(), "by_type": by_type}


def parameter_count(model):
    """The number of parameters of a torch module (int)."""
    return int(sum(p.numel() for p in model.parameters()))
