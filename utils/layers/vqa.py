"""Layers of visual question answering (numpy reference, forward/backward pairs).

Two ways to join an image and a question (notebook 08), CS231n style: ``*_forward`` returns
``(out, cache)``, ``*_backward`` takes ``(dout, cache)``.

Product fusion (Antol et al. 2015): project the image vector v and the question vector q to one
size E, squash each with tanh, multiply elementwise:

    a = tanh(v @ W_v + b_v)        (N, E)
    b = tanh(q @ W_q + b_q)        (N, E)
    f = a * b                      (N, E)

Concatenation fusion, f = [v, q] (N, P + H), needs no layer of its own: its backward splits df
into its first P and last H columns.

One hop of question-guided attention (Stacked Attention Networks, Yang et al. 2016). The query
u (the question vector, later the refined query) scores each of the L locations of the image:

    h_i  = tanh(V_i @ W_I + u @ W_Q + b_A)     (N, L, K)  one hidden layer per location
    e_i  = h_i @ w_P                           (N, L)
    p    = softmax(e) over the L locations     (N, L)
    u'   = u + sum_i p_i V_i                   (N, d)     the refined query (a residual)

Shapes: N rows, P image-vector size, H question-vector size, E fused size, L locations, d the
size shared by the query and every location's features, K units of the attention layer.

Multiple choice (the Visual7W-style model of notebook 08): the state after each question's last
real word, h_T = states[n, lengths[n]], scores each of K candidate embeddings a_k,
s_k = a_k . (h_T + v @ W_o) / sqrt(H), and the loss is the softmax cross-entropy over the K
candidates, averaged over the N questions (``multiple_choice_loss``).
"""
import numpy as np

from utils import validate
from utils.layers.common import softmax


def product_fusion_forward(v, q, W_v, b_v, W_q, b_q):
    """Elementwise-product fusion of an image vector and a question vector.

    v: (N, P) image vectors; q: (N, H) question vectors.
    W_v: (P, E), b_v: (E,), W_q: (H, E), b_q: (E,).
    Returns: f (N, E) = tanh(v @ W_v + b_v) * tanh(q @ W_q + b_q), and the cache
    (v, q, W_v, W_q, a, b) with a = tanh(v @ W_v + b_v), b = tanh(q @ W_q + b_q).
    """
    validate.shapes("product_fusion_forward", "v: N P, q: N H, W_v: P E, b_v: E, W_q: H E, b_q: E",
                    v, q, W_v, b_v, W_q, b_q)
    # BEGIN REFERENCE product_fusion_forward
    a = np.tanh(v @ W_v + b_v)        # (N, E)
    b = np.tanh(q @ W_q + b_q)        # (N, E)
    f = a * b
    cache = (v, q, W_v, W_q, a, b)
    # END REFERENCE
    return f, cache


def product_fusion_backward(df, cache):
    """Backward pass of product_fusion_forward.

    df: (N, E) gradient of the loss with respect to f.
    Returns: dv (N, P), dq (N, H), dW_v (P, E), db_v (E,), dW_q (H, E), db_q (E,).
    """
    fname = "product_fusion_backward"
    if not isinstance(cache, tuple) or len(cache) != 6:
        raise ValueError(f"{fname}: cache must be the cache of product_fusion_forward, "
                         f"got {validate.shown(cache)}")
    v, q, W_v, W_q, a, b = cache
    validate.shapes(fname, "a: N E, df: N E", a, df)
    # BEGIN REFERENCE product_fusion_backward
    dpre_v = df * b * (1 - a ** 2)      # (N, E): each factor's gradient is the other factor
    dpre_q = df * a * (1 - b ** 2)      # (N, E)
    dv, dW_v, db_v = dpre_v @ W_v.T, v.T @ dpre_v, dpre_v.sum(axis=0)
    dq, dW_q, db_q = dpre_q @ W_q.T, q.T @ dpre_q, dpre_q.sum(axis=0)
    # END REFERENCE
    return dv, dq, dW_v, db_v, dW_q, db_q


def concat_fusion_backward(df, P):
    """Backward of f = [v, q]: (dv, dq) = (df[:, :P], df[:, P:])."""
    validate.shapes("concat_fusion_backward", "df: N F", df)
    return df[:, :P], df[:, P:]


