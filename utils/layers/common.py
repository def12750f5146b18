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
