"""Check of notebook 06's test-time decode loop (greedy and sampled decoding).

The check judges by behaviour alone, never by calling the exercise's reference: models that
record what they are fed, the greedy word checked against the model's distribution, sampled
frequencies against softmax(log p / T), the generator's seed against numpy's and torch's
global generators. The beam-search check is in ``utils.checks.beam_search``.
"""
import contextlib
import zlib

import numpy as np

from utils.checks.core import CheckFailed, as_numpy, call_student, exercise_check, expect_tuple, log_probs_of, passed
from utils.course import seeded

D_START, D_END = 1, 2   # the decode checks' START and END (0 is NULL, the words are 3 .. V - 1)


class _FedModel:
    """A model that remembers what it was fed, for the decode-loop check: its state is (B, 1 + t),
    each row's id followed by the t tokens fed so far, and the next-token log-probabilities are
    ``dist(row, fed)``, a fixed function of the row and its fed tokens. Every call is recorded
    (the tokens and the state it got) so that the check can see what the loop fed it; a call it
    cannot answer (tokens of another shape, ids outside the vocabulary) is recorded as the
    problem and refused."""

    def __init__(self, dist, rows, vocab_size):
        self.dist, self.V = dist, vocab_size
        self.initial = np.arange(rows, dtype=np.int64)[:, None]   # (B, 1): the row ids
        self.B = rows
        self.fed, self.got_state, self.returned = [], [], []
        self.problem = None

    def refuse(self, message):
        self.problem = self.problem or message
        raise ValueError(message)

    def step(self, prev_tokens, state):
        try:
            prev = np.asarray(as_numpy(prev_tokens))
            state = np.asarray(as_numpy(state))
        except (TypeError, ValueError):
            self.refuse("step_fn was called with prev_tokens or a state that are not arrays")
        k = len(self.fed) + 1
        if prev.shape != (self.B,):
            axis = (" That is the size of the vocabulary: the argmax (or the draw) must run over "
                    "axis 1 of log_probs (B, V), one word per row." if prev.shape == (self.V,) else "")
            self.refuse(f"at step {k} step_fn got prev_tokens of shape {prev.shape}, expected "
                        f"({self.B},): one token per row.{axis}")
        if not np.issubdtype(prev.dtype, np.integer) or prev.min() < 0 or prev.max() >= self.V:
            self.refuse(f"at step {k} step_fn got prev_tokens {prev.tolist()}: token ids are "
                        f"integers in [0, {self.V})")
        if state.ndim != 2 or state.shape[0] != self.B or not np.issubdtype(state.dtype, np.integer):
            self.refuse(f"at step {k} step_fn got a state of shape {state.shape} instead of the state "
                        f"it returned: pass on exactly the new_state that step_fn gives back")
        self.fed.append(prev.astype(np.int64))
        self.got_state.append(state.copy())
        new_state = np.concatenate([state, self.fed[-1][:, None]], axis=1)   # (B, 1 + t)
        self.returned.append(new_state)
        log_probs = np.stack([self.dist(int(row[0]), tuple(int(t) for t in row[1:])) for row in new_state])
        return log_probs, new_state.copy()

    def log_probs(self, row, words):
        """The model's next-token log-probabilities for ``row`` after START and ``words``."""
        return self.dist(row, (D_START, *words))


def _word_dist(key, V, p_end):
    """A fixed random distribution over the words 3..V-1 for ``key``, with END at ``p_end``."""
    rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
    p = np.zeros(V)
    p[D_END] = p_end
    p[3:] = (1 - p_end) * rng.dirichlet([2.0] * (V - 3))
    return log_probs_of(p)


def _ending_model(seed, end_at, V=8):
    """Row r's END has probability 0.9 after end_at[r] words (None: never) and 0.02 otherwise,
    so greedy decoding ends row r after exactly end_at[r] words; the words are random."""
    def dist(row, fed):
        return _word_dist((seed, row, fed), V, 0.9 if end_at[row] == len(fed) - 1 else 0.02)
    return _FedModel(dist, len(end_at), V)


