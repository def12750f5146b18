"""The numpy model of the 'hello' example: a vanilla RNN (reference layers) and an output layer."""
import numpy as np

from utils import validate
from utils.data.hello import HELLO_VOCAB
from utils.layers import rnn_forward, temporal_affine_forward


def init_hello_params(hidden_size=3, seed=0):
    """Small random weights: Wx (4, H), Wh (H, H), b (H,), Wy (H, 4), by (4,)."""
    H = validate.positive_int("init_hello_params", "hidden_size", hidden_size)
    rng = np.random.default_rng(seed)
    V = len(HELLO_VOCAB)
    return {"Wx": rng.normal(scale=0.5, size=(V, H)), "Wh": rng.normal(scale=0.5, size=(H, H)),
            "b": np.zeros(H), "Wy": rng.normal(scale=0.5, size=(H, V)), "by": np.zeros(V)}


def hello_scores(params, x):
    """Scores (1, T, 4) of the model on one-hot inputs x (1, T, 4)."""
    h, _ = rnn_forward(x, None, params["Wx"], params["Wh"], params["b"])
    return temporal_affine_forward(h, params["Wy"], params["by"])[0]
