"""softmax and temperature_probs take -inf as a masked choice (probability 0), the idiom of
attention and decoding; NaN, +inf and a row masked entirely are refused with a clear message."""
import numpy as np
import pytest

from utils.layers import softmax, temperature_probs


def test_a_masked_score_gets_probability_zero_and_the_rest_renormalise():
    probs = softmax([[0.0, -np.inf, 1.0], [2.0, 2.0, -np.inf]])
    assert probs[0, 1] == 0 and probs[1, 2] == 0
    np.testing.assert_allclose(probs[0, [0, 2]], softmax([0.0, 1.0]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(temperature_probs([0.0, -np.inf, 1.0], 0.5)[[0, 2]], softmax([0.0, 2.0]))


@pytest.mark.parametrize("scores", [[[np.nan, 1.0]], [[np.inf, 0.0]], [[0.0, 1.0], [-np.inf, -np.inf]]])
@pytest.mark.parametrize("fn", [softmax, temperature_probs])
def test_nan_plus_inf_and_a_fully_masked_row_are_refused(scores, fn):
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: scores must be finite numbers or -inf"):
        fn(scores)
