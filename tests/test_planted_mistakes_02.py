"""The checks of notebook 02 fail on typical mistakes, naming the exercise."""
import numpy as np
import pytest

from notebook_helpers import assert_check_fails

from utils.checks.core import CheckFailed
from utils.checks.char_rnn import check_sample_index, check_step_losses, check_temperature_probs
from utils.layers import softmax


_fails = assert_check_fails


def test_step_losses_mistakes():
    def unstable(scores, targets):
        p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(len(targets)), targets])

    def summed(scores, targets):
        return np.full(len(targets), -np.log(softmax(scores))[np.arange(len(targets)), targets].sum())

    def positive_log(scores, targets):
        return np.log(softmax(scores)[np.arange(len(targets)), targets])

    def whole_matrix(scores, targets):  # indexes rows by targets instead of (t, target_t)
        return -np.log(softmax(scores)[targets, targets])

    with np.errstate(all="ignore"):
        _fails(check_step_losses, unstable, "step_losses")
    for wrong in (summed, positive_log, whole_matrix):
        _fails(check_step_losses, wrong, "step_losses")


def test_temperature_probs_mistakes():
    _fails(check_temperature_probs, lambda s, t: softmax(s * t), "temperature_probs")
    _fails(check_temperature_probs, lambda s, t: softmax(s) / t, "temperature_probs")
    _fails(check_temperature_probs, lambda s, t: softmax(s), "temperature_probs")


def test_sample_index_mistakes():
    assert "drawn" in _fails(check_sample_index, lambda p, rng: int(np.argmax(p)), "sample_index")
    _fails(check_sample_index, lambda p, rng: int(rng.integers(len(p))), "sample_index")
    # off by one in the cumulative-sum comparison
    _fails(check_sample_index,
           lambda p, rng: int(min(np.searchsorted(np.cumsum(p), rng.random()) + 1, len(p) - 1)),
           "sample_index")
    assert "one integer index" in _fails(check_sample_index, lambda p, rng: p, "sample_index")


def test_a_correct_sampler_of_another_method_passes():
    check_sample_index(lambda p, rng: int(rng.choice(len(p), p=p)))
    check_sample_index(lambda p, rng: int(np.argmax(np.log(np.maximum(p, 1e-300))
                                                    + rng.gumbel(size=len(p)))))
