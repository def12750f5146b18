"""Training and prediction for the VQA models of notebook 08.

    vqa_data         a split's questions (utils.data.vqa.vqa_arrays) with the shipped encoder's
                     summary vectors and grids of its scenes
    train_vqa        cross-entropy over the 42 answers (classifiers) or over the 4 candidates
                     (Visual7W), with the minibatch loop of notebooks 06-07
                     (``utils.training.minibatches.train_on_captions``: a row is a question)
    predict          answers (indices in answer_vocab()) and attention maps of many questions
    VQARecipe        sizes, data and steps per model kind, typed; presets CPU_RECIPE,
                     ACCELERATOR_RECIPE, TINY_RECIPE, CHECKPOINT_RECIPE (the shipped models)
    model_sizes      the sizes of a recipe that one model kind takes
    default_budget   the recipe of notebook 08's live runs on a device
"""
import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from utils import validate
from utils.course import as_device, eval_mode, model_device, scaled_budget
from utils.data.shapes import SPLITS
from utils.data.vqa import vqa_arrays
from utils.models import encoder as image_encoder
from utils.models.vqa import VQAModel, is_multiple_choice
from utils.models.vqa_io import batch_tensors
from utils.training.minibatches import loop_settings, train_on_captions


def vqa_data(split, count, start=0):
    """(data, summary, grid): vqa_arrays(split, count) and the cached encoder features of its
    scenes, summary (S, 256) and grid (S, 64, 64) float32 tensors (S = data["num_scenes"])."""
    fname = "vqa_data"
    validate.one_of(fname, "split", split, SPLITS)
    data = vqa_arrays(split, count, start=start)
    summary, grid = image_encoder.cached_features(split, data["num_scenes"])
    return data, summary, grid


def _check_model(fname, model):
    if not isinstance(model, VQAModel):
        raise ValueError(f"{fname}: model must be a VQA model of utils.models.vqa, got "
                         f"{validate.shown(model)}")


def train_vqa(model, data, summary, grid, *, steps=500, batch_size=64, lr=2e-3, device="cpu",
              seed=0, clip_norm=5.0, schedule="cosine", progress=True, log_every=None, log=print):
    """Adam on the cross-entropy of the right answer (classifiers: over the answer vocabulary;
    Visual7W: over the question's four candidates).

    data, summary, grid: from vqa_data. steps, batch_size: positive ints; lr: > 0.
    Returns: the history of train_on_captions ("loss", "accuracy" per step, "final_loss",
    "seconds"...).
    """
    fname = "train_vqa"
    _check_model(fname, model)
    settings = loop_settings(fname, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                             clip_norm=clip_norm, log_every=log_every, schedule=schedule)
    batch_size = settings["batch_size"]
    count = len(data["answer"])
    if batch_size > count:
        raise ValueError(f"{fname}: batch_size must be at most the {count} questions, got {batch_size}")
    device = as_device("train_vqa", device)
    multiple_choice = is_multiple_choice(model)

    def batch_loss(rows, step):
        batch = batch_tensors(data, rows, summary, grid, device)
        scores = model(batch)["scores"]
        target = batch["correct"] if multiple_choice else batch["answer"]
        loss = F.cross_entropy(scores, target)
        accuracy = (scores.argmax(1) == target).float().mean().item()
        return loss, {"loss": loss.item(), "accuracy": accuracy}

    return train_on_captions(model, batch_loss, count, **settings, device=device, progress=progress,
                             log=log, desc=f"training {model.kind}", shown=("loss", "accuracy"))


def predict(model, data, summary, grid, batch_size=500):
    """Answers of every question of data, in eval mode.

    Returns: dict with "answer" (M,) int64 predicted answer indices (Visual7W: the chosen
    candidate's answer), "probs" (M, A) or (M, 4) float32 softmax of the scores, "attention"
    (M, hops, L) float32 or None.
    """
    fname = "predict"
    _check_model(fname, model)
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    device = model_device(model)
    M = len(data["answer"])
    answers, probs, maps = [], [], []
    with eval_mode(model):
        for start in range(0, M, batch_size):
            rows = np.arange(start, min(M, start + batch_size))
            batch = batch_tensors(data, rows, summary, grid, device)
            out = model(batch)
            p = torch.softmax(out["scores"], dim=1)
            choice = p.argmax(1)
            if is_multiple_choice(model):
                choice = batch["candidates"].gather(1, choice[:, None]).squeeze(1)
            answers.append(choice.cpu().numpy())
            probs.append(p.float().cpu().numpy())
            if out["attention"] is not None:
                maps.append(out["attention"].float().cpu().numpy())
    attention = None
    if maps:
        width = max(m.shape[1] for m in maps)
        attention = np.concatenate([np.pad(m, ((0, 0), (0, width - m.shape[1]), (0, 0))) for m in maps])
    return {"answer": np.concatenate(answers).astype(np.int64), "probs": np.concatenate(probs),
            "attention": attention}


@dataclasses.dataclass(frozen=True)
class VQARecipe:
    """Sizes, data and training steps of the VQA models (notebook 08, and ``python -m
    utils.tools.train_vqa``). steps: optimizer steps per model kind (models.vqa.MODEL_KINDS)."""
    train_questions: int = 6000
    test_questions: int = 1200
    wordvec_dim: int = 32
    hidden_dim: int = 128
    attention_dim: int = 128
    fused_dim: int = 128
    batch_size: int = 64
    lr: float = 3e-3
    steps: dict = dataclasses.field(default_factory=lambda: {
        "question_only": 150, "image_only": 150, "concat": 150, "product": 150, "san1": 150,
        "san2": 150, "visual7w": 100})


# Notebook 08's live runs: well under a minute on a 2-core CPU.
CPU_RECIPE = VQARecipe()
ACCELERATOR_RECIPE = VQARecipe(train_questions=24000, steps={k: 4 * v for k, v in CPU_RECIPE.steps.items()})
TINY_RECIPE = VQARecipe(train_questions=600, test_questions=300, steps={k: 2 for k in CPU_RECIPE.steps})
# The shipped checkpoints; changing a number here changes them: rerun the command.
CHECKPOINT_RECIPE = VQARecipe(train_questions=60000, test_questions=3000, steps={
    "question_only": 1500, "image_only": 1500, "concat": 3000, "product": 3000, "san1": 4000,
    "san2": 7000, "visual7w": 3000})


def model_sizes(recipe, kind):
    """The recipe's sizes that a model of ``kind`` takes (keyword arguments of build_model)."""
    sizes = {"wordvec_dim": recipe.wordvec_dim, "hidden_dim": recipe.hidden_dim}
    if kind in ("san1", "san2", "visual7w"):
        sizes["attention_dim"] = recipe.attention_dim
    if kind in ("concat", "product"):
        sizes["fused_dim"] = recipe.fused_dim
    return sizes


def default_budget(device):
    """Notebook 08's live runs for a device: CPU_RECIPE, ACCELERATOR_RECIPE or, under
    COURSE_BUDGET=tiny, TINY_RECIPE (a ``VQARecipe``; utils.course.scaled_budget)."""
    return scaled_budget(device, cpu=CPU_RECIPE, accelerator=ACCELERATOR_RECIPE,
                         tiny=TINY_RECIPE, fname="default_budget")
