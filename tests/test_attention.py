"""Notebook 07 (captioning with attention): the numpy attention layer, the torch step and the
attention captioner, REINFORCE training, attention correctness, the widget's refusals, the
checkpoints, and the exercise checks (each passes on the reference and fails on at least two
planted mistakes)."""
import functools
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from notebook_helpers import exercise_check_tests  # noqa: E402
from utils.analysis.attention import (alpha_to_image, attention_correctness, box_mass,  # noqa: E402
                                      correctness_of_maps, object_cells, peak_in_box, referring_words)
from utils.checks import attention as checks  # noqa: E402
from utils.checks import attention_losses as loss_checks  # noqa: E402
from utils.data import shapes  # noqa: E402
from utils.data import shapes_language as language  # noqa: E402
from utils.gradcheck import eval_numerical_gradient_array, rel_error  # noqa: E402
from utils.layers.attention import (doubly_stochastic_regulariser, soft_attention_backward,  # noqa: E402
                                    soft_attention_forward)
from utils.layers.common import softmax  # noqa: E402
from utils.models.checkpoints import CheckpointError  # noqa: E402
from utils.models.attention_captioner import AttentionCaptioner  # noqa: E402
from utils.models.attention_checkpoints import (REBUILD_COMMAND, checkpoint_path,  # noqa: E402
                                                load_attention_captioner, save_attention_captioner)
from utils.models.captions import attention_captions, caption_with_attention  # noqa: E402
from utils.models.grid import attention_step_torch  # noqa: E402
from utils.models.captioner import Captioner  # noqa: E402
from utils.training.attention import (reinforce_gradient_variance, reinforce_surrogate,  # noqa: E402
                                      train_attention_captioner)
from utils.viz.attention import attention_widget, draw_attention_strip, draw_training_curves  # noqa: E402

VOCAB = language.build_vocab()


@pytest.fixture(autouse=True)
def one_thread_and_no_figures():
    before = torch.get_num_threads()
    torch.set_num_threads(1)      # tiny recurrent models: one thread is fastest (utils.course.torch_threads)
    yield
    torch.set_num_threads(before)
    plt.close("all")


def _inputs(seed=0, N=3, L=5, D=4, H=6, A=7):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(N, H)), rng.normal(size=(N, L, D)), rng.normal(scale=0.6, size=(H, A)),
            rng.normal(scale=0.6, size=(D, A)), rng.normal(size=A)]


def _small_model(attention="soft", seed=0, **kw):
    return AttentionCaptioner(len(VOCAB), 6, num_locations=16, wordvec_dim=5, hidden_dim=8,
                              attention_dim=7, attention=attention, seed=seed, **kw)


def _small_data(N=6, T1=9, seed=0):
    rng = np.random.default_rng(seed)
    grid = torch.from_numpy(rng.normal(size=(N, 16, 6)).astype(np.float32)).relu()
    captions = np.zeros((N, T1), dtype=np.int64)
    for n in range(N):
        length = int(rng.integers(2, T1 - 1))
        captions[n, 0], captions[n, 1 + length] = 1, 2
        captions[n, 1:1 + length] = rng.integers(4, len(VOCAB), size=length)
    return grid, torch.from_numpy(captions)


# ------------------------------------------------------------------------------ numpy layer
@pytest.mark.parametrize("with_dalpha", [True, False])
def test_soft_attention_backward_matches_numerical_gradients(with_dalpha):
    args = _inputs()
    (context, alpha), cache = soft_attention_forward(*args)
    assert context.shape == (3, 4) and alpha.shape == (3, 5)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    rng = np.random.default_rng(1)
    dcontext = rng.normal(size=context.shape)
    dalpha = rng.normal(size=alpha.shape) if with_dalpha else np.zeros(alpha.shape)
    grads = soft_attention_backward(dcontext, dalpha if with_dalpha else None, cache)
    douts = np.concatenate([dcontext.ravel(), dalpha.ravel()])
    for k, grad in enumerate(grads):
        def f(value, k=k):
            a = [x.copy() for x in args]
            a[k] = value
            (c, al), _ = soft_attention_forward(*a)
            return np.concatenate([c.ravel(), al.ravel()])
        assert rel_error(grad, eval_numerical_gradient_array(f, args[k].copy(), douts)) < 1e-6, k


