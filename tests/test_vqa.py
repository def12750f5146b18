"""Notebook 08 (visual question answering): the numpy fusion and attention-hop layers, the
question arrays, the torch models and their training, the analysis, the widget's refusals of
bad input, the checkpoints, and the exercise checks (each passes on the reference and fails on
at least two planted mistakes)."""
import functools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from notebook_helpers import exercise_check_tests, lecture_with_answers, run_selfcheck_cli  # noqa: E402
from utils.analysis.vqa import (accuracy_by_type, accuracy_table, attention_hits,  # noqa: E402
                                attention_vs_answer, confusion, peak_in_box)
from utils.checks import vqa as checks  # noqa: E402
from utils.data import shapes  # noqa: E402
from utils.data import shapes_language as language  # noqa: E402
from utils.data import shapes_questions  # noqa: E402
from utils.data.vqa import answer_word_ids, encode_typed_question, vqa_arrays  # noqa: E402
from utils.gradcheck import eval_numerical_gradient_array, rel_error  # noqa: E402
from utils.layers.vqa import (attention_hop_backward, attention_hop_forward,  # noqa: E402
                              concat_fusion_backward, multiple_choice_loss,
                              product_fusion_backward, product_fusion_forward)
from utils.models.checkpoints import CheckpointError  # noqa: E402
from utils.models.grid import attention_hop_torch, box_cells  # noqa: E402
from utils.models.vqa import MODEL_KINDS, PriorBaseline, build_model  # noqa: E402
from utils.models.vqa_io import (REBUILD_COMMAND, answer_question, batch_tensors,  # noqa: E402
                                 checkpoint_path, load_vqa_model, save_vqa_model)
from utils.training.vqa import predict, train_vqa  # noqa: E402
from utils.viz.vqa import TYPE_YOUR_OWN, draw_answer, vqa_widget  # noqa: E402

VOCAB = language.build_vocab()
SMALL = dict(summary_dim=6, feature_dim=5, wordvec_dim=4, hidden_dim=8)


@pytest.fixture(autouse=True)
def one_thread_and_no_figures():
    before = torch.get_num_threads()
    torch.set_num_threads(1)      # tiny models: one thread is fastest (utils.course.torch_threads)
    yield
    torch.set_num_threads(before)
    plt.close("all")


@pytest.fixture(scope="module")
def small_set():
    """60 test questions with random features for their scenes (no encoder needed)."""
    data = vqa_arrays("test", 60)
    rng = np.random.default_rng(0)
    S = data["num_scenes"]
    summary = torch.from_numpy(rng.normal(size=(S, 6)).astype(np.float32))
    grid = torch.from_numpy(rng.normal(size=(S, 64, 5)).astype(np.float32))
    return data, summary, grid


def _extra(kind):
    return {"attention_dim": 3} if kind in ("san1", "san2", "visual7w") else \
        {"fused_dim": 7} if kind in ("concat", "product") else {}


# ------------------------------------------------------------------------------ numpy layers
def _numeric(forward, args, douts):
    flat = np.concatenate([d.ravel() for d in douts])
    out = []
    for k in range(len(args)):
        def f(value, k=k):
            a = [x.copy() for x in args]
            a[k] = value
            o = forward(*a)[0]
            o = o if isinstance(o, tuple) else (o,)
            return np.concatenate([x.ravel() for x in o])
        out.append(eval_numerical_gradient_array(f, args[k].copy(), flat))
    return out


def test_product_fusion_gradients_and_concat_split():
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(3, 5)), rng.normal(size=(3, 4)), rng.normal(size=(5, 6)),
            rng.normal(size=6), rng.normal(size=(4, 6)), rng.normal(size=6)]
    f, cache = product_fusion_forward(*args)
    assert f.shape == (3, 6) and np.all(np.abs(f) < 1)
    df = rng.normal(size=f.shape)
    for got, num in zip(product_fusion_backward(df, cache), _numeric(product_fusion_forward, args, [df])):
        assert rel_error(got, num) < 1e-7
    dv, dq = concat_fusion_backward(np.arange(12.0).reshape(2, 6), 4)
    assert dv.shape == (2, 4) and dq.shape == (2, 2) and dq[0, 0] == 4


