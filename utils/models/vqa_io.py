"""The VQA models of notebook 08 in use: their batches, their shipped checkpoints, one typed question.

    batch_tensors             one minibatch of questions with their scenes' features, as the models read it
    checkpoint_path           datasets/vqa/<kind>.pt, the shipped model of a kind
    save_vqa_model, load_vqa_model   write a model (the format of utils.models.checkpoints), read it back
    answer_question           the answer distribution of one typed or generated question

The models themselves are in ``utils.models.vqa``.
"""
import numpy as np
import torch

from utils import validate
from utils.data import shapes_language as language
from utils.data import shapes_questions
from utils.data.vqa import encode_typed_question
from utils.models import checkpoints
from utils.models.vqa import MODEL_KINDS, VQAModel, build_model, is_multiple_choice

CHECKPOINT_DIR = checkpoints.DATASETS / "vqa"
REBUILD_COMMAND = "python -m utils.tools.train_vqa"


# ----------------------------------------------------------------------------- inputs
def batch_tensors(data, rows, summary, grid, device="cpu"):
    """One minibatch for the models.

    data: dict of ``utils.data.vqa.vqa_arrays``; rows: (B,) indices of questions;
    summary (S, P), grid (S, L, D): float tensors of the split's scenes (cached_features).
    Returns: dict of tensors on device: question (B, T') cut after the longest question of
    the batch, lengths (B,), summary (B, P), grid (B, L, D), answer, qtype, candidates (B, 4),
    correct, candidate_boxes (B, 4, 4), candidate_present (B, 4).
    """
    fname = "batch_tensors"
    if not isinstance(data, dict) or "lengths" not in data or "scene" not in data:
        raise ValueError(f"{fname}: data must be the dict of vqa_data / vqa_arrays, got "
                         f"{validate.shown(data)}")
    r = validate.int_array(fname, "rows", rows, ndim=1, low=0, high=len(data["lengths"]))
    if not r.size:
        raise ValueError(f"{fname}: rows must name at least one question, got none")
    _check_scene_features(fname, summary, grid, int(data["scene"].max()) + 1)
    lengths = torch.from_numpy(data["lengths"][r])
    width = max(int(lengths.max()), 1)
    scene = torch.from_numpy(data["scene"][r])
    out = {"question": torch.from_numpy(data["question"][r, :width]), "lengths": lengths,
           "summary": summary[scene], "grid": grid[scene]}
    for key in ("answer", "qtype", "candidates", "correct", "candidate_boxes", "candidate_present"):
        out[key] = torch.from_numpy(np.asarray(data[key][r]))
    for key in ("summary", "grid"):  # only the rows used: checking every scene each step costs
        validate.finite_numbers(fname, key, out[key])
    return {k: v.to(device) for k, v in out.items()}


