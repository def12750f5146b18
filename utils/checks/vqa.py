"""Checks of notebook 08 (visual question answering).

The product fusion and the question-guided attention hop are compared with the references in
``utils.layers.vqa``; each backward gets the reference forward's cache (layouts fixed:
``(v, q, W_v, W_q, a, b)`` for the fusion, ``(u, V, W_I, W_Q, w_P, h, p)`` for the hop) and
is compared with numerical gradients. Sizes are all different (P, H, E; L, d, K), so a swapped
axis or a transposed weight fails on shape or value. A failing check names the classic mistake
it recognises (softmax over the wrong axis, a missing tanh or tanh', the two factors of the
product swapped, a bias gradient not summed over the batch, a forgotten residual).
The multiple-choice scores and loss are compared with ``multiple_choice_loss`` on padded
questions of different lengths; a failure names the slip it matches (the padded or previous
step gathered for h_T, the scale or the image term missing, the softmax over the questions, the
loss divided by K or N * K or not averaged, the wrong candidate picked).
"""
import numpy as np

from utils.checks.core import (CheckFailed, as_numpy, call_student, exercise_check, expect_array,
                               expect_cache, expect_tuple, expect_unchanged, passed, slip_hint)
from utils.gradcheck import eval_numerical_gradient_array
from utils.layers.common import softmax
from utils.layers.vqa import attention_hop_forward, multiple_choice_loss, product_fusion_forward

FUSION_CASES = [(3, 5, 4, 6), (4, 7, 3, 2)]          # (N, P, H, E)
HOP_CASES = [(3, 5, 4, 6), (2, 7, 3, 5)]             # (N, L, d, K)
FUSION_INPUTS = ("v", "q", "W_v", "b_v", "W_q", "b_q")
FUSION_GRADS = ("dv", "dq", "dW_v", "db_v", "dW_q", "db_q")
HOP_INPUTS = ("u", "V", "W_I", "W_Q", "b_A", "w_P")
HOP_GRADS = ("du", "dV", "dW_I", "dW_Q", "db_A", "dw_P")
FUSION_CACHE = ("v", "q", "W_v", "W_q", "a", "b")
HOP_CACHE = ("u", "V", "W_I", "W_Q", "w_P", "h", "p")


def _fusion_inputs(rng, N, P, H, E):
    return [rng.normal(size=(N, P)), rng.normal(size=(N, H)), rng.normal(scale=0.5, size=(P, E)),
            rng.normal(scale=0.5, size=E), rng.normal(scale=0.5, size=(H, E)),
            rng.normal(scale=0.5, size=E)]


def _hop_inputs(rng, N, L, d, K):
    return [rng.normal(size=(N, d)), rng.normal(size=(N, L, d)), rng.normal(scale=0.6, size=(d, K)),
            rng.normal(scale=0.6, size=(d, K)), rng.normal(scale=0.5, size=K),
            rng.normal(scale=1.2, size=K)]


def _numerical(forward, args, douts):
    """Numerical gradients of sum(dout * out) over the outputs of forward, for every input."""
    flat = np.concatenate([d.ravel() for d in douts])
    grads = []
    for k in range(len(args)):
        def f(value, k=k):
            a = [x.copy() for x in args]
            a[k] = value
            out = forward(*a)[0]
            out = out if isinstance(out, tuple) else (out,)
            return np.concatenate([o.ravel() for o in out])
        grads.append(eval_numerical_gradient_array(f, args[k].copy(), flat))
    return grads


def _call(name, fn, args, names, result_names):
    copies = [a.copy() for a in args]
    result = expect_tuple(name, call_student(name, fn, *copies), result_names)
    for before, after, what in zip(args, copies, names):
        expect_unchanged(name, before, after, what)
    return result


