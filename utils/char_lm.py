"""A character-level language model in torch: model, evaluation, sampling and a timed training loop.

    CharLM               embedding (or one-hot) -> RNN / LSTM / GRU -> linear head
    evaluate_nats_per_char   held-out cross-entropy, streaming with the state carried
    sample               warm the state on a prefix, then feed each sampled character back in
    train_char_lm        Adam + gradient clipping on random windows, within a wall-clock budget
    default_budget       the model size and budget the notebook uses on CPU and on CUDA

Shapes: B batch, T time steps, V vocabulary size, H hidden size, L layers.
"""
import math
import numbers
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.text import UnknownCharacterError, iter_chunks, make_streams, random_batch  # noqa: F401

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class CharLM(nn.Module):
    """Character-level language model.

    vocab_size: V; hidden_size: H; num_layers: L stacked recurrent layers;
    cell: "rnn" (tanh), "lstm" or "gru";
    embed_size: size of a learned embedding of the input characters, or None to feed one-hot
    vectors (V,) directly; dropout: between stacked layers and before the head.
    """

    def __init__(self, vocab_size, hidden_size, num_layers=1, cell="lstm", embed_size=None, dropout=0.0):
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)]:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"CharLM: {name} must be a positive integer, got {value!r}")
        if embed_size is not None and (isinstance(embed_size, bool) or not isinstance(embed_size, numbers.Integral)
                                       or embed_size < 1):
            raise ValueError(f"CharLM: embed_size must be a positive integer or None (one-hot), got {embed_size!r}")
        if cell not in CELLS:
            raise ValueError(f"CharLM: cell must be one of {sorted(CELLS)}, got {cell!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"CharLM: dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell, self.embed_size = cell, embed_size
        self.embed = None if embed_size is None else nn.Embedding(vocab_size, embed_size)
        self.rnn = CELLS[cell](embed_size or vocab_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def init_state(self, batch_size, device=None):
        """Zero state: (L, B, H) for rnn/gru, a tuple (h, c) of two (L, B, H) for lstm."""
        device = self.head.weight.device if device is None else device
        h = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h

    def forward(self, x, state=None):
        """x: (B, T) integer character ids; state: from init_state / a previous call, or None (zeros).

        Returns: logits (B, T, V), the state after the last step (same structure as init_state).
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"CharLM.forward: x must be a torch tensor of ids, got {type(x).__name__}")
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise TypeError(f"CharLM.forward: x must hold integer character ids (torch.long), got {x.dtype}")
        if x.dim() != 2:
            hint = " (for one sequence use x[None])" if x.dim() == 1 else ""
            raise ValueError(f"CharLM.forward: x must have shape (B, T), got {tuple(x.shape)}{hint}")
        if x.numel() and bool(((x < 0) | (x >= self.vocab_size)).any()):  # one GPU sync, not two
            raise ValueError(f"CharLM.forward: ids must be in 0..{self.vocab_size - 1}, "
                             f"got values from {int(x.min())} to {int(x.max())}")
        if state is not None and (self.cell == "lstm") != isinstance(state, tuple):
            want = "a tuple (h, c)" if self.cell == "lstm" else "a single tensor h"
            raise TypeError(f"CharLM.forward: a {self.cell} state is {want}; use model.init_state(B)")
        x = x.long()
        inp = F.one_hot(x, self.vocab_size).float() if self.embed is None else self.embed(x)  # (B, T, E or V)
        out, state = self.rnn(inp, state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)


def detach_state(state):
    """Cut the graph behind a state for truncated BPTT: a tensor, an (h, c) tuple, or None."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return tuple(s.detach() for s in state)
    raise TypeError(f"detach_state: expected a tensor or a tuple of tensors, got {type(state).__name__}")


def _model_device(model):
    return next(model.parameters()).device


@torch.no_grad()
def evaluate_nats_per_char(model, ids, batch_size=32, seq_len=256, device=None):
    """Average cross-entropy (nats per character) of the model on a held-out id sequence.

    ids: (N,) character ids. They are cut into at most batch_size contiguous streams (fewer if
    the text is short, so each stream has at least seq_len characters) and read in chunks of
    seq_len with the state carried, so every character except the first of each stream is
    predicted from everything before it in its stream.
    Returns: a float; ln(V) is what a uniform guess scores, divide by ln 2 for bits per character.
    """
    device = _model_device(model) if device is None else torch.device(device)
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"evaluate_nats_per_char: ids must be a 1-D sequence of at least 2 ids, got shape {ids.shape}")
    n_streams = max(1, min(batch_size, len(ids) // seq_len))
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for x, y in iter_chunks(make_streams(ids, n_streams), seq_len):
            x = torch.from_numpy(x).to(device)
            y = torch.from_numpy(y).to(device)
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                     reduction="sum").item()
            count += y.numel()
    finally:
        model.train(was_training)
    return total / count


@torch.no_grad()
def sample(model, vocab, prefix, n_chars, temperature=1.0, greedy=False, generator=None, device=None):
    """Generate text one character at a time.

    vocab: the CharVocab the model was trained with; prefix: a non-empty str that warms the state;
    n_chars: how many characters to generate after it;
    temperature: > 0, divides the logits (< 1 is more conservative, > 1 more random);
    greedy: take the most likely character instead of sampling;
    generator: an optional CPU torch.Generator for reproducible samples.
    Returns: prefix followed by the n_chars generated characters (a str).
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"sample: temperature must be a finite number > 0, got {temperature!r} "
                         "(use greedy=True for the most likely character)")
    if isinstance(n_chars, bool) or not isinstance(n_chars, numbers.Integral) or n_chars < 0:
        raise ValueError(f"sample: n_chars must be an integer >= 0, got {n_chars!r}")
    if not isinstance(prefix, str) or not prefix:
        raise ValueError("sample: prefix must be a non-empty str; it warms up the hidden state")
    prefix_ids = vocab.encode(prefix)  # raises UnknownCharacterError for a character not in the vocabulary
    if len(vocab) != model.vocab_size:
        raise ValueError(f"sample: the vocabulary has {len(vocab)} characters but the model {model.vocab_size}")
    device = _model_device(model) if device is None else torch.device(device)
    was_training = model.training
    model.eval()
    try:
        logits, state = model(torch.from_numpy(prefix_ids)[None].to(device))  # (1, T, V)
        out = []
        for _ in range(n_chars):
            last = logits[0, -1]  # (V,)
            if greedy:
                nxt = int(last.argmax())
            else:
                probs = torch.softmax(last.double() / temperature, dim=-1).cpu()
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]], device=device), state)
    finally:
        model.train(was_training)
    return prefix + vocab.decode(out)


def _format_sample(text, width=100):
    return text[:width].replace("\n", " / ")


def train_char_lm(model, train_ids, val_ids, vocab, *, time_budget_s, batch_size, seq_len, lr, device,
                  eval_every_s=None, sample_prefix="ROMEO:", log=print, max_steps=None,
                  clip_norm=5.0, eval_chars=20_000, lr_decay_frac=0.0, seed=0, progress=True):
    """Train a CharLM with Adam on random windows until the time budget or max_steps is spent.

    train_ids, val_ids: (N,) and (M,) character ids (e.g. from split_by_position);
    time_budget_s: seconds of training (wall clock, evaluation excluded), or None with max_steps;
    batch_size, seq_len: B and T of each random batch; lr: Adam learning rate;
    eval_every_s: seconds of training between evaluations (default: a sixth of the budget);
    sample_prefix: prefix of the short sample (temperature 0.8) logged at each evaluation (None: none);
    log: where progress lines go (print, or a no-op lambda to stay silent);
    clip_norm: gradient clipping by global norm; eval_chars: size of the fixed slice of val_ids
    used for the periodic evaluations (the final one uses all of val_ids);
    lr_decay_frac: if > 0, the learning rate decays linearly to lr/10 over the last
    lr_decay_frac of the budget (time, or max_steps if that comes first); seed: seeds the batch
    sampler; progress: show a tqdm progress bar.
    Returns: dict with lists step, seconds, train_loss, val_loss (one entry per evaluation) and
    tokens_per_second, final_val_nats, final_val_bits, device, steps.
    """
    from tqdm.auto import tqdm

    if time_budget_s is None and max_steps is None:
        raise ValueError("train_char_lm: give time_budget_s (seconds) or max_steps, or both")
    if time_budget_s is not None and not (isinstance(time_budget_s, numbers.Real) and time_budget_s > 0):
        raise ValueError(f"train_char_lm: time_budget_s must be a number > 0, got {time_budget_s!r}")
    if max_steps is not None and (not isinstance(max_steps, numbers.Integral) or max_steps < 1):
        raise ValueError(f"train_char_lm: max_steps must be a positive integer, got {max_steps!r}")
    if not 0.0 <= lr_decay_frac <= 1.0:
        raise ValueError(f"train_char_lm: lr_decay_frac must be in [0, 1], got {lr_decay_frac!r}")
    if len(vocab) != model.vocab_size:
        raise ValueError(f"train_char_lm: the vocabulary has {len(vocab)} characters but the model {model.vocab_size}")
    device = torch.device(device)
    model.to(device)
    train_ids = np.asarray(train_ids, dtype=np.int64)
    val_ids = np.asarray(val_ids, dtype=np.int64)
    val_slice = val_ids[:eval_chars]
    if eval_every_s is None:
        eval_every_s = time_budget_s / 6 if time_budget_s is not None else math.inf
    eval_every_steps = max(1, max_steps // 6) if time_budget_s is None else None

    rng = np.random.default_rng(seed)
    sample_gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"step": [], "seconds": [], "train_loss": [], "val_loss": []}
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
        line = f"step {step:5d} | {seconds:6.1f} s | train {train:.3f} | val {val:.3f} nats/char"
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
        due = trained_s >= next_eval if by_time else step % eval_every_steps == 0
        if due:
            evaluate(step, trained_s, recent)
            recent, next_eval = [], trained_s + eval_every_s
    bar.close()
    if not history["step"] or history["step"][-1] != step:
        evaluate(step, trained_s, recent)

    final = evaluate_nats_per_char(model, val_ids, device=device)
    history.update(
        tokens_per_second=step * batch_size * seq_len / max(trained_s, 1e-9),
        final_val_nats=final,
        final_val_bits=final / math.log(2),
        device=str(device),
        steps=step,
    )
    log(f"done: {step} steps in {trained_s:.1f} s of training, held-out loss {final:.3f} nats/char "
        f"({final / math.log(2):.3f} bits/char)")
    return history


def default_budget(device):
    """The model and training budget the notebook uses on this device.

    device: a torch.device or a name ("cpu", "cuda", "mps").
    Returns: dict with hidden_size, num_layers, cell, embed_size, batch_size, seq_len, lr,
    time_budget_s (and lr_decay_frac, to pass on to train_char_lm).
    """
    kind = torch.device(device).type
    if kind == "cuda":
        return dict(hidden_size=1024, num_layers=2, cell="lstm", embed_size=64, batch_size=128,
                    seq_len=128, lr=2e-3, time_budget_s=600, lr_decay_frac=0.3)
    # On a CPU the budget is a fixed number of steps (about 60 s on 2 quiet cores), so that the
    # trained model, and every number printed from it, is the same on every run.
    return dict(hidden_size=256, num_layers=1, cell="lstm", embed_size=64, batch_size=64,
                seq_len=64, lr=3e-3, time_budget_s=None, max_steps=1400, lr_decay_frac=0.3)
