"""Small numpy layers shared by every model of the course: softmax, sigmoid, the temporal affine layer."""
import numpy as np

from utils import validate


def softmax(scores):
    """Softmax over the last axis, computed stably (the row maximum is subtracted first).

    scores: (..., V) unnormalised scores, V >= 1; -inf masks a choice (probability 0).
    Returns: probabilities of the same shape.
    """
    scores = validate.score_array("softmax", scores)
    # BEGIN REFERENCE softmax
    shifted = scores - scores.max(axis=-1, keepdims=True)  # the largest score becomes 0: no overflow
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
    # END REFERENCE


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x)), elementwise, without overflow for large |x|.

    x: any shape; +-inf are allowed (they give 1 and 0), NaN is refused.
    """
    x = validate.float_array("sigmoid", "x", x, finite=False)
    if np.isnan(x).any():
        raise ValueError("sigmoid: x must not contain NaN, got NaN")
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])  # for x < 0 write it as e^x / (1 + e^x): exp never overflows
    out[~pos] = ex / (1.0 + ex)
    return out


def temporal_affine_forward(x, w, b):
    """The output projection y_t = h_t @ w + b applied at every time step.

    x: (N, T, D); w: (D, M); b: (M,).
    Returns: out (N, T, M), cache.
    """
    validate.shapes("temporal_affine_forward", "x: N T D, w: D M, b: M", x, w, b)
    # BEGIN REFERENCE temporal_affine_forward
    out = x @ w + b
    cache = (x, w)
    # END REFERENCE
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward of temporal_affine_forward.

    dout: (N, T, M). Returns: dx (N, T, D), dw (D, M), db (M,).
    """
    x, w = cache
    validate.shapes("temporal_affine_backward", "x: N T D, w: D M, dout: N T M", x, w, dout)
    # BEGIN REFERENCE temporal_affine_backward
    dx = dout @ w.T
    dw = np.einsum("ntd,ntm->dm", x, dout)  # summed over every (n, t): w is shared by all steps
    db = dout.sum(axis=(0, 1))
    # END REFERENCE
    return dx, dw, db


def output_projection(h, Wy, by):
    """Scores at every time step from the hidden states: y_t = h_t @ Wy + by.

    h: (N, T, H); Wy: (H, V); by: (V,).
    Returns: scores (N, T, V).
    """
    validate.shapes("output_projection", "h: ... H, Wy: H V, by: V", h, Wy, by)
    # BEGIN REFERENCE output_projection
    return h @ Wy + by
    # END REFERENCE
