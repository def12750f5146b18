"""Notebook 06 (image captioning): the numpy captioner and its torch twin, training, decoding
wrappers, the checkpoint, BLEU and error analysis, and the exercise checks (each passes on a
correct answer and fails on at least two planted mistakes)."""
import functools
import types

import numpy as np
import pytest
import torch

from notebook_helpers import exercise_check_tests
from utils.analysis.captions import (PARTS, caption_claims, caption_references, decode_split, error_analysis,
                                     evaluate_bleu, fractions)
from utils.checks import captioning as checks
from utils.checks import beam_search as beam_checks
from utils.checks import decode_loop as decode_loop_checks
from utils.checks.core import CheckFailed
from utils.data import shapes
from utils.data import shapes_language as language
from utils.data.captions import CAPTION_LENGTH, caption_dataset
from utils.gradcheck import eval_numerical_gradient
from utils.layers import temporal_softmax_loss
from utils.models.checkpoints import CheckpointError  # noqa: E402
from utils.models.beam_search import beam_hypotheses
from utils.models.captioner import DEFAULT_CHECKPOINT, REBUILD_COMMAND, Captioner, load_captioner, save_captioner
from utils.models.captioner_numpy import captioning_loss, init_captioner_params
from utils.models.captions import caption_beam, caption_greedy, caption_sample
from utils.training.captioning import train_captioner

COMBOS = [(cell, cond) for cell in ("vanilla", "lstm") for cond in ("init", "every_step")]


@pytest.fixture(autouse=True)
def one_thread():  # tiny matrices: one thread is fastest, and the machine is shared
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _problem(cell, cond, seed=0, N=4, T1=7, V=11, P=6, W=5, H=7):
    rng = np.random.default_rng(seed)
    params = init_captioner_params(V, P, W, H, cell, cond, seed=seed)
    params = {k: v + 0.3 * rng.normal(size=v.shape) for k, v in params.items()}
    features = rng.normal(size=(N, P))
    captions = checks._captions_with_padding(rng, N, T1, V)
    return params, features, captions