@pytest.mark.parametrize("with_dp", [True, False])
def test_attention_hop_gradients(with_dp):
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(4, 3)),
            rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)]
    (u_next, p), cache = attention_hop_forward(*args)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    du = rng.normal(size=u_next.shape)
    dp = rng.normal(size=p.shape) if with_dp else np.zeros(p.shape)
    grads = attention_hop_backward(du, dp if with_dp else None, cache)
    for got, num in zip(grads, _numeric(attention_hop_forward, args, [du, dp])):
        assert rel_error(got, num) < 1e-7


def test_layers_refuse_wrong_shapes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="product_fusion_forward: q must have shape"):
        product_fusion_forward(np.ones((3, 5)), np.ones((2, 4)), np.ones((5, 6)), np.ones(6),
                               np.ones((4, 6)), np.ones(6))
    with pytest.raises(ValueError, match="attention_hop_forward: u must have shape"):
        attention_hop_forward(np.ones((2, 3)), rng.normal(size=(2, 5, 4)), np.ones((4, 3)),
                              np.ones((4, 3)), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="attention_hop_backward: cache must be"):
        attention_hop_backward(np.ones((2, 4)), None, (1, 2))


def test_torch_hop_matches_numpy_and_the_model_uses_the_same_equations():
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(2, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(4, 3)),
            rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3)]
    (u_next, p), _ = attention_hop_forward(*args)
    t = [torch.tensor(a) for a in args]
    got_u, got_p = attention_hop_torch(t[0], t[1], dict(zip(("W_I", "W_Q", "b_A", "w_P"), t[2:])))
    np.testing.assert_allclose(got_u.numpy(), u_next, rtol=1e-10)
    np.testing.assert_allclose(got_p.numpy(), p, rtol=1e-10)
    hop = build_model("san1", len(VOCAB), summary_dim=6, feature_dim=5, wordvec_dim=4,
                      hidden_dim=4, attention_dim=3).hop_layers[0].double()
    with torch.no_grad():
        for name, value in zip(("W_I", "W_Q", "b_A", "w_P"), t[2:]):
            getattr(hop, name).copy_(value)
    model_u, model_p = hop(t[0], t[1])                   # the model's hop: the same equations
    np.testing.assert_allclose(model_u.detach().numpy(), u_next, rtol=1e-10)
    np.testing.assert_allclose(model_p.detach().numpy(), p, rtol=1e-10)
    with pytest.raises(ValueError, match="attention_hop_torch: params must be a dict"):
        attention_hop_torch(t[0], t[1], {})


# ------------------------------------------------------------------------------ data
def test_question_arrays_are_consistent():
    data = vqa_arrays("test", 30)
    names = shapes_questions.answer_vocab()
    M = len(data["answer"])
    assert M == 30 and data["question"].shape[0] == M
    assert np.all(data["candidates"][np.arange(M), data["correct"]] == data["answer"])
    assert [names[a] for a in data["answer"]] == data["answers"]
    pointing = data["qtype"] == shapes_questions.QUESTION_TYPES.index("pointing")
    assert data["candidate_present"][pointing].any(axis=1).all()
    assert not data["candidate_present"][~pointing].any()
    right = data["candidate_present"][np.arange(M), data["correct"]]
    assert right[pointing].all()                       # the right object is always in the scene
    words = answer_word_ids(VOCAB)
    assert words.shape == (len(names), 2) and VOCAB.decode(words[names.index("red circle")]) == "red circle"
    with pytest.raises(ValueError, match="vqa_arrays: count must be"):
        vqa_arrays("test", 2)