def test_soft_attention_rejects_wrong_shapes():
    h, V, Wa_h, Wa_v, w_a = _inputs()
    with pytest.raises(ValueError, match="soft_attention_forward: Wa_h must have shape"):
        soft_attention_forward(h, V, Wa_h.T, Wa_v, w_a)
    with pytest.raises(ValueError, match="soft_attention_forward: h_prev must have shape"):
        soft_attention_forward(h[:2], V, Wa_h, Wa_v, w_a)
    with pytest.raises(ValueError, match="soft_attention_forward: V must have shape"):
        soft_attention_forward(h, V[0], Wa_h, Wa_v, w_a)
    _, cache = soft_attention_forward(h, V, Wa_h, Wa_v, w_a)
    with pytest.raises(ValueError, match="soft_attention_backward: dalpha must have shape"):
        soft_attention_backward(np.zeros((3, 4)), np.zeros((3, 4)), cache)


# ---------------------------------------------------------------------- torch step and model
def test_torch_step_matches_numpy_and_the_model_uses_it():
    args = _inputs(seed=3)
    (context, alpha), _ = soft_attention_forward(*args)
    t = [torch.tensor(a) for a in args]
    c, a = attention_step_torch(t[0], t[1], dict(Wa_h=t[2], Wa_v=t[3], w_a=t[4]))
    assert rel_error(c.numpy(), context) < 1e-12 and rel_error(a.numpy(), alpha) < 1e-12
    with pytest.raises(ValueError, match="attention_step_torch: params\\['Wa_h'\\] must have shape"):
        attention_step_torch(t[0], t[1], dict(Wa_h=t[2].T, Wa_v=t[3], w_a=t[4]))
    # the model's first attention map is this step applied to h0 and the grid
    model = _small_model(positions=False).double()
    grid, captions = _small_data()
    grid = grid.double()
    alphas = model(grid, captions[:, :-1])[1]
    h0, _ = model._initial(grid)
    params = {k: getattr(model, k) for k in ("Wa_h", "Wa_v", "w_a")}
    np.testing.assert_allclose(alphas[:, 0].detach(), attention_step_torch(h0, grid, params)[1].detach(),
                               rtol=1e-12)


@pytest.mark.parametrize("attention, query", [("soft", "hidden"), ("soft", "hidden_word"),
                                              ("hard", "hidden_word"), ("uniform", "hidden")])
def test_model_shapes_loss_parts_and_decoding_agree(attention, query):
    model = _small_model(attention, query=query)
    grid, captions = _small_data()
    model.eval()
    scores, alphas = model(grid, captions[:, :-1])
    N, T = captions.shape[0], captions.shape[1] - 1
    assert scores.shape == (N, T, len(VOCAB)) and alphas.shape == (N, T, 16)
    torch.testing.assert_close(alphas.sum(dim=2), torch.ones(N, T))
    if attention == "uniform":
        assert torch.all(alphas == 1 / 16) and not model.attention_parameters()
    # the regulariser, by hand
    parts = model.loss_parts(grid, captions, doubly_stochastic=0.5)
    mask = (captions[:, 1:] != 0).float()
    by_hand = 0.5 * ((1 - (alphas * mask[:, :, None]).sum(1)) ** 2).sum(1).mean()
    torch.testing.assert_close(parts["regulariser"], by_hand)
    torch.testing.assert_close(parts["loss"], parts["nll"] + parts["regulariser"])
    torch.testing.assert_close(model.loss(grid, captions), parts["nll"])
    # teacher forcing and step-by-step decoding give the same scores and maps
    state = model.start_state(grid)
    with torch.no_grad():
        for t in range(3):
            log_probs, state = model.step(captions[:, t], state)
            torch.testing.assert_close(log_probs, torch.log_softmax(scores[:, t], 1).detach())
            torch.testing.assert_close(state.alpha, alphas[:, t].detach())
    found = caption_with_attention(model, grid[:2], VOCAB, max_length=6)
    for (words, maps, probs), text in zip(found, attention_captions(model, grid[:2], VOCAB, 6)):
        assert " ".join(words) == text and maps.shape == (len(words), 16) and probs.shape == (len(words),)
        assert np.all((probs > 0) & (probs <= 1))


