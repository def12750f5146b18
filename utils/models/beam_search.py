"""Beam search: the best captions of a trained captioner under a length-normalised score.

    Hypothesis         one result: tokens, log_prob, score, finished
    beam_search_one    one example, written as notebook 06's exercise asks (its reference)
    beam_hypotheses    one example: the best hypotheses found, arguments checked
    beam_search        a batch, one example after the other: the best caption of each

The model is driven through ``step_fn`` and its state reordered with ``select``, the protocol of
``utils.models.decoding`` (its docstring), whose helpers also read the batch size, make the
tokens and check the log-probabilities here.

Scores: log_prob is the sum of the model's log-probabilities of the generated tokens, END
included when it was generated. Beam search ranks finished hypotheses by the length-normalised
score

    score = log_prob / length ** alpha          (alpha = length_penalty, length = tokens incl. END)

alpha = 0 is plain log-probability (favours short captions: every extra word lowers it), alpha
= 1 is the mean log-probability per token, values in between are a compromise. Wu et al.
(2016, GNMT) divide by ((5 + length) / 6) ** alpha instead; the simple power is used here.
"""
from collections import namedtuple

import numpy as np

from utils import validate
from utils.models.decoding import (_batch_size, _common_args, _leaves, _log_probs, _select, _token_maker,
                                   select_state)

Hypothesis = namedtuple("Hypothesis", ["tokens", "log_prob", "score", "finished"])
Hypothesis.__doc__ = """One beam-search result.

tokens: list of int, the caption without START and END.
log_prob: float, summed log-probability of the generated tokens (END included if generated).
score: float, log_prob / length ** length_penalty, what the hypotheses are ranked by.
finished: True if END closed it, False if it was cut at max_length.
"""


def _beam_one(fname, step_fn, state, start_id, end_id, max_length, beam_size, alpha, select,
              make_tokens):
    """Beam search for one example (state with one row). Returns hypotheses, best first."""
    alive = [[]]                 # K token lists (no START)
    alive_lp = np.zeros(1)       # (K,) summed log-probabilities
    prev = np.array([start_id], dtype=np.int64)
    finished = []                # Hypothesis, in the order found
    vocab_size = None
    for length in range(1, max_length + 1):  # tokens in a hypothesis after this step
        out = step_fn(make_tokens(prev), state)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ValueError(f"{fname}: step_fn must return a pair (log_probs, new_state), "
                             f"got {validate.shown(out)}")
        lp, state = _log_probs(fname, out[0], len(alive), vocab_size, end_id), out[1]
        vocab_size = lp.shape[1]
        total = (alive_lp[:, None] + lp).ravel()         # (K * V,) every one-token extension
        order = np.argsort(-total, kind="stable")         # best first; ties: lower beam, lower id
        parents, tokens, new_lp = [], [], []
        for rank, flat in enumerate(order):
            if total[flat] == -np.inf or len(parents) == beam_size:
                break
            parent, token = divmod(int(flat), vocab_size)
            if token == end_id:
                # END closes the hypothesis; like any extension it must rank in the top
                # beam_size to count (so that beam_size=1 is exactly greedy decoding)
                if rank < beam_size:
                    finished.append(Hypothesis(list(alive[parent]), float(total[flat]),
                                               float(total[flat]) / length ** alpha, True))
            else:
                parents.append(parent)
                tokens.append(token)
                new_lp.append(total[flat])
        alive = [alive[p] + [t] for p, t in zip(parents, tokens)]
        alive_lp = np.array(new_lp, dtype=np.float64)
        if not alive:
            break
        if length == max_length:  # out of room: the survivors compete as they are
            finished.extend(Hypothesis(a, float(v), float(v) / length ** alpha, False)
                            for a, v in zip(alive, alive_lp))
            break
        if finished:
            # An extension only adds log-probabilities <= 0 and ends at a length <= max_length,
            # so no descendant of an alive hypothesis can score above
            # log_prob / max_length ** alpha. Stop once the best finished one reaches that.
            best_finished = max(h.score for h in finished)
            if best_finished >= alive_lp.max() / max_length ** alpha:
                break
        idx = np.array(parents, dtype=np.int64)
        state = select(state, idx)
        prev = np.array(tokens, dtype=np.int64)
    return sorted(finished, key=lambda h: -h.score)[:beam_size]  # stable: earlier first on ties


