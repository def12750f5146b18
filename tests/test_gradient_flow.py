"""Notebook 04: gradient flow (utils.analysis), clipping, the SGD helpers of utils.training.adding, the checks and planted mistakes."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import ipywidgets as widgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.checks.core import CheckFailed  # noqa: E402
from utils.checks.gradient_flow import (check_clip_by_global_norm, check_gradient_norms,  # noqa: E402
                                        check_scale_to_spectral_radius)
from utils.analysis.clipping import clip_by_global_norm, clip_by_value, descend_one_unit, one_unit_rnn
from utils.viz.gradient_flow import draw_gradient_flow, gradient_flow_widget
from utils.analysis.gradient_flow import gradient_norms_reference, gradient_norms_through_time, log_gradient_norms
from utils.models.weights import make_cell_weights, random_recurrent_matrix, scale_to_spectral_radius, singular_values, spectral_radius
from utils.layers import rnn_forward  # noqa: E402
from utils.training.adding import initial_gradient_norm, train_rnn_sgd  # noqa: E402
from utils.models.cells import lstm_step  # noqa: E402

BAD_RADII = [0, -1.0, float("nan"), float("inf"), True, "1"]
BAD_LENGTHS = [0, -5, 2.5, True, "10"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- unit tests
def test_scale_to_spectral_radius_and_random_matrix():
    W = np.random.default_rng(0).normal(size=(7, 7))
    for radius in (0.3, 1.0, 2.5):
        assert spectral_radius(scale_to_spectral_radius(W, radius)) == pytest.approx(radius)
        assert spectral_radius(random_recurrent_matrix(16, radius, seed=3)) == pytest.approx(radius)
    assert singular_values(random_recurrent_matrix(16, 1.0))[0] > 1.0  # sigma_max >= rho


@pytest.mark.parametrize("radius", BAD_RADII)
def test_bad_radius_is_rejected_everywhere(radius):
    W = np.eye(3)
    calls = [lambda: scale_to_spectral_radius(W, radius), lambda: random_recurrent_matrix(4, radius),
             lambda: gradient_norms_through_time("vanilla", radius=radius),
             lambda: draw_gradient_flow(radius=radius), lambda: gradient_flow_widget(radius=radius)]
    for call in calls:
        with pytest.raises(ValueError, match="radius"):
            call()


@pytest.mark.parametrize("length", BAD_LENGTHS)
def test_bad_length_is_rejected_everywhere(length):
    for call in (lambda: gradient_norms_through_time("lstm", length=length),
                 lambda: draw_gradient_flow(length=length), lambda: gradient_flow_widget(length=length),
                 lambda: one_unit_rnn(1.0, length=length)):
        with pytest.raises(ValueError, match="length"):
            call()


def test_other_bad_settings_have_clear_messages():
    with pytest.raises(ValueError, match="cell"):
        draw_gradient_flow(cell="transformer")
    with pytest.raises(ValueError, match="input_scale"):
        gradient_norms_through_time("vanilla", input_scale=-1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        make_cell_weights("lstm", forget_bias=float("nan"))
    with pytest.raises(ValueError, match="W"):
        scale_to_spectral_radius(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="spectral radius 0"):
        scale_to_spectral_radius(np.triu(np.ones((3, 3)), 1), 1.0)  # nilpotent
    with pytest.raises(ValueError, match="slider"):
        gradient_flow_widget(radius=10.0)
    with pytest.raises(ValueError, match="dh_last"):
        gradient_norms_reference(np.zeros((2, 3, 4)), np.eye(4), np.zeros((3, 4)))


def test_reference_norms_match_autograd_and_the_log_walk():
    W = make_cell_weights("vanilla", 6, 4, radius=1.3, input_scale=1.0, seed=1)
    x = np.random.default_rng(0).normal(size=(3, 15, 4))
    h, _ = rnn_forward(x, None, W["Wx"], W["Wh"], W["b"])
    v = np.random.default_rng(5).normal(size=(3, 6))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ref = gradient_norms_reference(h, W["Wh"], v)
    # autograd with retain_grad on every state
    Wt = {k: torch.tensor(a) for k, a in W.items()}
    xt = torch.tensor(x)
    state, states = torch.zeros(3, 6, dtype=torch.float64, requires_grad=True), []
    for t in range(15):
        state = torch.tanh(xt[:, t] @ Wt["Wx"] + state @ Wt["Wh"] + Wt["b"])
        state.retain_grad()
        states.append(state)
    (states[-1] * torch.tensor(v)).sum().backward()
    auto = np.stack([s.grad.norm(dim=1).numpy() for s in states], axis=1)
    np.testing.assert_allclose(ref, auto, rtol=1e-10)
    logs = log_gradient_norms("vanilla", W, x, seed=5)["h"]
    np.testing.assert_allclose(logs, np.log10(np.sqrt((ref ** 2).mean(axis=0))), atol=1e-10)


def test_lstm_log_norms_match_autograd():
    W = make_cell_weights("lstm", 5, 4, radius=1.0, input_scale=1.0, forget_bias=1.0, seed=2)
    x = np.random.default_rng(1).normal(size=(2, 12, 4))
    logs = log_gradient_norms("lstm", W, x, seed=3)
    Wt = {k: torch.tensor(a) for k, a in W.items()}
    xt = torch.tensor(x)
    h = c = torch.zeros(2, 5, dtype=torch.float64, requires_grad=True)
    hs, cs = [], []
    for t in range(12):
        h, c = lstm_step(xt[:, t], h, c, Wt["Wx"], Wt["Wh"], Wt["b"])
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    v = torch.tensor(np.random.default_rng(3).normal(size=(2, 5)))
    (hs[-1] * v / v.norm(dim=1, keepdim=True)).sum().backward()
    rms = lambda tensors: np.log10([np.sqrt((s.grad.norm(dim=1).numpy() ** 2).mean()) for s in tensors])  # noqa: E731
    np.testing.assert_allclose(logs["h"], rms(hs), atol=1e-10)
    np.testing.assert_allclose(logs["c"], rms(cs), atol=1e-10)


def test_log_walk_does_not_overflow():
    res = gradient_norms_through_time("vanilla", radius=3.0, input_scale=0.0, length=1500)
    assert np.all(np.isfinite(res["log10_h"]))
    assert res["log10_h"][0] == pytest.approx(1499 * math.log10(3.0), rel=0.02)  # far beyond float64
    vanishing = gradient_norms_through_time("gru", radius=0.2, input_scale=3.0, length=400)
    assert np.all(np.isfinite(vanishing["log10_h"])) and vanishing["log10_h"][0] < -50


@pytest.mark.parametrize("cell", ["vanilla", "residual", "lstm", "gru", "all"])
def test_draw_gradient_flow_draws_finite_curves(cell):
    fig = draw_gradient_flow(radius=1.2, input_scale=0.5, length=30, cell=cell)
    assert len(fig.axes) == 2
    for line in fig.axes[0].get_lines():
        assert np.all(np.isfinite(line.get_ydata()))


def test_widget_builds_with_default_and_custom_values():
    box = gradient_flow_widget(radius=0.8, input_scale=2.0, length=50, cell="lstm", forget_bias=3.0)
    rows = box.children[:-1]  # the controls, in rows; the figure comes last
    assert all(len(row.children) <= 3 for row in rows)
    controls = [c for row in rows for c in row.children]
    assert [c.value for c in controls] == [0.8, 2.0, 50, "lstm", 3.0]
    # heavy to redraw (all cells at T = 400): the sliders act when released, not while dragged
    assert all(not c.continuous_update for c in controls if isinstance(c, widgets.FloatSlider | widgets.IntSlider))


def test_residual_rnn_keeps_an_identity_path():
    """h_t = h_(t-1) + tanh(...): with tiny recurrent weights the gradient neither vanishes nor grows."""
    res = gradient_norms_through_time("residual", radius=0.01, input_scale=1.0, length=100)
    assert abs(res["log10_h"][0]) < 0.5
    vanilla = gradient_norms_through_time("vanilla", radius=0.01, input_scale=1.0, length=100)
    assert vanilla["log10_h"][0] < -50


def test_clipping_reference():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    total = math.sqrt(sum((g ** 2).sum() for g in grads))
    clipped, got_total = clip_by_global_norm(grads, total / 2)
    assert got_total == pytest.approx(total)
    assert math.sqrt(sum((g ** 2).sum() for g in clipped)) == pytest.approx(total / 2)
    np.testing.assert_allclose(clipped[0] * 2, grads[0])  # direction kept
    same, _ = clip_by_global_norm(grads, total * 2)
    np.testing.assert_array_equal(same[1], grads[1])
    assert np.abs(np.concatenate([g.ravel() for g in clip_by_value(grads, 0.1)])).max() <= 0.1
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="max_norm"):
            clip_by_global_norm(grads, bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        clip_by_global_norm([np.array([np.nan])], 1.0)
    with pytest.raises(ValueError, match="list"):
        clip_by_value(np.ones(3), 1.0)


def test_one_unit_rnn_slope_and_cliff_descent():
    w = np.array([0.7, 1.3, 2.2])
    _, slope = one_unit_rnn(w)
    eps = 1e-6
    numeric = (one_unit_rnn(w + eps)[0] - one_unit_rnn(w - eps)[0]) / (2 * eps)
    np.testing.assert_allclose(slope, numeric, rtol=1e-5)
    plain = descend_one_unit(2.8, lr=5.0, steps=30)
    clipped = descend_one_unit(2.8, lr=5.0, steps=30, max_step=0.01)
    assert plain[-1] > 10  # thrown off the cliff
    assert one_unit_rnn(clipped[-1])[0] < 1e-3
    with pytest.raises(ValueError, match="lr"):
        descend_one_unit(2.8, lr=-1.0, steps=3)


def test_sgd_run_diverges_without_clipping_and_not_with_it():
    plain = train_rnn_sgd(radius=1.2, steps=80, progress=False)
    assert plain["diverged_at"] is not None and np.isnan(plain["loss"][-1])
    tau = initial_gradient_norm(radius=1.2, batches=5)
    clipped = train_rnn_sgd(radius=1.2, steps=80, progress=False,
                            clip=lambda g: clip_by_global_norm(g, tau)[0])
    assert clipped["diverged_at"] is None and np.all(np.isfinite(clipped["loss"]))
    with pytest.raises(ValueError, match="clip"):
        train_rnn_sgd(steps=2, clip=3.0, progress=False)


# ------------------------------------------------------------ checks and planted mistakes
def test_checks_accept_the_references(capsys):
    check_gradient_norms(gradient_norms_reference)
    check_scale_to_spectral_radius(scale_to_spectral_radius)
    check_clip_by_global_norm(clip_by_global_norm)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("✓") for line in lines)


def _norms_without_tanh(h, Wh, dh_last):
    N, T, H = h.shape
    norms, d = np.zeros((N, T)), dh_last
    norms[:, -1] = np.linalg.norm(d, axis=1)
    for t in range(T - 1, 0, -1):
        d = d @ Wh.T
        norms[:, t - 1] = np.linalg.norm(d, axis=1)
    return norms


def _norms_untransposed(h, Wh, dh_last):
    return gradient_norms_reference(h, Wh.T, dh_last)


def _norms_wrong_step(h, Wh, dh_last):
    N, T, H = h.shape
    norms, d = np.zeros((N, T)), dh_last
    norms[:, -1] = np.linalg.norm(d, axis=1)
    for t in range(T - 1, 0, -1):
        d = (d * (1 - h[:, t - 1] ** 2)) @ Wh.T  # tanh' of the wrong step
        norms[:, t - 1] = np.linalg.norm(d, axis=1)
    return norms


def _norms_transposed_result(h, Wh, dh_last):
    return gradient_norms_reference(h, Wh, dh_last).T


@pytest.mark.parametrize("wrong", [_norms_without_tanh, _norms_untransposed, _norms_wrong_step,
                                   _norms_transposed_result])
def test_gradient_norms_check_catches_mistakes(wrong):
    with pytest.raises(CheckFailed, match="gradient_norms"):
        check_gradient_norms(wrong)


@pytest.mark.parametrize("wrong, slip", [(_norms_wrong_step, "tanh' of the earlier state"),
                                         (_norms_untransposed, "Wh instead of Wh.T"),
                                         (_norms_without_tanh, "no tanh'")])
def test_gradient_norms_check_names_the_derivation_slip(wrong, slip):
    with pytest.raises(CheckFailed) as info:
        check_gradient_norms(wrong)
    assert f"known slip: {slip}" in str(info.value)
    assert "(1 - h" not in str(info.value)  # the message names the idea, it does not give the line


def _by_singular_value(W, radius):
    return W * radius / np.linalg.norm(W, 2)


def _by_real_part(W, radius):
    return W * radius / np.max(np.linalg.eigvals(W).real)


def _in_place(W, radius):
    W *= radius / np.max(np.abs(np.linalg.eigvals(W)))
    return W


def test_scale_check_catches_mistakes():
    for wrong in (_by_singular_value, _by_real_part, _in_place, lambda W, r: W * r):
        with pytest.raises(CheckFailed, match="scale_to_spectral_radius"):
            check_scale_to_spectral_radius(wrong)
    with pytest.raises(CheckFailed, match="singular value"):
        check_scale_to_spectral_radius(_by_singular_value)


def _clip_each(grads, max_norm):
    total = math.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], total


def _clip_always(grads, max_norm):
    total = math.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * max_norm / total for g in grads], total


def _clip_in_place(grads, max_norm):
    total = math.sqrt(sum((g ** 2).sum() for g in grads))
    for g in grads:
        g *= min(1.0, max_norm / total)
    return grads, total


def _clip_returns_new_norm(grads, max_norm):
    clipped, total = clip_by_global_norm(grads, max_norm)
    return clipped, min(total, max_norm)


@pytest.mark.parametrize("wrong", [_clip_each, _clip_always, _clip_in_place, _clip_returns_new_norm])
def test_clip_check_catches_mistakes(wrong):
    with pytest.raises(CheckFailed, match="clip_by_global_norm"):
        check_clip_by_global_norm(wrong)


def test_unfinished_exercise_is_reported_as_not_implemented(monkeypatch):
    from utils.checks.core import ExerciseNotImplemented

    def unfinished(*args):
        raise NotImplementedError

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # under a grader the check fails

    with pytest.raises(ExerciseNotImplemented, match="gradient_norms"):
        check_gradient_norms(unfinished)


# -------------------------------------------------------------- self-check on the lecture
@pytest.mark.slow
def test_selfcheck_on_lecture_04_with_a_planted_mistake(tmp_path):
    from notebook_helpers import lecture_with_answers, run_selfcheck_cli

    path = lecture_with_answers("04_gradient_flow.ipynb", tmp_path, {
        "clipped = [g * scale for g in grads]": "clipped = [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]"})
    result = run_selfcheck_cli(path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines()
             if line.startswith("  ") and len(line.split()) > 2}
    assert "wrong" in lines["clip_by_global_norm"]
    assert "passed" in lines["gradient_norms"] and "passed" in lines["scale_to_spectral_radius"]
    assert "2 of 3 exercises passed" in result.stdout
