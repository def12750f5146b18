"""Training runs on the adding problem: Adam with clipping for any cell, and plain SGD for 04.

    train_adding           Adam on fresh random batches for a fixed number of steps, with a test curve
    train_rnn_sgd          plain SGD on a vanilla RNN, with an optional clipping function (04)
    initial_gradient_norm  the typical gradient norm of that untrained model
"""
import contextlib

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from utils import validate
from utils.course import as_device, seeded, torch_threads
from utils.data.adding import adding_problem
from utils.models.adding import AddingModel, evaluate_adding, vanilla_adding_model
from utils.models.cells import CELLS

def train_adding(cell="lstm", length=100, steps=1500, hidden_size=32, batch_size=32, lr=1e-2,
                 clip_norm=1.0, forget_bias=1.0, seed=0, eval_every=100, test_size=1000,
                 device="cpu", threads=1, progress=True):
    """Train an AddingModel on the adding problem for a fixed number of Adam steps.

    cell, hidden_size, forget_bias: see AddingModel; length: T; steps: optimizer steps, each on
    a fresh random batch of batch_size sequences; lr: Adam learning rate; clip_norm: gradient
    clipping by global norm (None: none); seed: model initialisation and data; eval_every:
    steps between test evaluations; test_size: size of the fixed test set (seeded separately,
    the same for every cell); device: torch device; threads: CPU threads during training
    (None: leave torch's setting); progress: tqdm bar.
    Returns: (model, history) with history = dict(step, test_mse (lists), final_test_mse,
    baseline_mse (the test MSE of always answering the mean of the test targets), cell, length,
    steps, hidden_size, parameters).
    """
    fname = "train_adding"
    validate.choice_of_cell(fname, cell, CELLS)
    length = validate.int_in_range(fname, "length", length, 2)
    steps = validate.positive_int(fname, "steps", steps)
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    eval_every = validate.positive_int(fname, "eval_every", eval_every)
    test_size = validate.positive_int(fname, "test_size", test_size)
    lr = validate.positive_number(fname, "lr", lr)
    if clip_norm is not None:
        clip_norm = validate.positive_number(fname, "clip_norm", clip_norm)
    device = as_device(fname, device)
    seed = validate.seed(fname, seed)
    x_test, y_test = adding_problem(test_size, length, rng=np.random.default_rng(10_000 + length))
    context = torch_threads(threads) if threads is not None and device.type == "cpu" else contextlib.nullcontext()
    with context:
        with seeded(seed):
            model = AddingModel(cell, hidden_size, forget_bias=forget_bias).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        rng = np.random.default_rng(seed)
        history = {"step": [], "test_mse": []}
        bar = tqdm(range(1, steps + 1), desc=f"{cell} T={length}", disable=not progress, leave=False)
        for step in bar:
            x, y = adding_problem(batch_size, length, rng)
            x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            loss = ((model(x) - y) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            opt.step()
            if step % eval_every == 0 or step == steps:
                history["step"].append(step)
                history["test_mse"].append(evaluate_adding(model, x_test, y_test))
                bar.set_postfix(test_mse=f"{history['test_mse'][-1]:.4f}")
        bar.close()
    history.update(final_test_mse=history["test_mse"][-1],
                   baseline_mse=float(np.mean((y_test - y_test.mean()) ** 2)),
                   cell=cell, length=length, steps=steps, hidden_size=hidden_size,
                   parameters=sum(p.numel() for p in model.parameters()))
    return model, history


def train_rnn_sgd(length=10, steps=1000, hidden_size=32, radius=1.2, lr=0.1, clip=None,
                  batch_size=32, seed=0, progress=True):
    """Plain SGD on the adding problem with a vanilla (tanh) RNN: the clipping experiment of 04.

    length: T; steps: SGD updates; hidden_size: H; radius: spectral radius W_hh starts with
    (> 1 invites exploding gradients); lr: learning rate; clip: None, or a function taking the
    list of gradient arrays (numpy, one per parameter) and returning the list to use instead,
    e.g. ``lambda g: clip_by_global_norm(g, 1.0)[0]``; batch_size; seed; progress: tqdm bar.
    A run stops early when the loss overflows to inf or NaN.
    Returns: dict with loss (steps,) and grad_norm (steps,) numpy arrays (NaN after an
    overflow; grad_norm is the norm before clipping), diverged_at (the step, or None).
    """
    fname = "train_rnn_sgd"
    steps = validate.positive_int(fname, "steps", steps)
    lr = validate.positive_number(fname, "lr", lr)
    if clip is not None and not callable(clip):
        raise ValueError(f"{fname}: clip must be None or a function of the gradient list, got {clip!r}")
    with torch_threads(1):
        model = vanilla_adding_model(hidden_size, radius, seed)
        params = list(model.parameters())
        opt = torch.optim.SGD(params, lr=lr)
        rng = np.random.default_rng(validate.seed("train_rnn_sgd", seed))
        loss_log, norm_log = np.full(steps, np.nan), np.full(steps, np.nan)
        diverged_at = None
        for step in tqdm(range(steps), desc="SGD", disable=not progress, leave=False):
            x, y = adding_problem(batch_size, length, rng)
            loss = ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grads = [p.grad.double().numpy() for p in params]
            norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
            loss_log[step], norm_log[step] = loss.item(), norm
            if not (np.isfinite(loss_log[step]) and np.isfinite(norm)):
                diverged_at = step
                loss_log[step] = norm_log[step] = np.nan
                break
            if clip is not None:
                new = clip(grads)
                with torch.no_grad():
                    for p, g in zip(params, new):
                        p.grad.copy_(torch.as_tensor(np.asarray(g), dtype=p.dtype).reshape(p.shape))
            opt.step()
    return {"loss": loss_log, "grad_norm": norm_log, "diverged_at": diverged_at}


def initial_gradient_norm(length=10, hidden_size=32, radius=1.2, batches=20, batch_size=32, seed=0):
    """Average gradient norm of the untrained train_rnn_sgd model over a few random batches.

    Used as the clipping threshold by the rule of thumb "clip near the typical norm".
    Returns: a float.
    """
    batches = validate.positive_int("initial_gradient_norm", "batches", batches)
    with torch_threads(1):
        model = vanilla_adding_model(hidden_size, radius, seed)
        rng = np.random.default_rng(seed + 1)
        norms = []
        for _ in range(batches):
            x, y = adding_problem(batch_size, length, rng)
            model.zero_grad()
            ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().backward()
            norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))))
    return float(np.mean(norms))
