"""Loaders of the COCO captions and VQA v2 formats (utils.data.formats), on small fixture files.

The fixtures are written into tmp_path in the real layouts (with the extra fields real files
carry), then broken one field at a time: each break must give one error naming the file and
the field.
"""
import json
import re

import pytest

from utils.data import formats as F
from utils.data.shapes_language import WordVocab


coco = F.example_coco_captions
vqa = F.example_vqa


def test_write_examples_writes_files_the_loaders_read(tmp_path):
    paths = F.write_examples(tmp_path / "data")
    assert [len(image.captions) for image in F.load_coco_captions(paths["captions"])] == [2, 1, 0]
    assert [r.question_id for r in F.load_vqa(paths["questions"], paths["annotations"])] == [420, 70]


def write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_load_coco_captions(tmp_path):
    images = F.load_coco_captions(write(tmp_path / "captions.json", coco()))
    assert [im.image_id for im in images] == [42, 7, 9]
    assert images[0] == F.CocoImage(42, "COCO_val2014_000000000042.jpg",
                                    ("A dog runs on the beach.", "a brown dog running near the water"))
    assert images[1].captions == ("Two cats, sleeping on a sofa",)
    assert images[2].captions == ()
    assert F.load_coco_captions(str(tmp_path / "captions.json")) == images


def test_load_vqa(tmp_path):
    questions, annotations = vqa()
    records = F.load_vqa(write(tmp_path / "q.json", questions), write(tmp_path / "a.json", annotations))
    assert [r.question_id for r in records] == [420, 70]             # question-file order
    first = records[0]
    assert first == F.VqaRecord(420, 42, "What color is the dog?",
                                tuple(["brown"] * 8 + ["tan", "brown and white"]),
                                "brown", "other", "what color is the")
    assert len(records[1].answers) == 10 and records[1].answer_type == "number"


def coco_break(data, where, field, value=None, delete=True):
    item = data[where[0]][where[1]]
    if delete:
        del item[field]
    else:
        item[field] = value
    return data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: coco_break(d, ("annotations", 1), "caption"), r"annotations\[1\] has no 'caption'"),
    (lambda d: coco_break(d, ("annotations", 2), "image_id"), r"annotations\[2\] has no 'image_id'"),
    (lambda d: coco_break(d, ("images", 0), "file_name"), r"images\[0\] has no 'file_name'"),
    (lambda d: coco_break(d, ("images", 1), "id"), r"images\[1\] has no 'id'"),
    (lambda d: coco_break(d, ("annotations", 0), "caption", 5, False), r"annotations\[0\]\['caption'\] must be str"),
    (lambda d: coco_break(d, ("images", 2), "id", "9", False), r"images\[2\]\['id'\] must be int"),
    (lambda d: coco_break(d, ("annotations", 0), "image_id", 1234, False), r"annotations\[0\] refers to image id 1234"),
    (lambda d: {k: v for k, v in d.items() if k != "annotations"}, r"has no 'annotations'"),
    (lambda d: {**d, "images": {"id": 1}}, r"'images' must be a list"),
    (lambda d: {**d, "annotations": d["annotations"] + ["a caption"]}, r"annotations\[3\] must be an object"),
    (lambda d: {**d, "images": d["images"] + [d["images"][0]]}, r"images\[3\] repeats image id 42"),
    (lambda d: [d], r"the top level must be a JSON object, got list"),
])
def test_malformed_coco_names_file_and_field(tmp_path, mutate, message):
    path = write(tmp_path / "captions.json", mutate(coco()))
    with pytest.raises(F.DataFormatError, match=rf"^load_coco_captions: {re.escape(str(path))}: {message}"):
        F.load_coco_captions(path)


def test_missing_and_not_json_files(tmp_path):
    missing = tmp_path / "nowhere" / "captions.json"
    with pytest.raises(FileNotFoundError, match=rf"^load_coco_captions: {re.escape(str(missing))}: no such file"):
        F.load_coco_captions(missing)
    bad = write(tmp_path / "bad.json", '{"images": [1, 2,')
    with pytest.raises(ValueError, match=rf"^load_coco_captions: {re.escape(str(bad))}: not valid JSON"):
        F.load_coco_captions(bad)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=r"^load_coco_captions: .*binary.json"):
        F.load_coco_captions(binary)
    questions, annotations = vqa()
    q = write(tmp_path / "q.json", questions)
    with pytest.raises(FileNotFoundError, match=r"^load_vqa: .*missing_a.json: no such file"):
        F.load_vqa(q, tmp_path / "missing_a.json")
    with pytest.raises(ValueError, match=r"^load_coco_captions: path must be"):
        F.load_coco_captions(None)
    assert issubclass(F.DataFormatError, ValueError)