# ------------------------------------------------------------------------------ product fusion
def _fusion_slips(v, q, W_v, b_v, W_q, b_q):
    a_pre, b_pre = v @ W_v + b_v, q @ W_q + b_q
    return {
        "the tanh of each projection is missing: f = tanh(v @ W_v + b_v) * tanh(q @ W_q + b_q)":
            lambda: a_pre * b_pre,
        "a bias is missing: each projection is v @ W_v + b_v (and q @ W_q + b_q) before the tanh":
            lambda: np.tanh(v @ W_v) * np.tanh(q @ W_q),
        "the fusion is an elementwise product of the two squashed projections, not their sum":
            lambda: np.tanh(a_pre) + np.tanh(b_pre),
    }


@exercise_check
def check_product_fusion_forward(student_fn, seed=0):
    """Check ``product_fusion_forward(v, q, W_v, b_v, W_q, b_q) -> (f, cache)``."""
    name = "product_fusion_forward"
    rng = np.random.default_rng(seed)
    for N, P, H, E in FUSION_CASES:
        args = _fusion_inputs(rng, N, P, H, E)
        got, got_cache = _call(name, student_fn, args, FUSION_INPUTS, ("f", "cache"))
        f, cache = product_fusion_forward(*args)
        label = f"case N={N}, P={P}, H={H}, E={E}"
        try:
            expect_array(name, got, f, what=f"f ({label})", rtol=1e-8)
        except CheckFailed as exc:
            hint = slip_hint(got, _fusion_slips(*args)) or (
                "\nf has shape (N, E): project v with W_v and q with W_q, add each bias, squash "
                "each with tanh, then multiply the two (N, E) arrays elementwise")
            raise CheckFailed(f"{exc}{hint}") from None
        expect_cache(name, got_cache, cache, FUSION_CACHE, label)
    passed(name, f"f and the cache match the reference on {len(FUSION_CASES)} random cases "
                 f"(max relative error < 1e-8)")


def _fusion_backward_slips(df, cache):
    v, q, W_v, W_q, a, b = cache

    def grads(dv_pre, dq_pre, sum_bias=True):
        db_v = dv_pre.sum(axis=0) if sum_bias else dv_pre
        db_q = dq_pre.sum(axis=0) if sum_bias else dq_pre
        return dv_pre @ W_v.T, dq_pre @ W_q.T, v.T @ dv_pre, db_v, q.T @ dq_pre, db_q

    return {
        "the tanh's derivative is missing: multiply by (1 - a ** 2) and (1 - b ** 2) (a and b "
        "are the cached tanh outputs)": lambda: grads(df * b, df * a),
        "the factors are swapped: the gradient of a * b with respect to a is b (the OTHER factor), "
        "times df": lambda: grads(df * a * (1 - a ** 2), df * b * (1 - b ** 2)),
        "the bias was added to every row, so its gradient sums over the N rows (axis 0)":
            lambda: grads(df * b * (1 - a ** 2), df * a * (1 - b ** 2), sum_bias=False),
    }


@exercise_check
def check_product_fusion_backward(student_fn, seed=1):
    """Check ``product_fusion_backward(df, cache) -> (dv, dq, dW_v, db_v, dW_q, db_q)`` on the
    reference forward's cache, against numerical gradients."""
    name = "product_fusion_backward"
    rng = np.random.default_rng(seed)
    for N, P, H, E in FUSION_CASES:
        args = _fusion_inputs(rng, N, P, H, E)
        _, cache = product_fusion_forward(*args)
        df = rng.normal(size=(N, E))
        given = df.copy()
        got = expect_tuple(name, call_student(name, student_fn, given, cache), FUSION_GRADS)
        expect_unchanged(name, df, given, "df")
        numeric = _numerical(product_fusion_forward, args, [df])
        label = f"case N={N}, P={P}, H={H}, E={E}, vs numerical gradient"
        for g, num, what in zip(got, numeric, FUSION_GRADS):
            try:
                expect_array(name, g, num, what=f"{what} ({label})", rtol=1e-6)
            except CheckFailed as exc:
                hint = slip_hint(got, _fusion_backward_slips(df, cache)) or {
                    "dv": "\ndv = (df * b * (1 - a ** 2)) @ W_v.T",
                    "dq": "\ndq: by symmetry with dv, with the roles of a and b exchanged",
                    "dW_v": "\ndW_v = v.T @ (the gradient at the input of the first tanh)",
                    "db_v": "\ndb_v sums the gradient at the input of the first tanh over the rows",
                    "dW_q": "\ndW_q = q.T @ (the gradient at the input of the second tanh)",
                    "db_q": "\ndb_q sums the gradient at the input of the second tanh over the rows",
                }[what]
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"all six gradients match numerical gradients on {len(FUSION_CASES)} random "
                 f"cases (relative error < 1e-6)")