# ------------------------------------------------------------------ numpy and torch agree
@pytest.mark.parametrize("cell, cond", COMBOS)
def test_numpy_and_torch_losses_and_gradients_agree(cell, cond):
    params, features, captions = _problem(cell, cond)
    loss, grads = captioning_loss(params, features, captions, cell=cell, conditioning=cond)
    model = Captioner.from_numpy(params, dtype=torch.float64)
    assert (model.cell, model.conditioning) == (cell, cond)
    torch_loss = model.loss(torch.tensor(features), torch.tensor(captions))
    torch_loss.backward()
    assert abs(torch_loss.item() - loss) <= 1e-10 * abs(loss)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name], rtol=1e-8, atol=1e-12)
    model32 = Captioner.from_numpy(params)          # float32, as trained
    loss32 = model32.loss(torch.tensor(features, dtype=torch.float32), torch.tensor(captions)).item()
    assert abs(loss32 - loss) <= 1e-6 * abs(loss)
    back = model32.to_numpy()
    assert set(back) == set(params)
    for k in params:
        np.testing.assert_allclose(back[k], params[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell, cond", COMBOS)
def test_captioning_loss_matches_numerical_gradients(cell, cond):
    params, features, captions = _problem(cell, cond, seed=1, N=3, T1=5, V=7, P=3, W=3, H=4)
    _, grads = captioning_loss(params, features, captions, cell=cell, conditioning=cond)
    for key in params:
        def f(value, key=key):
            return captioning_loss({**params, key: value}, features, captions, cell=cell, conditioning=cond)[0]
        numeric = eval_numerical_gradient(f, params[key].copy())
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_padding_and_conditioning_behave():
    params, features, captions = _problem("lstm", "init")
    loss, _ = captioning_loss(params, features, captions)
    longer = np.concatenate([captions, np.zeros((len(captions), 3), dtype=np.int64)], axis=1)
    assert captioning_loss(params, features, longer)[0] == pytest.approx(loss, rel=1e-12)  # padding is free
    other = features + 1.0
    assert captioning_loss(params, other, captions)[0] != pytest.approx(loss)  # the image matters
    # torch's decoding step reproduces the teacher-forced scores step by step
    for cell, cond in COMBOS:
        params, features, captions = _problem(cell, cond, seed=2)
        model = Captioner.from_numpy(params, dtype=torch.float64)
        with torch.no_grad():
            scores = model(torch.tensor(features), torch.tensor(captions[:, :-1]))
            state = model.start_state(torch.tensor(features))
            for t in range(captions.shape[1] - 1):
                log_probs, state = model.step(torch.tensor(captions[:, t]), state)
                torch.testing.assert_close(log_probs, torch.log_softmax(scores[:, t], 1))


def test_bad_arguments_are_refused():
    params, features, captions = _problem("lstm", "init")
    with pytest.raises(ValueError, match="captioning_loss: params must be those of a vanilla"):
        captioning_loss(params, features, captions, cell="vanilla")
    with pytest.raises(ValueError, match=r"captioning_loss: captions must have shape \(4, T \+ 1\)"):
        captioning_loss(params, features, captions[:2])
    with pytest.raises(ValueError, match="captioning_loss: features must have shape"):
        captioning_loss(params, features[:, :2], captions)
    with pytest.raises(ValueError, match="params must hold 'W_vocab'"):
        captioning_loss({k: v for k, v in params.items() if k != "W_vocab"}, features, captions)
    with pytest.raises(ValueError, match="init_captioner_params: cell must be one of"):
        init_captioner_params(5, 3, cell="gru")
    with pytest.raises(ValueError, match="conditioning must be one of"):
        Captioner(5, 3, conditioning="attention")
    model = Captioner.from_numpy(params)
    with pytest.raises(ValueError, match=r"Captioner.forward: features must have shape \(N, P\) = \(2, 6\)"):
        model(torch.zeros(2, 5), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"captions_in must lie in \[0, 11\)"):
        model(torch.zeros(2, 6), torch.full((2, 3), 11))
    vocab = language.WordVocab([f"w{i}" for i in range(7)])  # 4 special + 7 = 11 words
    feats = torch.zeros(2, 6)
    for call, match in [
        (lambda: caption_beam(model, feats, vocab, beam_size=0), "caption_beam: beam_size must be a positive integer"),
        (lambda: caption_greedy(model, feats, vocab, max_length=0), "caption_greedy: max_length must be"),
        (lambda: caption_sample(model, feats, vocab, temperature=0.0, generator=torch.Generator()),
         "caption_sample: temperature must be a finite number > 0"),
        (lambda: caption_sample(model, feats, vocab, temperature=-1, generator=torch.Generator()), "temperature"),
        (lambda: caption_sample(model, feats, vocab), "caption_sample: generator must be"),
        (lambda: caption_beam(model, feats, vocab, length_penalty=-1), "length_penalty must be"),
        (lambda: caption_greedy(model, feats, language.build_vocab()), "caption_greedy: vocab must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()


# -------------------------------------------------------------------------- decoding wrappers
def test_decoding_wrappers_agree_with_the_decoders():
    torch.manual_seed(0)
    vocab = language.WordVocab([f"w{i}" for i in range(9)])
    model = Captioner(len(vocab), 6, wordvec_dim=5, hidden_dim=8, seed=3)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)                  # peaked distributions: captions end before max_length
    feats = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    greedy = caption_greedy(model, feats, vocab, max_length=8)
    assert caption_beam(model, feats, vocab, max_length=8, beam_size=1) == greedy
    assert all(isinstance(c, str) and "<START>" not in c and "<NULL>" not in c for c in greedy)
    beam = caption_beam(model, feats, vocab, max_length=8, beam_size=4)
    for i in range(5):  # beam search finds a caption at least as probable as greedy's
        with torch.no_grad():
            best = beam_hypotheses(model.step, model.start_state(feats[i:i + 1]), 1, 2, 8, 4)[0]
        assert vocab.decode(best.tokens) == beam[i]
    a = caption_sample(model, feats, vocab, temperature=0.7, generator=torch.Generator().manual_seed(5))
    b = caption_sample(model, feats, vocab, temperature=0.7, generator=torch.Generator().manual_seed(5))
    assert a == b and model.training  # reproducible; the model's mode is restored


# ------------------------------------------------------------------------------- training
def test_overfitting_fifty_captions_drives_the_loss_to_zero():
    vocab = language.build_vocab()
    scene_index, captions = caption_dataset("train", 10, vocab, captions_per_scene=5)
    assert captions.shape == (50, CAPTION_LENGTH) and np.all(captions[:, 0] == 1)
    features = np.random.default_rng(0).normal(size=(10, 16)).astype(np.float32)
    model = Captioner(len(vocab), 16, wordvec_dim=16, hidden_dim=64, seed=0)
    history = train_captioner(model, features, captions, image_index=scene_index, steps=250, batch_size=50,
                              lr=1e-2, progress=False)
    # 5 different captions per image: the best possible loss is the entropy of choosing one of
    # them (log 5 = 1.6 nats per caption at most); teacher forcing memorises all the rest
    assert history["loss"][0] > 30 and history["final_loss"] < 2.0
    assert len(history["step"]) == len(history["loss"]) == 250 and history["seconds"] > 0
    # one caption per image: the loss goes to about zero
    model = Captioner(len(vocab), 16, wordvec_dim=16, hidden_dim=64, seed=0)
    first = captions[::5]
    history = train_captioner(model, features, first, steps=150, batch_size=10, lr=2e-2, progress=False)
    assert history["final_loss"] < 0.05
    assert caption_greedy(model, features[:3], vocab) == vocab.decode_batch(first[:3, 1:])


def test_training_is_deterministic_for_a_seed():
    vocab = language.build_vocab()
    idx, captions = caption_dataset("train", 8, vocab, captions_per_scene=2)
    features = np.random.default_rng(1).normal(size=(8, 12)).astype(np.float32)
    runs = []
    for seed in (0, 0, 1):
        model = Captioner(len(vocab), 12, wordvec_dim=8, hidden_dim=16, seed=2)
        runs.append(train_captioner(model, features, captions, image_index=idx, steps=12, batch_size=5, lr=1e-2,
                                    seed=seed, progress=False, schedule="cosine")["loss"])
    assert runs[0] == runs[1] and runs[0] != runs[2]
    with pytest.raises(ValueError, match="train_captioner: steps must be a positive integer"):
        train_captioner(model, features, captions, image_index=idx, steps=0, batch_size=5, lr=1e-2)
    with pytest.raises(ValueError, match="train_captioner: features must have one row per caption"):
        train_captioner(model, features, captions, steps=1, batch_size=5, lr=1e-2)


# ------------------------------------------------------------------------------ checkpoint
def test_checkpoint_round_trip_and_refusals(tmp_path):
    vocab = language.build_vocab()
    model = Captioner(len(vocab), 6, wordvec_dim=4, hidden_dim=5, cell="vanilla", conditioning="every_step", seed=4)
    raw = torch.randn(20, 6, generator=torch.Generator().manual_seed(0)) * 5 + 3
    raw[:, 2] = 7.0                                             # a dead unit: std 0 -> 1
    model.fit_feature_normalisation(raw)
    v = model._image(raw)
    torch.testing.assert_close(v.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    assert torch.allclose(v.std(0)[[0, 1, 3, 4, 5]], torch.ones(5)) and torch.all(v[:, 2] == 0)
    path = save_captioner(model, vocab, tmp_path / "c.pt", meta={"recipe": {"steps": 3}, "bleu": [0.5]})
    loaded = load_captioner(path, vocab)
    assert loaded.config() == model.config() and not loaded.training
    assert loaded.checkpoint_meta == {"recipe": {"steps": 3}, "bleu": [0.5]}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    feats = raw[:3]
    assert caption_greedy(loaded, feats, vocab) == caption_greedy(model, feats, vocab)
    torch.testing.assert_close(loaded(feats, torch.ones(3, 4, dtype=torch.long)),
                               model(feats, torch.ones(3, 4, dtype=torch.long)))

    other = language.WordVocab(list(vocab.id_to_word[4:][::-1]))
    with pytest.raises(ValueError, match=f"another vocabulary.*{REBUILD_COMMAND}"):
        load_captioner(path, other)
    with pytest.raises(CheckpointError, match=f"no captioner checkpoint.*{REBUILD_COMMAND}") as info:
        load_captioner(tmp_path / "missing.pt")
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"not a readable captioner checkpoint.*{REBUILD_COMMAND}"):
        load_captioner(broken)
    with pytest.raises(ValueError, match="save_captioner: meta must be a dict of plain values"):
        save_captioner(model, vocab, tmp_path / "x.pt", meta={"f": object()})


# ---------------------------------------------------------------- data, BLEU, error analysis
def test_caption_dataset_and_references_agree():
    vocab = language.build_vocab()
    idx, captions = caption_dataset("test", 4, vocab, start=3)
    scenes = shapes.make_scenes("test", 4, start=3)
    refs = caption_references(scenes)
    assert idx.tolist() == [i for i in range(4) for _ in range(5)]
    assert vocab.decode_batch(captions[:, 1:]) == [c for r in refs for c in r]
    everything = caption_references(scenes, kind="all")
    assert all(set(r) <= set(e) for r, e in zip(refs, everything))
    with pytest.raises(ValueError, match="caption_dataset: split must be one of"):
        caption_dataset("training", 3, vocab)


def test_bleu_wrapper():
    scenes = shapes.make_scenes("test", 30)
    counts = [language.caption_options(s)["count"][0] for s in scenes]   # always among the five
    assert evaluate_bleu(None, "test", 30, captions=counts) == {f"BLEU-{n}": 1.0 for n in range(1, 5)}
    wrong = [counts[(i + 1) % 30] for i in range(30)]                    # another scene's caption
    assert evaluate_bleu(None, "test", 30, captions=wrong)["BLEU-4"] < 0.7
    relations = [language.caption_options(s)["relation"][:1] or [counts[i]] for i, s in enumerate(scenes)]
    relations = [r[0] for r in relations]
    assert evaluate_bleu(None, "test", 30, captions=relations, references="all")["BLEU-4"] == 1.0
    # with a model: explicit features, any decoder
    vocab = language.build_vocab()
    model = Captioner(len(vocab), 8, wordvec_dim=4, hidden_dim=6, seed=0)
    feats = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    for decoder in ("greedy", "beam", "sample"):
        captions = decode_split(model, "test", 5, decoder, features=feats, max_length=6)
        assert len(captions) == 5
        scores = evaluate_bleu(model, "test", 5, decoder, features=feats, max_length=6)
        assert set(scores) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())
    with pytest.raises(ValueError, match="decode_split: decoder must be one of"):
        decode_split(model, "test", 5, "top-k", features=feats)


def _scene():
    obj = lambda colour, shape, size, x, y: shapes.ShapeObject(  # noqa: E731
        colour, shape, size, (float(x), float(y)), shapes.object_box(shape, size, (x, y)))
    objects = (obj("red", "circle", "small", 12, 40), obj("blue", "square", "large", 44, 20),
               obj("green", "circle", "large", 40, 50))
    return shapes.Scene(image=shapes.render(objects), objects=objects, seed=0)


def test_error_analysis_on_hand_made_captions():
    scene = _scene()
    def judged(caption):
        return {(part, claim): ok for part, claim, ok in caption_claims(scene, caption)}
    right = judged("three shapes : a small red circle , a large blue square and a large green circle")
    assert right[("true_caption", "three shapes : a small red circle , a large blue square and a large "
                  "green circle")] is False  # true statements, but not the grammar's left-to-right order
    assert all(ok for (part, _), ok in right.items() if part != "true_caption")
    claims = judged("the large red circle is left of the small blue triangle")
    assert claims[("colours", "red")] and claims[("colours", "blue")]
    assert claims[("pairs", "red circle")] and not claims[("pairs", "blue triangle")]
    assert not claims[("shapes", "triangle")] and not claims[("sizes", "large red circle")]
    assert not claims[("sizes", "small blue triangle")]   # the blue object is large
    assert not claims[("relations", "large red circle left of small blue triangle")]
    claims = judged("a small red circle left of a large blue square")
    assert all(claims.values())                            # true, and one of the grammar's captions
    claims = judged("there are two circles and one triangle")
    assert claims[("counts", "2 circle")] and not claims[("counts", "1 triangle")]
    assert not claims[("shapes", "triangle")]
    assert not judged("the green circle is above the red circle")[("relations", "green circle above red circle")]
    assert judged("the green circle is below the blue square")[("relations", "green circle below blue square")]
    assert not judged("four shapes : a purple circle")[("counts", "4 objects")]

    result = error_analysis([scene] * 3, ["there are two circles and one square",
                                          "the small red circle is right of the large green circle",
                                          "a yellow circle"])
    assert set(result) == set(PARTS)
    assert result["relations"] == {"correct": 0, "total": 1, "fraction": 0.0}
    assert result["colours"]["total"] == 3 and result["colours"]["correct"] == 2
    assert fractions(result)["true_caption"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="error_analysis: scenes and captions must be"):
        error_analysis([scene], [])


def test_true_captions_have_no_false_claims():
    for scene in shapes.make_scenes("heldout", 40):
        for caption in (c for found in language.caption_options(scene).values() for c in found):
            assert all(ok for _, _, ok in caption_claims(scene, caption)), caption


# ------------------------------------------------------------------ checks: reference answers
def emb_forward(x, W):
    return W[x], (x, W.shape)


def emb_backward(dout, cache):
    x, (V, D) = cache
    dW = np.zeros((V, D))
    np.add.at(dW, x, dout)
    return dW


def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, np.einsum("ntd,ntm->dm", x, dout), dout.sum(axis=(0, 1))


def softmax_loss(scores, y, mask, average="N", mask_grad=True, mask_loss=True):
    N, T, V = scores.shape
    shifted = scores - scores.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, y[:, :, None], axis=2)[:, :, 0]
    divide = {"N": N, "NT": N * T}[average]
    loss = -(picked * (mask if mask_loss else 1)).sum() / divide
    d = np.exp(log_probs)
    np.put_along_axis(d, y[:, :, None], np.take_along_axis(d, y[:, :, None], axis=2) - 1, axis=2)
    if mask_grad:
        d = d * mask[:, :, None]
    return loss, d / divide


def student_captioning_loss(params, features, captions, mask_from="targets", shift=True, use_h0=True):
    from utils.layers import (lstm_backward, lstm_forward, temporal_affine_backward,  # the notebook's imports
                              temporal_affine_forward)
    from utils.layers.embedding import word_embedding_backward, word_embedding_forward
    x_in, y = (captions[:, :-1], captions[:, 1:]) if shift else (captions[:, :-1], captions[:, :-1])
    mask = (y if mask_from == "targets" else x_in) != 0
    if mask_from == "none":
        mask = np.ones_like(mask)
    h0 = features @ params["W_proj"] + params["b_proj"] if use_h0 else np.zeros((len(features), params["Wh"].shape[0]))
    x, c_emb = word_embedding_forward(x_in, params["W_embed"])
    h, c_rnn = lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    scores, c_aff = temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])
    loss, dscores = temporal_softmax_loss(scores, y, mask)
    g = {}
    dh, g["W_vocab"], g["b_vocab"] = temporal_affine_backward(dscores, c_aff)
    dx, dh0, g["Wx"], g["Wh"], g["b"] = lstm_backward(dh, c_rnn)
    g["W_proj"], g["b_proj"] = features.T @ dh0, dh0.sum(axis=0)
    g["W_embed"] = word_embedding_backward(dx, c_emb)
    return loss, g


