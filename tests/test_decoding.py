"""utils.models.decoding and utils.models.beam_search: greedy, sampled and beam-search decoding
on tiny hand-made models whose answers are known (a Markov chain written by hand, and a random
'prefix' model whose best caption is found by enumerating every caption)."""
import itertools
import math
import zlib
from collections import namedtuple

import numpy as np
import pytest
import torch

from utils.models.beam_search import Hypothesis, beam_hypotheses, beam_search
from utils.models.decoding import decode_loop, greedy_decode, sample_decode, select_state

START, END, A, B, C, D = range(6)


# ------------------------------------------------------------------------------- the models
def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=np.float64))


# next-token probabilities given the previous token, over (START, END, A, B, C, D)
MARKOV = _log([
    [0, 0.00, 0.55, 0.45, 0.00, 0.00],  # after START: A or B
    [0, 1.00, 0.00, 0.00, 0.00, 0.00],  # after END (only fed to rows that are already done)
    [0, 0.10, 0.00, 0.00, 0.46, 0.44],  # after A: C, D, rarely END
    [0, 0.90, 0.05, 0.00, 0.05, 0.00],  # after B: almost surely END
    [0, 0.97, 0.00, 0.00, 0.00, 0.03],  # after C: END
    [0, 0.60, 0.40, 0.00, 0.00, 0.00],  # after D
])


def markov_step(feed_end_allowed=True):
    """A first-order Markov 'captioner': no memory, the state is None."""
    def step(prev, state):
        assert isinstance(prev, np.ndarray) and prev.dtype == np.int64 and prev.ndim == 1
        if not feed_end_allowed:
            assert not np.any(prev == END), "a closed beam was extended"
        return MARKOV[prev], state
    return step


WORDS = (2, 3, 4)  # the prefix model's vocabulary: START 0, END 1, words 2-4 (V = 5)


def prefix_log_probs(key):
    """log p(next | example, prefix), a fixed random distribution per (example, prefix)."""
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
    p = np.zeros(5)
    p[[END, *WORDS]] = rng.dirichlet([0.6] * 4)  # START is never produced: log 0 = -inf
    return _log(p)


def prefix_step(prev, state):
    """The model remembers its whole input: state (K, 1 + t) = example id, then the tokens fed.

    A wrongly reordered state would make the model answer for another hypothesis's prefix.
    """
    state = np.concatenate([state, np.asarray(prev)[:, None]], axis=1)
    return np.stack([prefix_log_probs(tuple(row)) for row in state.tolist()]), state


def prefix_step_torch(prev, state):
    assert isinstance(prev, torch.Tensor) and prev.dtype == torch.long
    log_probs, new = prefix_step(prev.numpy(), state.numpy())
    return torch.tensor(log_probs, dtype=torch.float32), torch.from_numpy(new)


def initial_state(examples):
    return np.asarray(examples, dtype=np.int64)[:, None]  # (B, 1)


def caption_log_prob(example, words, closed):
    """Summed log-probability of the caption (and of END when closed) under the prefix model."""
    prefix, total = (example, START), 0.0
    for token in list(words) + ([END] if closed else []):
        total += prefix_log_probs(prefix)[token]
        prefix += (token,)
    return total


def brute_force_best(example, max_length, alpha):
    """The best caption by enumeration: every closed caption of <= max_length tokens (END
    included) and every unclosed one of exactly max_length words."""
    candidates = [(list(w), True, len(w) + 1) for L in range(max_length)
                  for w in itertools.product(WORDS, repeat=L)]
    candidates += [(list(w), False, max_length)
                   for w in itertools.product(WORDS, repeat=max_length)]
    scored = [(caption_log_prob(example, w, closed) / length ** alpha, w) for w, closed, length
              in candidates]
    scored.sort(key=lambda s: -s[0])
    assert scored[0][0] - scored[1][0] > 1e-9, "ambiguous test case"
    return scored[0][1], scored[0][0]


