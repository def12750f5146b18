"""Check of notebook 06's beam-search exercise.

The check runs the student's search on small models (a random RNN, a hand-made Markov chain
where greedy is not optimal, a model whose best caption ends early, one that keeps talking
after END) and compares it with ``utils.models.beam_search.beam_search_one`` (the reference of
the exercise). The test-time decode loop's check is in ``utils.checks.decode_loop``.
"""
import zlib

import numpy as np

from utils.checks.core import CheckFailed, as_numpy, call_student, exercise_check, expect_tuple, log_probs_of, passed
from utils.layers import softmax
from utils.models.beam_search import beam_search_one

START, END = 0, 1


# A Markov chain over (START, END, A, B, C, D) where greedy is not optimal: greedy takes A
# (0.55) and ends with "A C" (p = 0.55 * 0.46 * 0.97 = 0.245); "B" then END has 0.45 * 0.9 = 0.405.
_MARKOV = log_probs_of([
    [0, 0.00, 0.55, 0.45, 0.00, 0.00],
    [0, 1.00, 0.00, 0.00, 0.00, 0.00],
    [0, 0.10, 0.00, 0.00, 0.46, 0.44],
    [0, 0.90, 0.05, 0.00, 0.05, 0.00],
    [0, 0.97, 0.00, 0.00, 0.00, 0.03],
    [0, 0.60, 0.40, 0.00, 0.00, 0.00],
])

# END early: after START, END has 0.5 (the empty caption, log p = -0.69) and A 0.5; then
# "A B C" END has p = 0.5 * 0.8 * 0.8 * 0.8 = 0.256 (log p = -1.36). Without length
# normalisation the empty caption wins; with length_penalty 1 "A B C" wins (-1.36 / 4 = -0.34).
_EARLY_END = log_probs_of([
    [0, 0.50, 0.50, 0.00, 0.00, 0.00],
    [0, 0.50, 0.50, 0.00, 0.00, 0.00],   # after END: never used by a search that sets END aside
    [0, 0.20, 0.00, 0.80, 0.00, 0.00],
    [0, 0.20, 0.00, 0.00, 0.80, 0.00],
    [0, 0.80, 0.00, 0.00, 0.00, 0.20],
    [0, 1.00, 0.00, 0.00, 0.00, 0.00],
])

# A model that keeps talking after END: END has 0.6 after START (the best caption is the empty
# one, log p = -0.51) and after END every word is D with probability 1, so a search that extends
# a hypothesis past END returns END D D ... with the same log-probability.
_TALKS_AFTER_END = log_probs_of([
    [0, 0.60, 0.40, 0.00, 0.00, 0.00],
    [0, 0.00, 0.00, 0.00, 0.00, 1.00],   # after END
    [0, 0.50, 0.50, 0.00, 0.00, 0.00],
    [0, 1.00, 0.00, 0.00, 0.00, 0.00],
    [0, 1.00, 0.00, 0.00, 0.00, 0.00],
    [0, 0.00, 0.00, 0.00, 0.00, 1.00],
])

def _markov_model(table):
    """step_fn of a Markov chain (the next word depends on the last one only); state (K, 1)."""
    def step(prev_tokens, state):
        prev = np.asarray(prev_tokens, dtype=np.int64)
        return table[prev], np.zeros((len(prev), 1))
    return step, np.zeros((1, 1))


def _rnn_model(seed, V=6, H=5):
    """A random tanh RNN language model; state (K, H)."""
    rng = np.random.default_rng(seed)
    E, Wh, Wo = rng.normal(size=(V, H)), rng.normal(scale=0.8, size=(H, H)), rng.normal(scale=1.5, size=(H, V))
    bo = rng.normal(size=V)
    bo[START] = -np.inf  # START is never produced

    def step(prev_tokens, state):
        h = np.tanh(E[np.asarray(prev_tokens, dtype=np.int64)] + np.asarray(state) @ Wh)  # (K, H)
        return log_probs_of(softmax(h @ Wo + bo)), h   # log-probabilities; START's is -inf
    return step, rng.normal(size=(1, H))


def _prefix_model(example):
    """A model that remembers its whole prefix: state (K, t) = the tokens fed so far; the
    next-token distribution is a fixed random function of (example, prefix)."""
    def dist(prefix):
        rng = np.random.default_rng(zlib.crc32(repr((example, prefix)).encode()))
        p = np.zeros(6)
        p[1:] = rng.dirichlet([0.5] * 5)
        return log_probs_of(p)

    def step(prev_tokens, state):
        state = np.concatenate([np.asarray(state), np.asarray(prev_tokens, dtype=np.int64)[:, None]], axis=1)
        return np.stack([dist(tuple(int(t) for t in row)) for row in state]), state
    return step, np.zeros((1, 0), dtype=np.int64)