def vqa_case(kind):
    questions, annotations = vqa()
    if kind == "no annotation":
        questions["questions"].append({"image_id": 9, "question": "Is it?", "question_id": 99})
    elif kind == "no answer":
        del annotations["annotations"][1]["answers"][3]["answer"]
    elif kind == "answers not list":
        annotations["annotations"][0]["answers"] = "2"
    elif kind == "empty answers":
        annotations["annotations"][0]["answers"] = []
    elif kind == "no answer_type":
        del annotations["annotations"][2]["answer_type"]
    elif kind == "image mismatch":
        annotations["annotations"][0]["image_id"] = 8
    elif kind == "no question":
        del questions["questions"][1]["question"]
    elif kind == "no questions list":
        del questions["questions"]
    elif kind == "repeated question":
        questions["questions"].append(dict(questions["questions"][0]))
    elif kind == "answer not object":
        annotations["annotations"][0]["answers"][0] = "2"
    return questions, annotations


@pytest.mark.parametrize("kind, in_file, message", [
    ("no annotation", "q", r"questions\[2\] \(question id 99\) has no annotation in .*a.json"),
    ("no answer", "a", r"annotations\[1\]\['answers'\]\[3\] has no 'answer'"),
    ("answers not list", "a", r"annotations\[0\]\['answers'\] must be list"),
    ("empty answers", "a", r"annotations\[0\]\['answers'\] must not be empty"),
    ("no answer_type", "a", r"annotations\[2\] has no 'answer_type'"),
    ("image mismatch", "a", r"annotations\[0\] gives image id 8 for question id 70"),
    ("no question", "q", r"questions\[1\] has no 'question'"),
    ("no questions list", "q", r"has no 'questions'"),
    ("repeated question", "q", r"questions\[2\] repeats question id 420"),
    ("answer not object", "a", r"annotations\[0\]\['answers'\]\[0\] must be an object"),
])
def test_malformed_vqa_names_file_and_field(tmp_path, kind, in_file, message):
    questions, annotations = vqa_case(kind)
    q = write(tmp_path / "q.json", questions)
    a = write(tmp_path / "a.json", annotations)
    path = q if in_file == "q" else a
    with pytest.raises(F.DataFormatError, match=rf"^load_vqa: {re.escape(str(path))}: {message}"):
        F.load_vqa(q, a)


def test_tokenize_and_vocab_from_captions(tmp_path):
    assert F.tokenize_caption("A dog, running on the BEACH.") == ["a", "dog", "running", "on", "the", "beach"]
    assert F.tokenize_caption("The dog's ball isn't red!") == ["the", "dog's", "ball", "isn't", "red"]
    assert F.tokenize_caption("what colour is the circle ?", keep_punctuation=True) == \
        ["what", "colour", "is", "the", "circle", "?"]
    assert F.tokenize_caption("three shapes : a red circle , a blue square", keep_punctuation=True) == \
        "three shapes : a red circle , a blue square".split()
    images = F.load_coco_captions(write(tmp_path / "captions.json", coco()))
    texts = [c for im in images for c in im.captions]
    vocab = F.build_vocab_from_captions(texts)
    assert isinstance(vocab, WordVocab) and vocab.id_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert vocab.id_to_word[4:7] == ["a", "dog", "on"]                 # by count, then alphabetical
    assert vocab.id_to_word == F.build_vocab_from_captions(list(reversed(texts))).id_to_word
    words = F.tokenize_caption(texts[0])
    assert vocab.decode(vocab.encode(words)) == " ".join(words)
    frequent = F.build_vocab_from_captions(texts, min_count=2)
    assert frequent.id_to_word[4:] == ["a", "dog", "on", "the"]
    assert frequent.encode(["a", "cats"]) == [4, 3]
    batch = frequent.encode_batch([F.tokenize_caption(t) for t in texts])
    assert batch.shape == (3, 2 + max(len(F.tokenize_caption(t)) for t in texts))


@pytest.mark.parametrize("call, fname", [
    (lambda: F.tokenize_caption(None), "tokenize_caption"),
    (lambda: F.build_vocab_from_captions("a dog"), "build_vocab_from_captions"),
    (lambda: F.build_vocab_from_captions(["a dog"], min_count=0), "build_vocab_from_captions"),
    (lambda: F.load_vqa(3, "a.json"), "load_vqa"),
])
def test_format_bad_arguments(call, fname):
    with pytest.raises(ValueError, match=rf"^{fname}: "):
        call()
