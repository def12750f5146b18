"""Checks of notebook 07's soft-attention exercises (the step's forward and backward).

soft_attention_forward is compared with the reference in utils.layers.attention;
soft_attention_backward gets the reference forward's cache (its layout is fixed:
``(h_prev, V, Wa_h, Wa_v, w_a, u, alpha)`` with u = tanh(V @ Wa_v + h_prev @ Wa_h)) and is
compared with numerical gradients, with dalpha given and with dalpha=None. The checks of the
training objectives (hard attention's REINFORCE surrogate, the doubly stochastic regulariser)
are in ``utils.checks.attention_losses``.
Shapes: N, L, D, H, A all different, so swapped axes and transposed weights fail. A check
recognises the classic mistakes (softmax over the wrong axis, a missing tanh or tanh', a sum
instead of a weighted average, a forgotten dalpha) and names them.
"""
import numpy as np

from utils.checks.core import (CheckFailed, call_student, close_enough, exercise_check, expect_array, expect_cache,
                               expect_tuple, expect_unchanged, passed)
from utils.gradcheck import eval_numerical_gradient_array
from utils.layers.attention import soft_attention_forward
from utils.layers.common import softmax

CASES = [(3, 5, 4, 6, 7), (2, 9, 3, 5, 4)]     # (N, L, D, H, A)
INPUT_NAMES = ("h_prev", "V", "Wa_h", "Wa_v", "w_a")
GRAD_NAMES = ("dh_prev", "dV", "dWa_h", "dWa_v", "dw_a")
CACHE_NAMES = ("h_prev", "V", "Wa_h", "Wa_v", "w_a", "u", "alpha")


def _inputs(rng, N, L, D, H, A):
    """Inputs whose scores spread well (alpha neither uniform nor one-hot)."""
    return [rng.normal(size=(N, H)), rng.normal(size=(N, L, D)), rng.normal(scale=0.6, size=(H, A)),
            rng.normal(scale=0.6, size=(D, A)), rng.normal(scale=1.2, size=A)]


def _forward_variants(h_prev, V, Wa_h, Wa_v, w_a):
    """(context, alpha) of the classic mistakes, to name the one a student made."""
    pre = V @ Wa_v + (h_prev @ Wa_h)[:, None, :]
    e = np.tanh(pre) @ w_a
    alpha = softmax(e)
    alpha_wrong_axis = np.exp(e - e.max(axis=0)) / np.exp(e - e.max(axis=0)).sum(axis=0)
    alpha_no_tanh = softmax(pre @ w_a)
    return {
        "softmax over the wrong axis": (np.einsum("nl,nld->nd", alpha_wrong_axis, V), alpha_wrong_axis),
        "no tanh": (np.einsum("nl,nld->nd", alpha_no_tanh, V), alpha_no_tanh),
        "sum of features": (V.sum(axis=1), alpha),
        "mean of features": (V.mean(axis=1), alpha),
        "scores instead of weights": (np.einsum("nl,nld->nd", e, V), alpha),
    }


_FORWARD_HINTS = {
    "softmax over the wrong axis": "alpha is a softmax over the L locations of each row: normalise "
                                   "over axis 1 (each alpha[n] sums to 1), not over the batch",
    "no tanh": "the tanh is missing: e_i = w_a . tanh(V_i @ Wa_v + h_prev @ Wa_h); without it the "
               "scores are linear and h_prev cannot change which location wins",
    "sum of features": "the context is a weighted average, sum_i alpha_i V_i: you summed the "
                       "features without the weights",
    "mean of features": "the context is a weighted average, sum_i alpha_i V_i, not the plain mean "
                        "(that is uniform attention)",
    "scores instead of weights": "weight the features by alpha (after the softmax), not by the "
                                 "raw scores e",
}


def _name_forward_mistake(args, context, alpha):
    for kind, (c, a) in _forward_variants(*args).items():
        if close_enough(context, c, 1e-7) and close_enough(alpha, a, 1e-7):
            return _FORWARD_HINTS[kind]
    return None


@exercise_check
def check_soft_attention_forward(student_fn, seed=0):
    """Check ``soft_attention_forward(h_prev, V, Wa_h, Wa_v, w_a) -> ((context, alpha), cache)``."""
    name = "soft_attention_forward"
    rng = np.random.default_rng(seed)
    for N, L, D, H, A in CASES:
        args = _inputs(rng, N, L, D, H, A)
        copies = [a.copy() for a in args]
        result = expect_tuple(name, call_student(name, student_fn, *copies), ("(context, alpha)", "cache"))
        for before, after, what in zip(args, copies, INPUT_NAMES):
            expect_unchanged(name, before, after, what)
        outputs = expect_tuple(name, result[0], ("context", "alpha"))
        (context, alpha), cache = soft_attention_forward(*args)
        label = f"case N={N}, L={L}, D={D}, H={H}, A={A}"
        for got, expected, what in ((outputs[1], alpha, "alpha"), (outputs[0], context, "context")):
            try:
                expect_array(name, got, expected, what=f"{what} ({label})", rtol=1e-8)
            except CheckFailed as exc:
                hint = _name_forward_mistake(args, outputs[0], outputs[1])
                hint = hint or ("u = tanh(V @ Wa_v + (h_prev @ Wa_h)[:, None, :]) is (N, L, A); "
                                "e = u @ w_a is (N, L); alpha = softmax(e) over axis 1; "
                                "context = sum over i of alpha[:, i, None] * V[:, i]")
                raise CheckFailed(f"{exc}\n{hint}") from None
        expect_cache(name, result[1], cache, CACHE_NAMES, label)
    passed(name, f"context, alpha and the cache match the reference on {len(CASES)} random cases "
                 f"(max relative error < 1e-8)")


