"""A character-level language model in torch: the model, its held-out loss, and generation.

    CharLM                   embedding (or one-hot) -> vanilla RNN / LSTM / GRU -> linear head
    detach_state             cut the graph behind a state (truncated BPTT)
    evaluate_nats_per_char   held-out cross-entropy, streaming with the state carried
    next_char_probs          the distribution of the next character after a prefix
    sample                   warm the state on a prefix, then feed each sampled character back in
    generate                 the same loop, with the temperature and sampling functions passed in
    bigram_nats_per_char     the baseline without memory: P(next | current character), counted

Training lives in utils.training.char_lm. Shapes: B batch, T time steps, V vocabulary size,
H hidden size, L layers.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import validate
from utils.course import as_device, eval_mode, model_device
from utils.data.text import iter_chunks
from utils.layers.sampling import sample_index, temperature_probs
from utils.models.cells import CELL_MODULES, CELLS

class CharLM(nn.Module):
    """Character-level language model.

    vocab_size: V; hidden_size: H; num_layers: L stacked recurrent layers;
    cell: "vanilla" (tanh), "lstm" or "gru";
    embed_size: size of a learned embedding of the input characters, or None to feed one-hot
    vectors (V,) directly; dropout: between stacked layers and before the head.
    """

    def __init__(self, vocab_size, hidden_size, num_layers=1, cell="lstm", embed_size=None, dropout=0.0):
        super().__init__()
        for name, value in [("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)]:
            validate.positive_int("CharLM", name, value)
        if embed_size is not None:
            validate.positive_int("CharLM", "embed_size (or None for one-hot inputs)", embed_size)
        validate.choice_of_cell("CharLM", cell, CELLS)
        dropout = validate.finite_number("CharLM", "dropout", dropout, low=0, high=0.99)
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell, self.embed_size = cell, embed_size
        self.embed = None if embed_size is None else nn.Embedding(vocab_size, embed_size)
        self.rnn = CELL_MODULES[cell](embed_size or vocab_size, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def init_state(self, batch_size, device=None):
        """Zero state: (L, B, H) for rnn/gru, a tuple (h, c) of two (L, B, H) for lstm."""
        device = model_device(self) if device is None else device
        h = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        return (h, torch.zeros_like(h)) if self.cell == "lstm" else h

    def forward(self, x, state=None):
        """x: (B, T) integer character ids; state: from init_state / a previous call, or None (zeros).

        Returns: logits (B, T, V), the state after the last step (same structure as init_state).
        """
        if not isinstance(x, torch.Tensor):
            raise validate.WrongType(f"CharLM.forward: x must be a torch tensor of ids, got {type(x).__name__}")
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise validate.WrongType(f"CharLM.forward: x must hold integer character ids (torch.long), got {x.dtype}")
        if x.dim() != 2:
            hint = " (for one sequence use x[None])" if x.dim() == 1 else ""
            raise ValueError(f"CharLM.forward: x must have shape (B, T), got {tuple(x.shape)}{hint}")
        if x.numel() and bool(((x < 0) | (x >= self.vocab_size)).any()):  # one GPU sync, not two
            raise ValueError(f"CharLM.forward: ids must be in 0..{self.vocab_size - 1}, "
                             f"got values from {int(x.min())} to {int(x.max())}")
        if state is not None and (self.cell == "lstm") != isinstance(state, tuple):
            want = "a tuple (h, c)" if self.cell == "lstm" else "a single tensor h"
            raise validate.WrongType(f"CharLM.forward: a {self.cell} state is {want}; use model.init_state(B)")
        x = x.long()
        inp = F.one_hot(x, self.vocab_size).float() if self.embed is None else self.embed(x)  # (B, T, E or V)
        out, state = self.rnn(inp, state)  # (B, T, H)
        return self.head(self.drop(out)), state  # (B, T, V)


def detach_state(state):
    """Cut the graph behind a state for truncated BPTT: a tensor, an (h, c) tuple, or None.

    Returns: the same structure, detached (the values are kept, the history is dropped)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return tuple(s.detach() for s in state)
    raise validate.WrongType(f"detach_state: expected a tensor or a tuple of tensors, got {type(state).__name__}")