def test_typed_questions_unknown_words_and_empty():
    ids, unknown = encode_typed_question(VOCAB, "What COLOUR is the wobbly circle?")
    assert unknown == ["wobbly"] and ids.shape == (1, 7) and ids[0, 4] == VOCAB.word_to_id["<UNK>"]
    for empty in ("", "   ", " ? "):
        with pytest.raises(ValueError, match="the question is empty"):
            encode_typed_question(VOCAB, empty)
    with pytest.raises(ValueError, match="must be a string"):
        encode_typed_question(VOCAB, None)


def test_box_cells_cover_every_object():
    for scene in shapes.make_scenes("test", 10):
        boxes = torch.tensor([o.box for o in scene.objects], dtype=torch.float32)
        cells = box_cells(boxes)
        assert cells.shape == (len(scene.objects), 64) and (cells.sum(1) >= 1).all()


# ------------------------------------------------------------------------------ models
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_model_runs_trains_and_predicts(kind, small_set):
    data, summary, grid = small_set
    model = build_model(kind, len(VOCAB), **SMALL, **_extra(kind))
    batch = batch_tensors(data, np.arange(5), summary, grid)
    out = model(batch)
    assert out["scores"].shape == (5, 4 if kind == "visual7w" else len(shapes_questions.answer_vocab()))
    if kind.startswith("san"):
        assert out["attention"].shape == (5, int(kind[-1]), 64)
        np.testing.assert_allclose(out["attention"].sum(-1).detach().numpy(), 1.0, rtol=1e-5)
    history = train_vqa(model, data, summary, grid, steps=3, batch_size=8, progress=False)
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all()
    result = predict(model, data, summary, grid, batch_size=16)
    assert result["answer"].shape == (len(data["answer"]),)
    if kind == "visual7w":     # the choice is always one of the four candidates
        assert all(a in row for a, row in zip(result["answer"], data["candidates"]))


def test_training_is_deterministic_and_fits_a_few_questions(small_set):
    data, summary, grid = small_set
    runs = []
    for _ in range(2):
        model = build_model("product", len(VOCAB), **SMALL, fused_dim=7)
        runs.append(train_vqa(model, data, summary, grid, steps=60, batch_size=20, lr=1e-2,
                              progress=False)["loss"])
    assert runs[0] == runs[1]
    assert np.mean(runs[0][-5:]) < np.mean(runs[0][:5])


def test_visual7w_reads_the_question_up_to_its_last_word(small_set):
    data, summary, grid = small_set
    model = build_model("visual7w", len(VOCAB), **SMALL, attention_dim=3)
    rows = np.arange(6)
    batch = batch_tensors(data, rows, summary, grid)
    wider = dict(batch, question=torch.cat([batch["question"], torch.zeros(6, 3, dtype=torch.long)], 1))
    with torch.no_grad():
        torch.testing.assert_close(model(batch)["scores"], model(wider)["scores"])


def test_multiple_choice_loss_is_the_torch_models_scoring_and_cross_entropy(small_set):
    data, summary, grid = small_set
    model = build_model("visual7w", len(VOCAB), **SMALL, attention_dim=3)
    batch = batch_tensors(data, np.arange(12), summary, grid)
    assert batch["lengths"].min() < batch["question"].shape[1]      # some questions are padded
    with torch.no_grad():
        read, scores = model.read(batch), model(batch)["scores"]
        expected_loss = torch.nn.functional.cross_entropy(scores.double(), batch["correct"])
    got, loss = multiple_choice_loss(read["states"].double().numpy(),
                                     batch["lengths"].numpy(), read["answers"].double().numpy(),
                                     read["image"].double().numpy(), batch["correct"].numpy())
    np.testing.assert_allclose(got, scores.double().numpy(), rtol=1e-5, atol=1e-6)
    assert abs(loss - float(expected_loss)) < 1e-5
    with pytest.raises(ValueError, match="multiple_choice_loss: lengths must lie in"):
        multiple_choice_loss(np.ones((2, 3, 4)), np.array([1, 3]), np.ones((2, 4, 4)),
                             np.ones((2, 4)), np.array([0, 1]))


