"""Checks of notebook 07's training objectives for attention: hard attention's REINFORCE
surrogate and the doubly stochastic regulariser.

The torch step ``reinforce_surrogate`` (hard attention's per-caption surrogate loss) is
compared with its formula on random captions, and its expected gradient, computed exactly by
enumerating every sequence of locations of a tiny model, with the exact gradient of the
expected reward; ``doubly_stochastic_regulariser``'s loss with its formula and its dalphas
with numerical derivatives, on captions with padding. Each check names the classic slips
(a sign, a missing baseline or factor, padding counted, the wrong axis). The soft-attention
step's checks are in ``utils.checks.attention``.
"""
import numpy as np
import torch
from torch.nn.functional import logsigmoid

from utils.checks.core import (CheckFailed, as_numpy, call_student, close_enough, exercise_check, expect_array,
                               expect_tuple, expect_unchanged, passed)
from utils.gradcheck import eval_numerical_gradient_array


def _surrogate_variants(ll, log_alpha, locations, mask, b):
    """Per-caption values of the correct surrogate and of the classic slips (no gradients)."""
    ll, log_alpha = ll.detach(), log_alpha.detach()
    def log_p(locs, masked=True):
        chosen = log_alpha.gather(2, locs.unsqueeze(2)).squeeze(2)
        return (chosen * (mask if masked else 1.0)).sum(dim=1)
    lp = log_p(locations)
    return {
        "correct": -ll - (ll - b) * lp,
        "negated": ll + (ll - b) * lp,
        "location term sign": -ll + (ll - b) * lp,
        "baseline ignored": -ll - ll * lp,
        "baseline added": -ll - (ll + b) * lp,
        "baseline on the words' term": -(ll - b) - ll * lp,
        "location term missing": -ll,
        "words' term missing": -(ll - b) * lp,
        "padding counted": -ll - (ll - b) * log_p(locations, masked=False),
        "argmax locations": -ll - (ll - b) * log_p(log_alpha.argmax(dim=2)),
        "every location": -ll - (ll - b) * (log_alpha.sum(dim=2) * mask).sum(dim=1),
    }


_SURROGATE_HINTS = {
    "negated": "the sign of the whole surrogate is flipped: it is a loss to minimise, so it is minus "
               "the objective, -log p(y|s) - (r - b) log p(s)",
    "location term sign": "the sign of the location term is flipped: a location that did better than "
                          "the baseline (r - b > 0) must become more likely when the loss goes down",
    "baseline ignored": "the baseline b is not used: the location term weighs log p(s) by r - b, not r",
    "baseline added": "the baseline is added: the location term weighs log p(s) by r - b",
    "baseline on the words' term": "the baseline is subtracted from the wrong term: it belongs in the "
                                   "weight r - b of log p(s); in -log p(y|s) it changes nothing",
    "location term missing": "the location term is missing: without it no gradient reaches the "
                             "attention (the sampled index has no derivative)",
    "words' term missing": "the words' term -log p(y|s) is missing: the words given the locations "
                           "are trained by plain backpropagation, beside the location term",
    "padding counted": "padding steps are counted in log p(s): weight each step by the mask",
    "argmax locations": "log p(s) uses the likeliest location of each step, not the sampled one: "
                        "read log alpha_t at s_t (locations)",
    "every location": "log p(s) sums log alpha over every location: it is log alpha_t at the sampled "
                      "location s_t only (one entry per step, picked along the location axis)",
}


def _tiny_hard_attention(seed):
    """A hard-attention model small enough to enumerate: T = 2 real steps (and one padding step),
    L = 3 locations, so the 9 sequences s are every row of the batch. theta (3, L) gives the
    attention logits of each step, phi (2, L) the words' log-likelihood log p(y | s)."""
    rng = np.random.default_rng(seed)
    theta = torch.tensor(rng.normal(size=(3, 3)), dtype=torch.float64, requires_grad=True)
    phi = torch.tensor(rng.normal(size=(2, 3)), dtype=torch.float64, requires_grad=True)
    seqs = torch.tensor([[a, c, (a + 2 * c) % 3] for a in range(3) for c in range(3)])  # (9, 3)
    log_alpha = torch.log_softmax(theta, dim=1).expand(9, 3, 3)                     # (9, T, L)
    first, second = phi[0, seqs[:, 0]], phi[1, seqs[:, 1]]
    ll = logsigmoid(first) + logsigmoid(second) + logsigmoid(first * second)      # (9,), all < 0
    mask = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64).expand(9, 3)
    prob = log_alpha[:, :2].gather(2, seqs[:, :2].unsqueeze(2)).squeeze(2).sum(dim=1).exp()  # p(s)
    return theta, phi, seqs, log_alpha, ll, mask, prob


