"""The adding problem, a long-range memory task (data only; models in utils.models.adding).

The task (Hochreiter & Schmidhuber, 1997, experiment 4; the variant here follows later papers
that use values in [0, 1]): each step carries a random value in [0, 1] and a marker in {0, 1}.
Exactly two steps are marked, one in the first half of the sequence and one in the second.
After reading the whole sequence the network must output the sum of the two marked values.
Always answering the mean, 1, scores a mean squared error of Var(u1 + u2) = 2/12 = 1/6 ~ 0.167:
a model below that has found the marked values, and one far below it remembers the first one
across up to T steps.
"""
import numpy as np

from utils import validate

MEAN_BASELINE_MSE = 1.0 / 6.0  # Var(u1 + u2) for two independent U(0, 1) values


def adding_problem(n, length, rng=None):
    """n random sequences of the adding problem.

    n: number of sequences (>= 1); length: T (>= 2); rng: a numpy Generator, or an int seed,
    or None for a fresh one.
    Returns: x (n, T, 2) float32 with x[..., 0] the values and x[..., 1] the markers,
    y (n,) float32, the sum of the two marked values.
    """
    n = validate.positive_int("adding_problem", "n", n)
    T = validate.int_in_range("adding_problem", "length", length, 2)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    values = rng.random((n, T))
    first = rng.integers(0, T // 2, size=n)  # one marker in each half
    second = rng.integers(T // 2, T, size=n)
    markers = np.zeros((n, T))
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1).astype(np.float32)
    return x, y
