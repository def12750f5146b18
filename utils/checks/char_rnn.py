"""Checks of notebook 02 (character-level language model)."""
import numpy as np

from utils.checks.core import CheckFailed, call_student, exercise_check, expect_array, passed
from utils.layers.losses import step_losses
from utils.layers.sampling import temperature_probs


@exercise_check
def check_step_losses(student_fn, seed=0):
    """Check ``step_losses(scores (T, V), targets (T,)) -> (T,)`` per-step cross-entropy."""
    name = "step_losses"
    rng = np.random.default_rng(seed)
    cases = [(4, 4, 1.0), (7, 5, 3.0), (3, 9, 1000.0)]  # the last overflows a naive exp (e ** 710 is inf)
    for T, V, scale in cases:
        scores = rng.normal(scale=scale, size=(T, V))
        targets = rng.integers(0, V, size=T)
        got = call_student(name, student_fn, scores.copy(), targets.copy())
        expect_array(name, got, step_losses(scores, targets),
                     what=f"losses (T={T}, V={V}, scores of size ~{scale:g})", rtol=1e-7)
    passed(name, f"matches the reference on {len(cases)} cases, including large scores")


@exercise_check
def check_temperature_probs(student_fn, seed=1):
    """Check ``temperature_probs(scores (V,), temperature) -> (V,)`` for several temperatures."""
    name = "temperature_probs"
    rng = np.random.default_rng(seed)
    scores = rng.normal(scale=2.0, size=6)
    for temperature in (1.0, 0.5, 2.0, 0.1):
        got = call_student(name, student_fn, scores.copy(), temperature)
        expect_array(name, got, temperature_probs(scores, temperature),
                     what=f"probabilities at temperature {temperature}", rtol=1e-7)
    passed(name, "matches the reference at temperatures 1, 0.5, 2 and 0.1")


@exercise_check
def check_sample_index(student_fn, seed=2, draws=4000):
    """Check ``sample_index(probs (V,), rng) -> int`` draws with the right frequencies.

    A statistical test: over many draws every frequency must lie within 5 standard errors of
    its probability, so argmax, uniform choice or an off-by-one all fail, while any correct
    sampler passes whatever its method.
    """
    name = "sample_index"
    rng = np.random.default_rng(seed)
    for probs in (np.array([0.1, 0.6, 0.3]), np.array([0.05, 0.05, 0.2, 0.3, 0.4]),
                  np.array([0.0, 1.0, 0.0])):
        counts = np.zeros(len(probs))
        for _ in range(draws):
            index = call_student(name, student_fn, probs.copy(), rng)
            if isinstance(index, (np.ndarray, list, tuple)) and np.size(index) == 1:
                index = np.asarray(index).item()
            if not isinstance(index, (int, np.integer)) or not 0 <= index < len(probs):
                raise CheckFailed(f"{name}: should return one integer index in 0..{len(probs) - 1}, "
                                  f"got {index!r}")
            counts[index] += 1
        freq = counts / draws
        tolerance = 5 * np.sqrt(probs * (1 - probs) / draws) + 1e-12
        worst = int(np.argmax(np.abs(freq - probs) - tolerance))
        if abs(freq[worst] - probs[worst]) > tolerance[worst]:
            raise CheckFailed(f"{name}: index {worst} has probability {probs[worst]:.2f} but was "
                              f"drawn {freq[worst]:.1%} of {draws} times; sample in proportion "
                              f"to probs (e.g. with rng.choice)")
    passed(name, f"draws match the probabilities on 3 distributions ({draws} draws each)")