@exercise_check
def check_reinforce_surrogate(student_fn, seed=2):
    """Check ``reinforce_surrogate(log_likelihood, log_alpha, locations, mask, baseline) -> (N,)``.

    1. On random captions of different lengths and two baselines, the values are compared with
       -r - (r - b) log p(s) and, when they differ, with the classic slips, which are named.
    2. On a model small enough to enumerate every sequence of locations (T = 2, L = 3), the
       probability-weighted sum of the student's per-caption gradients, which is the expected
       gradient of the estimator computed exactly (no sampling), must equal minus the exact
       gradient of E_s[log p(y | s)] with respect to both the attention and the words'
       parameters; this catches a reward that is not held constant.
    """
    name = "reinforce_surrogate"
    rng = np.random.default_rng(seed)
    N, T, L = 4, 5, 6
    log_alpha = torch.log_softmax(torch.tensor(rng.normal(scale=1.5, size=(N, T, L))), dim=2)
    locations = torch.tensor(rng.integers(0, L, size=(N, T)))
    mask = (torch.arange(T)[None, :] < torch.tensor([5, 3, 4, 2])[:, None]).to(torch.float64)
    ll = torch.tensor(-rng.uniform(2, 8, size=N))
    for b in (-4.5, 1.0):
        args = (ll.clone(), log_alpha.clone(), locations.clone(), mask.clone(), b)
        got = call_student(name, student_fn, *args)
        label = f"N={N} captions of T={T} steps (padding masked), L={L} locations, baseline b={b}"
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"{name}: should return a torch tensor of shape ({N},), got "
                              f"{type(got).__name__}")
        if tuple(got.shape) != (N,):
            raise CheckFailed(f"{name}: should return one surrogate per caption, shape ({N},), got "
                              f"{tuple(got.shape)} ({label}): sum log alpha over the steps (axis 1) "
                              f"of each caption, and do not average over the captions")
        for before, after, what in zip((ll, log_alpha, locations, mask), args[:4],
                                       ("log_likelihood", "log_alpha", "locations", "mask")):
            expect_unchanged(name, before.numpy(), after.numpy(), what)
        variants = _surrogate_variants(ll, log_alpha, locations, mask, b)
        try:
            expect_array(name, got.detach(), variants["correct"].numpy(), what=f"surrogate ({label})",
                         rtol=1e-9)
        except CheckFailed as exc:
            known = next((k for k, v in variants.items() if k != "correct"
                          and close_enough(got.detach(), v.numpy(), 1e-9)), None)
            hint = _SURROGATE_HINTS[known] if known else (
                "per caption: -log p(y|s) - (r - b) * log p(s), with r = log p(y|s) and log p(s) "
                "the sum over the real steps of log alpha_t at the sampled location s_t")
            raise CheckFailed(f"{exc}\n{hint}") from None
    # 2. the exact expectation, every sequence of locations enumerated
    theta, phi, seqs, tiny_log_alpha, tiny_ll, tiny_mask, prob = _tiny_hard_attention(seed)
    b = -1.7
    exact = torch.autograd.grad((prob * tiny_ll).sum(), (theta, phi), retain_graph=True)   # grad of E_s[log p(y|s)]
    got = call_student(name, student_fn, tiny_ll, tiny_log_alpha, seqs, tiny_mask, b)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise CheckFailed(f"{name}: the surrogate carries no gradient (a .detach(), .item() or "
                          f"torch.tensor(...) around everything?); only r - b is held constant")
    found = torch.autograd.grad((prob.detach() * got).sum(), (theta, phi), allow_unused=True,
                                retain_graph=True)
    found = [torch.zeros_like(p) if g is None else g for g, p in zip(found, (theta, phi))]
    lp = tiny_log_alpha[:, :2].gather(2, seqs[:, :2].unsqueeze(2)).squeeze(2).sum(dim=1)
    no_detach = torch.autograd.grad((prob.detach() * (-tiny_ll - (tiny_ll - b) * lp)).sum(), (theta, phi))
    for g, e, nd, what in zip(found, exact, no_detach, ("attention logits", "words' parameters")):
        try:
            expect_array(name, g, -e.numpy(), what=f"expected gradient for the {what} (every "
                         f"sequence of locations of a T=2, L=3 model enumerated)", rtol=1e-8)
        except CheckFailed as exc:
            if close_enough(g, nd.numpy(), 1e-8):
                hint = ("the reward is not held constant: gradient flows through r - b into the "
                        "location term, which biases the estimate; detach r - b")
            elif close_enough(g, np.zeros(tuple(g.shape)), 1e-12):
                hint = (f"no gradient reaches the {what}: detach only the weight r - b, not "
                        f"log p(y|s) in the words' term nor log p(s)")
            else:
                hint = ("its average over the locations s, weighted by p(s), must be minus the gradient "
                        "of E_s[log p(y|s)]: the words' term gives E[grad log p(y|s)] and the location "
                        "term E[(r - b) grad log p(s)]")
            raise CheckFailed(f"{exc}\n{hint}") from None
    passed(name, f"values on {N} captions with padding and two baselines, and the exact expected "
                 f"gradient (all 9 location sequences of a T=2, L=3 model) match")