def greedy_by_hand(example, max_length):
    prefix, words = (example, START), []
    for _ in range(max_length):
        token = int(np.argmax(prefix_log_probs(prefix)))
        if token == END:
            break
        words.append(token)
        prefix += (token,)
    return words


# ------------------------------------------------------------------------------------ greedy
def test_greedy_follows_the_most_probable_token():
    captions, log_probs = greedy_decode(markov_step(), None, START, END, max_length=10,
                                        batch_size=1)
    assert captions == [[A, C]]
    assert log_probs[0] == pytest.approx(math.log(0.55 * 0.46 * 0.97))


def test_greedy_on_a_batch_matches_greedy_by_hand():
    examples = list(range(12))
    for max_length in (1, 3, 6):
        captions, log_probs = greedy_decode(prefix_step, initial_state(examples), START, END,
                                            max_length)
        for e, caption, lp in zip(examples, captions, log_probs):
            assert caption == greedy_by_hand(e, max_length)
            closed = len(caption) < max_length  # END counts towards max_length
            assert lp == pytest.approx(caption_log_prob(e, caption, closed))
            assert len(caption) <= max_length and END not in caption and START not in caption


def test_max_length_cuts_captions_that_never_end():
    loop = _log([[0, 0.2, 0.8]] * 3)  # START 0, END 1, one word 2 that is always preferred
    captions, log_probs = greedy_decode(lambda prev, s: (loop[prev], s), None, 0, 1, 4,
                                        batch_size=2)
    assert captions == [[2, 2, 2, 2]] * 2
    assert log_probs == pytest.approx([4 * math.log(0.8)] * 2)


def test_torch_state_gets_torch_tokens_and_the_same_answers():
    examples = list(range(6))
    expected = greedy_decode(prefix_step, initial_state(examples), START, END, 5)
    got = greedy_decode(prefix_step_torch, torch.from_numpy(initial_state(examples)), START,
                        END, 5)
    assert got[0] == expected[0]
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5)


def test_decode_loop_is_the_loop_of_greedy_and_sampled_decoding():
    state = initial_state(range(8))
    assert decode_loop(prefix_step, state, 8, START, END, 5) == greedy_decode(prefix_step, state, START, END, 5)
    sampled = decode_loop(prefix_step, state, 8, START, END, 5, temperature=0.7,
                          generator=np.random.default_rng(3))
    assert sampled == sample_decode(prefix_step, state, START, END, 5, 0.7, np.random.default_rng(3))
    # a torch.Generator gives sample_decode the seed of its numpy Generator: same seed, same captions
    first = sample_decode(prefix_step, state, START, END, 5, 0.7, torch.Generator().manual_seed(4))
    assert first == sample_decode(prefix_step, state, START, END, 5, 0.7, torch.Generator().manual_seed(4))


def test_decode_loop_feeds_each_row_its_own_word_and_ignores_finished_rows():
    fed = []

    def step(prev, state):
        fed.append(np.asarray(prev).tolist())
        return MARKOV[prev], state
    captions, log_probs = decode_loop(step, None, 2, START, END, 10)
    assert captions == [[A, C]] * 2 and fed[0] == [START, START] and fed[1:] == [[A, A], [C, C]]
    assert log_probs == pytest.approx([math.log(0.55 * 0.46 * 0.97)] * 2)