def attention_hop_forward(u, V, W_I, W_Q, b_A, w_P):
    """One hop of question-guided attention.

    u: (N, d) the query; V: (N, L, d) the features of each location.
    W_I: (d, K), W_Q: (d, K), b_A: (K,), w_P: (K,).
    Returns: (u_next (N, d), p (N, L)), cache (u, V, W_I, W_Q, w_P, h, p) with
    h = tanh(V @ W_I + (u @ W_Q + b_A)[:, None, :]) (N, L, K).
    """
    validate.shapes("attention_hop_forward", "V: N L d, u: N d, W_I: d K, W_Q: d K, b_A: K, w_P: K",
                    V, u, W_I, W_Q, b_A, w_P)
    # BEGIN REFERENCE attention_hop_forward
    h = np.tanh(V @ W_I + (u @ W_Q + b_A)[:, None, :])     # (N, L, K)
    p = softmax(h @ w_P)                                   # (N, L) over the locations
    u_next = u + np.einsum("nl,nld->nd", p, V)             # (N, d): the residual keeps u
    cache = (u, V, W_I, W_Q, w_P, h, p)
    # END REFERENCE
    return (u_next, p), cache


def attention_hop_backward(du_next, dp, cache):
    """Backward pass of attention_hop_forward.

    du_next: (N, d) gradient with respect to u_next; dp: (N, L) gradient with respect to p
    from a direct use of it, or None.
    Returns: du (N, d), dV (N, L, d), dW_I (d, K), dW_Q (d, K), db_A (K,), dw_P (K,).

    u reaches u_next twice: directly (the residual) and through the scores. V too: as the
    values averaged, and as the keys scored.
    """
    fname = "attention_hop_backward"
    if not isinstance(cache, tuple) or len(cache) != 7:
        raise ValueError(f"{fname}: cache must be the cache of attention_hop_forward, "
                         f"got {validate.shown(cache)}")
    u, V, W_I, W_Q, w_P, h, p = cache
    validate.shapes(fname, "V: N L d, du_next: N d, dp: N L", V, du_next, dp)
    # BEGIN REFERENCE attention_hop_backward
    dp_total = np.einsum("nd,nld->nl", du_next, V)                      # (N, L)
    if dp is not None:
        dp_total = dp_total + dp
    de = p * (dp_total - (p * dp_total).sum(axis=1, keepdims=True))     # (N, L) softmax backward
    dw_P = np.einsum("nlk,nl->k", h, de)                                # (K,)
    dpre = de[:, :, None] * w_P * (1 - h ** 2)                          # (N, L, K) through tanh
    dquery = dpre.sum(axis=1)                                           # (N, K): broadcast over L
    dV = p[:, :, None] * du_next[:, None, :] + dpre @ W_I.T             # values + keys
    du = du_next + dquery @ W_Q.T                                       # residual + scores
    dW_I = np.einsum("nld,nlk->dk", V, dpre)
    dW_Q = u.T @ dquery
    db_A = dquery.sum(axis=0)
    # END REFERENCE
    return du, dV, dW_I, dW_Q, db_A, dw_P


def multiple_choice_loss(states, lengths, answers, image, correct):
    """Candidate scores and the multiple-choice loss of the Visual7W-style model (notebook 08).

    states: (N, T+1, H) the LSTM's hidden state after each input; states[:, 0] after the image
    x_0, states[:, t] after word t, and the steps past a question's last word read padding.
    lengths: (N,) ints in 1..T, each question's number of real words.
    answers: (N, K, H) the K candidates' embeddings a_k; image: (N, H) the image term v @ W_o;
    correct: (N,) ints in 0..K-1, the index of each question's right candidate.
    Returns: scores (N, K) with s_k = a_k . (h_T + v @ W_o) / sqrt(H), h_T = states[n, lengths[n]],
    and loss, the cross-entropy -log softmax_k(s)[correct] averaged over the N questions (float).
    """
    fname = "multiple_choice_loss"
    N, T1, H, K = validate.shapes(fname, "states: N T1 H, answers: N K H, image: N H, lengths: N, correct: N",
                                  states, answers, image, lengths, correct, kind="numpy")
    lengths = validate.int_array(fname, "lengths", lengths, low=1, high=T1)
    correct = validate.int_array(fname, "correct", correct, low=0, high=K)
    # BEGIN REFERENCE multiple_choice_loss
    rows = np.arange(len(states))
    h_T = states[rows, lengths]                                        # (N, H): the last real word's state
    scores = np.einsum("nkh,nh->nk", answers, h_T + image) / np.sqrt(states.shape[2])   # (N, K)
    shifted = scores - scores.max(axis=1, keepdims=True)               # stable softmax over the K candidates
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[rows, correct].mean()                                # averaged over the N questions
    # END REFERENCE
    return scores, float(loss)