def test_hard_attention_samples_in_training_and_takes_the_argmax_in_eval():
    model = _small_model("hard")
    grid, captions = _small_data()
    runs = [model.train().run(grid, captions[:, :-1], generator=torch.Generator().manual_seed(s))
            for s in (0, 0, 1)]
    assert torch.equal(runs[0].locations, runs[1].locations)
    assert not torch.equal(runs[0].locations, runs[2].locations)
    run = model.eval().run(grid, captions[:, :-1])
    torch.testing.assert_close(run.locations, run.alphas.argmax(dim=2))
    torch.testing.assert_close(run.location_log_probs.exp(), run.alphas.max(dim=2).values)
    # rows with the expected context (Xu et al. 4.1) compute what the soft model computes
    soft = _small_model("soft")
    soft.load_state_dict(model.state_dict())
    expected = torch.tensor([True, False] * 3)
    mixed = model.train().run(grid, captions[:, :-1], expected=expected)
    torch.testing.assert_close(mixed.scores[expected], soft(grid, captions[:, :-1])[0][expected])
    assert not torch.allclose(mixed.scores[~expected], soft(grid, captions[:, :-1])[0][~expected])


def test_bad_arguments_are_refused():
    model = _small_model()
    grid, captions = _small_data()
    with pytest.raises(ValueError, match="AttentionCaptioner: attention must be one of"):
        _small_model("hardest")
    with pytest.raises(ValueError, match=r"AttentionCaptioner.run: grid must have shape \(N, L, D\)"):
        model(grid[:, :8], captions[:, :-1])
    with pytest.raises(ValueError, match="AttentionCaptioner.run: captions_in must have one row per grid"):
        model(grid[:3], captions[:, :-1])
    with pytest.raises(ValueError, match="doubly_stochastic must be a finite number >= 0"):
        model.loss(grid, captions, doubly_stochastic=-1)
    with pytest.raises(ValueError, match="caption_with_attention: model must be an AttentionCaptioner"):
        caption_with_attention(Captioner(len(VOCAB), 6), grid, VOCAB)


# --------------------------------------------------------------------------------- training
def test_training_fits_a_few_captions_and_is_deterministic():
    grid, captions = _small_data(N=4)
    histories = []
    for _ in range(2):
        model = _small_model()
        histories.append(train_attention_captioner(model, grid, captions, steps=80, batch_size=4,
                                                   lr=3e-2, seed=0, doubly_stochastic=0.01,
                                                   progress=False, schedule="constant"))
    assert histories[0]["nll"] == histories[1]["nll"]
    assert histories[0]["final_nll"] < 0.25 * histories[0]["nll"][0]
    assert len(histories[0]["regulariser"]) == 80


def test_hard_training_runs_reinforce_and_the_baseline_cuts_variance():
    grid, captions = _small_data(N=8)
    model = _small_model("hard")
    history = train_attention_captioner(model, grid, captions, steps=30, batch_size=8, lr=1e-2,
                                        seed=0, progress=False, expected_fraction=0.25)
    assert {"reward", "baseline", "entropy"} <= set(history)
    assert len(draw_training_curves({"hard": history}, window=5).axes) == 2
    assert history["baseline"][0] == history["reward"][0]       # starts at the first mean reward
    before = {k: v.clone() for k, v in model.state_dict().items()}
    without = reinforce_gradient_variance(model, grid, captions, samples=40, baseline=False)
    with_b = reinforce_gradient_variance(model, grid, captions, samples=40, baseline=True)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert with_b["total_variance"] < 0.2 * without["total_variance"]
    assert with_b["baseline"] == pytest.approx(with_b["reward_mean"], abs=3 * with_b["reward_std"] + 1e-6)
    with pytest.raises(ValueError, match="reinforce_gradient_variance: model must use hard attention"):
        reinforce_gradient_variance(_small_model("soft"), grid, captions)


