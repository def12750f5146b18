"""Corpus BLEU (Papineni, Roukos, Ward and Zhu, 2002), the score captioners are compared with.

BLEU asks how many of the candidate's n-grams also occur in a reference, for n = 1..4:

    p_n = sum over sentences of sum over candidate n-grams g of min(count(g), max_ref_count(g))
          ------------------------------------------------------------------------------------
                  sum over sentences of the number of n-grams in the candidate

The ``min`` *clips* each n-gram count at the largest number of times any single reference of
that sentence contains it, so "the the the the" cannot score by repeating a common word.
Numerators and denominators are summed over the whole corpus before dividing (a micro average;
averaging sentence scores is a different, noisier number).

Precision alone rewards short captions, so a brevity penalty multiplies the score:

    c = total candidate length,  r = sum over sentences of the reference length closest to the
    candidate's length (on a tie, the shorter reference),
    BP = 1 if c > r else exp(1 - r / c)        (and BP = 0 when c = 0)

    BLEU-N = BP * exp(sum_{n=1..N} w_n log p_n)     with uniform weights w_n = 1 / N.

No smoothing: if some p_n with w_n > 0 is zero (no matching n-gram of that order anywhere in
the corpus, or no candidate of at least n words) the geometric mean is zero and BLEU-N is 0.0.
The result lies in [0, 1]; papers often print it times 100.

Tokens are compared with ``==`` (any hashable tokens: words or ids). A sentence given as a
string is split on whitespace. This agrees with ``nltk.translate.bleu_score.corpus_bleu``
(no smoothing) whenever every candidate has at least N tokens; nltk counts a candidate with
fewer than n tokens as one n-gram in the denominator of p_n, which the paper does not.
"""
import math
from collections import Counter

from utils import validate


def _tokens(fname, what, sentence):
    """A sentence as a tuple of tokens: a string is split on whitespace, a list/tuple is kept."""
    if isinstance(sentence, str):
        return tuple(sentence.split())
    if isinstance(sentence, (list, tuple)):
        try:
            for token in sentence:
                hash(token)
        except TypeError:
            raise ValueError(f"{fname}: {what} must be a string or a list of tokens (strings or "
                             f"ints), got a list containing {type(token).__name__}") from None
        return tuple(sentence)
    if hasattr(sentence, "tolist") and getattr(sentence, "ndim", None) == 1:  # 1-D array of ids
        return tuple(sentence.tolist())
    raise ValueError(f"{fname}: {what} must be a string or a list of tokens, "
                     f"got {validate.shown(sentence)}")


def _ngram_counts(tokens, n):
    """Counter of the n-grams (as tuples) of a token tuple; empty when len(tokens) < n."""
    return Counter(tokens[i:i + n] for i in range(len(tokens) - n + 1))


def _prepare(fname, references, candidates):
    """Validate and tokenise: returns (list of lists of token tuples, list of token tuples)."""
    for name, value in (("references", references), ("candidates", candidates)):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{fname}: {name} must be a list with one entry per sentence, "
                             f"got {validate.shown(value)}")
    if len(references) != len(candidates):
        raise ValueError(f"{fname}: references and candidates must have the same length (one "
                         f"list of references per candidate), got {len(references)} and "
                         f"{len(candidates)}")
    if not candidates:
        raise ValueError(f"{fname}: candidates must be a non-empty list of sentences, got an "
                         "empty corpus")
    cands = [_tokens(fname, f"candidates[{i}]", c) for i, c in enumerate(candidates)]
    refs = []
    for i, sentence_refs in enumerate(references):
        if isinstance(sentence_refs, str) or not isinstance(sentence_refs, (list, tuple)) \
                or not sentence_refs:
            raise ValueError(f"{fname}: references[{i}] must be a non-empty list of reference "
                             f"sentences (strings or token lists), got "
                             f"{validate.shown(sentence_refs)}")
        refs.append([_tokens(fname, f"references[{i}][{j}]", r)
                     for j, r in enumerate(sentence_refs)])
    return refs, cands


def _weights(fname, max_n, weights):
    """The n-gram weights as a list of max_n floats (uniform when None)."""
    if weights is None:
        return [1.0 / max_n] * max_n
    if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__") \
            or len(weights) != max_n:
        raise ValueError(f"{fname}: weights must be a sequence of max_n={max_n} numbers, "
                         f"got {validate.shown(weights)}")
    out = [validate.finite_number(fname, "each weight", w, low=0) for w in weights]
    if not math.isclose(sum(out), 1.0, rel_tol=0, abs_tol=1e-9):
        raise ValueError(f"{fname}: weights must sum to 1, got {validate.shown(list(weights))} "
                         f"(sum {sum(out):.6g})")
    return out