def student_beam(step_fn, state, start_id, end_id, max_length, beam_size, length_penalty=0.0,
                 keep_finished=True, normalise=True, extra=0):
    alpha = length_penalty if normalise else 0.0
    beams, prev, finished = [([], 0.0)], np.array([start_id]), []
    for length in range(1, max_length + 1):
        log_probs, state = step_fn(prev, state)
        V = log_probs.shape[1]
        total = np.array([lp for _, lp in beams])[:, None] + log_probs
        alive, parents, tokens = [], [], []
        for flat in np.argsort(-total, axis=None, kind="stable")[:beam_size + extra]:
            k, v = divmod(int(flat), V)
            if total[k, v] == -np.inf:
                break
            if v == end_id and keep_finished:
                finished.append((beams[k][0], total[k, v] / length ** alpha))
            else:  # (the planted mistake keeps extending a beam after its END)
                alive.append((beams[k][0] + [v], total[k, v]))
                parents.append(k)
                tokens.append(v)
        beams = alive
        if not beams:
            break
        state, prev = state[np.array(parents)], np.array(tokens)
    finished += [(t[:t.index(end_id)] if end_id in t else t, lp / max_length ** alpha) for t, lp in beams]
    return max(finished, key=lambda f: f[1])


def student_decode(step_fn, state, batch_size, start_id, end_id, max_length, temperature=0.0, generator=None):
    """A correct decode loop written otherwise than the reference: one (B, max_length) table,
    finished rows fed END, words drawn by inverting the cumulative distribution."""
    table = np.full((batch_size, max_length), -1)
    total = np.zeros(batch_size)
    alive = np.ones(batch_size, dtype=bool)
    prev = np.full(batch_size, start_id)
    for t in range(max_length):
        log_probs, state = step_fn(prev, state)
        log_probs = np.asarray(log_probs)
        if temperature == 0:
            chosen = np.argmax(log_probs, axis=1)
        else:
            z = log_probs / temperature
            p = np.exp(z - z.max(axis=1, keepdims=True))
            cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
            chosen = np.minimum((cdf < generator.random(batch_size)[:, None]).sum(axis=1), p.shape[1] - 1)
        total[alive] += log_probs[alive, chosen[alive]]
        table[alive, t] = chosen[alive]
        alive &= chosen != end_id
        if not alive.any():
            break
        prev = np.where(alive, chosen, end_id)
    return [[int(w) for w in row if w >= 0 and w != end_id] for row in table], total