# -------------------------------------------------------------------------------- beam search
def test_beam_finds_the_caption_greedy_misses():
    # greedy: A (0.55) C (0.46) END (0.97) = 0.245; beam 2 keeps B and finds B END = 0.405
    step = markov_step(feed_end_allowed=False)
    assert beam_search(step, None, START, END, 10, beam_size=1, batch_size=1)[0] == [[A, C]]
    captions, scores = beam_search(step, None, START, END, 10, beam_size=2, batch_size=1)
    assert captions == [[B]]
    assert scores[0] == pytest.approx(math.log(0.45 * 0.9))
    hyps = beam_hypotheses(step, None, START, END, 10, beam_size=2)
    assert all(isinstance(h, Hypothesis) and h.finished for h in hyps)
    assert hyps[0].tokens == [B] and hyps[0].log_prob == hyps[0].score
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_beam_of_one_is_greedy():
    examples = list(range(15))
    for max_length in (1, 4, 7):
        state = initial_state(examples)
        greedy, greedy_lp = greedy_decode(prefix_step, state, START, END, max_length)
        beam, beam_scores = beam_search(prefix_step, state, START, END, max_length, beam_size=1)
        assert beam == greedy
        np.testing.assert_allclose(beam_scores, greedy_lp, rtol=1e-12)


def test_beam_of_one_stays_greedy_even_when_END_was_a_close_second():
    # START -> A 0.6 / END 0.4; then A -> A 0.4 / END 0.35 / B 0.25 forever. Greedy (and a beam
    # of one) keeps taking A and is cut at max_length with 0.6 * 0.4**4 = 0.015; the empty
    # caption (0.4) is better, but END ranked second, outside a beam of one.
    table = _log([[0, 0.4, 0.6, 0], [0, 1, 0, 0], [0, 0.35, 0.4, 0.25], [0, 1, 0, 0]])
    step = lambda prev, s: (table[prev], s)  # noqa: E731
    greedy = greedy_decode(step, None, 0, 1, 5, batch_size=1)
    assert greedy[0] == [[2] * 5]
    assert beam_search(step, None, 0, 1, 5, beam_size=1, batch_size=1)[0] == greedy[0]
    assert beam_search(step, None, 0, 1, 5, beam_size=2, batch_size=1)[0] == [[]]


def test_END_must_rank_inside_the_beam_to_close_a_hypothesis():
    # step 2 ranks A C 0.275, A END 0.225, B END 0.208, B D 0.192. With a beam of 2, A END
    # closes, B END ranks third and is dropped (as in fairseq and Hugging Face), B D stays
    # alive and closes at step 3 with 0.192
    table = _log([
        [0, 0.10, 0.50, 0.40, 0.00, 0.00],  # START
        [0, 1.00, 0.00, 0.00, 0.00, 0.00],  # END
        [0, 0.45, 0.00, 0.00, 0.55, 0.00],  # A
        [0, 0.52, 0.00, 0.00, 0.00, 0.48],  # B
        [0, 0.50, 0.00, 0.00, 0.00, 0.50],  # C
        [0, 1.00, 0.00, 0.00, 0.00, 0.00],  # D
    ])
    hyps = beam_hypotheses(lambda prev, s: (table[prev], s), None, START, END, 6, beam_size=2)
    assert [h.tokens for h in hyps] == [[A], [B, D]]
    np.testing.assert_allclose([h.log_prob for h in hyps], np.log([0.5 * 0.45, 0.4 * 0.48]))


def test_ties_go_to_the_lower_token_id():
    table = _log([[0, 0, 0.5, 0.5], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]])
    step = lambda prev, s: (table[prev], s)  # noqa: E731
    assert greedy_decode(step, None, 0, 1, 5, batch_size=1)[0] == [[2]]
    assert beam_search(step, None, 0, 1, 5, beam_size=1, batch_size=1)[0] == [[2]]
    hyps = beam_hypotheses(step, None, 0, 1, 5, beam_size=2)
    assert [h.tokens for h in hyps] == [[2], [3]]


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_a_wide_beam_finds_the_exact_best_caption(alpha):
    max_length = 4  # 3 words: at most 3**4 alive hypotheses and 3**3 * 4 extensions per step
    differs_from_greedy = 0
    for e in range(10):
        best, best_score = brute_force_best(e, max_length, alpha)
        hyps = beam_hypotheses(prefix_step, initial_state([e]), START, END, max_length,
                               beam_size=128, length_penalty=alpha)
        assert hyps[0].tokens == best
        assert hyps[0].score == pytest.approx(best_score, abs=1e-12)
        length = len(best) + hyps[0].finished
        assert hyps[0].log_prob == pytest.approx(caption_log_prob(e, best, hyps[0].finished))
        assert hyps[0].score == pytest.approx(hyps[0].log_prob / length ** alpha)
        differs_from_greedy += best != greedy_by_hand(e, max_length)
    assert differs_from_greedy > 0  # the cases are not all solved by greedy decoding


