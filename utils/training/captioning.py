"""Training the captioner of notebook 06 with teacher forcing.

    train_captioner    Adam on random minibatches of (image features, caption) pairs, clipped,
                       for a fixed number of steps; deterministic on the CPU for a seed
    CaptionerRecipe    one run's data, sizes and optimisation, typed; presets CPU_RECIPE,
                       ACCELERATOR_RECIPE, TINY_RECIPE and CHECKPOINT_RECIPE (the shipped model)
    default_budget     the recipe of notebook 06's own training run on a device
"""
import contextlib
import dataclasses

import torch

from utils import validate
from utils.course import as_device, scaled_budget, torch_threads
from utils.models.captioner import Captioner
from utils.training.minibatches import (as_tensor, caption_lengths, caption_rows, loop_settings,
                                        train_on_captions)


def train_captioner(model, features, captions, *, steps, batch_size, lr, device="cpu", seed=0,
                    clip_norm=5.0, progress=True, log_every=None, image_index=None,
                    schedule="constant", log=print, threads=1, fit_normalisation=True):
    """Train a Captioner on (features, caption) pairs with Adam, teacher forcing and clipping.

    model: a Captioner (trained in place, left in train mode on ``device``).
    features: (M, P) float image features, row m for caption m; or, with image_index, (S, P)
        one row per scene.
    captions: (M, T + 1) int ids: <START> words <END> <NULL>... (utils.data.captions).
    steps: number of Adam steps; batch_size: captions per step (random, without replacement
        within an epoch); lr: Adam's learning rate.
    device: where to train. seed: seeds the minibatch order (the weights come from the model).
    clip_norm: gradient clipping by global norm (None: no clipping).
    progress: show a tqdm bar. log_every: print "step k | loss x" every this many steps
        (the mean over those steps), None for no lines.
    image_index: optional (M,) ints, the features row of each caption.
    schedule: "constant" or "cosine" (the learning rate decays to 0 over the steps).
    log: where the lines go.
    fit_normalisation: first set the model's feature standardisation from ``features``
        (Captioner.fit_feature_normalisation); False keeps the model's current statistics
        (e.g. to continue training, or for features that are already standardised).
    threads: torch CPU threads while training (default 1: each step multiplies matrices too
        small to split, and on a busy machine extra threads mostly wait; None keeps the current
        setting).
    Returns: history dict: "step" (list 1..steps), "loss" (the loss of each step), "final_loss"
        (mean loss of the last 5 % of the steps), "seconds" (training time), "steps",
        "device". Each minibatch is cut after its longest caption, so padding costs nothing.
    Deterministic on the CPU for a given seed, model and number of threads.
    """
    fname = "train_captioner"
    if not isinstance(model, Captioner):
        raise ValueError(f"{fname}: model must be a Captioner, got {validate.shown(model)}")
    settings = loop_settings(fname, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                             clip_norm=clip_norm, log_every=log_every, schedule=schedule)
    device = as_device("train_captioner", device)
    features = as_tensor(fname, "features", features, torch.float32)
    captions = as_tensor(fname, "captions", captions, torch.long)
    if features.ndim != 2 or features.shape[1] != model.feature_dim:
        raise ValueError(f"{fname}: features must have shape (M, {model.feature_dim}), "
                         f"got {tuple(features.shape)}")
    image_index = caption_rows(fname, features, captions, image_index, model.vocab_size)
    lengths = caption_lengths(captions, model.null_id)

    if fit_normalisation:
        model.fit_feature_normalisation(features)
    threads = torch_threads(validate.positive_int(fname, "threads", threads)) \
        if threads is not None else contextlib.nullcontext()
    features, captions = features.to(device), captions.to(device)

    def batch_loss(rows, step):
        width = int(lengths[rows].max())
        loss = model.loss(features[image_index[rows].to(device)], captions[rows.to(device), :max(width, 2)])
        return loss, {"loss": loss.item()}

    with threads:
        return train_on_captions(model, batch_loss, len(captions), **settings, device=device,
                                 progress=progress, log=log, desc="training captioner",
                                 shown=("loss",))


@dataclasses.dataclass(frozen=True)
class CaptionerRecipe:
    """One captioner training run: data, model sizes and optimisation (notebook 06, and the
    shipped checkpoint of ``python -m utils.tools.train_captioner``)."""
    train_scenes: int = 2000          # the first train-split scenes
    captions_per_scene: int = 5
    cell: str = "lstm"
    conditioning: str = "every_step"  # how the image enters: models.captioner_numpy.CONDITIONINGS
    wordvec_dim: int = 32
    hidden_dim: int = 128
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    schedule: str = "cosine"
    clip_norm: float = 5.0
    evaluate_live: bool = False       # notebook 06 evaluates the model it trained, else the shipped one


# The CPU's run only shows the loss falling (a few seconds on one thread); the notebook then
# evaluates the shipped checkpoint. A GPU trains the full model and evaluates it.
CPU_RECIPE = CaptionerRecipe()
ACCELERATOR_RECIPE = CaptionerRecipe(train_scenes=24000, wordvec_dim=64, hidden_dim=256, steps=8000,
                                     batch_size=128, lr=2e-3, evaluate_live=True)
TINY_RECIPE = dataclasses.replace(CPU_RECIPE, train_scenes=200, steps=2)
# Changing a number here changes the shipped checkpoint: rerun the command. It trains both
# conditionings with this recipe and ships the better on validation.
CHECKPOINT_RECIPE = CaptionerRecipe(train_scenes=24000, steps=4000)


def default_budget(device):
    """Notebook 06's own training run for a device: CPU_RECIPE, ACCELERATOR_RECIPE or, under
    COURSE_BUDGET=tiny, TINY_RECIPE (a ``CaptionerRecipe``; utils.course.scaled_budget)."""
    return scaled_budget(device, cpu=CPU_RECIPE, accelerator=ACCELERATOR_RECIPE,
                         tiny=TINY_RECIPE, fname="default_budget")
