"""utils.layers.embedding: the word embedding lookup and its gradient (notebook 06)."""
import numpy as np
import pytest
import torch

from utils.gradcheck import eval_numerical_gradient_array, rel_error
from utils.layers.embedding import word_embedding_backward, word_embedding_forward


def test_forward_looks_up_rows():
    W = np.arange(12, dtype=np.float64).reshape(4, 3)  # V=4, D=3
    x = np.array([[0, 3, 1], [2, 2, 0]])               # N=2, T=3
    out, _ = word_embedding_forward(x, W)
    assert out.shape == (2, 3, 3)
    for n in range(2):
        for t in range(3):
            np.testing.assert_array_equal(out[n, t], W[x[n, t]])


def test_forward_does_not_alias_the_table():
    W = np.ones((3, 2))
    out, _ = word_embedding_forward(np.array([[1]]), W)
    out[...] = 7.0
    assert np.all(W == 1.0)


def test_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    N, T, V, D = 3, 5, 6, 4
    x = rng.integers(0, V, size=(N, T))
    x[0, :3] = 2  # make sure some id repeats
    W = rng.normal(size=(V, D))
    dout = rng.normal(size=(N, T, D))
    _, cache = word_embedding_forward(x, W)
    dW = word_embedding_backward(dout, cache)
    dW_num = eval_numerical_gradient_array(lambda W_: word_embedding_forward(x, W_)[0], W, dout)
    assert dW.shape == (V, D)
    assert rel_error(dW, dW_num) < 1e-9


def test_repeated_ids_accumulate_and_unused_rows_are_zero():
    W = np.zeros((5, 2))
    x = np.array([[1, 1, 3], [1, 0, 3]])
    dout = np.arange(12, dtype=np.float64).reshape(2, 3, 2)
    _, cache = word_embedding_forward(x, W)
    dW = word_embedding_backward(dout, cache)
    np.testing.assert_array_equal(dW[1], dout[0, 0] + dout[0, 1] + dout[1, 0])
    np.testing.assert_array_equal(dW[3], dout[0, 2] + dout[1, 2])
    np.testing.assert_array_equal(dW[0], dout[1, 1])
    np.testing.assert_array_equal(dW[[2, 4]], 0.0)
    # the total gradient is conserved: every position sends its dout to exactly one row
    np.testing.assert_allclose(dW.sum(axis=0), dout.sum(axis=(0, 1)))


def test_matches_torch_embedding():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 7, size=(4, 6))
    W = rng.normal(size=(7, 3))
    dout = rng.normal(size=(4, 6, 3))
    emb = torch.nn.Embedding.from_pretrained(torch.tensor(W), freeze=False)
    out_t = emb(torch.tensor(x))
    out_t.backward(torch.tensor(dout))
    out, cache = word_embedding_forward(x, W)
    np.testing.assert_allclose(out, out_t.detach().numpy())
    np.testing.assert_allclose(word_embedding_backward(dout, cache), emb.weight.grad.numpy())


def test_accepts_other_integer_kinds():
    W = np.eye(4)
    for ids in ([[0, 3]], np.array([[0, 3]], dtype=np.int32), torch.tensor([[0, 3]])):
        out, _ = word_embedding_forward(ids, W)
        np.testing.assert_array_equal(out, [[[1, 0, 0, 0], [0, 0, 0, 1]]])


@pytest.mark.parametrize("x, pattern", [
    (np.array([[0, 4]]), r"word_embedding_forward: x must lie in \[0, 4\), got values from 0 to 4"),
    (np.array([[-1, 2]]), r"word_embedding_forward: x must lie in \[0, 4\)"),
    (np.array([[0.0, 1.0]]), r"word_embedding_forward: x must hold integers, got dtype float64"),
    (np.array([[True, False]]), r"word_embedding_forward: x must hold integers, got dtype bool"),
    (np.array([0, 1]), r"word_embedding_forward: x must have shape \(N, T\), got \(2,\)"),
    (np.zeros((1, 2, 3), dtype=int),
     r"word_embedding_forward: x must have shape \(N, T\), got \(1, 2, 3\)"),
])
def test_bad_ids_are_refused(x, pattern):
    with pytest.raises(ValueError, match=pattern):
        word_embedding_forward(x, np.zeros((4, 3)))


def test_bad_table_and_upstream_gradient_are_refused():
    with pytest.raises(ValueError, match=r"word_embedding_forward: W must have shape \(V, D\), "
                                         r"got \(4,\)"):
        word_embedding_forward(np.array([[0]]), np.zeros(4))
    with pytest.raises(ValueError, match=r"word_embedding_forward: W must contain only finite"):
        word_embedding_forward(np.array([[0]]), np.full((2, 2), np.nan))
    _, cache = word_embedding_forward(np.array([[0, 1]]), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"word_embedding_backward: dout must have shape "
                                         r"\(N, T, D\) = \(1, 2, 5\), got \(1, 2, 4\)"):
        word_embedding_backward(np.zeros((1, 2, 4)), cache)
