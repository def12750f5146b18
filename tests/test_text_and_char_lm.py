"""Unit tests of utils.data.text, utils.models.char_lm and utils.training.char_lm (tiny models, a few seconds in all)."""
import math

import numpy as np
import pytest
import torch

from utils.models.char_lm import CharLM, detach_state, evaluate_nats_per_char, sample
from utils.training.char_lm import CharLMRecipe, default_budget, train_char_lm
from utils.data.text import CharVocab, UnknownCharacterError, iter_chunks, load_shakespeare, make_streams, random_batch, split_by_position

TEXT = "hello world\nTo be, or not to be: that is the question.\n"


@pytest.fixture
def vocab():
    return CharVocab(TEXT)


def test_vocab_is_sorted_and_round_trips(vocab):
    assert vocab.chars == sorted(set(TEXT))
    assert len(vocab) == len(set(TEXT))
    ids = vocab.encode(TEXT)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXT),)
    assert vocab.decode(ids) == TEXT
    assert vocab.decode(list(ids)) == TEXT
    assert vocab.decode(torch.from_numpy(ids)) == TEXT
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


def test_unknown_character_error_names_char_and_position(vocab):
    with pytest.raises(UnknownCharacterError) as info:
        vocab.encode("hello Z")
    message = str(info.value)
    assert "'Z'" in message and "position 6" in message and "allowed" in message
    assert isinstance(info.value, ValueError)
    assert info.value.char == "Z" and info.value.position == 6


def test_decode_rejects_out_of_range_and_non_integer_ids(vocab):
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([0, len(vocab)])
    with pytest.raises(ValueError, match="CharVocab.decode: ids must be character ids >= 0, got -1"):
        vocab.decode([-1])
    with pytest.raises(TypeError):
        vocab.decode([0.5, 1.0])


def test_one_hot_shape(vocab):
    oh = vocab.one_hot(np.array([[0, 1, 2], [3, 4, 5]]))
    assert oh.shape == (2, 3, len(vocab))
    np.testing.assert_array_equal(oh.sum(-1), 1.0)
    assert oh[1, 2, 5] == 1.0


def test_load_shakespeare():
    text = load_shakespeare(max_chars=1000)
    assert len(text) == 1000 and text.isascii()
    assert 900_000 <= len(load_shakespeare()) <= 1_100_000


def test_split_by_position_holds_out_the_end():
    ids = np.arange(100)
    train, val = split_by_position(ids, val_fraction=0.1)
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(val, np.arange(90, 100))
    with pytest.raises(ValueError):
        split_by_position(ids, val_fraction=1.5)


def test_make_streams_rows_are_contiguous():
    ids = np.arange(103)
    streams = make_streams(ids, 4)
    assert streams.shape == (4, 25) and streams.dtype == np.int64
    for b in range(4):
        np.testing.assert_array_equal(streams[b], ids[b * 25:(b + 1) * 25])
    with pytest.raises(ValueError):
        make_streams(ids, 0)
    with pytest.raises(ValueError):
        make_streams(ids.reshape(1, -1), 2)
    with pytest.raises(ValueError):
        make_streams(np.arange(5), 4)


def test_iter_chunks_continue_each_stream():
    streams = make_streams(np.arange(4 * 25), 4)  # row b holds 25b .. 25b+24
    chunks = list(iter_chunks(streams, 10))
    assert [x.shape for x, _ in chunks] == [(4, 10), (4, 10), (4, 4)]
    for x, y in chunks:
        np.testing.assert_array_equal(y, x + 1)  # y is the next character
    for (x0, _), (x1, _) in zip(chunks, chunks[1:]):
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)  # next chunk continues the stream
    # all chunks together cover each stream once, without gaps
    np.testing.assert_array_equal(np.concatenate([x for x, _ in chunks], axis=1), streams[:, :-1])