def test_num_answers_is_a_classifier_argument_kept_by_its_checkpoint(small_set, tmp_path):
    data, summary, grid = small_set
    batch = batch_tensors(data, np.arange(3), summary, grid)
    model = build_model("san1", len(VOCAB), **SMALL, attention_dim=3, num_answers=7)
    assert model(batch)["scores"].shape == (3, 7) and model.config()["num_answers"] == 7
    save_vqa_model(model, tmp_path / "seven.pt")
    assert load_vqa_model(path=tmp_path / "seven.pt")(batch)["scores"].shape == (3, 7)
    assert "num_answers" not in build_model("visual7w", len(VOCAB), **SMALL).config()


def test_prior_baseline_and_bad_arguments():
    prior = PriorBaseline().fit(np.array([0, 0, 0, 1]), np.array([5, 5, 2, 7]))
    assert prior.predict([0, 1]).tolist() == [5, 7]
    with pytest.raises(ValueError, match="build_model: kind must be one of"):
        build_model("mlp", len(VOCAB))
    with pytest.raises(ValueError, match="FusionClassifier: fusion must be one of"):
        from utils.models.vqa import FusionClassifier  # only this test builds one by hand
        FusionClassifier(len(VOCAB), fusion="sum")
    with pytest.raises(ValueError, match="train_vqa: model must be a VQA model"):
        train_vqa(torch.nn.Linear(2, 2), {}, None, None)


# ------------------------------------------------------------------------------ analysis
def test_accuracy_confusion_and_attention_analysis(small_set):
    data = small_set[0]
    M = len(data["answer"])
    predicted = data["answer"].copy()
    predicted[data["qtype"] == 0] = 0                 # every attribute question answered "red"
    acc = accuracy_by_type(predicted, data)
    assert acc["position"] == 1.0 and acc["attribute"] < 1.0
    assert set(acc) == set(shapes_questions.QUESTION_TYPES) | {"overall"}
    lines = accuracy_table({"m": {"test": acc}})
    assert lines[0].startswith("model") and len(lines) == 3 and "1.000" in lines[2]
    labels, matrix = confusion(predicted, data, "attribute")
    assert matrix.sum() == int((data["qtype"] == 0).sum()) and matrix[:, labels.index("red")].sum() == matrix.sum()
    maps = np.full((M, 2, 64), 1e-3)
    maps[:, :, 0] = 1.0                               # every map looks at the top-left cell
    result = attention_vs_answer(predicted, maps, data)
    assert sum(result["counts"].values()) == int(data["has_target"].sum())
    maps[:, 0, 0], maps[:, 0, 9] = 1e-3, 1.0          # hop 1 now peaks at cell (1, 1)
    last = attention_hits(maps, data)[1]
    first = attention_hits(maps, data, hop=0)[1]
    assert np.array_equal(attention_hits(maps, data, hop="any")[1], last | first)
    box = np.array([[0, 0, 8, 8], [8, 0, 16, 8]], dtype=float)
    assert peak_in_box(np.eye(64)[:2], box).tolist() == [True, True]
    with pytest.raises(ValueError, match=r"^accuracy_by_type: predicted must have shape \(M,\) = \(\d+,\), got \(3,\)$"):
        accuracy_by_type(predicted[:3], data)


