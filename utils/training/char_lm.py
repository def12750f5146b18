"""Training the character-level language model: a timed or step-counted Adam loop, and budgets.

    train_char_lm    Adam + gradient clipping on random windows, within a time or step budget
    CharLMRecipe     the model size and training budget, one typed record (CPU, GPU and tiny presets)
    default_budget   the recipe notebook 02 uses on a device
    comparison_budget  the recipe of notebook 05's comparison of the three cells on a device
"""
import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from utils import validate
from utils.course import as_device, scaled_budget
from utils.data.text import random_batch
from utils.models.char_lm import evaluate_nats_per_char, sample

def _format_sample(text, width=100):
    return text[:width].replace("\n", " / ")


def train_char_lm(model, train_ids, val_ids, vocab, *, time_budget_s, batch_size, seq_len, lr, device,
                  eval_every_s=None, sample_prefix="ROMEO:", log=print, max_steps=None,
                  clip_norm=5.0, eval_chars=None, lr_decay_frac=0.0, seed=0, progress=True,
                  heldout_ids=None):
    """Train a CharLM with Adam on random windows until the time budget or max_steps is spent.

    train_ids, val_ids: (N,) and (M,) character ids (e.g. from split_by_position or
    split_train_val_heldout);
    time_budget_s: seconds of training (wall clock, evaluation excluded), or None with max_steps;
    batch_size, seq_len: B and T of each random batch; lr: Adam learning rate;
    eval_every_s: seconds of training between evaluations (default: a sixth of the budget; with
    a step budget there are six evaluations at equal intervals, the last at max_steps);
    sample_prefix: prefix of the short sample (temperature 0.8) logged at each evaluation (None: none);
    log: where progress lines go (print, or a no-op lambda to stay silent);
    clip_norm: gradient clipping by global norm; eval_chars: evaluate on val_ids[:eval_chars]
    (None: all of val_ids). Every evaluation, the periodic ones and the final one, uses that
    same slice, so the last point of the curve is the final loss;
    heldout_ids: optional second evaluation set (e.g. a play never trained on), evaluated at
    the same times and cut to the same eval_chars;
    lr_decay_frac: if > 0, the learning rate decays linearly to lr/10 over the last
    lr_decay_frac of the budget (time, or max_steps if that comes first); seed: seeds the batch
    sampler; progress: show a tqdm progress bar.
    Returns: dict with lists step, seconds, train_loss, val_loss, heldout_loss (one entry per
    evaluation; heldout_loss empty without heldout_ids) and tokens_per_second,
    final_val_nats, final_val_bits, final_heldout_nats (None without heldout_ids), device, steps.
    """
    if time_budget_s is None and max_steps is None:
        raise ValueError("train_char_lm: give time_budget_s (seconds) or max_steps, or both")
    if time_budget_s is not None:
        time_budget_s = validate.positive_number("train_char_lm", "time_budget_s", time_budget_s)
    if max_steps is not None:
        max_steps = validate.positive_int("train_char_lm", "max_steps", max_steps)
    lr_decay_frac = validate.finite_number("train_char_lm", "lr_decay_frac", lr_decay_frac, low=0, high=1)
    if len(vocab) != model.vocab_size:
        raise ValueError(f"train_char_lm: the vocabulary has {len(vocab)} characters but the model {model.vocab_size}")
    device = as_device("train_char_lm", device)
    lr = validate.positive_number("train_char_lm", "lr", lr)
    V = model.vocab_size
    train_ids = validate.int_array("train_char_lm", "train_ids", train_ids, ndim=1, low=0, high=V)
    val_ids = validate.int_array("train_char_lm", "val_ids", val_ids, ndim=1, low=0, high=V)
    if heldout_ids is not None:
        heldout_ids = validate.int_array("train_char_lm", "heldout_ids", heldout_ids, ndim=1, low=0, high=V)
    model.to(device)
    val_slice = val_ids[:eval_chars]
    heldout_slice = None if heldout_ids is None else np.asarray(heldout_ids, dtype=np.int64)[:eval_chars]
    if eval_every_s is None:
        eval_every_s = time_budget_s / 6 if time_budget_s is not None else math.inf
    # by steps: six evaluations at equal intervals, the last one at max_steps, so each point of
    # the curve averages the training loss over a whole interval
    eval_steps = {round(k * max_steps / 6) for k in range(1, 7)} if time_budget_s is None else set()

    seed = validate.seed("train_char_lm", seed)
    rng = np.random.default_rng(seed)
    sample_gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "seconds": [], "train_loss": [], "val_loss": [], "heldout_loss": []}
    by_time = time_budget_s is not None
    bar = tqdm(total=round(time_budget_s) if by_time else max_steps, unit="s" if by_time else "step",
               desc="training", disable=not progress, leave=False)

    def evaluate(step, seconds, losses):
        val = evaluate_nats_per_char(model, val_slice, device=device)
        train = float(np.mean(losses)) if losses else float("nan")
        history["step"].append(step)
        history["seconds"].append(seconds)
        history["train_loss"].append(train)
        history["val_loss"].append(val)
        line = f"step {step:5d} | {seconds:6.1f} s | train {train:.3f} | val {val:.3f}"
        if heldout_slice is not None:
            history["heldout_loss"].append(evaluate_nats_per_char(model, heldout_slice, device=device))
            line += f" | held-out {history['heldout_loss'][-1]:.3f}"
        line += " nats/char"
        if sample_prefix:
            text = sample(model, vocab, sample_prefix, 80, temperature=0.8, generator=sample_gen, device=device)
            line += f" | {_format_sample(text)}"
        log(line)

    model.train()
    step, trained_s, shown_s, next_eval, recent = 0, 0.0, 0, eval_every_s, []
    while True:
        if max_steps is not None and step >= max_steps:
            break
        if by_time and trained_s >= time_budget_s:
            break
        if lr_decay_frac > 0:
            # linear decay to lr/10 over the last lr_decay_frac of the budget (time or steps)
            done = max(trained_s / time_budget_s if by_time else 0.0,
                       step / max_steps if max_steps is not None else 0.0)
            scale = min(1.0, 0.1 + 0.9 * max(0.0, 1.0 - done) / lr_decay_frac)
            for group in opt.param_groups:
                group["lr"] = lr * scale
        t0 = time.perf_counter()
        x, y = random_batch(train_ids, batch_size, seq_len, rng)
        x = torch.from_numpy(x).to(device)
        y = torch.from_numpy(y).to(device)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()
        recent.append(loss.item())  # .item() also waits for the GPU, so the timing is honest
        trained_s += time.perf_counter() - t0
        step += 1
        if by_time:
            bar.update(min(round(trained_s), bar.total) - shown_s)
            shown_s = min(round(trained_s), bar.total)
        else:
            bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{np.mean(recent[-20:]):.3f}")
        due = trained_s >= next_eval if by_time else step in eval_steps
        if due:
            evaluate(step, trained_s, recent)
            recent, next_eval = [], trained_s + eval_every_s
    bar.close()
    if not history["step"] or history["step"][-1] != step:
        evaluate(step, trained_s, recent)

    final = history["val_loss"][-1]  # the last evaluation, at the last step: one definition
    history.update(
        tokens_per_second=step * batch_size * seq_len / max(trained_s, 1e-9),
        final_val_nats=final,
        final_val_bits=final / math.log(2),
        final_heldout_nats=history["heldout_loss"][-1] if heldout_slice is not None else None,
        device=str(device),
        steps=step,
    )
    log(f"done: {step} steps in {trained_s:.1f} s of training, validation loss {final:.3f} nats/char "
        f"({final / math.log(2):.3f} bits/char)")
    return history


