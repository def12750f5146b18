"""The adding problem, a long-range memory task, and small recurrent models that learn it.

    adding_problem     data: (values, markers) sequences; the target is the sum of the two marked values
    AddingModel        nn.RNN / nn.LSTM / nn.GRU followed by a linear read-out of the last state
    train_adding       Adam on fresh random batches for a fixed number of steps, with a test curve
    evaluate_adding    test mean squared error
    torch_threads      run a block with a given number of CPU threads

The task (Hochreiter & Schmidhuber, 1997, experiment 4; the variant here follows later papers
that use values in [0, 1]): each step carries a random value in [0, 1] and a marker in {0, 1}.
Exactly two steps are marked, one in the first half of the sequence and one in the second.
After reading the whole sequence the network must output the sum of the two marked values.
Always answering the mean, 1, scores a mean squared error of Var(u1 + u2) = 2/12 = 1/6 ~ 0.167:
a model below that has found the marked values, and one far below it remembers the first one
across up to T steps.
"""
import contextlib
import numbers

import numpy as np
import torch
from torch import nn

MEAN_BASELINE_MSE = 1.0 / 6.0  # Var(u1 + u2) for two independent U(0, 1) values
CELLS = ("vanilla", "lstm", "gru")


def _positive_int(fname, name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{fname}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_float(fname, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{fname}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def adding_problem(n, length, rng=None):
    """n random sequences of the adding problem.

    n: number of sequences (>= 1); length: T (>= 2); rng: a numpy Generator, or an int seed,
    or None for a fresh one.
    Returns: x (n, T, 2) float32 with x[..., 0] the values and x[..., 1] the markers,
    y (n,) float32, the sum of the two marked values.
    """
    n = _positive_int("adding_problem", "n", n)
    T = _positive_int("adding_problem", "length", length, minimum=2)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)  # one marker in each half
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1).astype(np.float32)
    return x, y


class AddingModel(nn.Module):
    """A recurrent layer (torch's nn.RNN with tanh, nn.LSTM or nn.GRU) and a linear read-out.

    cell: "vanilla", "lstm" or "gru"; hidden_size: H; input_size: D (2 for the adding problem);
    forget_bias: initial bias of the LSTM forget gate (the sum of torch's two biases for that
    gate; ignored by the other cells; None keeps torch's default initialisation).
    forward(x (B, T, D)) -> predictions (B,), read from the last hidden state.
    """

    def __init__(self, cell="lstm", hidden_size=32, input_size=2, forget_bias=1.0):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"AddingModel: cell must be one of {CELLS}, got {cell!r}")
        H = _positive_int("AddingModel", "hidden_size", hidden_size)
        D = _positive_int("AddingModel", "input_size", input_size)
        self.cell = cell
        self.rnn = {"vanilla": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](D, H, batch_first=True)
        if cell == "lstm" and forget_bias is not None:
            fb = float(forget_bias)
            with torch.no_grad():  # torch orders the gates i, f, g, o: rows H..2H are f
                self.rnn.bias_ih_l0[H:2 * H] = fb
                self.rnn.bias_hh_l0[H:2 * H] = 0.0
        self.head = nn.Linear(H, 1)

    def forward(self, x):
        if x.dim() != 3 or x.shape[2] != self.rnn.input_size:
            raise ValueError(f"AddingModel: x should have shape (B, T, {self.rnn.input_size}), "
                             f"got {tuple(x.shape)}")
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1]).squeeze(-1)  # (B,)


@contextlib.contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch CPU threads, then restore the previous number.

    Small recurrent models are faster on one thread: each time step multiplies matrices too
    small to be worth splitting, and threads would wait for each other T times per batch.
    """
    n = _positive_int("torch_threads", "n", n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def evaluate_adding(model, x, y, batch_size=1000):
    """Mean squared error of the model on (x (N, T, D), y (N,)), numpy or torch. Returns a float."""
    device = next(model.parameters()).device
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        pred = model(x[start:start + batch_size].to(device)).cpu()
        total += float(((pred - y[start:start + batch_size]) ** 2).sum())
    model.train(was_training)
    return total / len(x)


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
    from tqdm.auto import tqdm

    fname = "train_adding"
    if cell not in CELLS:
        raise ValueError(f"{fname}: cell must be one of {CELLS}, got {cell!r}")
    length = _positive_int(fname, "length", length, minimum=2)
    steps = _positive_int(fname, "steps", steps)
    batch_size = _positive_int(fname, "batch_size", batch_size)
    eval_every = _positive_int(fname, "eval_every", eval_every)
    test_size = _positive_int(fname, "test_size", test_size)
    lr = _positive_float(fname, "lr", lr)
    if clip_norm is not None:
        clip_norm = _positive_float(fname, "clip_norm", clip_norm)
    device = torch.device(device)
    x_test, y_test = adding_problem(test_size, length, rng=np.random.default_rng(10_000 + length))
    context = torch_threads(threads) if threads is not None and device.type == "cpu" else contextlib.nullcontext()
    with context:
        torch.manual_seed(seed)
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


def vanilla_adding_model(hidden_size, radius, seed=0):
    """An untrained vanilla-RNN AddingModel whose recurrent matrix has a chosen spectral radius.

    hidden_size: H; radius: finite > 0; seed: seeds torch (the other weights) and the
    recurrent matrix, utils.gradient_flow.random_recurrent_matrix(H, radius, seed).
    Returns: the AddingModel; its rnn.weight_hh_l0 (H, H) is that matrix transposed
    (torch stores W_hh for column vectors).
    """
    from utils.gradient_flow import random_recurrent_matrix  # imports this module: import here

    torch.manual_seed(seed)
    model = AddingModel("vanilla", hidden_size)
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(torch.from_numpy(
            random_recurrent_matrix(hidden_size, radius, seed).T.copy()))
    return model


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
    from tqdm.auto import tqdm

    fname = "train_rnn_sgd"
    steps = _positive_int(fname, "steps", steps)
    lr = _positive_float(fname, "lr", lr)
    if clip is not None and not callable(clip):
        raise ValueError(f"{fname}: clip must be None or a function of the gradient list, got {clip!r}")
    with torch_threads(1):
        model = vanilla_adding_model(hidden_size, radius, seed)
        params = list(model.parameters())
        opt = torch.optim.SGD(params, lr=lr)
        rng = np.random.default_rng(seed)
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
    batches = _positive_int("initial_gradient_norm", "batches", batches)
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
