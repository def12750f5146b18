"""Checks of notebook 04 (gradient flow): gradient_norms, scale_to_spectral_radius, clip_by_global_norm.

Every check runs the student's function on several random cases and compares with the
reference in utils.analysis. Shapes are chosen so that a transpose or a swapped axis
shows (N != T != H), matrices are not symmetric (so W and W.T differ), and their largest
singular value differs from their spectral radius.
"""
import numpy as np

from utils.checks.core import (CheckFailed, call_student, exercise_check, expect_array, expect_tuple,
                               expect_unchanged, passed, slip_hint)
from utils.analysis.clipping import clip_by_global_norm
from utils.analysis.gradient_flow import gradient_norms_reference
from utils.models.weights import scale_to_spectral_radius
from utils.layers import rnn_forward

NORM_CASES = [(3, 7, 5, 0.6), (2, 12, 4, 1.6), (4, 5, 6, 1.0)]  # (N, T, H, scale of Wh)


def _nonsymmetric(rng, H, scale=1.0):
    W = rng.normal(size=(H, H)) / np.sqrt(H)
    W += np.triu(rng.normal(size=(H, H)), 1) * 0.8  # strongly non-normal: sigma_max >> radius
    return W * scale


def _norms_with(step, h, dh_last):
    """The norms a backward walk gives with ``step(d, t)`` as its one step back."""
    N, T, _ = h.shape
    norms, d = np.zeros((N, T)), dh_last
    norms[:, -1] = np.linalg.norm(d, axis=1)
    for t in range(T - 1, 0, -1):
        d = step(d, t)
        norms[:, t - 1] = np.linalg.norm(d, axis=1)
    return norms


def _step_back_hint(got, args):
    """Name the derivation slip whose norms the student's answer matches, if any."""
    h, Wh, dh_last = args
    slips = {
        "tanh' of the earlier state": lambda d, t: (d * (1 - h[:, t - 1] ** 2)) @ Wh.T,
        "Wh instead of Wh.T": lambda d, t: (d * (1 - h[:, t] ** 2)) @ Wh,
        "no tanh'": lambda d, t: d @ Wh.T,
    }
    return slip_hint(got, {slip: lambda step=step: _norms_with(step, h, dh_last) for slip, step in slips.items()})


@exercise_check
def check_gradient_norms(student_fn, seed=0):
    """Check ``gradient_norms(h, Wh, dh_last) -> norms (N, T)`` against the reference."""
    name = "gradient_norms"
    rng = np.random.default_rng(seed)
    for N, T, H, scale in NORM_CASES:
        D = H + 2
        Wh = _nonsymmetric(rng, H, scale / np.sqrt(H))
        Wx = rng.normal(scale=0.8, size=(D, H))
        h, _ = rnn_forward(rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), Wx, Wh,
                           rng.normal(scale=0.3, size=H))
        dh_last = rng.normal(size=(N, H))
        args = (h, Wh, dh_last)
        copies = [a.copy() for a in args]
        got = call_student(name, student_fn, *copies)
        if isinstance(got, tuple):
            raise CheckFailed(f"{name}: should return one array of norms (N, T), got a tuple of {len(got)}")
        expected = gradient_norms_reference(*args)
        label = f"norms (case N={N}, T={T}, H={H})"
        got_arr = np.asarray(got) if got is not None else None
        if got_arr is not None and got_arr.shape == (N, T) and np.allclose(got_arr[:, -1], expected[:, -1]) \
                and not np.allclose(got_arr, expected, rtol=1e-6):
            col = int(np.argmax(np.any(~np.isclose(got_arr, expected, rtol=1e-6), axis=0)))
            raise CheckFailed(
                f"{name}: the last column (||dh_last||) is right but column t={col} differs "
                f"({T - 1 - col} steps back): expected {expected[0, col]:.6g} for sequence 0, got "
                f"{got_arr[0, col]:.6g} ({label}). The first step back is already wrong, so look at "
                f"the Jacobian dh_t/dh_(t-1): whose tanh' does it contain (the slope of the step that "
                f"produced h_t), and in the row-vector form of the code, is it Wh or Wh.T that "
                f"multiplies the gradient?{_step_back_hint(got_arr, args)}")
        expect_array(name, got, expected, what=label)
        for before, after, arg in zip(args, copies, ("h", "Wh", "dh_last")):
            expect_unchanged(name, before, after, arg)
    passed(name, f"matches the reference on {len(NORM_CASES)} random cases, "
                 f"vanishing and exploding (max relative error < 1e-8)")


