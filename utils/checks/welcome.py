"""Check of notebook 00 (welcome): the warm-up exercise ``softmax``."""
import numpy as np

from utils.checks.core import CheckFailed, call_student, exercise_check, expect_array, passed
from utils.layers import softmax


@exercise_check
def check_softmax(student_fn, seed=0):
    """Check ``softmax(scores) -> probs`` over the last axis, also for very large scores."""
    name = "softmax"
    rng = np.random.default_rng(seed)
    cases = {"a (2, 5) array": rng.normal(size=(2, 5)),
             "a (4, 3) array": rng.normal(size=(4, 3)),  # softmax over the wrong axis fails here
             "scores near 1000": 1000 + rng.normal(size=(3, 4)),  # overflows without the shift
             "a (2, 3, 4) array": rng.normal(size=(2, 3, 4))}
    for label, scores in cases.items():
        probs = call_student(name, student_fn, scores.copy())
        expect_array(name, probs, softmax(scores), what=f"the result for {label}", rtol=1e-6)
        if not np.allclose(np.sum(probs, axis=-1), 1.0):
            raise CheckFailed(f"{name}: rows of the result for {label} do not sum to 1")
    passed(name, f"matches the reference on {len(cases)} inputs, including very large scores")