# ----------------------------------------------------------------------- attention correctness
def _scene():
    return shapes.make_scenes("test", 1, start=3)[0]


def test_alpha_to_image_and_box_scores_on_hand_made_maps():
    scene = _scene()
    obj = max(scene.objects, key=lambda o: (o.box[2] - o.box[0]))
    x0, y0, x1, y1 = obj.box
    # a cell that lies entirely inside the box gets all the mass
    cell = next((r, c) for r in range(8) for c in range(8)
                if x0 <= 8 * c and 8 * c + 8 <= x1 and y0 <= 8 * r and 8 * r + 8 <= y1)
    alpha = np.zeros(64)
    alpha[cell[0] * 8 + cell[1]] = 1.0
    image = alpha_to_image(alpha)
    assert image.shape == (64, 64) and image.sum() == pytest.approx(1.0)
    assert box_mass(alpha, obj.box) == pytest.approx(1.0) and peak_in_box(alpha, obj.box) == 1.0
    uniform = np.full(64, 1 / 64)
    assert box_mass(uniform, obj.box) == pytest.approx((x1 - x0) * (y1 - y0) / 64 ** 2)
    centres_inside = sum(x0 <= 8 * c + 4 <= x1 and y0 <= 8 * r + 4 <= y1 for r in range(8) for c in range(8))
    assert peak_in_box(uniform, obj.box) == pytest.approx(centres_inside / 64)
    far = np.zeros(64)
    far[0 if cell != (0, 0) else 63] = 1.0
    assert peak_in_box(far, obj.box) == 0.0
    with pytest.raises(ValueError, match="alpha_to_image: alpha must have a square number"):
        alpha_to_image(np.ones(10) / 10)


