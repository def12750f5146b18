"""Checkpoints of the course's trained models: one format, one path rule, one error type.

    CheckpointError    a checkpoint that is missing, unreadable, stale or for another vocabulary
    shipped_path       datasets/<folder>/<name>.pt, where the course keeps its trained models
    rebuild_hint       the sentence that ends every message: the command that rebuilds the file
    environment        what bitwise reproducibility depends on (torch, CPU kernels, machine)
    weights_digest     sha256 of a state_dict: which weights exactly
    write_checkpoint   {"state_dict" (float32), "config", "vocab", "meta"} to a file
    read_checkpoint    the same dict back, checked before any weight is used
    load_failed        the error for weights that do not fit the code that loads them

The encoder (models/encoder.py), the captioners (models/captioner.py,
models/attention_checkpoints.py) and the VQA models (models/vqa_io.py) all go through these.
"""
import hashlib
import json
import platform
from pathlib import Path

import torch

from utils import validate

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASETS = REPO_ROOT / "datasets"
PARTS = {"state_dict": dict, "config": dict, "vocab": list, "meta": dict}


class CheckpointError(FileNotFoundError, ValueError):
    """A checkpoint is missing (a FileNotFoundError) or unusable (a ValueError); the message
    names the command that rebuilds it."""


def shipped_path(folder, name):
    """datasets/<folder>/<name>.pt: the checkpoint the course ships for that model."""
    return DATASETS / folder / f"{name}.pt"


def rebuild_hint(command, path):
    return f"rebuild it with `{command}` (writes {path})"


def environment():
    """What bitwise reproducibility of a checkpoint depends on: torch version, CPU kernels,
    machine, Python (a dict of str, stored with the checkpoints the course's commands write)."""
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()
    return {"torch": str(torch.__version__), "cpu_capability": str(capability),
            "machine": platform.machine(), "python": platform.python_version()}


def weights_digest(state_dict):
    """sha256 (hex) of every tensor of a state_dict, names included, in order: which weights
    exactly. A captioner's checkpoint stores the digest of the encoder whose features it was
    trained on (a retrained encoder gives other features, and the captioner must be retrained)."""
    hasher = hashlib.sha256()
    for name, tensor in state_dict.items():
        hasher.update(name.encode())
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()


def as_path(fname, path, default):
    """``path`` as a Path, ``default`` when it is None."""
    if path is not None and not isinstance(path, (str, Path)):
        raise ValueError(f"{fname}: path must be a str or pathlib.Path, got {validate.shown(path)}")
    return default if path is None else Path(path)


def write_checkpoint(fname, model, path, vocab=None, meta=None, config=None):
    """Write {"state_dict" (float32), "config", "vocab", "meta"} and return the Path.

    model: a module (its ``config()`` is stored unless ``config`` is given). vocab: the
    WordVocab it was trained with, or None (its words are stored, so that a later load can
    refuse another vocabulary). path: the file (folders are created). meta: optional dict of
    plain values (str, int, float, bool, None, lists and dicts of them): recipe, scores...
    """
    meta = {} if meta is None else meta
    try:
        if not isinstance(meta, dict):
            raise TypeError
        # a round trip through JSON leaves plain python types only: a str subclass such as
        # torch.__version__ would otherwise be pickled as its class, which
        # torch.load(weights_only=True) refuses
        meta = json.loads(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError):
        raise ValueError(f"{fname}: meta must be a dict of plain values (str, int, float, bool, "
                         f"None, lists and dicts of them), got {validate.shown(meta)}") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().float().contiguous() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "config": model.config() if config is None else config,
                "vocab": [] if vocab is None else list(vocab.id_to_word), "meta": meta}, path)
    return path


def read_checkpoint(fname, path, command, what, vocab=None, parts=tuple(PARTS)):
    """The checkpoint dict at ``path``, checked before any weight is used.

    command: the command that rebuilds the file (ends every message); what: how messages name
    the file ("captioner checkpoint", ...); vocab: the WordVocab the caller will use, whose
    words the checkpoint's must equal id for id (None: not compared); parts: the keys it must hold.
    Raises CheckpointError when the file is missing, unreadable, lacks a part, or was trained
    with another vocabulary (naming the first word id that differs).
    """
    hint = rebuild_hint(command, path)
    if not path.is_file():
        raise CheckpointError(f"{fname}: no {what} at {path}; " + hint)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated file, not a torch file, foreign pickle...
        raise CheckpointError(f"{fname}: {path} is not a readable {what} ({type(error).__name__}); "
                              + hint) from None
    if not isinstance(checkpoint, dict) or not all(isinstance(checkpoint.get(k), PARTS[k]) for k in parts):
        raise CheckpointError(f"{fname}: {path} must hold a dict with "
                              f"{', '.join(repr(k) for k in parts)}; " + hint)
    stored = checkpoint.get("vocab")
    if vocab is not None and stored != list(vocab.id_to_word):
        first = next((i for i, (a, b) in enumerate(zip(stored, vocab.id_to_word)) if a != b),
                     min(len(stored), len(vocab)))
        at = (f"id {first} is {stored[first]!r} in the checkpoint and "
              f"{vocab.id_to_word[first]!r} here" if first < min(len(stored), len(vocab))
              else f"{len(stored)} words in the checkpoint, {len(vocab)} here")
        raise CheckpointError(f"{fname}: {path} was trained with another vocabulary ({at}); "
                              "its word ids would mean other words. " + hint)
    return checkpoint


def load_failed(fname, path, command, model_name, error):
    """The CheckpointError for weights or a config that do not fit ``model_name``'s code."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return CheckpointError(f"{fname}: {path} does not match this {model_name} ({first}); "
                           + rebuild_hint(command, path))