def evaluate_nats_per_char(model, ids, batch_size=32, seq_len=256, device=None):
    """Average cross-entropy (nats per character) of the model on a held-out id sequence.

    ids: (N,) character ids. They are cut into at most batch_size contiguous streams (fewer if
    the text is short, so each stream has at least seq_len characters) and read in chunks of
    seq_len with the state carried, so every character except the first of each stream is
    predicted from everything before it in its stream.
    Returns: a float; ln(V) is what a uniform guess scores, divide by ln 2 for bits per character.
    """
    batch_size, seq_len = (validate.positive_int("evaluate_nats_per_char", n, v) for n, v in
                           (("batch_size", batch_size), ("seq_len", seq_len)))
    device = model_device(model) if device is None else as_device("evaluate_nats_per_char", device)
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"evaluate_nats_per_char: ids must be a 1-D sequence of at least 2 ids, got shape {ids.shape}")
    n_streams = max(1, min(batch_size, len(ids) // seq_len))
    total, count, state = 0.0, 0, None
    with eval_mode(model):
        length = len(ids) // n_streams  # contiguous streams, as make_streams cuts them
        for x, y in iter_chunks(ids[: n_streams * length].reshape(n_streams, length), seq_len):
            x = torch.from_numpy(x).to(device)
            y = torch.from_numpy(y).to(device)
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                     reduction="sum").item()
            count += y.numel()
    return total / count


def next_char_probs(model, vocab, prefix, temperature=1.0):
    """Probabilities of the next character after ``prefix``.

    model: a trained CharLM; vocab: its CharVocab; prefix: non-empty str
    (an unknown character raises UnknownCharacterError naming it).
    Returns: (V,) numpy array of probabilities at the given temperature.
    """
    temperature = validate.temperature("next_char_probs", temperature)
    validate.non_empty_str("next_char_probs", "prefix", prefix)
    ids = torch.as_tensor(vocab.encode(prefix), device=model_device(model))[None]  # (1, T)
    with eval_mode(model):
        logits, _ = model(ids)
    return torch.softmax(logits[0, -1].double() / temperature, dim=-1).cpu().numpy()


def sample(model, vocab, prefix, n_chars, temperature=1.0, greedy=False, generator=None, device=None):
    """Generate text one character at a time.

    vocab: the CharVocab the model was trained with; prefix: a non-empty str that warms the state;
    n_chars: how many characters to generate after it;
    temperature: > 0, divides the logits (< 1 is more conservative, > 1 more random);
    greedy: take the most likely character instead of sampling;
    generator: an optional CPU torch.Generator for reproducible samples.
    Returns: prefix followed by the n_chars generated characters (a str).
    """
    temperature = validate.temperature("sample", temperature)
    n_chars = validate.int_in_range("sample", "n_chars", n_chars, 0)
    validate.non_empty_str("sample", "prefix (it warms up the hidden state)", prefix)
    prefix_ids = vocab.encode(prefix)  # raises UnknownCharacterError for a character not in the vocabulary
    if len(vocab) != model.vocab_size:
        raise ValueError(f"sample: the vocabulary has {len(vocab)} characters but the model {model.vocab_size}")
    device = model_device(model) if device is None else as_device("sample", device)
    with eval_mode(model):
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
    return prefix + vocab.decode(out)


def generate(model, vocab, prefix, n_chars, temperature=1.0, rng=None, probs_fn=temperature_probs,
             sample_fn=sample_index):
    """Generate text like ``sample``, with the two choices of notebook 02 passed in as functions.

    At every step the model's scores for the next character, a (V,) float64 numpy array, go
    through ``probs_fn(scores, temperature)`` and the character is ``sample_fn(probs, rng)``
    (the course's references by default, a student's own in notebook 02).
    rng: a numpy Generator (default: seeded with 0). Returns: prefix + the generated characters.
    """
    n_chars = validate.int_in_range("generate", "n_chars", n_chars, 0)
    validate.non_empty_str("generate", "prefix (it warms up the hidden state)", prefix)
    prefix_ids = vocab.encode(prefix)
    rng = np.random.default_rng(0) if rng is None else rng
    device = model_device(model)
    with eval_mode(model):
        logits, state = model(torch.from_numpy(prefix_ids)[None].to(device))  # (1, T, V)
        out = []
        for _ in range(n_chars):
            scores = logits[0, -1].double().cpu().numpy()  # (V,)
            nxt = int(sample_fn(np.asarray(probs_fn(scores, temperature), dtype=np.float64), rng))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]], device=device), state)
    return prefix + vocab.decode(out)


def bigram_nats_per_char(train_ids, eval_ids, vocab_size, alpha=0.1):
    """Cross-entropy of a bigram model, P(next | current character), on eval_ids.

    The probabilities are counts of character pairs in train_ids, plus alpha for every pair
    (so a pair never seen in training still has a small probability). It is the best a model
    can do that sees only the current character: no memory at all.
    Returns: nats per character (a float).
    """
    fname = "bigram_nats_per_char"
    V = validate.positive_int(fname, "vocab_size", vocab_size)
    train_ids = validate.int_array(fname, "train_ids", train_ids, ndim=1, low=0, high=V)
    eval_ids = validate.int_array(fname, "eval_ids", eval_ids, ndim=1, low=0, high=V)
    for name, ids in (("train_ids", train_ids), ("eval_ids", eval_ids)):
        if len(ids) < 2:
            raise ValueError(f"{fname}: {name} must hold at least 2 ids (one pair), got {len(ids)}")
    alpha = validate.positive_number(fname, "alpha", alpha)
    counts = np.full((V, V), alpha)
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))  # (V, V): row = current, column = next
    return float(-log_p[eval_ids[:-1], eval_ids[1:]].mean())