def beam_search_one(step_fn, state, start_id, end_id, max_length, beam_size, length_penalty=0.0):
    """Beam search for one example, written as notebook 06's exercise asks.

    step_fn(prev, state) -> (log_probs (K, V), new_state): prev (K,) the last token of each of
    the K live hypotheses; state: the decoder's state for one example (K = 1 at the start).
    Returns: (tokens, score): the best hypothesis's word ids without START/END, and its total
    log-probability divided by its length (END included) ** length_penalty.
    ``beam_search`` decodes a batch with the same rule (and checks its arguments).
    """
    # BEGIN REFERENCE beam_search
    beams = [([], 0.0)]                     # (tokens so far, total log-probability)
    finished = []                           # (tokens, total log-probability, length with END)
    prev = np.array([start_id])
    for step in range(max_length):
        log_probs, state = step_fn(prev, state)
        log_probs = np.asarray(log_probs.detach().cpu() if hasattr(log_probs, "detach") else log_probs)
        totals = np.array([lp for _, lp in beams])[:, None] + log_probs     # (B, V)
        order = np.argsort(-totals, axis=None, kind="stable")
        rows, words = np.unravel_index(order, totals.shape)
        keep_rows, keep_words, new_beams = [], [], []
        for rank, (r, w) in enumerate(zip(rows, words)):
            tokens = beams[r][0] + [int(w)]
            if w == end_id:
                if rank < beam_size:            # a finished caption good enough to enter the beam
                    finished.append((beams[r][0], float(totals[r, w]), len(tokens)))
            elif len(new_beams) < beam_size:    # the beam is refilled with unfinished ones
                keep_rows.append(r); keep_words.append(w); new_beams.append((tokens, float(totals[r, w])))
            if len(new_beams) == beam_size and rank >= beam_size:
                break
        beams = new_beams
        best_done = max((lp / n ** length_penalty for _, lp, n in finished), default=-np.inf)
        if not beams or best_done >= max(lp for _, lp in beams) / max_length ** length_penalty:
            beams = []                          # no live sentence can win any more
            break
        state = select_state(state, np.array(keep_rows))
        prev = np.array(keep_words)
    finished += [(tokens, lp, len(tokens)) for tokens, lp in beams]   # survivors of max_length
    tokens, lp, n = max(finished, key=lambda f: f[1] / f[2] ** length_penalty)
    return tokens, lp / n ** length_penalty
    # END REFERENCE


def _beam_args(fname, start_id, end_id, max_length, beam_size, length_penalty, select):
    start_id, end_id, max_length = _common_args(fname, start_id, end_id, max_length)
    beam_size = validate.positive_int(fname, "beam_size", beam_size)
    alpha = validate.finite_number(fname, "length_penalty", length_penalty, low=0)
    if select is None:
        select = _select
    elif not callable(select):
        raise ValueError(f"{fname}: select must be a function (state, indices) -> state or None, "
                         f"got {validate.shown(select)}")
    return start_id, end_id, max_length, beam_size, alpha, select


def beam_hypotheses(step_fn, state, start_id, end_id, max_length, beam_size, length_penalty=0.0,
                    select=None):
    """Beam search for ONE example, returning the best hypotheses found.

    step_fn: (prev_tokens (K,), state) -> (log_probs (K, V), new_state); K (the number of
        live beams) starts at 1 and grows up to beam_size.
    state: the model's initial state for a single example (one row).
    start_id, end_id, max_length: as for greedy_decode.
    beam_size: how many hypotheses stay alive at each step (>= 1; 1 is greedy decoding when
        length_penalty is 0).
    length_penalty: alpha >= 0 in score = log_prob / length ** alpha (module docstring).
    select: (state, indices) -> state, to reorder/duplicate rows; default select_state.
    At every step each live hypothesis is extended by every token and the extensions are
    ranked by log-probability. An END extension that ranks in the top beam_size closes its
    hypothesis, which is kept aside as finished; the best beam_size other extensions stay
    alive. The search stops when no live hypothesis can still beat the best finished score,
    when none is left, or after max_length steps (the survivors are then kept unfinished).
    Returns: a list of at most beam_size Hypothesis(tokens, log_prob, score, finished), best
        score first.
    """
    fname = "beam_hypotheses"
    start_id, end_id, max_length, beam_size, alpha, select = _beam_args(
        fname, start_id, end_id, max_length, beam_size, length_penalty, select)
    sizes = {int(leaf.shape[0]) for leaf in _leaves(state) if leaf.ndim >= 1}
    if sizes and sizes != {1}:
        raise ValueError(f"{fname}: state must describe one example (dim 0 of size 1), got "
                         f"dim 0 sizes {sorted(sizes)}; use beam_search for a batch")
    return _beam_one(fname, step_fn, state, start_id, end_id, max_length, beam_size, alpha,
                     select, _token_maker(state))


def beam_search(step_fn, state, start_id, end_id, max_length, beam_size, length_penalty=0.0,
                select=None, batch_size=None):
    """Beam search for a batch of B examples, one after the other; the best caption of each.

    step_fn, start_id, end_id, max_length: as for greedy_decode.
    state: the model's initial state for B examples (batch on dim 0, or pass select and
        batch_size); example i is searched from select(state, [i]).
    beam_size, length_penalty, select: as for beam_hypotheses.
    Returns: captions, a list of B lists of int (no START/END), and scores, a list of B floats
        (the length-normalised score of each chosen caption; with length_penalty=0 this is its
        log-probability).
    """
    fname = "beam_search"
    start_id, end_id, max_length, beam_size, alpha, select = _beam_args(
        fname, start_id, end_id, max_length, beam_size, length_penalty, select)
    B = _batch_size(fname, state, batch_size)
    make_tokens = _token_maker(state)
    captions, scores = [], []
    for i in range(B):
        best = _beam_one(fname, step_fn, select(state, np.array([i], dtype=np.int64)), start_id,
                         end_id, max_length, beam_size, alpha, select, make_tokens)[0]
        captions.append(best.tokens)
        scores.append(best.score)
    return captions, scores
