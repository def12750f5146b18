"""Loaders for the real caption and VQA file formats, so users can bring their own data.

What is where:
- ``load_coco_captions``: a COCO captions JSON file (``images`` + ``annotations``) ->
  list of ``CocoImage`` (image id, file name, captions);
- ``load_vqa``: a VQA v2 questions file + annotations file -> list of ``VqaRecord``;
- ``tokenize_caption``, ``build_vocab_from_captions``: text -> words -> ``WordVocab``;
- ``example_coco_captions``, ``example_vqa``, ``write_examples``: tiny files in the real layouts
  (with the extra fields real files carry), for the tests and notebook 08's last section.

Every problem with a file (missing, not JSON, a field missing or of the wrong type, questions
and annotations that do not match) raises one error whose message names the function, the file
and the place in it, e.g. ``load_coco_captions: /x/captions.json: annotations[3] has no
'caption'``: ``DataFileNotFoundError`` (a FileNotFoundError) for a missing file,
``DataFormatError`` (a ValueError) for everything else.
"""
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from utils import validate
from utils.data.shapes_language import SPECIAL_TOKENS, WordVocab


class DataFormatError(ValueError):
    """A data file is not in the expected format; the message names the file and the field."""


class DataFileNotFoundError(FileNotFoundError):
    """A data file does not exist; the message names the function and the path."""


@dataclass(frozen=True)
class CocoImage:
    """One image of a COCO captions file: image_id (int), file_name (str), captions (tuple of str)."""
    image_id: int
    file_name: str
    captions: tuple


@dataclass(frozen=True)
class VqaRecord:
    """One VQA v2 question with its annotation.

    question_id, image_id: int. question: str. answers: tuple of the annotators' answer strings
    (10 in VQA v2). multiple_choice_answer: the most common answer. answer_type: 'yes/no',
    'number' or 'other'. question_type: the question's opening words, e.g. 'what color is the'.
    """
    question_id: int
    image_id: int
    question: str
    answers: tuple
    multiple_choice_answer: str
    answer_type: str
    question_type: str