# ------------------------------------------------------------------------------ widget
def test_answer_question_and_widget_refuse_bad_input(small_set):
    data, summary, grid = small_set
    model = build_model("san2", len(VOCAB), **SMALL, attention_dim=3)
    result = answer_question(model, summary[0], grid[0], "what colour is the zorblax ?")
    assert result["unknown"] == ["zorblax"] and result["attention"].shape == (2, 64)
    assert abs(result["all_probs"].sum() - 1) < 1e-5
    with pytest.raises(ValueError, match="answer_question: .*the question is empty"):
        answer_question(model, summary[0], grid[0], "  ")
    with pytest.raises(ValueError, match="answer_question: summary must be one scene's"):
        answer_question(model, summary, grid, "what colour is the circle ?")    # every scene at once
    with pytest.raises(ValueError, match="answer_question: model must be an answer classifier"):
        answer_question(build_model("visual7w", len(VOCAB), **SMALL), summary[0], grid[0], "what ?")
    scenes = shapes.make_scenes("test", 3)
    fig = draw_answer(scenes[0], "what colour is the zorblax ?", result)
    assert "zorblax" in fig._suptitle.get_text()
    box = vqa_widget(model, scenes, summary[:3], grid[:3])
    scene_slider, menu, typed = [w for row in box.children[:-1] for w in row.children]
    assert all(int(w.layout.width.rstrip("px")) >= 80 for w in (scene_slider, menu, typed))
    scene_slider.value = 2                              # new scene: its own questions
    assert menu.options[0] == shapes_questions.questions(scenes[2])[0].text
    menu.value = TYPE_YOUR_OWN
    typed.value = ""                                     # empty: a message, no traceback
    typed.value = "what size is the glorp object ?"     # unknown word: answered, noted
    with pytest.raises(ValueError, match="vqa_widget: scene must be an integer between 0 and 2"):
        vqa_widget(model, scenes, summary[:3], grid[:3], scene=3)
    with pytest.raises(ValueError, match="vqa_widget: scenes must be a non-empty list"):
        vqa_widget(model, [], summary[:0], grid[:0])
    with pytest.raises(ValueError, match=r"^vqa_widget: summary must have shape \(S, P\) = \(3, \d+\), got \(2, \d+\)$"):
        vqa_widget(model, scenes, summary[:2], grid[:3])