DS_CASES = [((3, 5, 7), (5, 3, 4), 0.7), ((2, 4, 6), (2, 4), 1.3)]   # (N, T, L), caption lengths, lambda


def _ds_variants(alphas, mask, lam):
    """{slip: (loss, dalphas)} of the doubly stochastic regulariser, the right one under "correct"."""
    N = len(alphas)
    def parts(looked_axis=1, masked=True):
        m = mask[:, :, None] if masked else 1.0
        gap = 1.0 - (alphas * m).sum(axis=looked_axis)
        return gap, float(lam * (gap ** 2).sum() / N)
    gap, loss = parts()
    grad = -2.0 * lam / N * gap[:, None, :] * mask[:, :, None]
    gap_all, loss_all = parts(masked=False)
    return {
        "correct": (loss, grad),
        "factor 2 missing": (loss, grad / 2),
        "sign": (loss, -grad),
        "mask only in the loss": (loss, -2.0 * lam / N * np.broadcast_to(gap[:, None, :], alphas.shape)),
        "padding counted": (loss_all, -2.0 * lam / N * np.broadcast_to(gap_all[:, None, :], alphas.shape)),
        "not averaged": (loss * N, grad * N),
        "lambda missing": (loss / lam, grad / lam),
        "summed over the locations": (parts(looked_axis=2)[1], None),
    }


_DS_HINTS = {
    "factor 2 missing": "dalphas is half the gradient: the derivative of a square, gap ** 2, is 2 * gap times "
                        "the derivative of gap",
    "sign": "dalphas has the wrong sign: more attention on a location lowers its gap 1 - sum_t alpha_ti, "
            "so where the gap is positive the loss falls as alpha grows",
    "mask only in the loss": "the mask is applied to the loss only: a padding step did not contribute to the "
                             "sum over the steps, so its dalphas is 0",
    "padding counted": "padding steps are counted: sum alpha over the real steps only (multiply by the mask)",
    "not averaged": "the regulariser is averaged over the N captions (divide by N), as the words' loss is",
    "lambda missing": "lambda is missing: the loss and its gradient scale with lam",
    "summed over the locations": "the attention a location receives over the caption is the sum over the "
                                 "steps (axis 1); summed over the locations (axis 2) every real step gives 1",
}


@exercise_check
def check_doubly_stochastic_regulariser(student_fn, seed=3):
    """Check ``doubly_stochastic_regulariser(alphas, mask, lam) -> (loss, dalphas)``.

    On random attention maps of captions with padding, the loss is compared with
    lam / N * sum_n sum_i (1 - sum_t mask alpha)^2 and dalphas with numerical derivatives of
    that formula; the classic slips (factor 2, sign, mask in the loss only, padding counted,
    no average, axis) are named.
    """
    name = "doubly_stochastic_regulariser"
    rng = np.random.default_rng(seed)
    for (N, T, L), lengths, lam in DS_CASES:
        alphas = rng.dirichlet(np.full(L, 0.5), size=(N, T))
        mask = (np.arange(T)[None, :] < np.array(lengths)[:, None]).astype(float)
        given = alphas.copy(), mask.copy()
        result = expect_tuple(name, call_student(name, student_fn, given[0], given[1], lam), ("loss", "dalphas"))
        expect_unchanged(name, alphas, given[0], "alphas")
        expect_unchanged(name, mask, given[1], "mask")
        label = f"N={N} captions of T={T} steps (lengths {lengths}), L={L} locations, lam={lam}"
        variants = _ds_variants(alphas, mask, lam)
        loss = variants["correct"][0]
        try:
            got_loss = float(np.asarray(as_numpy(result[0]), dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: loss should be one number, got {type(result[0]).__name__}") from None
        numeric = eval_numerical_gradient_array(
            lambda a: np.array([_ds_variants(a, mask, lam)["correct"][0]]), alphas.copy(), np.ones(1))
        for what, got, expected, index in (("loss", got_loss, loss, 0), ("dalphas", result[1], numeric, 1)):
            try:
                expect_array(name, got, np.asarray(expected), what=f"{what} ({label})", rtol=1e-6)
            except CheckFailed as exc:
                known = next((k for k, v in variants.items() if k != "correct" and v[index] is not None
                              and close_enough(got, v[index], 1e-9)), None)
                hint = _DS_HINTS[known] if known else (
                    "the loss sums the squared gap 1 - sum_t mask alpha over the locations and averages "
                    "over the captions; dalphas is its derivative for every step and location")
                raise CheckFailed(f"{exc}\n{hint}") from None
    passed(name, f"loss and dalphas (against numerical derivatives) match on {len(DS_CASES)} random cases "
                 f"with padding")