def test_length_normalisation_prefers_longer_captions():
    lengths = {alpha: [len(c) for c in beam_search(prefix_step, initial_state(range(20)), START,
                                                   END, 6, beam_size=8,
                                                   length_penalty=alpha)[0]]
               for alpha in (0.0, 1.0)}
    assert sum(lengths[1.0]) > sum(lengths[0.0])


def test_end_closes_beams():
    # markov_step(feed_end_allowed=False) asserts that no closed hypothesis is extended
    hyps = beam_hypotheses(markov_step(feed_end_allowed=False), None, START, END, 6,
                           beam_size=4)
    assert hyps and all(END not in h.tokens and START not in h.tokens for h in hyps)
    calls = []

    def counting(prev, state):
        calls.append(len(prev))
        return prefix_step(prev, state)

    # one example, wide beam: every beam closed or cut, never more than max_length steps
    beam_hypotheses(counting, initial_state([3]), START, END, 5, beam_size=6)
    assert 1 <= len(calls) <= 5 and calls[0] == 1 and max(calls) <= 6


def test_search_stops_early_when_nothing_can_beat_the_finished():
    # after START the only choices are END (0.9) and a word (0.1): the first step settles it
    calls = []
    table = _log([[0, 0.9, 0.1], [0, 1, 0], [0, 0.5, 0.5]])

    def step(prev, state):
        calls.append(1)
        return table[prev], state

    hyps = beam_hypotheses(step, None, 0, 1, 50, beam_size=2)
    assert len(calls) == 1 and hyps[0].tokens == [] and hyps[0].finished


def test_batched_beam_search_equals_one_example_at_a_time():
    examples = [5, 1, 7]
    captions, scores = beam_search(prefix_step, initial_state(examples), START, END, 5,
                                   beam_size=3, length_penalty=0.5)
    for e, caption, score in zip(examples, captions, scores):
        best = beam_hypotheses(prefix_step, initial_state([e]), START, END, 5, beam_size=3,
                               length_penalty=0.5)[0]
        assert (caption, score) == (best.tokens, best.score)


def test_beam_search_with_torch_state_and_a_custom_select():
    examples = list(range(5))
    expected, expected_scores = beam_search(prefix_step, initial_state(examples), START, END,
                                            5, beam_size=3)
    got, got_scores = beam_search(prefix_step_torch, torch.from_numpy(initial_state(examples)),
                                  START, END, 5, beam_size=3)
    assert got == expected
    np.testing.assert_allclose(got_scores, expected_scores, rtol=1e-5)

    # a state laid out like torch.nn.LSTM's hidden state, (num_layers, B, ...): batch on dim 1
    def layered_step(prev, state):
        log_probs, new = prefix_step(prev, state[0])
        return log_probs, new[None]

    got, _ = beam_search(layered_step, initial_state(examples)[None], START, END, 5,
                         beam_size=3, select=lambda s, idx: s[:, idx], batch_size=5)
    assert got == expected