@dataclasses.dataclass(frozen=True)
class CharLMRecipe:
    """A character model's sizes and training budget (notebooks 02 and 05): CharLM's sizes and
    train_char_lm's settings."""
    hidden_size: int = 256               # H
    num_layers: int = 1                  # L stacked recurrent layers
    cell: str = "lstm"                   # "vanilla", "lstm" or "gru"
    embed_size: int = 64                 # E, the learned character embedding
    batch_size: int = 64                 # B windows per step
    seq_len: int = 64                    # T characters per window
    lr: float = 3e-3                     # Adam
    time_budget_s: float | None = None   # seconds of training, or None: max_steps alone
    max_steps: int | None = 800          # optimizer steps, or None: time_budget_s alone
    lr_decay_frac: float = 0.3           # linear decay to lr/10 over this last fraction


# On a CPU a fixed number of steps, so that the trained model and every number printed from it
# is the same on every run; on a GPU a time budget for a bigger model.
CPU_RECIPE = CharLMRecipe()
ACCELERATOR_RECIPE = CharLMRecipe(hidden_size=1024, num_layers=2, batch_size=128, seq_len=128, lr=2e-3,
                                  time_budget_s=60, max_steps=None)
TINY_RECIPE = dataclasses.replace(CPU_RECIPE, max_steps=2)


# Notebook 05's comparison of the three cells on Shakespeare: smaller models, the same recipe for each cell.
COMPARISON_CPU_RECIPE = CharLMRecipe(hidden_size=128, embed_size=32, batch_size=32, seq_len=64, lr=4e-3,
                                     max_steps=400, lr_decay_frac=0.0)
COMPARISON_ACCELERATOR_RECIPE = CharLMRecipe(hidden_size=512, embed_size=32, batch_size=64, seq_len=128,
                                             lr=4e-3, max_steps=3000, lr_decay_frac=0.0)
COMPARISON_TINY_RECIPE = dataclasses.replace(COMPARISON_CPU_RECIPE, max_steps=2)


def comparison_budget(device):
    """The CharLMRecipe of notebook 05's cell comparison on this device (the ``cell`` field is
    set per model): COMPARISON_CPU_RECIPE, COMPARISON_ACCELERATOR_RECIPE or COMPARISON_TINY_RECIPE."""
    return scaled_budget(device, cpu=COMPARISON_CPU_RECIPE, accelerator=COMPARISON_ACCELERATOR_RECIPE,
                         tiny=COMPARISON_TINY_RECIPE, fname="comparison_budget")


def default_budget(device):
    """The CharLMRecipe notebook 02 uses on this device ("cpu", "cuda", "mps" or a torch.device):
    CPU_RECIPE, ACCELERATOR_RECIPE or, under COURSE_BUDGET=tiny, TINY_RECIPE (utils.course.scaled_budget)."""
    return scaled_budget(device, cpu=CPU_RECIPE, accelerator=ACCELERATOR_RECIPE,
                         tiny=TINY_RECIPE, fname="default_budget")