@exercise_check
def check_scale_to_spectral_radius(student_fn, seed=1):
    """Check ``scale_to_spectral_radius(W, radius) -> W_scaled`` on non-normal matrices."""
    name = "scale_to_spectral_radius"
    rng = np.random.default_rng(seed)
    for H, radius in [(3, 0.5), (5, 2.5), (8, 1.0), (6, 1.3)]:
        W = _nonsymmetric(rng, H)
        W_copy = W.copy()
        got = call_student(name, student_fn, W_copy, radius)
        expect_unchanged(name, W, W_copy, "W")
        expected = scale_to_spectral_radius(W, radius)
        if got is None:
            raise CheckFailed(f"{name}: returned None. Is a `return` missing?")
        got_arr = np.asarray(got, dtype=np.float64) if np.ndim(got) == 2 else None
        if got_arr is not None and got_arr.shape == W.shape and np.all(np.isfinite(got_arr)):
            rho = float(np.max(np.abs(np.linalg.eigvals(got_arr))))
            sigma = float(np.linalg.norm(got_arr, 2))
            if not np.isclose(rho, radius, rtol=1e-8):
                hint = (" It has largest singular value equal to the radius instead: the spectral radius is the "
                        "largest |eigenvalue| (np.linalg.eigvals), not the 2-norm." if np.isclose(sigma, radius) else "")
                raise CheckFailed(f"{name}: the result has spectral radius {rho:.6g}, expected {radius} "
                                  f"(case H={H}).{hint}")
        expect_array(name, got, expected, what=f"the scaled matrix (case H={H}, radius={radius})")
    passed(name, "gives the requested spectral radius on 4 random non-symmetric matrices, "
                 "and keeps the direction of W")


def _grad_list(rng, scale):
    shapes = [(3, 4), (4,), (2, 3, 2), (5, 1)]
    return [rng.normal(scale=scale, size=s) for s in shapes]


@exercise_check
def check_clip_by_global_norm(student_fn, seed=2):
    """Check ``clip_by_global_norm(grads, max_norm) -> (clipped, total_norm)``."""
    name = "clip_by_global_norm"
    rng = np.random.default_rng(seed)
    cases = [(0.1, 5.0), (3.0, 1.0), (1.0, 2.0), (10.0, 0.5)]  # (gradient scale, max_norm)
    n_clipped = 0
    for scale, max_norm in cases:
        grads = _grad_list(rng, scale)
        copies = [g.copy() for g in grads]
        result = expect_tuple(name, call_student(name, student_fn, copies, max_norm), ("clipped", "total_norm"))
        clipped, total = result
        for k, (before, after) in enumerate(zip(grads, copies)):
            expect_unchanged(name, before, after, f"grads[{k}]")
        ref_clipped, ref_total = clip_by_global_norm(grads, max_norm)
        n_clipped += ref_total > max_norm
        label = f"case with total norm {ref_total:.3g} and max_norm {max_norm}"
        try:
            total = float(total)
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: total_norm should be a number, got {type(total).__name__}") from None
        if not np.isclose(total, ref_total, rtol=1e-8):
            raise CheckFailed(f"{name}: total_norm is {total:.6g}, expected {ref_total:.6g} ({label}): "
                              f"return the joint norm of all gradients before clipping, "
                              f"sqrt of the sum of every squared entry of every array")
        if not isinstance(clipped, (list, tuple)) or len(clipped) != len(grads):
            raise CheckFailed(f"{name}: clipped should be a list of {len(grads)} arrays, one per "
                              f"gradient, got {type(clipped).__name__}"
                              + (f" of length {len(clipped)}" if hasattr(clipped, '__len__') else ""))
        for k, (got, want) in enumerate(zip(clipped, ref_clipped)):
            if ref_total <= max_norm and np.shape(got) == want.shape and not np.allclose(got, want):
                raise CheckFailed(f"{name}: grads[{k}] was changed although the total norm "
                                  f"{ref_total:.3g} is below max_norm {max_norm}; clip only when it is above")
            expect_array(name, got, want, what=f"clipped[{k}] ({label})")
    passed(name, f"right on {len(cases)} random gradient lists ({n_clipped} clipped, "
                 f"{len(cases) - n_clipped} left alone), inputs not modified")