REFERENCE_ANSWERS = {
    "word_embedding_forward": emb_forward,
    "word_embedding_backward": emb_backward,
    "temporal_affine_forward": affine_forward,
    "temporal_affine_backward": affine_backward,
    "temporal_softmax_loss": softmax_loss,
    "captioning_loss": student_captioning_loss,
    "decode_loop": student_decode,
    "beam_search": student_beam,
}


def _buffered_backward(dout, cache):
    x, (V, D) = cache
    dW = np.zeros((V, D))
    dW[x] += dout
    return dW


def _assigned_backward(dout, cache):
    x, (V, D) = cache
    dW = np.zeros((V, D))
    dW[x] = dout
    return dW


def planted_decode_loops():
    """[(kind, function)]: decode_loop's reference with each planted mistake of the catalogue."""
    from utils.tools.planted_catalogue import CATALOGUE  # the tests of the catalogue's own exercise
    from utils.tools.references import references
    from utils.tools.release_checks import mistaken, reference_functions
    refs = references()
    function = reference_functions(refs)["decode_loop"]
    return [(m.kind, mistaken(function, refs["decode_loop"], m)) for m in CATALOGUE if m.exercise == "decode_loop"]


# every diagnosis the decode_loop check prints, and the planted mistake that proves it
DECODE_DIAGNOSES = {
    "START not fed (NULL instead)": "the first step must feed start_id",
    "argmax over the wrong axis": "That is the size of the vocabulary",
    "state not carried": "did not get the new_state it returned",
    "chosen word not fed back": "each row's chosen word is its next input",
    "goes on after END": "chose END at step 1 and its caption",
    "END kept in the caption": "contains END",
    "START kept in the caption": "contains START",
    "one step short of max_length": "one step more than yours",
    "one step past max_length": "may be called at most 5 times",
    "stops when the first row finishes": "although END is not the most probable next token",
    "tie broken towards the highest id": "takes the lowest id on a tie",
    "END's log-probability left out": "the sum without END's log-probability",
    "temperature ignored": "the temperature is ignored",
    "temperature multiplied instead of divided": "do not multiply",
    "argmax instead of sampling": "it does not take the argmax",
    "draws from the global RNG": "global generators had moved on",
    "a generator of its own per row": "another generator seed gave the same",
}