def _read_json(fname, path):
    """The parsed JSON object of a file; the path as a Path for messages."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise ValueError(f"{fname}: path must be a file path (str or Path), got {validate.shown(path)}")
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"{fname}: {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise DataFormatError(f"{fname}: {path}: not valid JSON ({error.msg} at line {error.lineno}, "
                              f"column {error.colno})") from None
    except UnicodeDecodeError:
        raise DataFormatError(f"{fname}: {path}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise DataFormatError(f"{fname}: {path}: the top level must be a JSON object, "
                              f"got {type(data).__name__}")
    return path, data


def _records(fname, path, data, key):
    """data[key], which must be a list of JSON objects."""
    if key not in data:
        raise DataFormatError(f"{fname}: {path}: has no '{key}'")
    items = data[key]
    if not isinstance(items, list):
        raise DataFormatError(f"{fname}: {path}: '{key}' must be a list, got {type(items).__name__}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataFormatError(f"{fname}: {path}: {key}[{i}] must be an object, got {type(item).__name__}")
    return items


def _field(fname, path, where, item, name, kind):
    """item[name], checked to be an int (not bool) or a str; where is e.g. 'annotations[3]'."""
    if name not in item:
        raise DataFormatError(f"{fname}: {path}: {where} has no '{name}'")
    value = item[name]
    ok = (isinstance(value, int) and not isinstance(value, bool)) if kind is int else isinstance(value, kind)
    if not ok:
        raise DataFormatError(f"{fname}: {path}: {where}['{name}'] must be {kind.__name__}, "
                              f"got {validate.shown(value)}")
    return value


def load_coco_captions(path):
    """Read a COCO captions file (e.g. captions_train2014.json).

    path: str or Path of a JSON object with ``images`` (list of {"id": int, "file_name": str,
        ...}) and ``annotations`` (list of {"image_id": int, "caption": str, ...}).
    Returns: list of CocoImage in the order of ``images``; captions in file order, stripped of
    surrounding whitespace; an image without annotations has no captions.
    Raises DataFileNotFoundError or DataFormatError naming the file and the field.
    """
    fname = "load_coco_captions"
    path, data = _read_json(fname, path)
    images = _records(fname, path, data, "images")
    annotations = _records(fname, path, data, "annotations")
    order, names = [], {}
    for i, item in enumerate(images):
        image_id = _field(fname, path, f"images[{i}]", item, "id", int)
        name = _field(fname, path, f"images[{i}]", item, "file_name", str)
        if image_id in names:
            raise DataFormatError(f"{fname}: {path}: images[{i}] repeats image id {image_id}")
        names[image_id] = name
        order.append(image_id)
    found = {image_id: [] for image_id in order}
    for i, item in enumerate(annotations):
        image_id = _field(fname, path, f"annotations[{i}]", item, "image_id", int)
        caption = _field(fname, path, f"annotations[{i}]", item, "caption", str)
        if image_id not in found:
            raise DataFormatError(f"{fname}: {path}: annotations[{i}] refers to image id {image_id}, "
                                  f"which is not in 'images'")
        found[image_id].append(caption.strip())
    return [CocoImage(image_id, names[image_id], tuple(found[image_id])) for image_id in order]


def load_vqa(questions_path, annotations_path):
    """Read a VQA v2 pair of files and join them by question id.

    questions_path: JSON object with ``questions``: list of {"question_id": int, "image_id": int,
        "question": str}, e.g. v2_OpenEnded_mscoco_val2014_questions.json.
    annotations_path: JSON object with ``annotations``: list of {"question_id": int,
        "image_id": int, "answers": [{"answer": str, ...}, ...], "multiple_choice_answer": str,
        "answer_type": str, "question_type": str}, e.g. v2_mscoco_val2014_annotations.json.
    Returns: list of VqaRecord in the order of the questions file (annotations of questions
    that are not in the questions file are ignored, so a subset of questions can be loaded).
    Raises DataFileNotFoundError or DataFormatError naming the file and the field, also when
    a question has no annotation, a question id repeats, or the two files disagree on its image.
    """
    fname = "load_vqa"
    qpath, qdata = _read_json(fname, questions_path)
    apath, adata = _read_json(fname, annotations_path)
    questions = _records(fname, qpath, qdata, "questions")
    annotations = _records(fname, apath, adata, "annotations")
    by_id = {}
    for i, item in enumerate(annotations):
        where = f"annotations[{i}]"
        qid = _field(fname, apath, where, item, "question_id", int)
        if qid in by_id:
            raise DataFormatError(f"{fname}: {apath}: {where} repeats question id {qid}")
        answers = _field(fname, apath, where, item, "answers", list)
        if not answers:
            raise DataFormatError(f"{fname}: {apath}: {where}['answers'] must not be empty")
        texts = tuple(_field(fname, apath, f"{where}['answers'][{k}]", a, "answer", str)
                      if isinstance(a, dict) else _bad_answer(fname, apath, where, k, a)
                      for k, a in enumerate(answers))
        by_id[qid] = (i, _field(fname, apath, where, item, "image_id", int), texts,
                      _field(fname, apath, where, item, "multiple_choice_answer", str),
                      _field(fname, apath, where, item, "answer_type", str),
                      _field(fname, apath, where, item, "question_type", str))
    records, seen = [], set()
    for i, item in enumerate(questions):
        where = f"questions[{i}]"
        qid = _field(fname, qpath, where, item, "question_id", int)
        image_id = _field(fname, qpath, where, item, "image_id", int)
        text = _field(fname, qpath, where, item, "question", str)
        if qid in seen:
            raise DataFormatError(f"{fname}: {qpath}: {where} repeats question id {qid}")
        seen.add(qid)
        if qid not in by_id:
            raise DataFormatError(f"{fname}: {qpath}: {where} (question id {qid}) has no annotation "
                                  f"in {apath}")
        k, a_image, answers, best, answer_type, question_type = by_id[qid]
        if a_image != image_id:
            raise DataFormatError(f"{fname}: {apath}: annotations[{k}] gives image id {a_image} for "
                                  f"question id {qid}, but {qpath} gives {image_id}")
        records.append(VqaRecord(qid, image_id, text.strip(), answers, best, answer_type, question_type))
    return records


def _bad_answer(fname, path, where, k, value):
    raise DataFormatError(f"{fname}: {path}: {where}['answers'][{k}] must be an object with "
                          f"'answer', got {validate.shown(value)}")


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_WORD_OR_MARK = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*|[,:;?!.]")


def tokenize_caption(text, keep_punctuation=False):
    """Words of a caption or question: lowercase; letters, digits and inner apostrophes.

    keep_punctuation: False drops all punctuation ("A dog, running." -> ['a', 'dog',
        'running']); True keeps , : ; ? ! . as tokens of their own, which round-trips the
        shapes-world sentences ("what colour is the circle ?").
    Returns: list of str.
    """
    fname = "tokenize_caption"
    if not isinstance(text, str):
        raise ValueError(f"{fname}: text must be a string, got {validate.shown(text)}")
    pattern = _WORD_OR_MARK if keep_punctuation else _WORD
    return pattern.findall(text.lower())


def build_vocab_from_captions(captions, min_count=1, keep_punctuation=False):
    """A WordVocab of the words of some captions (tokenized with tokenize_caption).

    captions: list of str. min_count: words seen fewer times are left out (they encode to <UNK>).
    Returns: WordVocab, words ordered by decreasing count, ties alphabetically (deterministic).
    """
    fname = "build_vocab_from_captions"
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)) \
            or not all(isinstance(c, str) for c in captions):
        raise ValueError(f"{fname}: captions must be a list of strings, got {validate.shown(captions)}")
    min_count = validate.positive_int(fname, "min_count", min_count)
    counts = Counter(w for c in captions for w in tokenize_caption(c, keep_punctuation))
    words = sorted((w for w, k in counts.items() if k >= min_count and w not in SPECIAL_TOKENS),
                   key=lambda w: (-counts[w], w))
    return WordVocab(words)


def example_coco_captions():
    """A three-image COCO captions file as a dict (image 9 has no caption)."""
    return {
        "info": {"description": "tiny"}, "licenses": [],
        "images": [
            {"id": 42, "file_name": "COCO_val2014_000000000042.jpg", "width": 640, "height": 480},
            {"id": 7, "file_name": "COCO_val2014_000000000007.jpg", "width": 640, "height": 480},
            {"id": 9, "file_name": "COCO_val2014_000000000009.jpg", "width": 640, "height": 480},
        ],
        "annotations": [
            {"id": 1, "image_id": 42, "caption": "A dog runs on the beach.\n"},
            {"id": 2, "image_id": 7, "caption": "Two cats, sleeping on a sofa"},
            {"id": 3, "image_id": 42, "caption": " a brown dog running near the water "},
        ],
    }


def example_vqa():
    """A VQA v2 pair (questions, annotations) as dicts: two questions, ten answers each; the
    annotations also hold a question the questions file leaves out."""
    questions = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco",
                 "data_subtype": "val2014", "license": {},
                 "questions": [
                     {"image_id": 42, "question": "What color is the dog?", "question_id": 420},
                     {"image_id": 7, "question": "How many cats are there?", "question_id": 70},
                 ]}

    def answers(*texts):
        return [{"answer": t, "answer_confidence": "yes", "answer_id": k + 1} for k, t in enumerate(texts)]

    annotations = {"info": {}, "license": {}, "data_subtype": "val2014",
                   "annotations": [
                       {"question_type": "how many", "multiple_choice_answer": "2",
                        "answers": answers(*["2"] * 9, "3"), "image_id": 7,
                        "answer_type": "number", "question_id": 70},
                       {"question_type": "what color is the", "multiple_choice_answer": "brown",
                        "answers": answers(*["brown"] * 8, "tan", "brown and white"), "image_id": 42,
                        "answer_type": "other", "question_id": 420},
                       {"question_type": "is the", "multiple_choice_answer": "yes",
                        "answers": answers(*["yes"] * 10), "image_id": 9,
                        "answer_type": "yes/no", "question_id": 90},
                   ]}
    return questions, annotations


def write_examples(folder):
    """Write the example files into ``folder`` (created if needed).

    Returns: {"captions": Path, "questions": Path, "annotations": Path}.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    questions, annotations = example_vqa()
    paths = {"captions": folder / "captions_val2014.json",
             "questions": folder / "v2_OpenEnded_mscoco_val2014_questions.json",
             "annotations": folder / "v2_mscoco_val2014_annotations.json"}
    for key, data in (("captions", example_coco_captions()), ("questions", questions),
                      ("annotations", annotations)):
        paths[key].write_text(json.dumps(data), encoding="utf-8")
    return paths
