"""Soft attention over a grid of image features (numpy reference, forward/backward pair).

One decoding step of "Show, Attend and Tell" (Xu et al. 2015) looks at the image through
additive attention (Bahdanau et al. 2015). The decoder's previous hidden state h_{t-1} scores
each of the L grid locations, a softmax over the locations turns the scores into weights, and
the context vector is the weighted average of the location features:

    u_i     = tanh(V_i @ Wa_v + h_{t-1} @ Wa_h)      (N, L, A)  one hidden layer per location
    e_i     = u_i @ w_a                               (N, L)     the score of location i
    alpha   = softmax(e) over the L locations         (N, L)     sums to 1 for each row n
    z       = sum_i alpha_i V_i                       (N, D)     the context vector

Shapes: N rows (a minibatch), L locations (8 x 8 = 64 for the course's encoder), D features
per location, H hidden units of the decoder, A units of the attention layer.

The backward takes two upstream gradients: dcontext, from whatever used z (the LSTM, the
output layer), and dalpha, from whatever used alpha directly (the doubly stochastic
regulariser of Xu et al. sec. 4.2.1, sum_i (1 - sum_t alpha_ti)^2, whose value and gradient
``doubly_stochastic_regulariser`` computes); dalpha may be None.
"""
import numpy as np

from utils import validate
from utils.layers.common import softmax


def soft_attention_forward(h_prev, V, Wa_h, Wa_v, w_a):
    """One soft-attention step: where to look, and what is seen there.

    h_prev: (N, H) the decoder's previous hidden state.
    V: (N, L, D) the image's grid of features, one row of D per location.
    Wa_h: (H, A) and Wa_v: (D, A) project the state and each location into the attention
        layer; w_a: (A,) turns each location's hidden layer into one score.
    Returns: (context (N, D), alpha (N, L)), cache for soft_attention_backward.
        alpha[n] is a probability distribution over the L locations (softmax over axis 1);
        context[n] = sum_i alpha[n, i] * V[n, i].
    """
    validate.shapes("soft_attention_forward", "V: N L D, h_prev: N H, Wa_h: H A, Wa_v: D A, w_a: A",
                    V, h_prev, Wa_h, Wa_v, w_a)
    # BEGIN REFERENCE soft_attention_forward
    u = np.tanh(V @ Wa_v + (h_prev @ Wa_h)[:, None, :])   # (N, L, A)
    alpha = softmax(u @ w_a)                               # (N, L), over the locations
    context = np.einsum("nl,nld->nd", alpha, V)            # (N, D) weighted average
    cache = (h_prev, V, Wa_h, Wa_v, w_a, u, alpha)
    # END REFERENCE
    return (context, alpha), cache


def soft_attention_backward(dcontext, dalpha, cache):
    """Backward pass of soft_attention_forward.

    dcontext: (N, D) gradient of the loss with respect to the context.
    dalpha: (N, L) gradient with respect to alpha from a direct use of it (the doubly
        stochastic regulariser), or None (treated as zeros).
    cache: from soft_attention_forward.
    Returns: dh_prev (N, H), dV (N, L, D), dWa_h (H, A), dWa_v (D, A), dw_a (A,).

    V gets gradient along two paths: as the values averaged into the context, and as the
    keys that were scored.
    """
    fname = "soft_attention_backward"
    if not isinstance(cache, tuple) or len(cache) != 7:
        raise ValueError(f"{fname}: cache must be the cache of soft_attention_forward, "
                         f"got {validate.shown(cache)}")
    h_prev, V, Wa_h, Wa_v, w_a, u, alpha = cache
    validate.shapes(fname, "V: N L D, dcontext: N D, dalpha: N L", V, dcontext, dalpha)
    # BEGIN REFERENCE soft_attention_backward
    # context = sum_i alpha_i V_i: two products
    dV = alpha[:, :, None] * dcontext[:, None, :]                   # (N, L, D) as values
    dalpha_total = np.einsum("nd,nld->nl", dcontext, V)             # (N, L)
    if dalpha is not None:
        dalpha_total = dalpha_total + dalpha
    # softmax over L: de_i = alpha_i (dalpha_i - sum_j alpha_j dalpha_j)
    de = alpha * (dalpha_total - (alpha * dalpha_total).sum(axis=1, keepdims=True))  # (N, L)
    dw_a = np.einsum("nla,nl->a", u, de)                            # (A,)
    dpre = de[:, :, None] * w_a * (1 - u ** 2)                      # (N, L, A) through tanh
    dWa_v = np.einsum("nld,nla->da", V, dpre)                       # (D, A)
    dV = dV + dpre @ Wa_v.T                                         # (N, L, D) as keys
    dproj_h = dpre.sum(axis=1)                                      # (N, A): h_prev is broadcast over L
    dWa_h = h_prev.T @ dproj_h                                      # (H, A)
    dh_prev = dproj_h @ Wa_h.T                                      # (N, H)
    # END REFERENCE
    return dh_prev, dV, dWa_h, dWa_v, dw_a


def doubly_stochastic_regulariser(alphas, mask, lam):
    """The doubly stochastic regulariser of Xu et al. (sec. 4.2.1) and its gradient.

    alphas: (N, T, L) the attention map of every step of N captions (each alphas[n, t] sums
        to 1 over the L locations). mask: (N, T) 1 on a caption's real steps, 0 on padding.
    lam: lambda >= 0.
    Returns: (loss, dalphas): loss = lam / N * sum_n sum_i (1 - sum_t mask[n, t] alphas[n, t, i])^2
        (a float: summed over the locations, averaged over the captions, padding steps look
        nowhere), and dalphas (N, T, L), its gradient with respect to alphas.
    """
    N, T, L = validate.shapes("doubly_stochastic_regulariser", "alphas: N T L, mask: N T", alphas, mask)
    lam = validate.finite_number("doubly_stochastic_regulariser", "lam", lam, low=0)
    # BEGIN REFERENCE doubly_stochastic_regulariser
    looked = (alphas * mask[:, :, None]).sum(axis=1)                # (N, L) attention over the steps
    gap = 1.0 - looked                                               # (N, L)
    loss = lam * (gap ** 2).sum() / N
    dalphas = -2.0 * lam / N * gap[:, None, :] * mask[:, :, None]    # (N, T, L), zero on padding
    # END REFERENCE
    return float(loss), dalphas