# ------------------------------------------------------------------------------ attention hop
def _hop_slips(u, V, W_I, W_Q, b_A, w_P):
    pre = V @ W_I + (u @ W_Q + b_A)[:, None, :]
    e = np.tanh(pre) @ w_P
    p = softmax(e)
    wrong_axis = np.exp(e - e.max(axis=0)) / np.exp(e - e.max(axis=0)).sum(axis=0)
    no_tanh = softmax(pre @ w_P)

    def out(weights, residual=True):
        return (u if residual else 0) + np.einsum("nl,nld->nd", weights, V), weights

    return {
        "the softmax runs over the wrong axis: p[n] is a distribution over the L locations of row "
        "n (normalise over axis 1)": lambda: out(wrong_axis),
        "the residual is missing: u_next = u + sum_i p_i V_i (the query is refined, not replaced)":
            lambda: out(p, residual=False),
        "the tanh is missing: h_i = tanh(V_i @ W_I + u @ W_Q + b_A)": lambda: out(no_tanh),
        "u_next adds the plain mean of the locations: weight each V_i by p_i":
            lambda: (u + V.mean(axis=1), p),
    }


@exercise_check
def check_attention_hop_forward(student_fn, seed=2):
    """Check ``attention_hop_forward(u, V, W_I, W_Q, b_A, w_P) -> ((u_next, p), cache)``."""
    name = "attention_hop_forward"
    rng = np.random.default_rng(seed)
    for N, L, d, K in HOP_CASES:
        args = _hop_inputs(rng, N, L, d, K)
        result = _call(name, student_fn, args, HOP_INPUTS, ("(u_next, p)", "cache"))
        outputs = expect_tuple(name, result[0], ("u_next", "p"))
        (u_next, p), cache = attention_hop_forward(*args)
        label = f"case N={N}, L={L}, d={d}, K={K}"
        for got, expected, what in ((outputs[1], p, "p"), (outputs[0], u_next, "u_next")):
            try:
                expect_array(name, got, expected, what=f"{what} ({label})", rtol=1e-8)
            except CheckFailed as exc:
                hint = slip_hint(outputs, _hop_slips(*args)) or (
                    "\nh = tanh(V @ W_I + (u @ W_Q + b_A)[:, None, :]) is (N, L, K); e = h @ w_P "
                    "is (N, L); p = softmax of e over the locations; u_next = u + the p-weighted "
                    "sum of the V_i")
                raise CheckFailed(f"{exc}{hint}") from None
        expect_cache(name, result[1], cache, HOP_CACHE, label)
    passed(name, f"u_next, p and the cache match the reference on {len(HOP_CASES)} random cases "
                 f"(max relative error < 1e-8)")