PLANTED = {
    "word_embedding_forward": [
        lambda x, W: (W[x.T], None),                          # axes swapped: (T, N, D)
        lambda x, W: (W[np.maximum(x - 1, 0)], None),        # ids off by one
        lambda x, W: (W.T[x], None),                          # rows of W.T: index error or wrong rows
    ],
    "word_embedding_backward": [
        _buffered_backward,                                   # repeated ids lose contributions
        _assigned_backward,                                   # = instead of +=
        lambda dout, cache: np.tile(dout.sum(axis=(0, 1)), (cache[1][0], 1)),  # every row the same
    ],
    "temporal_affine_forward": [
        lambda x, w, b: (x @ w, None),                        # no bias
        lambda x, w, b: (x[:, -1:] @ w + b, None),            # last step only
        lambda x, w, b: ((x @ w).transpose(1, 0, 2) + b, None),
    ],
    "temporal_affine_backward": [
        lambda dout, c: (dout @ c[1].T, np.einsum("ntd,ntm->dm", c[0], dout), dout.sum(axis=0)),  # db (T, M)
        lambda dout, c: (dout @ c[1].T, c[0][:, -1].T @ dout[:, -1], dout.sum(axis=(0, 1))),       # dw last step
        lambda dout, c: (dout @ c[1], np.einsum("ntd,ntm->dm", c[0], dout), dout.sum(axis=(0, 1))),  # dx: w not w.T
    ],
    "temporal_softmax_loss": [
        functools.partial(softmax_loss, average="NT"),        # average over all steps
        functools.partial(softmax_loss, mask_grad=False, mask_loss=False),   # forgot the mask
        functools.partial(softmax_loss, mask_grad=False),     # mask in the loss, not the gradient
    ],
    "captioning_loss": [
        functools.partial(student_captioning_loss, mask_from="none"),
        functools.partial(student_captioning_loss, mask_from="inputs"),
        functools.partial(student_captioning_loss, shift=False),
        functools.partial(student_captioning_loss, use_h0=False),
    ],
    "decode_loop": [function for _, function in planted_decode_loops()],
    "beam_search": [
        functools.partial(student_beam, keep_finished=False),   # finished beams not set aside
        functools.partial(student_beam, normalise=False),       # no length normalisation when asked
        functools.partial(student_beam, extra=1),               # a beam of 1 keeps more than one
    ],
}