def _check_scene_features(fname, summary, grid, scenes):
    """ValueError unless summary (S, P) and grid (S, L, D) are float tensors with S >= scenes."""
    for name, value, ndim in (("summary", summary, 2), ("grid", grid, 3)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.ndim != ndim \
                or 0 in value.shape:
            wanted = "(S, P)" if ndim == 2 else "(S, L, D)"
            raise ValueError(f"{fname}: {name} must be a non-empty float tensor of shape {wanted} "
                             f"(cached_features), got {validate.shown(value)}")
    if len(summary) != len(grid) or len(summary) < scenes:
        raise ValueError(f"{fname}: summary and grid must hold the same scenes, at least {scenes} "
                         f"(the questions' scenes), got {len(summary)} and {len(grid)}")


# ------------------------------------------------------------------------------ checkpoints
def checkpoint_path(kind):
    """datasets/vqa/<kind>.pt, the shipped model of a kind."""
    validate.one_of("checkpoint_path", "kind", kind, MODEL_KINDS)
    return checkpoints.shipped_path("vqa", kind)


def save_vqa_model(model, path=None, meta=None):
    """Write a model: {"state_dict" (float32), "config", "vocab", "meta"}; returns the Path."""
    fname = "save_vqa_model"
    if not isinstance(model, VQAModel):
        raise ValueError(f"{fname}: model must be a VQA model of utils.models.vqa, got {validate.shown(model)}")
    return checkpoints.write_checkpoint(fname, model, checkpoint_path(model.kind) if path is None else path,
                                        language.build_vocab(), meta)


def load_vqa_model(kind=None, path=None, device="cpu"):
    """A model saved by save_vqa_model, in eval mode, with attribute ``checkpoint_meta``.

    kind: one of MODEL_KINDS (picks datasets/vqa/<kind>.pt) or None with a path.
    Raises models.checkpoints.CheckpointError (missing, corrupt, another vocabulary, sizes that
    do not fit this code), naming the rebuild command.
    """
    fname = "load_vqa_model"
    if path is None and kind is None:
        raise ValueError(f"{fname}: give a kind (one of {list(MODEL_KINDS)}) or a path")
    path = checkpoints.as_path(fname, path, None if path is not None else
                                checkpoint_path(validate.one_of(fname, "kind", kind, MODEL_KINDS)))
    checkpoint = checkpoints.read_checkpoint(fname, path, REBUILD_COMMAND, "VQA checkpoint", language.build_vocab())
    config = dict(checkpoint["config"])
    try:
        kind_saved = config.pop("kind")
        config.pop("fusion", None)
        config.pop("hops", None)
        model = build_model(kind_saved, config.pop("vocab_size"), **config)
        model.load_state_dict(checkpoint["state_dict"])
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise checkpoints.load_failed(fname, path, REBUILD_COMMAND, "VQA model", error) from None
    model.checkpoint_meta = checkpoint["meta"]
    model.eval()
    return model.to(device)


# ------------------------------------------------------------------------------ one question
def answer_question(model, summary, grid, text, qtype=None, top=5):
    """The answer distribution of one typed or generated question about one scene.

    model: a classifier of this module (not Visual7W, which needs candidates).
    summary: (P,) or (1, P) and grid: (L, D) or (1, L, D) float tensors of the scene.
    text: the question; words outside the vocabulary become <UNK> (listed in "unknown").
    Returns: dict with "answers" (the top answers, most probable first), "probs" (their
    probabilities), "all_probs" (A,) numpy, "attention" (hops, L) numpy or None, "unknown"
    (list of words read as <UNK>), "words" (the words the model read).
    Raises ValueError with a readable message for an empty question or a wrong model.
    """
    fname = "answer_question"
    if not isinstance(model, VQAModel) or is_multiple_choice(model):
        raise ValueError(f"{fname}: model must be an answer classifier of utils.models.vqa "
                         f"(not the multiple-choice Visual7W), got {validate.shown(model)}")
    vocab = language.build_vocab()
    ids, unknown = encode_typed_question(vocab, text, fname)
    top = validate.positive_int(fname, "top", top)
    device = next(model.parameters()).device
    summary = torch.as_tensor(summary, dtype=torch.float32)
    grid = torch.as_tensor(grid, dtype=torch.float32)
    if summary.numel() != model.summary_dim or grid.ndim not in (2, 3) or grid.shape[-1] != model.feature_dim \
            or (grid.ndim == 3 and grid.shape[0] != 1):
        raise ValueError(f"{fname}: summary must be one scene's ({model.summary_dim},) vector and grid "
                         f"its (L, {model.feature_dim}) features, got shapes {tuple(summary.shape)} "
                         f"and {tuple(grid.shape)}")
    if grid.shape[-2] == 0:
        raise ValueError(f"{fname}: grid must hold at least one location, got shape {tuple(grid.shape)}")
    validate.finite_numbers(fname, "summary", summary)
    validate.finite_numbers(fname, "grid", grid)
    summary, grid = summary.reshape(1, -1), grid.reshape(1, *grid.shape[-2:])
    batch = {"question": torch.from_numpy(ids).to(device),
             "lengths": torch.tensor([ids.shape[1]], device=device),
             "summary": summary.to(device), "grid": grid.to(device)}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(batch)
    finally:
        model.train(was_training)
    probs = torch.softmax(out["scores"][0], dim=0).cpu().numpy()
    order = np.argsort(-probs, kind="stable")[:top]
    names = shapes_questions.answer_vocab()
    attention = None if out["attention"] is None else out["attention"][0].cpu().numpy()
    return {"answers": [names[i] for i in order], "probs": probs[order], "all_probs": probs,
            "attention": attention, "unknown": unknown,
            "words": [vocab.id_to_word[i] for i in ids[0]]}