def _tie_model():
    """After START, words 4 and 6 are equally likely (0.35 each, the most); END comes next."""
    def dist(row, fed):
        if len(fed) == 1:
            return log_probs_of([0, 0, 0.1, 0.1, 0.35, 0.1, 0.35, 0.0])
        return log_probs_of([0, 0, 0.9, 0.02, 0.02, 0.02, 0.02, 0.02])
    return _FedModel(dist, 2, 8)


_FIXED_P = np.array([0, 0, 0.1, 0.5, 0.25, 0.15, 0, 0])   # END and four words: the sampling case


def _fixed_model(rows):
    return _FedModel(lambda row, fed: log_probs_of(_FIXED_P), rows, len(_FIXED_P))


def _call_loop(name, student_fn, model, max_length, label, temperature=0.0, generator=None):
    """Run the student's loop on ``model``; returns (captions, log_probs) as lists, after the
    checks that hold for greedy and sampled decoding alike: START fed first, the state carried,
    each chosen word fed back, no START or END in a caption, at most max_length tokens."""
    try:
        result = call_student(name, student_fn, model.step, model.initial.copy(), model.B, D_START,
                              D_END, max_length, temperature=temperature, generator=generator)
    except CheckFailed:
        if model.problem:
            raise CheckFailed(f"{name}: {model.problem} ({label})") from None
        raise
    captions, totals = expect_tuple(name, result, ("captions", "log_probs"))
    try:
        captions = [[int(t) for t in np.asarray(as_numpy(c)).reshape(-1)] for c in captions]
        totals = [float(np.asarray(as_numpy(t)).reshape(())) for t in totals]
    except (TypeError, ValueError):
        captions = None
    if captions is None or len(captions) != model.B or len(totals) != model.B:
        raise CheckFailed(f"{name}: should return (captions, log_probs): a list of {model.B} token "
                          f"lists and a list of {model.B} numbers, one per row ({label})")
    for i, caption in enumerate(captions):
        special = [t for t in caption if t in (D_START, D_END)]
        if special:
            kind = "START" if special[0] == D_START else "END"
            raise CheckFailed(f"{name}: row {i}'s caption {caption} contains {kind} (id {special[0]}): "
                              f"a caption holds its words only, without START and END ({label})")
    calls = len(model.fed)
    if calls > max_length or any(len(c) > max_length for c in captions):
        raise CheckFailed(f"{name}: with max_length = {max_length} step_fn may be called at most "
                          f"{max_length} times (a caption has at most max_length tokens, END "
                          f"included); you called it {calls} times and returned captions of up to "
                          f"{max(map(len, captions))} tokens ({label})")
    if calls == 0:
        raise CheckFailed(f"{name}: step_fn was never called ({label})")
    if not np.all(model.fed[0] == D_START):
        raise CheckFailed(f"{name}: the first step must feed start_id ({D_START}) to every row; step_fn "
                          f"got prev_tokens {model.fed[0].tolist()[:8]} ({label})")
    before = [model.initial] + model.returned[:-1]
    for k, (got, wanted) in enumerate(zip(model.got_state, before), start=1):
        if not np.array_equal(got, wanted):
            which = "the state you were given" if k == 1 else f"the new_state it returned at step {k - 1}"
            raise CheckFailed(f"{name}: at step {k} step_fn did not get {which}: each call gets the "
                              f"new_state that the call before it returned, the model's memory of the "
                              f"words so far ({label})")
    for k in range(1, calls):
        for i, caption in enumerate(captions):
            if len(caption) >= k and model.fed[k][i] != caption[k - 1]:
                if model.fed[k][i] == D_END:
                    raise CheckFailed(f"{name}: row {i} chose END at step {k} and its caption {caption} "
                                      f"goes on: a row is finished at END, and what the later steps "
                                      f"give it is ignored ({label})")
                raise CheckFailed(f"{name}: at step {k + 1} row {i} was fed {int(model.fed[k][i])}, but "
                                  f"the word it chose at step {k} is {caption[k - 1]} (word {k} of its "
                                  f"caption {caption}): each row's chosen word is its next input ({label})")
    return captions, totals