# ------------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = build_model("san2", len(VOCAB), **SMALL, attention_dim=3)
    path = save_vqa_model(model, tmp_path / "m.pt", meta={"note": "test"})
    loaded = load_vqa_model(path=path)
    assert loaded.config() == model.config() and loaded.checkpoint_meta == {"note": "test"}
    assert load_vqa_model(kind="other", path=path).config() == model.config()  # picks no default
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    with pytest.raises(CheckpointError, match=REBUILD_COMMAND):
        load_vqa_model(path=tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable VQA checkpoint"):
        load_vqa_model(path=tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="meta must be a dict of plain values"):
        save_vqa_model(model, tmp_path / "x.pt", meta={"x": object()})


def test_shipped_checkpoints_load_and_answer():
    path = checkpoint_path("san2")
    if not path.is_file():
        pytest.fail(f"no shipped VQA model at {path}; run `{REBUILD_COMMAND}`")
    for kind in MODEL_KINDS:
        assert checkpoint_path(kind).is_file() and checkpoint_path(kind).stat().st_size < 5e6
    model = load_vqa_model("san2")
    meta = model.checkpoint_meta
    assert {"recipe", "accuracy", "seconds", "encoder_weights_sha256"} <= set(meta)
    from utils.tools.train_vqa import encoder_digest  # tools sit above everything: only here
    if meta["encoder_weights_sha256"] != encoder_digest():
        pytest.fail(f"the VQA models were trained on the features of another encoder "
                    f"checkpoint; run `{REBUILD_COMMAND}`")
    from utils.models.encoder import cached_features  # the encoder checkpoint is only needed here
    summary, grid = cached_features("test", 5)
    result = answer_question(model, summary[0], grid[0], "how many objects are there ?")
    assert result["answers"][0] in language.NUMBERS


# --------------------------------------------------------------------------- exercise checks
def _fusion(v, q, W_v, b_v, W_q, b_q, tanh=True, bias=True, product=True):
    a, b = v @ W_v + (b_v if bias else 0), q @ W_q + (b_q if bias else 0)
    if tanh:
        a, b = np.tanh(a), np.tanh(b)
    return (a * b if product else a + b), None


def _fusion_concat(v, q, W_v, b_v, W_q, b_q):
    return np.concatenate([v, q], axis=1), None


def _fusion_back(df, cache, tanh_grad=True, swapped=False, sum_bias=True, transposed=False):
    v, q, W_v, W_q, a, b = cache
    ga, gb = (a, b) if swapped else (b, a)
    dpv = df * ga * ((1 - a ** 2) if tanh_grad else 1)
    dpq = df * gb * ((1 - b ** 2) if tanh_grad else 1)
    dW_v = (dpv.T @ v) if transposed else v.T @ dpv
    return (dpv @ W_v.T, dpq @ W_q.T, dW_v, dpv.sum(0) if sum_bias else dpv, q.T @ dpq,
            dpq.sum(0) if sum_bias else dpq)


def _hop(u, V, W_I, W_Q, b_A, w_P, axis=1, residual=True, tanh=True):
    pre = V @ W_I + (u @ W_Q + b_A)[:, None, :]
    e = (np.tanh(pre) if tanh else pre) @ w_P
    p = np.exp(e - e.max(axis=axis, keepdims=True))
    p = p / p.sum(axis=axis, keepdims=True)
    return ((u if residual else 0) + np.einsum("nl,nld->nd", p, V), p), None


def _hop_back(du_next, dp, cache, tanh_grad=True, residual=True, sum_locations=True, use_dp=True):
    u, V, W_I, W_Q, w_P, h, p = cache
    dpt = np.einsum("nd,nld->nl", du_next, V) + (dp if (dp is not None and use_dp) else 0)
    de = p * (dpt - (p * dpt).sum(1, keepdims=True))
    dpre = de[:, :, None] * w_P * ((1 - h ** 2) if tanh_grad else 1)
    dquery = dpre.sum(1) if sum_locations else dpre[:, 0]
    dV = p[:, :, None] * du_next[:, None, :] + dpre @ W_I.T
    return ((du_next if residual else 0) + dquery @ W_Q.T, dV, np.einsum("nld,nlk->dk", V, dpre),
            u.T @ dquery, dquery.sum(0), np.einsum("nlk,nl->k", h, de))


def _mc(states, lengths, answers, image, correct, last=0, scale=True, axis=1, divide="N", pick="right"):
    N, K = answers.shape[:2]
    h = states[:, -1] if last == "padded" else states[np.arange(N), lengths + last]
    s = (answers @ (h + image)[:, :, None])[:, :, 0] / (np.sqrt(states.shape[2]) if scale else 1.0)
    p = np.exp(s - s.max(axis, keepdims=True))
    log_p = np.log(p / p.sum(axis, keepdims=True))
    chosen = log_p[np.arange(N), correct] if pick == "right" else log_p[:, 0]
    return s, float(-chosen.sum() / {"N": N, "K": K}[divide])


REFERENCE_ANSWERS = {
    "multiple_choice_loss": multiple_choice_loss,
    "product_fusion_forward": product_fusion_forward,
    "product_fusion_backward": product_fusion_backward,
    "attention_hop_forward": attention_hop_forward,
    "attention_hop_backward": attention_hop_backward,
}

def _fusion_cache_swapped(*args):
    f, (v, q, W_v, W_q, a, b) = product_fusion_forward(*args)
    return f, (v, q, W_v, W_q, b, a)


def _hop_cache_u_next(*args):
    (u_next, p), cache = attention_hop_forward(*args)
    return (u_next, p), (u_next,) + cache[1:]


PLANTED = {
    "multiple_choice_loss": [
        functools.partial(_mc, last="padded"),                        # the last padded step
        functools.partial(_mc, last=-1),                              # off by one: lengths - 1
        functools.partial(_mc, axis=0),                               # softmax over the questions
        functools.partial(_mc, divide="K"),                           # averaged over candidates
        functools.partial(_mc, scale=False),                          # no 1 / sqrt(H)
        functools.partial(_mc, pick="first"),                         # always candidate 0
    ],
    "product_fusion_forward": [
        functools.partial(_fusion, tanh=False),                       # no tanh
        functools.partial(_fusion, bias=False),                       # biases left out
        functools.partial(_fusion, product=False),                    # a sum, not a product
        _fusion_concat,                                               # concatenation instead
        _fusion_cache_swapped,                                        # right f, a and b swapped in the cache
    ],
    "product_fusion_backward": [
        functools.partial(_fusion_back, tanh_grad=False),             # forgot tanh'
        functools.partial(_fusion_back, swapped=True),                # own factor, not the other's
        functools.partial(_fusion_back, sum_bias=False),              # forgot the broadcasting sum
        functools.partial(_fusion_back, transposed=True),             # dW_v transposed
    ],
    "attention_hop_forward": [
        functools.partial(_hop, axis=0),                              # softmax over the batch
        functools.partial(_hop, residual=False),                      # no residual
        functools.partial(_hop, tanh=False),                          # no tanh
        _hop_cache_u_next,                                            # right outputs, u_next cached for u
    ],
    "attention_hop_backward": [
        functools.partial(_hop_back, tanh_grad=False),                # forgot tanh'
        functools.partial(_hop_back, residual=False),                 # forgot the residual path
        functools.partial(_hop_back, sum_locations=False),            # forgot the sum over L
        functools.partial(_hop_back, use_dp=False),                   # ignored dp
    ],
}

EXPECTED_HINTS = {
    ("multiple_choice_loss", 0): "last padded step",
    ("multiple_choice_loss", 1): "one step early",
    ("multiple_choice_loss", 2): "softmax runs over the wrong axis",
    ("multiple_choice_loss", 3): "divided by the number of candidates",
    ("multiple_choice_loss", 4): "scale is missing",
    ("multiple_choice_loss", 5): "always takes candidate 0",
    ("product_fusion_forward", 0): "tanh of each projection is missing",
    ("product_fusion_forward", 1): "bias is missing",
    ("product_fusion_forward", 2): "elementwise product",
    ("product_fusion_forward", 3): "has shape",
    ("product_fusion_forward", 4): "read a from the cache",
    ("product_fusion_backward", 0): "derivative is missing",
    ("product_fusion_backward", 1): "factors are swapped",
    ("product_fusion_backward", 2): "sums over the N rows",
    ("product_fusion_backward", 3): "transpose",
    ("attention_hop_forward", 0): "wrong axis",
    ("attention_hop_forward", 1): "residual is missing",
    ("attention_hop_forward", 2): "tanh is missing",
    ("attention_hop_forward", 3): "read u from the cache",
    ("attention_hop_backward", 0): "derivative is missing",
    ("attention_hop_backward", 1): "residual's gradient is missing",
    ("attention_hop_backward", 2): "summed over the L locations",
    ("attention_hop_backward", 3): "dp is ignored",
}


test_check_passes_on_a_correct_answer, test_check_catches_planted_mistakes, \
    test_unsolved_exercise_reports_not_implemented = exercise_check_tests(
        checks, REFERENCE_ANSWERS, PLANTED, EXPECTED_HINTS)


def _folder(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.slow
def test_selfcheck_of_the_lecture_with_pasted_solutions_and_a_planted_mistake(tmp_path):
    right = run_selfcheck_cli(lecture_with_answers("08_vqa.ipynb", _folder(tmp_path / "right")))
    assert right.returncode == 0 and "5 of 5 exercises passed" in right.stdout, right.stdout + right.stderr
    path = lecture_with_answers("08_vqa.ipynb", _folder(tmp_path / "wrong"), {          # forgot tanh'
        "dpre_v = df * b * (1 - a ** 2)": "dpre_v = df * b"})
    wrong = run_selfcheck_cli(path)
    assert wrong.returncode == 1 and "4 of 5 exercises passed" in wrong.stdout, wrong.stdout