def _hop_backward_slips(du_next, dp, cache):
    u, V, W_I, W_Q, w_P, h, p = cache

    def grads(tanh_grad=True, residual=True, keys=True, values=True, use_dp=True):
        dp_total = np.einsum("nd,nld->nl", du_next, V)
        if dp is not None and use_dp:
            dp_total = dp_total + dp
        de = p * (dp_total - (p * dp_total).sum(axis=1, keepdims=True))
        dpre = de[:, :, None] * w_P * ((1 - h ** 2) if tanh_grad else 1)
        dquery = dpre.sum(axis=1)
        dV = (p[:, :, None] * du_next[:, None, :] if values else 0) + (dpre @ W_I.T if keys else 0)
        du = (du_next if residual else 0) + dquery @ W_Q.T
        return (du, dV, np.einsum("nld,nlk->dk", V, dpre), u.T @ dquery, dquery.sum(axis=0),
                np.einsum("nlk,nl->k", h, de))

    return {
        "the tanh's derivative is missing: multiply by (1 - h ** 2) (h is in the cache)":
            lambda: grads(tanh_grad=False),
        "the residual's gradient is missing: u reaches u_next directly too, so du starts from "
        "du_next": lambda: grads(residual=False),
        "V is used twice, as values and as keys: dV adds p[:, :, None] * du_next[:, None, :] and "
        "the keys' part": lambda: grads(keys=False),
        "dp is ignored: it adds to the gradient of p before the softmax's backward":
            lambda: grads(use_dp=False) if dp is not None else None,
    }


@exercise_check
def check_attention_hop_backward(student_fn, seed=3):
    """Check ``attention_hop_backward(du_next, dp, cache) -> (du, dV, dW_I, dW_Q, db_A, dw_P)``
    on the reference forward's cache, against numerical gradients (dp given and None)."""
    name = "attention_hop_backward"
    rng = np.random.default_rng(seed)
    for N, L, d, K in HOP_CASES:
        args = _hop_inputs(rng, N, L, d, K)
        _, cache = attention_hop_forward(*args)
        du_next = rng.normal(size=(N, d))
        for dp in (rng.normal(size=(N, L)), None):
            given = du_next.copy(), None if dp is None else dp.copy()
            got = expect_tuple(name, call_student(name, student_fn, given[0], given[1], cache), HOP_GRADS)
            expect_unchanged(name, du_next, given[0], "du_next")
            numeric = _numerical(attention_hop_forward, args,
                                 [du_next, np.zeros((N, L)) if dp is None else dp])
            label = (f"case N={N}, L={L}, d={d}, K={K}, dp {'given' if dp is not None else 'None'}, "
                     f"vs numerical gradient")
            for g, num, what in zip(got, numeric, HOP_GRADS):
                try:
                    expect_array(name, g, num, what=f"{what} ({label})", rtol=1e-6)
                except CheckFailed as exc:
                    hint = slip_hint(got, _hop_backward_slips(du_next, dp, cache)) or {
                        "du": "\ndu = du_next (the residual) + dquery @ W_Q.T, with dquery = dpre summed over "
                              "the L locations (u @ W_Q + b_A was added to every location)",
                        "dV": "\nV is used as values (p * du_next) and as keys (dpre @ W_I.T)",
                        "dW_I": "\ndW_I sums V_i outer dpre_i over every row and location",
                        "dW_Q": "\nu @ W_Q is added to every location: dW_Q = u.T @ (dpre summed "
                                "over the L locations)",
                        "db_A": "\nb_A is added to every row and location: sum dpre over both",
                        "dw_P": "\ne = h @ w_P: dw_P sums h_i * de_i over every row and location",
                    }[what]
                    raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"all six gradients match numerical gradients on {len(HOP_CASES)} random cases, "
                 f"with dp given and dp=None (relative error < 1e-6)")


# ------------------------------------------------------------------------------ multiple choice
MC_CASES = [(5, 4, 6, 4), (3, 6, 9, 5)]               # (N, T, H, K)
MC_INPUTS = ("states", "lengths", "answers", "image", "correct")


def _mc_inputs(rng, N, T, H, K):
    lengths = rng.integers(1, T + 1, size=N)
    lengths[:2] = (T, max(1, T - 2))                  # one question fills every step, one does not
    return [rng.normal(size=(N, T + 1, H)), lengths, rng.normal(size=(N, K, H)),
            rng.normal(scale=0.5, size=(N, H)), rng.integers(0, K, size=N)]


