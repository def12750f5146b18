"""The minibatch loop the captioners of notebooks 06 and 07 share.

    as_tensor            numpy array or tensor -> detached tensor of a dtype, or a clear error
    caption_rows         check (features, captions, image_index) and give the row of each caption
    caption_lengths      the number of columns each caption needs (up to its last real token)
    loop_settings        the loop's arguments checked, before the caller does any work
    train_on_captions    Adam over random minibatches of captions: learning-rate schedule,
                         clipping, progress bar, log lines and per-step history

What differs between the models (which loss, what it records) is one function, ``batch_loss``;
the rest (order of the minibatches, optimiser, schedule, clipping, bookkeeping) is here once, so
both notebooks train the same way and a fix lands in both.
"""
import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from utils import validate

SCHEDULES = ("constant", "cosine")


def as_tensor(fname, name, value, dtype):
    """value (numpy array or torch tensor) as a detached tensor of dtype, or a ValueError.

    dtype torch.long: value must hold integers; a float dtype: finite numbers.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{fname}: {name} must hold numbers, got dtype {value.dtype}")
        value = torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{fname}: {name} must be a numpy array or torch tensor, "
                         f"got {validate.shown(value)}")
    if dtype == torch.long and value.is_floating_point():
        raise ValueError(f"{fname}: {name} must hold integer ids, got dtype {value.dtype}")
    if dtype.is_floating_point:
        validate.finite_numbers(fname, name, value)
    return value.detach().to(dtype)


def caption_rows(fname, features, captions, image_index, vocab_size, features_name="features"):
    """Check captions against the image rows they belong to.

    features: tensor with one row per caption (M, ...) or, with image_index, per scene (S, ...).
    captions: (M, T + 1) long tensor of ids in [0, vocab_size).
    image_index: None (row m for caption m) or (M,) ints in [0, S).
    Returns: image_index as an (M,) long tensor.
    """
    if captions.ndim != 2 or captions.shape[1] < 2 or len(captions) == 0:
        raise ValueError(f"{fname}: captions must have shape (M, T + 1) with M >= 1 and T >= 1, "
                         f"got {tuple(captions.shape)}")
    if int(captions.min()) < 0 or int(captions.max()) >= vocab_size:
        raise ValueError(f"{fname}: captions must hold ids in [0, {vocab_size}), got values "
                         f"from {int(captions.min())} to {int(captions.max())}")
    M = len(captions)
    if image_index is None:
        if len(features) != M:
            raise ValueError(f"{fname}: {features_name} must have one row per caption ({M}), got "
                             f"{len(features)} rows; pass image_index to share rows")
        return torch.arange(M)  # device: rows of the CPU arrays; each batch moves to the device
    image_index = torch.from_numpy(validate.int_array(fname, "image_index", image_index,
                                                      ndim=1, low=0, high=len(features)))
    if len(image_index) != M:
        raise ValueError(f"{fname}: image_index must have one entry per caption ({M}), "
                         f"got {len(image_index)}")
    return image_index


def caption_lengths(captions, null_id):
    """(M,) long: 1 + the column of each caption's last non-<NULL> token (minibatches are cut
    after their longest caption, so padding costs nothing)."""
    return (captions != null_id).long().cumsum(1).argmax(1) + 1


def loop_settings(fname, *, steps, batch_size, lr, seed, clip_norm, log_every, schedule):
    """The arguments of train_on_captions that a caller passes through, checked in its name.

    Returns: dict with steps, batch_size (positive ints), lr (> 0), seed (int >= 0), clip_norm
    (> 0 or None), log_every (positive int or None), schedule (one of SCHEDULES), to be passed
    on as ``train_on_captions(..., **settings)``.
    """
    validate.one_of(fname, "schedule", schedule, SCHEDULES)
    return {"steps": validate.positive_int(fname, "steps", steps),
            "batch_size": validate.positive_int(fname, "batch_size", batch_size),
            "lr": validate.positive_number(fname, "lr", lr),
            "seed": validate.seed(fname, seed),
            "clip_norm": None if clip_norm is None else validate.positive_number(fname, "clip_norm", clip_norm),
            "log_every": None if log_every is None else validate.positive_int(fname, "log_every", log_every),
            "schedule": schedule}


def train_on_captions(model, batch_loss, count, *, steps, batch_size, lr, device, seed, clip_norm,
                      schedule, progress, log_every, log, desc, shown):
    """Adam over random minibatches of ``count`` captions (arguments checked by the caller,
    with ``loop_settings``).

    model: the torch module (moved to device, left in train mode).
    batch_loss: function(rows, step) -> (loss tensor, record dict of floats), rows an (B,) long
        tensor of caption indices (on the CPU); the record's keys are the history's lists.
    count: M captions; each epoch visits them in a new random order (torch generator of seed),
        without replacement; a last partial minibatch is skipped.
    schedule: "constant" or "cosine" (lr decays to 0 over the steps). clip_norm: global-norm
        clipping, or None. progress: tqdm bar named desc. log_every: a line "step k | key mean
        ..." over the ``shown`` keys every this many steps (None: no lines), through ``log``.
    Returns: history dict: "step" and one list per record key, "final_<shown[0]>" (mean of the
        last 5 % of the steps), "seconds", "steps", "device".
    """
    model.to(device)
    model.train()
    order = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    permutation, position = torch.randperm(count, generator=order), 0  # device: CPU rows, as order
    history = {"step": []}
    main = shown[0]
    bar = tqdm(total=steps, desc=desc, disable=not progress, leave=False, mininterval=0.5)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        if schedule == "cosine":
            for group in optimiser.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
        if position + batch_size > count:
            permutation, position = torch.randperm(count, generator=order), 0  # device: CPU rows, as order
        rows = permutation[position:position + batch_size]
        position += batch_size
        loss, record = batch_loss(rows, step)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimiser.step()
        history["step"].append(step)
        for key, value in record.items():
            history.setdefault(key, []).append(value)
        bar.update(1)
        if step % 25 == 0 or step == steps:
            bar.set_postfix({main: f"{np.mean(history[main][-25:]):.3f}"})
        if log_every is not None and (step % log_every == 0 or step == steps):
            recent = slice(len(history[main]) - ((step - 1) % log_every + 1), None)
            log(f"step {step:5d} | " + " | ".join(f"{key} {np.mean(history[key][recent]):.3f}"
                                                  for key in shown))
    bar.close()
    tail = max(1, steps // 20)
    history.update({f"final_{main}": float(np.mean(history[main][-tail:]))},
                   seconds=time.perf_counter() - start, steps=steps, device=str(device))
    return history