def test_random_batch_shapes_and_shift():
    ids = np.arange(1000)
    x, y = random_batch(ids, 8, 16, np.random.default_rng(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    x2, _ = random_batch(ids, 8, 16, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(ValueError):
        random_batch(np.arange(10), 2, 16, np.random.default_rng(0))


@pytest.mark.parametrize("cell", ["vanilla", "lstm", "gru"])
@pytest.mark.parametrize("embed_size", [None, 8])
def test_charlm_shapes(cell, embed_size):
    torch.manual_seed(0)
    model = CharLM(11, 16, num_layers=2, cell=cell, embed_size=embed_size)
    x = torch.randint(0, 11, (3, 5))
    logits, state = model(x)
    assert logits.shape == (3, 5, 11)
    init = model.init_state(3, "cpu")
    if cell == "lstm":
        assert isinstance(state, tuple) and [s.shape for s in state] == [(2, 3, 16)] * 2
        assert isinstance(init, tuple)
    else:
        assert state.shape == (2, 3, 16) and init.shape == (2, 3, 16)
    # carrying the state over two halves gives the same logits as one pass
    first, s = model(x[:, :2], init)
    second, _ = model(x[:, 2:], s)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)


def test_charlm_rejects_bad_input():
    model = CharLM(11, 8)
    with pytest.raises(TypeError, match="integer"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="0..10"):
        model(torch.full((1, 2), 11))
    with pytest.raises(ValueError):
        CharLM(11, 8, cell="transformer")


def test_detach_state():
    h = torch.ones(1, 2, 3, requires_grad=True) * 2
    assert not detach_state(h).requires_grad
    hc = detach_state((h, h + 1))
    assert isinstance(hc, tuple) and not any(s.requires_grad for s in hc)
    assert detach_state(None) is None
    with pytest.raises(TypeError):
        detach_state("state")


def test_untrained_model_scores_about_ln_v():
    torch.manual_seed(0)
    model = CharLM(20, 16, cell="lstm", embed_size=8)
    ids = np.random.default_rng(0).integers(0, 20, size=2000)
    nats = evaluate_nats_per_char(model, ids, batch_size=4, seq_len=50)
    assert abs(nats - math.log(20)) < 0.1
    assert model.training  # evaluation restores the mode it found


def test_sample(vocab):
    torch.manual_seed(0)
    model = CharLM(len(vocab), 16, cell="gru")
    gen = torch.Generator().manual_seed(0)
    text = sample(model, vocab, "hello", 20, temperature=0.7, generator=gen)
    assert text.startswith("hello") and len(text) == 25 and set(text) <= set(vocab.chars)
    again = sample(model, vocab, "hello", 20, temperature=0.7, generator=torch.Generator().manual_seed(0))
    assert again == text
    greedy = sample(model, vocab, "hello", 10, greedy=True)
    assert greedy == sample(model, vocab, "hello", 10, greedy=True)


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "1", None])
def test_sample_rejects_bad_temperature(vocab, temperature):
    model = CharLM(len(vocab), 8)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, vocab, "hello", 5, temperature=temperature)


def test_sample_unknown_prefix_character(vocab):
    model = CharLM(len(vocab), 8)
    with pytest.raises(UnknownCharacterError, match="'Z'"):
        sample(model, vocab, "hello Z", 5)


def test_train_char_lm_tiny_run(vocab):
    torch.manual_seed(0)
    ids = vocab.encode(TEXT * 40)
    train, val = split_by_position(ids)
    model = CharLM(len(vocab), 16, embed_size=8)
    lines = []
    hist = train_char_lm(model, train, val, vocab, time_budget_s=None, max_steps=12, batch_size=4,
                         seq_len=16, lr=1e-2, device="cpu", sample_prefix="to", log=lines.append,
                         progress=False)
    assert hist["steps"] == 12 and hist["step"][-1] == 12
    assert len(hist["step"]) == len(hist["seconds"]) == len(hist["train_loss"]) == len(hist["val_loss"])
    assert hist["final_val_nats"] < math.log(len(vocab))
    assert hist["final_val_bits"] == pytest.approx(hist["final_val_nats"] / math.log(2))
    assert hist["device"] == "cpu" and hist["tokens_per_second"] > 0 and lines


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_default_budget_is_a_recipe_with_a_budget(device):
    recipe = default_budget(device)
    assert isinstance(recipe, CharLMRecipe) and recipe.cell in ("vanilla", "lstm", "gru")
    assert recipe.time_budget_s is not None or recipe.max_steps, "no budget at all"
    if device == "cpu":  # a fixed number of steps, so the notebook's numbers reproduce
        assert recipe.time_budget_s is None and recipe.max_steps > 0