def _mc_variant(states, lengths, answers, image, correct, step=0, scale=True, with_image=True,
                axis=1, shift_axis=None, reduce="batch", index="right"):
    """(scores, loss) with one choice changed: the slips a check recognises."""
    N, H, K = len(states), states.shape[2], answers.shape[1]
    rows = np.arange(N)
    h = states[:, -1] if step == "padded" else states[rows, lengths + step]
    s = np.einsum("nkh,nh->nk", answers, h + (image if with_image else 0)) / (np.sqrt(H) if scale else 1)
    m = s.max(axis=axis if shift_axis is None else shift_axis, keepdims=True)
    log_p = s - m - np.log(np.exp(s - m).sum(axis=axis, keepdims=True))
    picked = {"right": log_p[rows, correct], "first": log_p[:, 0], "columns": log_p[:, correct]}[index]
    total = -picked.sum() if index != "columns" else -picked.mean() * N
    return s, total / {"batch": N, "candidates": K, "both": N * K, "none": 1}[reduce]


def _mc_slips(args):
    def slip(**change):
        return lambda: _mc_variant(*args, **change)
    return {
        "h_T is the state at the last padded step, states[:, -1]: a shorter question's last word "
        "is at step lengths[n] (gather one state per row)": slip(step="padded"),
        "h_T is taken one step early (lengths - 1): states[:, 0] is the state after the image, so "
        "the state after word t is states[:, t]": slip(step=-1),
        "the scale is missing: the scores are divided by sqrt(H)": slip(scale=False),
        "the image term is missing: each candidate is scored against h_T + image": slip(with_image=False),
        "the softmax runs over the wrong axis: each question's distribution is over its K "
        "candidates (axis 1)": slip(axis=0),
        "the largest score subtracted is each column's (axis 0): subtract each row's own largest "
        "score, which leaves that row's softmax unchanged": slip(shift_axis=0),
        "the loss is divided by the number of candidates K: average over the N questions": slip(reduce="candidates"),
        "the loss is averaged over all N * K scores: sum -log p(right) over the questions and "
        "divide by N": slip(reduce="both"),
        "the loss is summed over the questions, not averaged": slip(reduce="none"),
        "the loss always takes candidate 0: pick each row's own right candidate, "
        "log_p[np.arange(N), correct]": slip(index="first"),
        "log_p[:, correct] is an (N, N) block, one column per question: pick one entry per row, "
        "log_p[np.arange(N), correct]": slip(index="columns"),
    }


@exercise_check
def check_multiple_choice_loss(student_fn, seed=4):
    """Check ``multiple_choice_loss(states, lengths, answers, image, correct) -> (scores, loss)``
    on random cases where some questions are shorter than the padded length."""
    name = "multiple_choice_loss"
    rng = np.random.default_rng(seed)
    for N, T, H, K in MC_CASES:
        args = _mc_inputs(rng, N, T, H, K)
        got = _call(name, student_fn, args, MC_INPUTS, ("scores", "loss"))
        scores, loss = multiple_choice_loss(*args)
        label = f"case N={N}, T={T}, H={H}, K={K}, lengths {args[1].tolist()}"
        try:
            got_loss = np.asarray(as_numpy(got[1]), dtype=np.float64)
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: loss should be one number, got {type(got[1]).__name__}") from None
        if got_loss.size != 1:
            raise CheckFailed(f"{name}: loss should be one number (the mean over the N questions), "
                              f"got an array of shape {got_loss.shape}")
        for value, expected, what, fallback in (
                (got[0], scores, "scores", "\nh_T = the state after each question's last real word; "
                 "s_k = a_k . (h_T + image) / sqrt(H), one score per candidate (N, K)"),
                (got_loss.reshape(()), np.asarray(loss), "loss", "\nloss = the mean over the N "
                 "questions of -log softmax(scores)[correct], the softmax over each row's K candidates")):
            try:
                expect_array(name, value, expected, what=f"{what} ({label})", rtol=1e-8)
            except CheckFailed as exc:
                hint = slip_hint((got[0], got_loss.reshape(())), _mc_slips(args)) or fallback
                raise CheckFailed(f"{exc}{hint}") from None
    passed(name, f"scores and loss match the reference on {len(MC_CASES)} random cases with "
                 f"padded questions (max relative error < 1e-8)")
