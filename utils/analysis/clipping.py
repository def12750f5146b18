"""Gradient clipping, and the cliff of the smallest recurrent network that makes it necessary.

    clip_by_global_norm, clip_by_value   reference implementations (notebook 04's exercise)
    one_unit_rnn, descend_one_unit       one tanh unit: its loss surface has a cliff in w
"""
import numpy as np

from utils import validate
from utils.analysis.gradient_flow import MAX_LENGTH

def _check_grads(fname, grads):
    if isinstance(grads, np.ndarray) or not isinstance(grads, (list, tuple)) or not grads:
        raise ValueError(f"{fname}: grads must be a non-empty list of arrays (one per parameter)")
    arrays = [np.asarray(g, dtype=np.float64) for g in grads]
    for k, g in enumerate(arrays):
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{fname}: grads[{k}] contains NaN or inf; clipping cannot repair it "
                             f"(lower the learning rate or find where it overflowed)")
    return arrays


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their joint L2 norm is at most ``max_norm``.

    grads: list of arrays (any shapes), one per parameter; max_norm: finite > 0.
    Returns: (clipped, total_norm): a list of new arrays of the same shapes, and the joint
    norm before clipping, sqrt(sum of all squared entries). If total_norm <= max_norm the
    gradients are returned unchanged (as copies); otherwise each is multiplied by
    max_norm / total_norm, so the update keeps its direction and only gets shorter.
    """
    fname = "clip_by_global_norm"
    max_norm = validate.positive_number(fname, "max_norm", max_norm)
    grads = _check_grads(fname, grads)
    # BEGIN REFERENCE clip_by_global_norm
    total_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))  # one norm over all the arrays
    scale = min(1.0, max_norm / total_norm) if total_norm > 0 else 1.0
    clipped = [g * scale for g in grads]
    # END REFERENCE
    return clipped, float(total_norm)


def clip_by_value(grads, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value] (entrywise; changes the direction).

    grads: list of arrays; clip_value: finite > 0. Returns: a list of new arrays.
    """
    clip_value = validate.positive_number("clip_by_value", "clip_value", clip_value)
    return [np.clip(g, -clip_value, clip_value) for g in _check_grads("clip_by_value", grads)]


def one_unit_rnn(w, b=-0.2, length=50, h0=0.5, target=0.8):
    """Loss and slope of the smallest recurrent network: one tanh unit, no input.

    h_t = tanh(w h_{t-1} + b) for t = 1..T from h_0; loss L = (h_T - target)^2.
    w: the recurrent weight, a number or an array of them (evaluated elementwise);
    b: bias; length: T (>= 1); h0: initial state; target: wanted final state.
    Returns: (L, dL/dw), arrays shaped like w. The slope is carried forward alongside h:
    dh_t/dw = (1 - h_t^2) (h_{t-1} + w dh_{t-1}/dw).
    """
    fname = "one_unit_rnn"
    length = validate.positive_int(fname, "length", length, MAX_LENGTH)
    for name, value in (("b", b), ("h0", h0), ("target", target)):
        validate.finite_number(fname, name, value)
    w = validate.float_array(fname, "w", w)
    h = np.full_like(w, h0)
    dh = np.zeros_like(w)
    for _ in range(length):
        h_new = np.tanh(w * h + b)
        dh = (1.0 - h_new ** 2) * (h + w * dh)
        h = h_new
    return (h - target) ** 2, 2.0 * (h - target) * dh


def descend_one_unit(w0, lr, steps, max_step=None, **rnn_kwargs):
    """Gradient descent on the weight w of one_unit_rnn, optionally with the step clipped.

    w0: start; lr: learning rate (> 0); steps: number of updates (>= 1);
    max_step: None, or the largest allowed |gradient| (clipping by norm in one dimension);
    rnn_kwargs: b, length, h0, target for one_unit_rnn.
    Returns: array (steps + 1,) of the visited weights.
    """
    fname = "descend_one_unit"
    w = validate.finite_number(fname, "w0", w0)
    lr = validate.positive_number(fname, "lr", lr)
    steps = validate.positive_int(fname, "steps", steps, 10 ** 6)
    if max_step is not None:
        max_step = validate.positive_number(fname, "max_step", max_step)
    path = [w]
    for _ in range(steps):
        _, g = one_unit_rnn(w, **rnn_kwargs)
        g = float(g)
        if max_step is not None and abs(g) > max_step:
            g = max_step * np.sign(g)
        w = w - lr * g
        path.append(w)
    return np.array(path)