# ---- notebook 02: three-way split, one definition of the evaluation, baselines, generation
def test_split_train_val_heldout_keeps_every_id_once():
    from utils.data.text import split_train_val_heldout
    ids = np.arange(1000)
    train, val, heldout = split_train_val_heldout(ids, 800, val_chars=100, val_blocks=5)
    np.testing.assert_array_equal(heldout, np.arange(800, 1000))
    assert len(val) == 100 and len(train) == 700
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(800))
    blocks = np.split(val, 5)  # contiguous blocks, spread over the part before the held-out text
    assert all(np.all(np.diff(b) == 1) for b in blocks)
    assert blocks[0][0] < 160 <= blocks[1][0] and blocks[-1][-1] >= 640
    with pytest.raises(ValueError, match="half"):
        split_train_val_heldout(ids, 100, val_chars=100, val_blocks=5)


def test_train_char_lm_reports_the_last_evaluation_and_a_heldout_set(vocab):
    ids = vocab.encode(TEXT * 40)
    train, val = split_by_position(ids)
    torch.manual_seed(0)
    model = CharLM(len(vocab), 16, embed_size=8)
    hist = train_char_lm(model, train, val, vocab, heldout_ids=val[::-1].copy(), time_budget_s=None,
                         max_steps=12, batch_size=4, seq_len=16, lr=1e-2, device="cpu",
                         sample_prefix=None, log=lambda line: None, progress=False, eval_chars=100)
    assert hist["final_val_nats"] == hist["val_loss"][-1]  # one definition: the curve ends at the result
    assert hist["final_heldout_nats"] == hist["heldout_loss"][-1]
    assert len(hist["heldout_loss"]) == len(hist["val_loss"])
    assert hist["final_val_nats"] == pytest.approx(evaluate_nats_per_char(model, val[:100]))


def test_bigram_model():
    from utils.models.char_lm import bigram_nats_per_char
    ids = np.array([0, 1, 0, 1, 0, 1, 0, 1] * 50)  # each character determines the next
    assert bigram_nats_per_char(ids, ids, 2, alpha=1e-9) == pytest.approx(0.0, abs=1e-6)
    assert bigram_nats_per_char(ids, ids, 2, alpha=1e9) == pytest.approx(math.log(2), rel=1e-6)


def test_generate_uses_the_functions_it_is_given(vocab):
    from utils.layers import temperature_probs
    from utils.models.char_lm import generate
    torch.manual_seed(0)
    model = CharLM(len(vocab), 8, embed_size=4)
    seen = []

    def probs_fn(scores, temperature):
        seen.append((scores.shape, temperature))
        return temperature_probs(scores, temperature)

    def always_e(probs, rng):
        return vocab.stoi["e"]

    text = generate(model, vocab, "to", 5, temperature=0.7, probs_fn=probs_fn, sample_fn=always_e)
    assert text == "to" + "e" * 5 and seen == [((len(vocab),), 0.7)] * 5
    a = generate(model, vocab, "to", 20, rng=np.random.default_rng(3))
    assert a == generate(model, vocab, "to", 20, rng=np.random.default_rng(3)) and len(a) == 22


def test_hello_generation_feeds_each_sample_back():
    from utils.models.hello import hello_generate, init_hello_params
    params = init_hello_params(seed=0)
    records = hello_generate(params, "h", 4, 1.0, np.random.default_rng(0),
                             sample_fn=lambda probs, rng: int(np.argmax(probs)))
    assert [r["input"] for r in records[1:]] == [r["sampled"] for r in records[:-1]]
    assert all(r["sampled"] == r["argmax"] for r in records)
    assert all(r["probs"].sum() == pytest.approx(1.0) and r["h"].shape == (3,) for r in records)
    with pytest.raises(ValueError, match="first"):
        hello_generate(params, "x")


def test_char_lm_graph_figure():
    import matplotlib
    matplotlib.use("Agg")
    from utils.viz.diagrams import draw_char_lm_graph, draw_lstm_cell
    assert len(draw_char_lm_graph("hello").axes) == 2
    assert len(draw_lstm_cell().axes) == 1
    with pytest.raises(ValueError, match="word"):
        draw_char_lm_graph("hi")