def _statistics(fname, references, candidates, max_n):
    """bleu_statistics with the caller's name in error messages."""
    refs, cands = _prepare(fname, references, candidates)
    matches, totals = [0] * max_n, [0] * max_n
    c = r = 0
    for sentence_refs, cand in zip(refs, cands):
        for n in range(1, max_n + 1):
            cand_counts = _ngram_counts(cand, n)
            if not cand_counts:
                continue  # the candidate is shorter than n: no n-grams, nothing to count
            max_ref = Counter()
            for ref in sentence_refs:
                max_ref |= _ngram_counts(ref, n)  # elementwise max of counts over references
            matches[n - 1] += sum(min(k, max_ref[g]) for g, k in cand_counts.items())
            totals[n - 1] += sum(cand_counts.values())
        c += len(cand)
        # closest reference length; on a tie the shorter one: sort key (distance, length)
        r += min((len(ref) for ref in sentence_refs), key=lambda L: (abs(L - len(cand)), L))
    return {"matches": matches, "totals": totals, "candidate_length": c, "reference_length": r}


def bleu_statistics(references, candidates, max_n=4):
    """The sufficient statistics of corpus BLEU.

    references: list over sentences; entry i is a non-empty list of references for sentence i,
        each a string or a list of tokens.
    candidates: list over sentences of the candidate (a string or a list of tokens).
    max_n: the largest n-gram order.
    Returns a dict: "matches" and "totals", lists of max_n ints (clipped matches and candidate
        n-grams of order 1..max_n, summed over the corpus), "candidate_length" c and
        "reference_length" r (ints).
    """
    max_n = validate.positive_int("bleu_statistics", "max_n", max_n)
    return _statistics("bleu_statistics", references, candidates, max_n)


def _bleu_from_statistics(stats, weights):
    """BP * exp(sum_n w_n log p_n) over the orders with w_n > 0; 0.0 if one has no match."""
    log_sum = 0.0
    for w, m, t in zip(weights, stats["matches"], stats["totals"]):
        if w == 0:
            continue
        if m == 0:  # includes t == 0: no candidate n-grams at all, precision taken as 0
            return 0.0
        log_sum += w * math.log(m / t)
    return brevity_penalty(stats["candidate_length"], stats["reference_length"]) * math.exp(log_sum)


def brevity_penalty(candidate_length, reference_length):
    """BP = 1 if c > r, exp(1 - r / c) if 0 < c <= r, and 0 if c == 0 (from corpus totals)."""
    c = validate.int_in_range("brevity_penalty", "candidate_length", candidate_length, 0)
    r = validate.int_in_range("brevity_penalty", "reference_length", reference_length, 0)
    if c > r:
        return 1.0
    if c == 0:
        return 0.0
    return math.exp(1.0 - r / c)


def corpus_bleu(references, candidates, max_n=4, weights=None):
    """Corpus-level BLEU-max_n in [0, 1], without smoothing (see the module docstring).

    references: list of length S (sentences); references[i] is a non-empty list of reference
        sentences for candidate i, each a string (split on whitespace) or a list of tokens.
    candidates: list of length S; each a string or a list of tokens.
    max_n: largest n-gram order (4 for BLEU-4, 1 for BLEU-1).
    weights: None for uniform 1/max_n, or max_n non-negative numbers summing to 1.
    Returns: a python float. 0.0 when an order with positive weight has no match at all.

    Mind the nesting: references[i] is a list of references even when there is only one,
    e.g. ``corpus_bleu([["a red circle"]], ["a red circle"])`` or
    ``corpus_bleu([[["a", "red", "circle"]]], [["a", "red", "circle"]])``. A flat token list
    in its place would be read as several one-word references.
    """
    fname = "corpus_bleu"
    max_n = validate.positive_int(fname, "max_n", max_n)
    weights = _weights(fname, max_n, weights)
    return _bleu_from_statistics(_statistics(fname, references, candidates, max_n), weights)


def bleu_scores(references, candidates):
    """BLEU-1 to BLEU-4 of a corpus, as {"BLEU-1": float, ..., "BLEU-4": float}.

    references, candidates: as for corpus_bleu. BLEU-n uses uniform weights over orders 1..n
    (the n-gram statistics are counted once and shared by the four scores).
    """
    stats = _statistics("bleu_scores", references, candidates, 4)
    return {f"BLEU-{n}": _bleu_from_statistics(stats, [1.0 / n] * n) for n in range(1, 5)}
