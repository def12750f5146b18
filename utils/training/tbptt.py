"""Truncated backpropagation through time: the reference training loop and its gradient mask.

The training loop walks along B parallel streams of text in chunks of k characters, carries
the hidden state from one chunk to the next (so the model sees an unbroken history) and
detaches it at every chunk boundary (so gradients flow back at most k steps).
"""
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from utils import validate
from utils.data.text import iter_chunks
from utils.course import as_device, model_device, seeded
from utils.models.char_lm import CharLM, detach_state, evaluate_nats_per_char

def tbptt_step(model, x, y, state, optimizer, clip_norm=None):
    """One truncated-BPTT update on one chunk.

    x, y: (B, k) long tensors, inputs and next-character targets.
    state: the state carried in from the previous chunk (detached), or None for zeros.
    Returns: (loss as a float, the new state detached from the graph).
    """
    # ALSO REFERENCE tbptt_epoch  (its loop's body: a student release leaves it out with it)
    logits, state = model(x, state)  # (B, k, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item(), detach_state(state)  # keep the values, cut the graph


def tbptt_epoch(model, streams, seq_len, optimizer):
    """One pass over ``streams`` with truncated BPTT, the state carried from chunk to chunk.

    model: a ``utils.models.char_lm.CharLM`` (``model(x, state) -> (logits, state)``).
    streams: (B, L) integer array from ``utils.data.text.make_streams``.
    seq_len: k, the chunk length: the number of steps between updates and backpropagated.
    optimizer: a torch optimizer over the model's parameters.
    Returns: list of floats, the mean cross-entropy (nats per character) of every chunk.
    ``tbptt_run`` is the same loop with options (reset the state, clip) for the experiments.
    """
    validate.positive_int("tbptt_epoch", "seq_len", seq_len)
    device = model_device(model)
    losses = []
    state = None
    # BEGIN REFERENCE tbptt_epoch
    for x, y in iter_chunks(streams, seq_len):
        x = torch.as_tensor(x, dtype=torch.long, device=device)  # (B, k)
        y = torch.as_tensor(y, dtype=torch.long, device=device)  # (B, k): the next characters
        logits, state = model(x, state)  # (B, k, V), starting from the carried state
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state = detach_state(state)  # keep the values, cut the graph: gradients stop here
        losses.append(loss.item())
    # END REFERENCE
    return losses


def tbptt_run(model, streams, seq_len, optimizer, carry_state=True, clip_norm=None, device=None):
    """``tbptt_epoch`` as a generator with options: yields ``(loss, chunk index)`` after every update.

    carry_state: False resets the state to zeros at every chunk (the baseline to compare);
    clip_norm: clip the global gradient norm to this value (None: no clipping).
    """
    device = device or model_device(model)
    model.train()
    state = None
    for index, (x, y) in enumerate(iter_chunks(streams, seq_len)):
        x = torch.as_tensor(x, dtype=torch.long, device=device)  # (B, k)
        y = torch.as_tensor(y, dtype=torch.long, device=device)  # (B, k)
        loss, state = tbptt_step(model, x, y, state if carry_state else None, optimizer,
                                 clip_norm)
        yield loss, index


def compare_strategies(strategies, streams, val_ids, vocab_size, *, hidden_size, lr, device,
                       evals=8, seed=0, progress=True):
    """Train one fresh model per strategy on the same characters; record held-out loss as it reads.

    strategies: name -> (seq_len, carry_state), e.g. {"truncated, carried": (32, True)}.
    streams: (B, L) training streams; every strategy reads all of them once.
    val_ids: (M,) held-out ids for the loss curve.
    Returns: name -> dict with lists "chars" (training characters read so far), "val_nats",
    "seconds" (training wall time, evaluation excluded; it depends on the machine and its load,
    so notebooks plot against "chars") and the scalar "final_val_nats".
    """
    fname = "compare_strategies"
    if not isinstance(strategies, dict) or not strategies:
        raise ValueError(f"{fname}: strategies must be a non-empty dict name -> (seq_len, carry), "
                         f"got {validate.shown(strategies)}")
    vocab_size = validate.positive_int(fname, "vocab_size", vocab_size)
    streams = validate.int_array(fname, "streams", streams, ndim=2, low=0, high=vocab_size)
    val_ids = validate.int_array(fname, "val_ids", val_ids, ndim=1, low=0, high=vocab_size)
    if 0 in streams.shape or len(val_ids) < 2:
        raise ValueError(f"{fname}: streams (B, L) and val_ids (M,) must not be empty, got shapes "
                         f"{streams.shape} and {val_ids.shape}")
    lr = validate.positive_number(fname, "lr", lr)
    evals = validate.int_in_range(fname, "evals", evals, 1)
    seed = validate.seed(fname, seed)
    device = as_device(fname, device)
    results = {}
    for name, (seq_len, carry) in strategies.items():
        with seeded(seed):
            model = CharLM(vocab_size, hidden_size, cell="lstm").to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        n_chunks = -(-streams.shape[1] // seq_len)
        eval_at = set(np.linspace(0, n_chunks - 1, evals).round().astype(int)[1:])
        curve = {"seconds": [0.0], "chars": [0],
                 "val_nats": [evaluate_nats_per_char(model, val_ids, device=device)]}
        elapsed, start = 0.0, time.perf_counter()
        bar = tqdm(total=n_chunks, desc=name, disable=not progress, leave=False)
        for _, index in tbptt_run(model, streams, seq_len, optimizer, carry, 5.0, device):
            bar.update(1)
            if index in eval_at:
                elapsed += time.perf_counter() - start
                curve["seconds"].append(elapsed)
                curve["chars"].append(min((index + 1) * seq_len, streams.shape[1]) * len(streams))
                curve["val_nats"].append(evaluate_nats_per_char(model, val_ids, device=device))
                start = time.perf_counter()
        bar.close()
        curve["final_val_nats"] = curve["val_nats"][-1]
        results[name] = curve
    return results


def tbptt_gradient_mask(T, k1, k2):
    """Which hidden states receive gradient from which losses under TBPTT(k1, k2).

    Every k1 steps (and at the end) the model is updated: the losses of the last k1 steps are
    backpropagated, but only k2 steps back from the update. T: sequence length.
    Returns: (T, T) boolean array, mask[s, t] True when the loss at step s reaches h_t.
    """
    T = validate.positive_int("tbptt_gradient_mask", "T", T)
    k1 = validate.positive_int("tbptt_gradient_mask", "k1", k1)
    k2 = validate.positive_int("tbptt_gradient_mask", "k2", k2)
    s = np.arange(T)[:, None]
    t = np.arange(T)[None, :]
    update = np.minimum((s // k1 + 1) * k1, T) - 1  # step at which loss s is backpropagated
    return (t <= s) & (t > update - k2)