EXPECTED_HINTS = {  # a planted mistake whose message must name its cause
    ("word_embedding_backward", 0): "np.add.at",
    ("temporal_affine_forward", 0): "bias is missing",
    ("temporal_softmax_loss", 0): "divide by N",
    ("temporal_softmax_loss", 1): "padding counts",
    ("temporal_softmax_loss", 2): "multiply dscores by mask",
    ("captioning_loss", 0): "<NULL> padding is counted",
    ("captioning_loss", 1): "not the inputs",
    ("captioning_loss", 2): "shifted by one",
    ("captioning_loss", 3): "h0 = features @ W_proj",
    ("beam_search", 0): "set it aside",
    ("beam_search", 1): "log_prob / length ** alpha",
    ("beam_search", 2): "beam_size=1",
}


def test_every_decode_loop_diagnosis_is_proven_by_a_planted_mistake():
    planted = planted_decode_loops()
    assert sorted(kind for kind, _ in planted) == sorted(DECODE_DIAGNOSES)
    for kind, function in planted:
        with pytest.raises(CheckFailed) as info:
            decode_loop_checks.check_decode_loop(function)
        assert str(info.value).startswith("decode_loop: ") and DECODE_DIAGNOSES[kind] in str(info.value), \
            (kind, str(info.value))