def _beam_cases():
    """(label, model factory, max_length, beam_size, length_penalty, what it tests)."""
    cases = [
        ("model that keeps talking after END, beam 2", lambda: _markov_model(_TALKS_AFTER_END), 5, 2, 0.0,
         "END stops"),
        ("model whose best caption ends at once, beam 2", lambda: _markov_model(_EARLY_END), 6, 2, 0.0,
         "finished"),
        ("Markov chain, beam 2", lambda: _markov_model(_MARKOV), 6, 2, 0.0, "greedy not optimal"),
        ("Markov chain, beam 1", lambda: _markov_model(_MARKOV), 6, 1, 0.0, "beam 1"),
        ("same model with length_penalty 1, beam 2", lambda: _markov_model(_EARLY_END), 6, 2, 1.0,
         "normalised"),
    ]
    for k, (beam, alpha) in enumerate([(3, 0.0), (2, 0.7), (4, 1.0), (3, 0.0)]):
        cases.append((f"random RNN {k}, beam {beam}, length_penalty {alpha:g}",
                      lambda k=k: _rnn_model(100 + k), 7, beam, alpha, "random"))
    for k, (beam, alpha) in enumerate([(3, 0.0), (2, 0.5)]):
        cases.append((f"prefix model {k}, beam {beam}, length_penalty {alpha:g}",
                      lambda k=k: _prefix_model(k), 5, beam, alpha, "random"))
    return cases


_BEAM_HINTS = {
    "greedy not optimal": "Greedy takes A (0.55) and ends with A C (p = 0.245); a beam of 2 also "
                          "keeps B, whose END gives p = 0.405. Keep the beam_size best "
                          "extensions of ALL live hypotheses together, ranked by total log-probability.",
    "beam 1": "With beam_size=1 only the single best extension may survive each step (the result "
              "is greedy decoding); keep at most beam_size live hypotheses.",
    "END stops": "END finishes a caption: when an extension ends in END (and ranks among the best "
                 "beam_size), set it aside as finished and never extend it. This model puts all its "
                 "probability after END on D, so a search that extends finished captions goes on "
                 "with END D D ...",
    "finished": "The empty caption (END first, p = 0.5) is the best one here. When END ranks among "
                "the best extensions, the hypothesis is finished: set it aside with its score "
                "(don't extend it, don't drop it) and compare it with the others at the end.",
    "normalised": "With length_penalty alpha, rank finished hypotheses by log_prob / length ** alpha "
                  "(length counts the words and END): here A B C END (-1.36 / 4) beats the empty "
                  "caption (-0.69 / 1).",
    "random": "Each step: extend every live hypothesis by every token, rank all extensions by "
              "total log-probability, set aside those ending in END (if they rank in the top "
              "beam_size), keep the best beam_size others, reorder the state rows to follow their "
              "parents; at the end return the best by log_prob / length ** alpha.",
}


@exercise_check
def check_beam_search(student_fn):
    """Check ``beam_search(step_fn, state, start_id, end_id, max_length, beam_size,
    length_penalty=0.0) -> (tokens, score)`` for one example.

    tokens: the best caption as a list of ints without START and END; score: its log-probability
    divided by length ** length_penalty (length counts END when generated). Compared with
    ``utils.models.beam_search.beam_search_one`` on hand-made and random models.
    """
    name = "beam_search"
    for label, make, max_length, beam, alpha, kind in _beam_cases():
        step, state = make()
        best_tokens, best_score = beam_search_one(step, state, START, END, max_length, beam, alpha)
        step, state = make()
        result = expect_tuple(name, call_student(name, student_fn, step, state, START, END, max_length,
                                                 beam, length_penalty=alpha), ("tokens", "score"))
        tokens, score = result
        try:
            tokens = [int(t) for t in as_numpy(tokens).reshape(-1)] if tokens is not None else None
        except (TypeError, ValueError):
            tokens = None
        if tokens is None:
            raise CheckFailed(f"{name}: tokens should be a list of ints, got {type(result[0]).__name__} "
                              f"({label})")
        if END in tokens[:-1]:
            raise CheckFailed(f"{name}: your caption {tokens} goes on after END (id {END}) on the {label}.\n"
                              f"{_BEAM_HINTS['END stops']}")
        if tokens and (tokens[0] == START or tokens[-1] == END):
            raise CheckFailed(f"{name}: return the caption without START and END, got {tokens} ({label})")
        if tokens != best_tokens:
            names = " (token ids: START 0, END 1, A 2, B 3, C 4, D 5)" if kind not in ("random",) else ""
            raise CheckFailed(f"{name}: on the {label} the best caption is {best_tokens} (score "
                              f"{best_score:.4f}), you returned {tokens}{names}.\n{_BEAM_HINTS[kind]}")
        try:
            got_score = float(np.asarray(as_numpy(score)).reshape(()))
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: score should be one number, got {type(score).__name__}") from None
        if not np.isclose(got_score, best_score, rtol=1e-7, atol=1e-9):
            raise CheckFailed(f"{name}: the caption is right but its score is {got_score:.6g}, expected "
                              f"{best_score:.6g} ({label}): score = sum of the log-probabilities of "
                              f"the words and END, divided by length ** length_penalty with length "
                              f"= number of words + 1 for END.")
    passed(name, f"finds the best caption and its score on {len(_beam_cases())} models, including "
                 f"one where greedy is not optimal, one where END closes a beam early, and "
                 f"length normalisation")
