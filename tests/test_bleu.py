"""utils.analysis.bleu: corpus BLEU, checked by hand and against nltk (a test-only dependency)."""
import math
import warnings

import numpy as np
import pytest

from utils.analysis.bleu import bleu_scores, bleu_statistics, brevity_penalty, corpus_bleu

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")

UNIFORM = {n: (1.0 / n,) * n for n in range(1, 5)}


def _nltk(references, candidates, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about orders without any match
        return nltk_bleu.corpus_bleu(references, candidates, weights=weights)


def _random_corpus(rng, vocab):
    size = int(rng.integers(1, 9))
    # candidates of >= 4 tokens: nltk counts a shorter candidate as one n-gram in the
    # denominator of p_n (see test_short_candidates_follow_the_paper_not_nltk)
    candidates = [list(rng.choice(vocab, size=int(rng.integers(4, 13)))) for _ in range(size)]
    references = [[list(rng.choice(vocab, size=int(rng.integers(1, 13))))
                   for _ in range(int(rng.integers(1, 5)))] for _ in range(size)]
    return references, candidates


def test_matches_nltk_on_random_corpora():
    rng = np.random.default_rng(0)
    vocab = ["a", "red", "blue", "circle", "square"]  # small: many matches of every order
    nonzero = dict.fromkeys(range(1, 5), 0)
    for _ in range(300):
        references, candidates = _random_corpus(rng, vocab)
        ours = bleu_scores(references, candidates)
        for n in range(1, 5):
            expected = _nltk(references, candidates, UNIFORM[n])
            # nltk returns ~1e-77 instead of 0.0 when an order has no match: absolute tolerance
            assert abs(corpus_bleu(references, candidates, max_n=n) - expected) <= 1e-9
            assert abs(ours[f"BLEU-{n}"] - expected) <= 1e-9
            nonzero[n] += expected > 1e-6
    assert all(count > 50 for count in nonzero.values()), nonzero  # the test is not vacuous


def test_matches_nltk_with_custom_weights():
    rng = np.random.default_rng(1)
    vocab = ["a", "b", "c", "d"]
    for _ in range(50):
        references, candidates = _random_corpus(rng, vocab)
        for weights in [(0.1, 0.2, 0.3, 0.4), (0.7, 0.0, 0.3, 0.0), (0.5, 0.5, 0.0, 0.0)]:
            ours = corpus_bleu(references, candidates, max_n=4, weights=weights)
            assert abs(ours - _nltk(references, candidates, weights)) <= 1e-9


def test_papineni_clipping_example():
    # Papineni et al. 2002, section 2.1: modified unigram precision 2/7
    references = [["the cat is on the mat", "there is a cat on the mat"]]
    candidates = ["the the the the the the the"]
    stats = bleu_statistics(references, candidates, max_n=1)
    assert stats == {"matches": [2], "totals": [7], "candidate_length": 7, "reference_length": 7}
    assert corpus_bleu(references, candidates, max_n=1) == pytest.approx(2 / 7, abs=1e-15)


def test_perfect_match_scores_one():
    references = [["a red circle above a blue square"], ["two green triangles"]]
    candidates = ["a red circle above a blue square", "two green triangles"]
    assert bleu_scores(references, candidates) == {f"BLEU-{n}": 1.0 for n in range(1, 5)}


def test_brevity_penalty_by_hand():
    # candidate of 3 words, every n-gram matches, the only reference has 6 words
    references = [["a red circle on the left"]]
    candidates = ["a red circle"]
    scores = bleu_scores(references, candidates)
    for n in (1, 2, 3):
        assert scores[f"BLEU-{n}"] == pytest.approx(math.exp(1 - 6 / 3), abs=1e-15)
    assert scores["BLEU-4"] == 0.0  # no 4-gram in the candidate: no smoothing, score 0
    assert brevity_penalty(7, 6) == 1.0
    assert brevity_penalty(6, 6) == 1.0
    assert brevity_penalty(3, 6) == pytest.approx(math.exp(-1))
    assert brevity_penalty(0, 6) == 0.0


def test_closest_reference_length_ties_go_to_the_shorter():
    # candidate of 5; references of 4 and 6 are equally close: r = 4, so c > r and BP = 1
    references = [["a b c d", "a b c d e f"]]
    candidates = ["a b c d e"]
    assert bleu_statistics(references, candidates)["reference_length"] == 4
    assert corpus_bleu(references, candidates, max_n=1) == 1.0  # would be exp(1 - 6/5) < 1


def test_clipping_uses_the_largest_count_of_one_reference():
    # 'a' is clipped at 2 (the second reference), not at 1 + 2 = 3 (the sum over references)
    references = [["a b", "a a c"]]
    candidates = ["a a a"]
    assert corpus_bleu(references, candidates, max_n=1) == pytest.approx(2 / 3, abs=1e-15)


def test_corpus_score_is_a_micro_average():
    references = [["a b"], ["x y z w"]]
    candidates = ["a b", "c d e f"]
    # pooled unigram precision (2 + 0) / (2 + 4) = 1/3, not the mean of 1 and 0
    assert corpus_bleu(references, candidates, max_n=1) == pytest.approx(1 / 3, abs=1e-15)


def test_short_candidates_follow_the_paper_not_nltk():
    # The second candidate has no bigram, so it adds nothing to p_2 = 3/3. nltk counts it as
    # one bigram in the denominator (3/4); the paper sums over the n-grams that exist.
    references = [["a b c d"], ["a"]]
    candidates = ["a b c d", "a"]
    assert bleu_statistics(references, candidates, max_n=2)["totals"] == [5, 3]
    assert corpus_bleu(references, candidates, max_n=2) == 1.0
    tokens = lambda corpus: [[s.split() for s in refs] for refs in corpus]  # noqa: E731
    assert _nltk(tokens(references), [c.split() for c in candidates], (0.5, 0.5)) == \
        pytest.approx(math.sqrt(3 / 4))


def test_zero_matches_and_empty_candidates_score_zero():
    assert corpus_bleu([["a b c d"]], ["e f g h"]) == 0.0
    assert corpus_bleu([["a b c d"]], [""]) == 0.0
    assert bleu_scores([["a b c d"]], [[]]) == {f"BLEU-{n}": 0.0 for n in range(1, 5)}
    # an empty candidate beside a good one only costs brevity
    two = corpus_bleu([["a b c d"], ["a b"]], ["a b c d", ""], max_n=1)
    assert two == pytest.approx(math.exp(1 - 6 / 4))


def test_strings_token_lists_ids_and_arrays_agree():
    as_text = corpus_bleu([["a red circle", "one red circle"]], ["a red square"], max_n=2)
    as_tokens = corpus_bleu([[["a", "red", "circle"], ("one", "red", "circle")]],
                            [["a", "red", "square"]], max_n=2)
    as_ids = corpus_bleu([[[4, 5, 6], [7, 5, 6]]], [np.array([4, 5, 8])], max_n=2)
    assert as_text == as_tokens == as_ids == pytest.approx(math.sqrt(2 / 3 * 1 / 2))
    # whitespace of any kind splits; case is kept (lower-case your captions first)
    assert corpus_bleu([["a  red\tcircle"]], ["a red circle"], max_n=3) == 1.0
    assert corpus_bleu([["A"]], ["a"], max_n=1) == 0.0


def test_bleu_scores_agrees_with_corpus_bleu():
    references = [["a red circle above a blue square", "a circle over a square"],
                  ["two small green triangles"]]
    candidates = ["a red circle over a square", "two green triangles"]
    scores = bleu_scores(references, candidates)
    assert list(scores) == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"]
    for n in range(1, 5):
        assert scores[f"BLEU-{n}"] == pytest.approx(corpus_bleu(references, candidates, max_n=n),
                                                    abs=1e-15)
        assert 0.0 <= scores[f"BLEU-{n}"] <= 1.0
    assert scores["BLEU-1"] >= scores["BLEU-2"] >= scores["BLEU-3"] >= scores["BLEU-4"] > 0


@pytest.mark.parametrize("call, pattern", [
    (lambda: corpus_bleu([["a"], ["b"]], ["a"]),
     r"corpus_bleu: references and candidates must have the same length .*got 2 and 1"),
    (lambda: corpus_bleu([], []),
     r"corpus_bleu: candidates must be a non-empty list .*empty corpus"),
    (lambda: bleu_scores([], []), r"bleu_scores: candidates must be a non-empty list"),
    (lambda: corpus_bleu("a b", "a b"), r"corpus_bleu: references must be a list with one entry"),
    (lambda: corpus_bleu([[]], ["a"]),
     r"corpus_bleu: references\[0\] must be a non-empty list of reference sentences"),
    (lambda: corpus_bleu(["a b"], ["a b"]),
     r"corpus_bleu: references\[0\] must be a non-empty list .*got 'a b'"),
    (lambda: corpus_bleu([["a"]], [[["a"]]]),
     r"corpus_bleu: candidates\[0\] must be a string or a list of tokens"),
    (lambda: corpus_bleu([["a"]], [None]), r"corpus_bleu: candidates\[0\] must be a string"),
    (lambda: corpus_bleu([["a"]], ["a"], max_n=0),
     r"corpus_bleu: max_n must be a positive integer"),
    (lambda: corpus_bleu([["a"]], ["a"], max_n=2, weights=(1.0,)),
     r"corpus_bleu: weights must be a sequence of max_n=2 numbers"),
    (lambda: corpus_bleu([["a"]], ["a"], max_n=2, weights=(1.5, -0.5)),
     r"corpus_bleu: each weight must be a finite number >= 0, got -0.5"),
    (lambda: corpus_bleu([["a"]], ["a"], max_n=2, weights=(0.5, 0.25)),
     r"corpus_bleu: weights must sum to 1"),
])
def test_bad_input_is_refused(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
