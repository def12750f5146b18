"""The 'hello' example: a tiny numpy vanilla RNN that learns to continue h, e, l, l with e, l, l, o.

It uses the reference layers of utils.layers, forward and backward, and plain SGD.
"""
import numpy as np

from utils.layers import (rnn_backward, rnn_forward, temporal_affine_backward,
                          temporal_affine_forward, temporal_softmax_loss)

HELLO_VOCAB = ["h", "e", "l", "o"]


def hello_data():
    """One-hot inputs for "hell" and the targets "ello". Returns x (1, 4, 4), y (1, 4) ids."""
    ids = [HELLO_VOCAB.index(c) for c in "hello"]
    x = np.eye(len(HELLO_VOCAB))[ids[:-1]][None]  # (1, 4, 4)
    y = np.array(ids[1:])[None]  # (1, 4)
    return x, y


def init_hello_params(hidden_size=3, seed=0):
    """Small random weights: Wx (4, H), Wh (H, H), b (H,), Wy (H, 4), by (4,)."""
    rng = np.random.default_rng(seed)
    V, H = len(HELLO_VOCAB), hidden_size
    return {"Wx": rng.normal(scale=0.5, size=(V, H)), "Wh": rng.normal(scale=0.5, size=(H, H)),
            "b": np.zeros(H), "Wy": rng.normal(scale=0.5, size=(H, V)), "by": np.zeros(V)}


def hello_scores(params, x):
    """Scores (1, T, 4) of the model on one-hot inputs x (1, T, 4)."""
    h, _ = rnn_forward(x, None, params["Wx"], params["Wh"], params["b"])
    return temporal_affine_forward(h, params["Wy"], params["by"])[0]


def train_hello(params, steps=300, lr=0.3):
    """Full-batch gradient descent on "hello". Returns the list of losses (nats, summed over steps)."""
    x, y = hello_data()
    losses = []
    for _ in range(steps):
        h, rnn_cache = rnn_forward(x, None, params["Wx"], params["Wh"], params["b"])
        scores, affine_cache = temporal_affine_forward(h, params["Wy"], params["by"])
        loss, dscores = temporal_softmax_loss(scores, y)
        dh, dWy, dby = temporal_affine_backward(dscores, affine_cache)
        _, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
        for key, grad in zip(("Wx", "Wh", "b", "Wy", "by"), (dWx, dWh, db, dWy, dby)):
            params[key] -= lr * grad
        losses.append(loss)
    return losses
