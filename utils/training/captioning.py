"""Training the captioner of notebook 06 with teacher forcing.

    train_captioner    Adam on random minibatches of (image features, caption) pairs, clipped,
                       for a fixed number of steps; deterministic on the CPU for a seed
    default_budget     the model, data and steps of notebook 06's own short training run
"""
import contextlib
import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from utils import validate
from utils.course import scaled_budget, torch_threads
from utils.models.captioner import Captioner

SCHEDULES = ("constant", "cosine")


def _as_tensor(fname, name, value, dtype):
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{fname}: {name} must be a numpy array or torch tensor, "
                         f"got {validate.shown(value)}")
    return value.detach().to(dtype)


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
    steps = validate.positive_int(fname, "steps", steps)
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    lr = validate.positive_number(fname, "lr", lr)
    seed = validate.int_in_range(fname, "seed", seed, 0)
    if clip_norm is not None:
        clip_norm = validate.positive_number(fname, "clip_norm", clip_norm)
    if log_every is not None:
        log_every = validate.positive_int(fname, "log_every", log_every)
    validate.one_of(fname, "schedule", schedule, SCHEDULES)
    device = torch.device(device)
    features = _as_tensor(fname, "features", features, torch.float32)
    captions = _as_tensor(fname, "captions", captions, torch.long)
    if features.ndim != 2 or features.shape[1] != model.feature_dim:
        raise ValueError(f"{fname}: features must have shape (M, {model.feature_dim}), "
                         f"got {tuple(features.shape)}")
    if captions.ndim != 2 or captions.shape[1] < 2 or len(captions) == 0:
        raise ValueError(f"{fname}: captions must have shape (M, T + 1) with M >= 1 and T >= 1, "
                         f"got {tuple(captions.shape)}")
    if int(captions.min()) < 0 or int(captions.max()) >= model.vocab_size:
        raise ValueError(f"{fname}: captions must hold ids in [0, {model.vocab_size}), got values "
                         f"from {int(captions.min())} to {int(captions.max())}")
    M = len(captions)
    if image_index is None:
        if len(features) != M:
            raise ValueError(f"{fname}: features must have one row per caption ({M}), got "
                             f"{len(features)} rows; pass image_index to share rows")
        image_index = torch.arange(M)
    else:
        image_index = torch.from_numpy(validate.int_array(fname, "image_index", image_index,
                                                          ndim=1, low=0, high=len(features)))
        if len(image_index) != M:
            raise ValueError(f"{fname}: image_index must have one entry per caption ({M}), "
                             f"got {len(image_index)}")
    # the last column that ever holds a target, per caption: batches are cut after their longest
    lengths = (captions != model.null_id).long().cumsum(1).argmax(1) + 1     # (M,)

    if fit_normalisation:
        model.fit_feature_normalisation(features)
    threads = torch_threads(validate.positive_int(fname, "threads", threads)) \
        if threads is not None else contextlib.nullcontext()
    with threads:
        return _train(model, features, captions, image_index, lengths, steps, batch_size, lr,
                      device, seed, clip_norm, progress, log_every, schedule, log)


def _train(model, features, captions, image_index, lengths, steps, batch_size, lr, device, seed,
           clip_norm, progress, log_every, schedule, log):
    """The loop of train_captioner (arguments checked there)."""
    M = len(captions)
    model.to(device)
    model.train()
    features, captions = features.to(device), captions.to(device)
    order = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    permutation, position = torch.randperm(M, generator=order), 0
    history = {"step": [], "loss": []}
    bar = tqdm(total=steps, desc="training captioner", disable=not progress, leave=False,
               mininterval=0.5)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if schedule == "cosine":
            for group in optimiser.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
        if position + batch_size > M:
            permutation, position = torch.randperm(M, generator=order), 0
        rows = permutation[position:position + batch_size]
        position += batch_size
        width = int(lengths[rows].max())
        batch = captions[rows.to(device), :max(width, 2)]
        loss = model.loss(features[image_index[rows].to(device)], batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimiser.step()
        value = loss.item()
        history["step"].append(step)
        history["loss"].append(value)
        bar.update(1)
        if step % 25 == 0 or step == steps:
            bar.set_postfix(loss=f"{np.mean(history['loss'][-25:]):.3f}")
        if log_every is not None and (step % log_every == 0 or step == steps):
            recent = history["loss"][len(history["loss"]) - ((step - 1) % log_every + 1):]
            log(f"step {step:5d} | loss {np.mean(recent):.3f}")
    bar.close()
    tail = max(1, steps // 20)
    history.update(final_loss=float(np.mean(history["loss"][-tail:])),
                   seconds=time.perf_counter() - start, steps=steps, device=str(device))
    return history


def default_budget(device):
    """A captioner and training budget for notebook 06's own training demonstration.

    Returns: dict with train_scenes, captions_per_scene, wordvec_dim, hidden_dim, cell,
    conditioning, steps, batch_size, lr, schedule. On a CPU it is a short run (about a minute
    on one thread) whose captions are already mostly right; the shipped checkpoint
    (``python -m utils.tools.train_captioner``) trains the same model on more data for longer.
    A GPU trains a bigger model on more scenes.
    """
    return scaled_budget(
        torch.device(device),
        cpu=dict(train_scenes=4000, captions_per_scene=5, wordvec_dim=32, hidden_dim=128,
                 cell="lstm", conditioning="every_step", steps=1200, batch_size=64, lr=3e-3,
                 schedule="cosine"),
        accelerator=dict(train_scenes=24000, captions_per_scene=5, wordvec_dim=64, hidden_dim=256,
                         cell="lstm", conditioning="every_step", steps=8000, batch_size=128,
                         lr=2e-3, schedule="cosine"))
