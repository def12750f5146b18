"""Training the captioner of notebook 06 with teacher forcing.

    train_captioner    Adam on random minibatches of (image features, caption) pairs, clipped,
                       for a fixed number of steps; deterministic on the CPU for a seed
    default_budget     the model, data and steps of notebook 06's own short training run
"""
import contextlib

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


def default_budget(device):
    """The captioner and training budget of notebook 06's own training run.

    Returns: dict with train_scenes, captions_per_scene, wordvec_dim, hidden_dim, cell,
    conditioning, steps, batch_size, lr, schedule, and evaluate_live: whether the notebook
    evaluates the model it trained (a GPU's run) or, after a CPU's short run that only shows the
    loss falling (a few seconds on one thread), the shipped checkpoint of the full recipe
    (``python -m utils.tools.train_captioner``: 24,000 scenes, 4,000 steps).
    """
    model = dict(captions_per_scene=5, cell="lstm", conditioning="every_step", batch_size=64,
                 schedule="cosine")
    cpu = dict(model, train_scenes=2000, wordvec_dim=32, hidden_dim=128, steps=300, lr=3e-3,
               evaluate_live=False)
    return scaled_budget(
        as_device("default_budget", device, must_exist=False), cpu=cpu,
        accelerator=dict(model, train_scenes=24000, wordvec_dim=64, hidden_dim=256, steps=8000,
                         batch_size=128, lr=2e-3, evaluate_live=True),
        tiny=dict(cpu, train_scenes=200, steps=2))