def _check_totals(name, model, captions, totals, max_length, label):
    """log_probs: each caption's summed log-probability under the model, END's included."""
    for i, (caption, got) in enumerate(zip(captions, totals)):
        words = [model.log_probs(i, caption[:k])[t] for k, t in enumerate(caption)]
        end = model.log_probs(i, caption)[D_END] if len(caption) < max_length else 0.0
        expected = float(np.sum(words) + end)
        if not np.isclose(got, expected, rtol=1e-7, atol=1e-9):
            hint = (" That is the sum without END's log-probability: the END a row chooses is part "
                    "of its caption's probability." if end and np.isclose(got, expected - end, rtol=1e-7)
                    else "")
            raise CheckFailed(f"{name}: log_probs[{i}] is {got:.6g}, expected {expected:.6g}, the sum of "
                              f"the model's log-probabilities of row {i}'s words {caption}"
                              f"{' and of its END' if end else ''} ({label}).{hint}")


def _check_greedy(name, model, captions, max_length, label):
    """Every word the most probable given the words before it; a caption ends at END or max_length."""
    for i, caption in enumerate(captions):
        for k in range(len(caption) + 1):
            lp = model.log_probs(i, caption[:k])
            best = int(np.argmax(lp))
            if k == len(caption):
                if best != D_END and k < max_length:
                    short = k == max_length - 1 and len(model.fed) == k
                    raise CheckFailed(
                        f"{name}: row {i} stops after {k} word{'s' * (k != 1)}, although END is not the most probable "
                        f"next token ({best} is) and there is room for {max_length - k} more ({label})."
                        + (f" With max_length = {max_length} a caption that never meets END has "
                           f"{max_length} words: step_fn is called max_length times, one step more "
                           f"than yours." if short else ""))
                break
            if caption[k] != best:
                if best == D_END:
                    raise CheckFailed(f"{name}: row {i}'s most probable token after {caption[:k]} is END, "
                                      f"but its caption {caption} goes on: a row is finished at END, "
                                      f"and what the later steps give it is ignored ({label})")
                if lp[caption[k]] == lp[best]:
                    raise CheckFailed(f"{name}: words {best} and {caption[k]} tie as the most probable "
                                      f"after {caption[:k]}, and you took {caption[k]}: greedy decoding "
                                      f"takes the lowest id on a tie (np.argmax does) ({label})")
                raise CheckFailed(f"{name}: row {i}'s word {k + 1} is {caption[k]} (log p "
                                  f"{lp[caption[k]]:.3f}), but the most probable after {caption[:k]} is "
                                  f"{best} (log p {lp[best]:.3f}); with temperature 0 each row takes "
                                  f"its most probable word ({label})")


@contextlib.contextmanager
def _global_generators_moved(steps):
    """numpy's and torch's global generators ``steps`` draws further on, put back afterwards:
    a loop that draws from them instead of its generator gives other captions."""
    saved = np.random.get_state()
    try:
        with seeded(1000 + steps):
            np.random.random(steps)
            yield
    finally:
        np.random.set_state(saved)


def _tv(p, q):
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