def test_select_state_indexes_dim_0_of_nested_states():
    Pair = namedtuple("Pair", "h c")
    state = {"hc": Pair(torch.arange(6.).reshape(3, 2), np.arange(3)),
             "features": [np.arange(9).reshape(3, 3)], "step": 4, "none": None}
    out = select_state(state, [2, 2, 0])
    assert isinstance(out["hc"], Pair)
    assert out["hc"].h.tolist() == [[4., 5.], [4., 5.], [0., 1.]]
    assert out["hc"].c.tolist() == [2, 2, 0]
    assert out["features"][0].tolist() == [[6, 7, 8], [6, 7, 8], [0, 1, 2]]
    assert out["step"] == 4 and out["none"] is None


# ---------------------------------------------------------------------------------- sampling
def test_sampling_is_reproducible_with_a_seeded_generator():
    state = initial_state(range(30))
    for make in (np.random.default_rng, lambda seed: torch.Generator().manual_seed(seed)):
        first = sample_decode(prefix_step, state, START, END, 6, 1.0, make(7))
        again = sample_decode(prefix_step, state, START, END, 6, 1.0, make(7))
        other = sample_decode(prefix_step, state, START, END, 6, 1.0, make(8))
        assert first == again
        assert first[0] != other[0]
        for e, caption, lp in zip(range(30), *first):
            closed = len(caption) < 6  # a caption of max_length words had no room for END
            assert lp == pytest.approx(caption_log_prob(e, caption, closed))


def test_sampling_at_low_temperature_is_greedy():
    state = initial_state(range(20))
    greedy = greedy_decode(prefix_step, state, START, END, 6)
    for generator in (np.random.default_rng(0), torch.Generator().manual_seed(0)):
        assert sample_decode(prefix_step, state, START, END, 6, 1e-9, generator) == greedy


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5])
def test_sampled_frequencies_follow_the_tempered_distribution(temperature):
    p = np.array([0.0, 0.1, 0.2, 0.3, 0.4])  # START, END and three words
    log_p = _log(p)
    expected = p ** (1 / temperature) / np.sum(p ** (1 / temperature))
    n = 20000
    for generator in (np.random.default_rng(1), torch.Generator().manual_seed(1)):
        captions, _ = sample_decode(lambda prev, s: (np.tile(log_p, (len(prev), 1)), s), None,
                                    0, 1, 1, temperature, generator, batch_size=n)
        tokens = np.array([c[0] if c else 1 for c in captions])
        freq = np.bincount(tokens, minlength=5) / n
        np.testing.assert_allclose(freq, expected, atol=0.015)  # about 4 standard deviations


# ------------------------------------------------------------------------------------ errors
def _state():
    return initial_state([0, 1])


