"""The 'hello' example of notebook 02: four letters, one word, and the data a tiny RNN learns from."""
import numpy as np

HELLO_VOCAB = ["h", "e", "l", "o"]


def hello_data():
    """One-hot inputs for "hell" and the targets "ello". Returns x (1, 4, 4), y (1, 4) ids."""
    ids = [HELLO_VOCAB.index(c) for c in "hello"]
    x = np.eye(len(HELLO_VOCAB))[ids[:-1]][None]  # (1, 4, 4)
    y = np.array(ids[1:])[None]  # (1, 4)
    return x, y