def test_object_cells_marks_the_cells_whose_peak_lands_on_an_object():
    scene = _scene()
    on = object_cells(scene)
    assert on.shape == (64,) and on.dtype == bool and 0 < on.sum() < 64
    # the same rule as peak_in_box: a map peaking at cell l peaks on some object iff on[l]
    hits = [max(peak_in_box(np.eye(64)[l], o.box) for o in scene.objects) for l in range(64)]
    assert on.tolist() == [h == 1.0 for h in hits]
    for o in scene.objects:                     # every object's centre cell is on it
        assert on[int(o.centre[1] // 8) * 8 + int(o.centre[0] // 8)]
    coarse = object_cells(scene, grid_side=4)
    assert coarse.shape == (16,) and coarse.any()
    with pytest.raises(ValueError, match="object_cells: scene must be a shapes.Scene"):
        object_cells(scene.image)

def test_referring_words_and_correctness_of_hand_made_captions():
    scene = _scene()
    a, b = scene.objects[0], scene.objects[1]
    words = f"a small {a.colour} {a.shape} and two {b.shape}s the {b.colour} object".split()
    found = referring_words(scene, words)
    assert (2, 0) in found and (3, 0) in found and (8, 1) in found
    assert all(words[t] not in ("small", "two", "a") for t, _ in found)
    wrong_shape = next(s for s in shapes.SHAPES if s != a.shape)
    assert referring_words(scene, [a.colour, wrong_shape]) == [(0, 0)]   # "red square" names no square
    # maps that put everything on each named object's centre cell score 1; uniform maps score area
    alphas = np.zeros((len(words), 64))
    for t in range(len(words)):
        o = scene.objects[dict(found).get(t, 0)]
        alphas[t, int(o.centre[1] // 8) * 8 + int(o.centre[0] // 8)] = 1.0
    result = correctness_of_maps([scene], [words], [alphas])
    assert result["peak"] == 1.0 and result["words"] == len(found)
    uniform = correctness_of_maps([scene], [words], [np.full((len(words), 64), 1 / 64)])
    areas = [(lambda x0, y0, x1, y1: (x1 - x0) * (y1 - y0) / 64 ** 2)(*scene.objects[i].box) for _, i in found]
    assert uniform["mass"] == pytest.approx(np.mean(areas))


def test_attention_correctness_of_a_model_with_given_features():
    model = AttentionCaptioner(len(VOCAB), 6, num_locations=64, wordvec_dim=5, hidden_dim=8,
                               attention_dim=7)
    grid = torch.rand(4, 64, 6)
    ref = attention_correctness(model, "test", 4, grid=grid, source="reference")
    uni = attention_correctness(model, "test", 4, grid=grid, source="reference", maps="uniform")
    assert ref["words"] == uni["words"] > 0 and 0 <= ref["peak"] <= 1 and 0 < uni["mass"] < 0.2
    with pytest.raises(ValueError, match=r"^attention_correctness: grid must have shape \(count, L, D\) = "
                                         r"\(3, 64, 6\), got \(4, 64, 6\)$"):
        attention_correctness(model, "test", 3, grid=grid)


# --------------------------------------------------------------------------------- pictures
def test_strip_and_widget_draw_and_refuse_bad_input():
    scenes = shapes.make_scenes("test", 2)
    model = AttentionCaptioner(len(VOCAB), 6, num_locations=64, wordvec_dim=5, hidden_dim=8,
                               attention_dim=7, attention="uniform")
    grid = torch.rand(2, 64, 6)
    words, alphas, probs = caption_with_attention(model, grid[:1], VOCAB, max_length=4)[0]
    fig = draw_attention_strip(scenes[0], words, alphas, probs)
    assert len(fig.axes) >= 1 + len(words)
    box = attention_widget(model, scenes, VOCAB, grid=grid, max_length=4)
    sliders = [w for row in box.children[:-1] for w in row.children]
    assert len(sliders) == 2 and all(int(s.layout.width.rstrip("px")) >= 80 for s in sliders)
    sliders[0].value = 1                                         # a new scene: decoded, redrawn
    assert sliders[1].value == 0
    with pytest.raises(ValueError, match="attention_widget: scene must be an integer between 0 and 1"):
        attention_widget(model, scenes, VOCAB, grid=grid, scene=2)
    with pytest.raises(ValueError, match="attention_widget: model must be an AttentionCaptioner"):
        attention_widget(Captioner(len(VOCAB), 6), scenes, VOCAB, grid=grid)
    with pytest.raises(ValueError, match="attention_widget: scenes must be a non-empty list"):
        attention_widget(model, [], VOCAB, grid=grid)
    with pytest.raises(ValueError, match=r"^draw_attention_strip: alphas must have shape \(T, L\) = \(2, 64\), "
                                         r"got \(1, 64\)$"):
        draw_attention_strip(scenes[0], ["a", "red"], np.ones((1, 64)) / 64, np.ones(2))


# ------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = _small_model("hard", gate=False)
    path = save_attention_captioner(model, VOCAB, tmp_path / "m.pt", meta={"note": "test"})
    loaded = load_attention_captioner(path)
    assert loaded.config() == model.config() and loaded.checkpoint_meta == {"note": "test"}
    assert load_attention_captioner(path, attention="other").config() == model.config()  # picks no default
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    with pytest.raises(CheckpointError, match=REBUILD_COMMAND):
        load_attention_captioner(tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable attention-captioner checkpoint"):
        load_attention_captioner(tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="meta must be a dict of plain values"):
        save_attention_captioner(model, VOCAB, tmp_path / "x.pt", meta={"x": object()})


def test_shipped_checkpoints_load_and_caption():
    path = checkpoint_path("soft")
    if not path.is_file():
        pytest.fail(f"no shipped attention captioner at {path}; run `{REBUILD_COMMAND}`")
    for mode in ("soft", "hard", "uniform"):
        if checkpoint_path(mode).is_file():
            assert checkpoint_path(mode).stat().st_size < 5e6
    model = load_attention_captioner()
    meta = model.checkpoint_meta
    assert model.attention == "soft" and {"recipe", "bleu", "correctness", "seconds"} <= set(meta)
    from utils.tools.train_attention import encoder_digest  # tools sit above everything: only here
    if meta.get("encoder_weights_sha256") != encoder_digest():
        pytest.fail(f"the attention captioners were trained on the features of another encoder "
                    f"checkpoint; run `{REBUILD_COMMAND}`")
    from utils.models.encoder import cached_features  # the encoder checkpoint is only needed here
    grid = cached_features("test", 20)[1]
    words, alphas, probs = caption_with_attention(model, grid[:1], model.vocab)[0]
    assert words and alphas.shape == (len(words), 64)


# --------------------------------------------------------------------------- exercise checks
def _fwd_wrong_axis(h, V, Wa_h, Wa_v, w_a):
    e = np.tanh(V @ Wa_v + (h @ Wa_h)[:, None]) @ w_a
    alpha = np.exp(e) / np.exp(e).sum(axis=0)
    return (np.einsum("nl,nld->nd", alpha, V), alpha), None


def _fwd(h, V, Wa_h, Wa_v, w_a, tanh=True, weighted=True):
    pre = V @ Wa_v + (h @ Wa_h)[:, None]
    alpha = softmax((np.tanh(pre) if tanh else pre) @ w_a)
    context = np.einsum("nl,nld->nd", alpha, V) if weighted else V.sum(axis=1)
    return (context, alpha), None


def _bwd(dcontext, dalpha, cache, tanh_grad=True, use_dalpha=True, keys_path=True):
    h, V, Wa_h, Wa_v, w_a, u, alpha = cache
    da = np.einsum("nd,nld->nl", dcontext, V) + (dalpha if (use_dalpha and dalpha is not None) else 0)
    de = alpha * (da - (alpha * da).sum(1, keepdims=True))
    dpre = de[:, :, None] * w_a * ((1 - u ** 2) if tanh_grad else 1)
    dV = alpha[:, :, None] * dcontext[:, None] + (dpre @ Wa_v.T if keys_path else 0)
    return (dpre.sum(1) @ Wa_h.T, dV, h.T @ dpre.sum(1), np.einsum("nld,nla->da", V, dpre),
            np.einsum("nla,nl->a", u, de))


def _surrogate(ll, log_alpha, locations, mask, b, sign=1, base=-1, detach=True, masked=True, sampled=True,
               words=True):
    """reinforce_surrogate with one slip at a time (the defaults give the right one)."""
    locs = locations if sampled else log_alpha.argmax(dim=2)
    lp = (log_alpha.gather(2, locs.unsqueeze(2)).squeeze(2) * (mask if masked else 1)).sum(dim=1)
    advantage = ll + base * b
    advantage = advantage.detach() if detach else advantage
    return sign * (-(ll if words else 0) - advantage * lp)


def _fwd_cache_scores(*args):
    outputs, (h, V, Wa_h, Wa_v, w_a, u, alpha) = soft_attention_forward(*args)
    return outputs, (h, V, Wa_h, Wa_v, w_a, u @ w_a, alpha)


def _regulariser(alphas, mask, lam, two=2.0, masked_grad=True, masked=True, axis=1, mean=True):
    """doubly_stochastic_regulariser with one slip at a time (the defaults give the right one)."""
    N = len(alphas) if mean else 1
    gap = 1.0 - (alphas * (mask[:, :, None] if masked else 1.0)).sum(axis=axis)
    grad = -two * lam / N * gap[:, None, :] * (mask[:, :, None] if masked_grad else np.ones_like(alphas))
    return float(lam * (gap ** 2).sum() / N), grad


REFERENCE_ANSWERS = {
    "soft_attention_forward": soft_attention_forward,
    "soft_attention_backward": soft_attention_backward,
    "reinforce_surrogate": reinforce_surrogate,
    "doubly_stochastic_regulariser": doubly_stochastic_regulariser,
}

PLANTED = {
    "soft_attention_forward": [
        _fwd_wrong_axis,                                              # softmax over the batch
        functools.partial(_fwd, tanh=False),                          # no tanh
        functools.partial(_fwd, weighted=False),                      # sum instead of weighting
        lambda h, V, Wa_h, Wa_v, w_a: _fwd(h, V, Wa_h.T, Wa_v, w_a),  # transposed weights
        _fwd_cache_scores,                                            # right outputs, scores cached for u
    ],
    "soft_attention_backward": [
        functools.partial(_bwd, tanh_grad=False),                     # forgot tanh'
        functools.partial(_bwd, use_dalpha=False),                    # forgot dalpha
        functools.partial(_bwd, keys_path=False),                     # V only as values
    ],
    "doubly_stochastic_regulariser": [
        functools.partial(_regulariser, two=1.0),                     # d(gap^2) without the 2
        functools.partial(_regulariser, two=-2.0),                    # sign
        functools.partial(_regulariser, masked_grad=False),           # mask in the loss only
        functools.partial(_regulariser, masked=False, masked_grad=False),  # padding counted
        functools.partial(_regulariser, mean=False),                  # summed over the captions
        functools.partial(_regulariser, axis=2),                      # summed over the locations
    ],
    "reinforce_surrogate": [
        functools.partial(_surrogate, sign=-1),                       # the whole surrogate negated
        functools.partial(_surrogate, base=0),                        # no baseline
        lambda ll, la, s, m, b: _surrogate(ll, la, s, m, 0.0) + b,    # baseline on the words' term
        functools.partial(_surrogate, sampled=False),                 # argmax instead of the sample
        functools.partial(_surrogate, detach=False),                  # reward not held constant
        functools.partial(_surrogate, masked=False),                  # padding counted
        functools.partial(_surrogate, words=False),                   # words' term missing
        lambda *args: _surrogate(*args).mean(),                       # one number for the minibatch
        lambda *args: _surrogate(*args).detach(),                     # no gradient at all
    ],
}

EXPECTED_HINTS = {
    ("soft_attention_forward", 0): "over axis 1",
    ("soft_attention_forward", 1): "tanh is missing",
    ("soft_attention_forward", 2): "weighted average",
    ("soft_attention_forward", 4): "read u from the cache",
    ("soft_attention_backward", 0): "derivative is missing",
    ("soft_attention_backward", 1): "dalpha is ignored",
    ("soft_attention_backward", 2): "keys",
    ("doubly_stochastic_regulariser", 0): "derivative of a square",
    ("doubly_stochastic_regulariser", 1): "wrong sign",
    ("doubly_stochastic_regulariser", 2): "applied to the loss only",
    ("doubly_stochastic_regulariser", 3): "padding steps are counted",
    ("doubly_stochastic_regulariser", 4): "averaged over the N captions",
    ("doubly_stochastic_regulariser", 5): "sum over the steps (axis 1)",
    ("reinforce_surrogate", 0): "sign of the whole surrogate",
    ("reinforce_surrogate", 1): "baseline b is not used",
    ("reinforce_surrogate", 2): "subtracted from the wrong term",
    ("reinforce_surrogate", 3): "not the sampled one",
    ("reinforce_surrogate", 4): "reward is not held constant",
    ("reinforce_surrogate", 5): "padding steps are counted",
    ("reinforce_surrogate", 6): "words' term -log p(y|s) is missing",
    ("reinforce_surrogate", 7): "one surrogate per caption",
    ("reinforce_surrogate", 8): "carries no gradient",
}


test_check_passes_on_a_correct_answer, test_check_catches_planted_mistakes, \
    test_unsolved_exercise_reports_not_implemented = exercise_check_tests(
        types.SimpleNamespace(**{**vars(checks), **vars(loss_checks)}),  # 07's checks, in two modules
        REFERENCE_ANSWERS, PLANTED, EXPECTED_HINTS)



@pytest.mark.slow
def test_the_command_runs_end_to_end_on_a_tiny_budget(tmp_path):
    """The checkpoint command, with 3 steps per model and a few evaluation scenes: it writes the
    three checkpoints and a README whose numbers are the ones stored in the checkpoints."""
    from utils.tools import train_attention  # tools sit above everything: only here
    report = train_attention.main(["--out", str(tmp_path), "--steps", "3", "--eval-scenes", "10",
                                   "--correctness-scenes", "5", "--load-note", "a test run"])
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "--load-note 'a test run'" in readme
    for mode in ("soft", "hard", "uniform"):
        model = load_attention_captioner(tmp_path / f"{mode}.pt", attention=mode)
        assert model.attention == mode and model.checkpoint_meta["command"] == report["command"]
        assert f"{model.checkpoint_meta['final_nll']:.3f}" in readme
        assert f"{model.checkpoint_meta['bleu']['test']['BLEU-4']:.3f}" in readme