@pytest.mark.parametrize("call, pattern", [
    (lambda: beam_search(prefix_step, _state(), START, END, 5, beam_size=0),
     r"beam_search: beam_size must be a positive integer, got 0"),
    (lambda: beam_hypotheses(prefix_step, initial_state([0]), START, END, 5, beam_size=-2),
     r"beam_hypotheses: beam_size must be a positive integer, got -2"),
    (lambda: beam_search(prefix_step, _state(), START, END, 0, beam_size=2),
     r"beam_search: max_length must be a positive integer, got 0"),
    (lambda: greedy_decode(prefix_step, _state(), START, END, 0),
     r"greedy_decode: max_length must be a positive integer, got 0"),
    (lambda: greedy_decode(prefix_step, _state(), START, END, 2.5),
     r"greedy_decode: max_length must be a positive integer, got 2.5"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 0, 1.0, np.random.default_rng()),
     r"sample_decode: max_length must be a positive integer"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 5, 0.0, np.random.default_rng()),
     r"sample_decode: temperature must be a finite number > 0, got 0.0"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 5, -1, np.random.default_rng()),
     r"sample_decode: temperature must be a finite number > 0, got -1"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 5, float("nan"),
                           np.random.default_rng()),
     r"sample_decode: temperature must be a finite number > 0, got nan"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 5, 1.0, None),
     r"sample_decode: generator must be a numpy Generator .* or a torch.Generator, got None"),
    (lambda: sample_decode(prefix_step, _state(), START, END, 5, 1.0, 42),
     r"sample_decode: generator must be a numpy Generator"),
    (lambda: beam_search(prefix_step, _state(), START, END, 5, 2, length_penalty=-1),
     r"beam_search: length_penalty must be a finite number >= 0, got -1"),
    (lambda: beam_search(prefix_step, _state(), START, END, 5, 2, select="rows"),
     r"beam_search: select must be a function"),
    (lambda: greedy_decode(prefix_step, _state(), -1, END, 5),
     r"greedy_decode: start_id must be an integer >= 0, got -1"),
    (lambda: greedy_decode(prefix_step, _state(), START, 9, 5),
     r"greedy_decode: end_id must be a token id below the vocabulary size 5, got 9"),
    (lambda: greedy_decode(lambda prev, s: (np.zeros((len(prev), 5)), s), _state(), 0, 1, 5),
     r"greedy_decode: step_fn must return log-probabilities .*log_softmax.*sums to 5"),
    (lambda: greedy_decode(lambda prev, s: (np.full((len(prev), 3), np.nan), s), _state(), 0, 1, 5),
     r"greedy_decode: step_fn must return finite log_probs"),
    (lambda: greedy_decode(lambda prev, s: (np.zeros((3, 1)), s), _state(), 0, 0, 5),
     r"greedy_decode: step_fn must return log_probs of shape \(2, V\) .*got shape \(3, 1\)"),
    (lambda: greedy_decode(lambda prev, s: np.zeros((2, 1)), _state(), 0, 0, 5),
     r"greedy_decode: step_fn must return a pair \(log_probs, new_state\)"),
    (lambda: greedy_decode(markov_step(), None, START, END, 5),
     r"greedy_decode: state must hold arrays with the batch on dim 0 .*got no arrays; "
     r"pass batch_size="),
    (lambda: beam_search(prefix_step, (np.zeros((1, 2, 3)), np.zeros((2, 3))), START, END, 5, 2),
     r"beam_search: state must hold arrays .*dim 0 sizes differ: \[1, 2\]"),
    (lambda: beam_hypotheses(prefix_step, _state(), START, END, 5, 2),
     r"beam_hypotheses: state must describe one example .*use beam_search for a batch"),
    (lambda: decode_loop(prefix_step, _state(), 0, START, END, 5),
     r"decode_loop: batch_size must be a positive integer, got 0"),
    (lambda: decode_loop("step", _state(), 2, START, END, 5),
     r"decode_loop: step_fn must be a function"),
    (lambda: decode_loop(prefix_step, _state(), 2, START, END, 5, temperature=-1),
     r"decode_loop: temperature must be a finite number >= 0, got -1"),
    (lambda: decode_loop(prefix_step, _state(), 2, START, END, 5, temperature=1.0),
     r"decode_loop: generator must be a numpy Generator .* when temperature > 0, got None"),
    (lambda: decode_loop(lambda prev, s: (np.zeros((len(prev), 5)), s), _state(), 2, 0, 1, 5),
     r"decode_loop: step_fn must return log-probabilities"),
    (lambda: select_state(object(), [0]),
     r"select_state: state must be None, a numpy array, a torch tensor .*got object"),
])
def test_bad_input_is_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_the_beam_check_names_a_search_that_goes_on_after_end():
    """The exercise's reference with END treated as an ordinary word fails with its own message."""
    import inspect
    import textwrap
    from utils.checks.beam_search import check_beam_search
    from utils.checks.core import CheckFailed
    from utils.models import beam_search as beam_module
    source = textwrap.dedent(inspect.getsource(beam_module.beam_search_one))
    assert source.count("if w == end_id:") == 1
    namespace = dict(vars(beam_module))
    exec(source.replace("if w == end_id:", "if False and w == end_id:"), namespace)
    with pytest.raises(CheckFailed, match="goes on after END"):
        check_beam_search(namespace["beam_search_one"])