@exercise_check
def check_decode_loop(student_fn, seed=6):
    """Check ``decode_loop(step_fn, state, batch_size, start_id, end_id, max_length,
    temperature=0.0, generator=None) -> (captions, log_probs)`` by its behaviour on models that
    record what they are fed: START first, the state carried, each chosen word fed back, a row
    finished at END, at most max_length tokens, the greedy word (lowest id on a tie), the summed
    log-probabilities, and for temperature > 0 draws from softmax(log p / T) that the generator
    alone decides."""
    name = "decode_loop"
    rng = np.random.default_rng(seed)
    greedy_cases = [("4 rows that end after 0, 2, never and 4 words", [0, 2, None, 4], 5),
                    ("2 rows that end never and after 1 word", [None, 1], 3)]
    for label, end_at, max_length in greedy_cases:
        model = _ending_model(int(rng.integers(2 ** 31)), end_at)
        label = f"greedy, {label}, max_length {max_length}"
        captions, totals = _call_loop(name, student_fn, model, max_length, label)
        _check_greedy(name, model, captions, max_length, label)
        _check_totals(name, model, captions, totals, max_length, label)
    model = _tie_model()
    captions, _ = _call_loop(name, student_fn, model, 3, "greedy, a tie")
    _check_greedy(name, model, captions, 3, "greedy, a tie")

    # sampling: the first word's frequencies over many rows follow softmax(log p / T)
    rows = 2000
    for temperature in (0.5, 2.0):
        label = f"sampled at temperature {temperature:g}, {rows} rows of one step"
        model = _fixed_model(rows)
        captions, _ = _call_loop(name, student_fn, model, 1, label, temperature,
                                 np.random.default_rng(int(rng.integers(2 ** 31))))
        first = np.array([c[0] if c else D_END for c in captions])
        freq = np.bincount(first, minlength=len(_FIXED_P)) / rows
        tempered = _FIXED_P ** (1 / temperature) / np.sum(_FIXED_P ** (1 / temperature))
        if _tv(freq, tempered) > 0.05:
            shown = " ".join(f"{f:.2f}" for f in freq[2:6])
            want = " ".join(f"{f:.2f}" for f in tempered[2:6])
            multiplied = _FIXED_P ** temperature / np.sum(_FIXED_P ** temperature)
            hint = ("Every row chose the same word: with temperature > 0 each row draws its word "
                    "from softmax(log_probs / temperature), it does not take the argmax."
                    if len(set(first.tolist())) == 1 else
                    "These are the model's own probabilities: the temperature is ignored; divide "
                    "the log-probabilities by it before the softmax." if _tv(freq, _FIXED_P) < 0.05 else
                    "These follow softmax(log_probs * temperature): divide by the temperature, do "
                    "not multiply." if _tv(freq, multiplied) < 0.05 else
                    "Each row's word is a draw from softmax(log_probs / temperature), row by row.")
            raise CheckFailed(f"{name}: {label}: the first words END, 3, 4, 5 came with frequencies "
                              f"{shown}, expected about {want} = softmax(log p / {temperature:g}).\n{hint}")

    # sampling: the whole loop, and a seed that decides the captions alone
    label = "sampled at temperature 1, 12 rows, max_length 6"
    model_seed, draw_seed = (int(s) for s in rng.integers(2 ** 31, size=2))
    model = _ending_model(model_seed, [None] * 12)
    captions, totals = _call_loop(name, student_fn, model, 6, label, 1.0, np.random.default_rng(draw_seed))
    _check_totals(name, model, captions, totals, 6, label)
    with _global_generators_moved(7):
        again, _ = _call_loop(name, student_fn, _ending_model(model_seed, [None] * 12), 6, label, 1.0,
                              np.random.default_rng(draw_seed))
    if again != captions:
        raise CheckFailed(f"{name}: the same generator seed gave other captions once numpy's and "
                          f"torch's global generators had moved on ({label}): draw with the generator "
                          f"you are given (generator.choice), not np.random or torch's global one.")
    other, _ = _call_loop(name, student_fn, _ending_model(model_seed, [None] * 12), 6, label, 1.0,
                          np.random.default_rng(draw_seed + 1))
    if other == captions:
        raise CheckFailed(f"{name}: another generator seed gave the same 12 sampled captions ({label}): "
                          f"every draw must come from the generator you are given, not from one of "
                          f"your own.")
    passed(name, f"greedy on {len(greedy_cases) + 1} models (rows ending at different steps, a tie) and "
                 f"sampled at temperatures 0.5, 1 and 2: START first, the state carried, each word fed "
                 f"back, rows finished at END, at most max_length tokens, the summed log-probabilities, "
                 f"draws decided by the generator")
