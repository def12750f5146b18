"""Small layers shared by every model of the course."""
import numpy as np


def softmax(scores):
    """Softmax over the last axis, computed stably (the row maximum is subtracted first).

    scores: (..., V) unnormalised scores. Returns: probabilities of the same shape.
    """
    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def step_losses(scores, targets):
    """Softmax cross-entropy at every step of one sequence.

    scores: (T, V) unnormalised scores; targets: (T,) integer ids in [0, V).
    Returns: (T,) the loss -log p(target) at each step, in nats.
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2 or targets.shape != scores.shape[:1]:
        raise ValueError(f"step_losses: expected scores (T, V) and targets (T,), got "
                         f"{scores.shape} and {targets.shape}")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(targets)), targets]