def test_decode_loop_check_passes_the_reference_for_other_seeds():
    from utils.models.decoding import decode_loop
    for seed in (0, 1, 12345):
        decode_loop_checks.check_decode_loop(decode_loop, seed=seed)
        decode_loop_checks.check_decode_loop(student_decode, seed=seed)


test_check_passes_on_a_correct_answer, test_check_catches_planted_mistakes, \
    test_unsolved_exercise_reports_not_implemented = exercise_check_tests(
        types.SimpleNamespace(**{**vars(checks), **vars(decode_loop_checks), **vars(beam_checks)}),  # 06's, in three
        REFERENCE_ANSWERS, PLANTED, EXPECTED_HINTS)


def test_captioning_loss_check_for_other_models():
    def reference(cell, cond):
        return lambda p, f, c: captioning_loss(p, f, c, cell=cell, conditioning=cond)
    checks.check_captioning_loss(reference("vanilla", "every_step"), cell="vanilla", conditioning="every_step")
    with pytest.raises(CheckFailed, match="captioning_loss"):
        checks.check_captioning_loss(reference("vanilla", "init"), cell="vanilla", conditioning="every_step")


# ------------------------------------------------------------------ the shipped checkpoint
def test_shipped_checkpoint_loads_and_captions():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.fail(f"no shipped captioner at {DEFAULT_CHECKPOINT}; run `{REBUILD_COMMAND}`")
    model = load_captioner()
    meta = model.checkpoint_meta
    assert DEFAULT_CHECKPOINT.stat().st_size < 5e6
    assert meta["bleu"]["test"]["greedy"]["BLEU-4"] >= 0.85
    captions = decode_split(model, "test", 60)
    scores = evaluate_bleu(model, "test", 60, captions=captions)
    assert scores["BLEU-4"] > 0.75
    assert fractions(error_analysis(shapes.make_scenes("test", 60), captions))["colours"] > 0.9
    readme = (DEFAULT_CHECKPOINT.parent / "README.md").read_text()
    assert f"| test | greedy | {meta['bleu']['test']['greedy']['BLEU-1']:.3f} |" in readme
    assert REBUILD_COMMAND in readme
