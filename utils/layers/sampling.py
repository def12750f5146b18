"""Turning a language model's scores into a choice: temperature and sampling."""
from utils import validate
from utils.layers.common import softmax


def temperature_probs(scores, temperature=1.0):
    """Softmax of scores / temperature over the last axis.

    scores: (..., V). temperature: finite, > 0; below 1 sharpens, above 1 flattens.
    Returns: probabilities, same shape as scores.
    """
    scores = validate.score_array("temperature_probs", scores)
    validate.temperature("temperature_probs", temperature)
    # BEGIN REFERENCE temperature_probs
    return softmax(scores / temperature)
    # END REFERENCE


def sample_index(probs, rng):
    """Draw one index i with probability probs[i].

    probs: (V,) non-negative, summing to 1. rng: a numpy Generator.
    Returns: a python int in [0, V).
    """
    probs = validate.probability_vector("sample_index", "probs", probs)
    # BEGIN REFERENCE sample_index
    return int(rng.choice(len(probs), p=probs))
    # END REFERENCE