def _numerical(args, dcontext, dalpha):
    """Numerical gradients of <dcontext, context> + <dalpha, alpha> for every input."""
    grads = []
    douts = np.concatenate([dcontext.ravel(), dalpha.ravel()])
    for k in range(len(args)):
        def f(value, k=k):
            a = [x.copy() for x in args]
            a[k] = value
            (c, al), _ = soft_attention_forward(*a)
            return np.concatenate([c.ravel(), al.ravel()])
        grads.append(eval_numerical_gradient_array(f, args[k].copy(), douts))
    return grads


def _backward_with(cache, dcontext, dalpha, tanh_grad=True, keys_path=True):
    """The five gradients, with the tanh' factor and the keys' path of dV optional."""
    h_prev, V, Wa_h, Wa_v, w_a, u, alpha = cache
    da = np.einsum("nd,nld->nl", dcontext, V) + (0 if dalpha is None else dalpha)
    de = alpha * (da - (alpha * da).sum(axis=1, keepdims=True))
    dpre = de[:, :, None] * w_a * ((1.0 - u ** 2) if tanh_grad else 1.0)
    dV = alpha[:, :, None] * dcontext[:, None, :] + (dpre @ Wa_v.T if keys_path else 0.0)
    return dict(zip(GRAD_NAMES, (dpre.sum(axis=1) @ Wa_h.T, dV, h_prev.T @ dpre.sum(axis=1),
                                 np.einsum("nld,nla->da", V, dpre), np.einsum("nla,nl->a", u, de))))


def _backward_variants(cache, dcontext, dalpha):
    """Gradients of the classic backward mistakes, to name the one a student made."""
    alpha = cache[-1]
    out = {"no tanh derivative": _backward_with(cache, dcontext, dalpha, tanh_grad=False)}
    if dalpha is not None:
        out["dalpha ignored"] = _backward_with(cache, dcontext, None)
    out["dV as values only"] = _backward_with(cache, dcontext, dalpha, keys_path=False)
    full = _backward_with(cache, dcontext, dalpha)
    out["dV as keys only"] = {"dV": full["dV"] - alpha[:, :, None] * dcontext[:, None, :]}
    return out


_BACKWARD_HINTS = {
    "no tanh derivative": "the tanh's derivative is missing: between de and the weights, multiply "
                          "by (1 - u ** 2) (u = tanh(...) is in the cache)",
    "dalpha ignored": "dalpha is ignored: it adds to the gradient of alpha before the softmax's "
                      "backward (dalpha_total = dcontext . V_i + dalpha); the doubly stochastic "
                      "regulariser reaches the attention only this way",
    "dV as values only": "V is used twice, as the values averaged into the context and as the "
                         "keys that were scored: add the keys' part dpre @ Wa_v.T",
    "dV as keys only": "V is used twice: add the values' part alpha[:, :, None] * dcontext[:, None, :]",
}


@exercise_check
def check_soft_attention_backward(student_fn, seed=1):
    """Check ``soft_attention_backward(dcontext, dalpha, cache) -> (dh_prev, dV, dWa_h, dWa_v, dw_a)``
    on the reference forward's cache, against numerical gradients, with dalpha given and None."""
    name = "soft_attention_backward"
    rng = np.random.default_rng(seed)
    for N, L, D, H, A in CASES:
        args = _inputs(rng, N, L, D, H, A)
        _, cache = soft_attention_forward(*args)
        dcontext = rng.normal(size=(N, D))
        for dalpha in (rng.normal(size=(N, L)), None):
            given = dcontext.copy(), None if dalpha is None else dalpha.copy()
            got = expect_tuple(name, call_student(name, student_fn, given[0], given[1], cache), GRAD_NAMES)
            expect_unchanged(name, dcontext, given[0], "dcontext")
            if dalpha is not None:
                expect_unchanged(name, dalpha, given[1], "dalpha")
            numeric = _numerical(args, dcontext, np.zeros((N, L)) if dalpha is None else dalpha)
            label = (f"case N={N}, L={L}, D={D}, H={H}, A={A}, dalpha "
                     f"{'given' if dalpha is not None else 'None'}, vs numerical gradient")
            variants = _backward_variants(cache, dcontext, dalpha)
            for g, num, what in zip(got, numeric, GRAD_NAMES):
                try:
                    expect_array(name, g, num, what=f"{what} ({label})", rtol=1e-6)
                except CheckFailed as exc:
                    known = next((k for k, grads in variants.items()
                                  if what in grads and close_enough(g, grads[what], 1e-7)), None)
                    hint = _BACKWARD_HINTS[known] if known else {
                        "dh_prev": "h_prev @ Wa_h is added to every location: sum dpre over the L "
                                   "locations, then multiply by Wa_h.T",
                        "dWa_h": "dWa_h = h_prev.T @ (dpre summed over the locations)",
                        "dWa_v": "dWa_v sums V_i outer dpre_i over every row and location",
                        "dw_a": "e = u @ w_a: dw_a sums u_i * de_i over every row and location",
                        "dV": "V is used as values (alpha * dcontext) and as keys (dpre @ Wa_v.T)",
                    }[what]
                    raise CheckFailed(f"{exc}\n{hint}") from None
    passed(name, f"all five gradients match numerical gradients on {len(CASES)} random cases, "
                 f"with dalpha given and dalpha=None (relative error < 1e-6)")
