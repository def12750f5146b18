"""Softmax cross-entropy losses: one sequence (step_losses) and a padded minibatch (temporal_softmax_loss)."""
import numpy as np

from utils import validate


def step_losses(scores, targets):
    """Softmax cross-entropy at every step of one sequence.

    scores: (T, V) unnormalised scores; targets: (T,) integer ids in [0, V).
    Returns: (T,) the loss -log p(target) at each step, in nats.
    """
    T, V = validate.shapes("step_losses", "scores: T V, targets: T", scores, targets)
    targets = validate.int_array("step_losses", "targets", targets, low=0, high=V)
    # BEGIN REFERENCE step_losses
    shifted = scores - scores.max(axis=1, keepdims=True)  # stable: exp never overflows
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(targets)), targets]
    # END REFERENCE


def temporal_softmax_loss(scores, y, mask=None):
    """Softmax cross-entropy summed over time steps, averaged over the minibatch.

    scores: (N, T, V) unnormalised scores; y: (N, T) integer targets in [0, V);
    mask: optional (N, T) boolean, False where a step does not count (padding).
    Returns: loss (float), dscores (N, T, V).
    """
    fname = "temporal_softmax_loss"
    N, T, V = validate.shapes(fname, "scores: N T V, y: N T, mask: N T", scores, y, mask)
    y = validate.int_array(fname, "y", y, low=0, high=V)
    mask = np.ones((N, T), dtype=bool) if mask is None else np.asarray(mask)
    if mask.dtype != bool and not (mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all()):
        raise ValueError(f"{fname}: mask must be boolean (or 0/1), got dtype {mask.dtype}")
    mask = mask.astype(bool)
    # BEGIN REFERENCE temporal_softmax_loss
    flat = scores.reshape(N * T, V)
    shifted = flat - flat.max(axis=1, keepdims=True)  # stable softmax
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    y_flat, m_flat = y.reshape(-1), mask.reshape(-1)
    loss = -np.sum(m_flat * log_probs[np.arange(N * T), y_flat]) / N  # summed over time, mean over N
    dflat = np.exp(log_probs)  # softmax minus one-hot, zero where masked
    dflat[np.arange(N * T), y_flat] -= 1
    dflat *= m_flat[:, None] / N
    dscores = dflat.reshape(N, T, V)
    # END REFERENCE
    return float(loss), dscores
