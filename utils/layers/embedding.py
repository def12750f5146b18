"""Word embedding layer (numpy reference implementation).

A vocabulary of V words is a table W of V rows, one D-dimensional vector per word. Embedding a
minibatch of N captions of T word ids is a lookup: out[n, t] = W[x[n, t]]. Seen as a layer it
is a product with one-hot vectors, out[n, t] = onehot(x[n, t]) @ W, so the gradient of the
loss with respect to row v of W is the sum of dout[n, t] over every position where x[n, t] == v.
A word that appears several times in the batch collects one contribution per appearance.
The ids themselves are integers: they get no gradient.
"""
import numpy as np

from utils import validate


def word_embedding_forward(x, W):
    """Look up the vector of every word id.

    x: (N, T) integer word ids, each in [0, V).
    W: (V, D) embedding table, one row per word of the vocabulary.
    Returns: out (N, T, D) float64 with out[n, t] = W[x[n, t]], and a cache for
        word_embedding_backward.
    """
    N, T, V, D = validate.shapes("word_embedding_forward", "x: N T, W: V D", x, W)
    x = validate.int_array("word_embedding_forward", "x", x, low=0, high=V)
    # BEGIN REFERENCE word_embedding_forward
    out = W[x]  # (N, T, D): fancy indexing copies the rows
    cache = (x, W.shape)
    # END REFERENCE
    return out, cache


def word_embedding_backward(dout, cache):
    """Gradient of the loss with respect to the embedding table.

    dout: (N, T, D) gradient of the loss with respect to out.
    cache: from word_embedding_forward.
    Returns: dW (V, D). Rows of words that were not used are zero; a word used k times
        receives the sum of its k upstream gradients.
    """
    x, (V, D) = cache
    validate.shapes("word_embedding_backward", "x: N T, dout: N T D", x, dout, D=D)
    # BEGIN REFERENCE word_embedding_backward
    dW = np.zeros((V, D))
    # dW[x[n, t]] += dout[n, t] for every (n, t). Plain `dW[x] += dout` would be wrong: with a
    # repeated id, buffered fancy-index assignment keeps only one of the contributions.
    np.add.at(dW, x, dout)
    # END REFERENCE
    return dW
