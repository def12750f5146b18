"""Recurrent weights with a chosen spectral radius, in the course layout (numpy).

    spectral_radius, singular_values   the two numbers notebook 04 compares
    scale_to_spectral_radius           rescale a matrix to a given largest |eigenvalue|
    random_recurrent_matrix            a random H x H matrix with that radius
    make_cell_weights                  an untrained vanilla / LSTM / GRU cell built around such matrices
    recurrent_block                    the H x H block of a cell the figures show

Layout (as utils.layers and utils.models.cells): vanilla {Wx (D, H), Wh (H, H), b (H,)},
lstm {Wx (D, 4H), Wh (H, 4H), b (4H,)} with gate blocks i, f, o, g, gru {Wx (D, 3H),
Wh (H, 3H), bx, bh (3H,)} with blocks r, z, n.
"""
import numpy as np

from utils import validate
from utils.models.cells import FLOW_CELLS

MAX_SIZE = 4096  # a guard against typing an extra zero in a hidden size

def spectral_radius(W):
    """Largest |eigenvalue| of a square matrix W (H, H). Returns a float."""
    W = validate.float_array("spectral_radius", "W", W)
    validate.shapes("spectral_radius", "W: H H", W)
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def singular_values(W):
    """Singular values of a matrix W (any 2-D shape), largest first. Returns (min(W.shape),)."""
    W = validate.float_array("singular_values", "W", W)
    validate.shapes("singular_values", "W: M N", W)
    return np.linalg.svd(W, compute_uv=False)


def scale_to_spectral_radius(W, radius):
    """Return a rescaled copy of the square matrix W (H, H) whose spectral radius is ``radius``.

    The spectral radius is the largest |eigenvalue|; it sets how fast W^k grows or shrinks for
    large k (||W^k||^(1/k) tends to it), while the largest singular value bounds every single
    step. W must not be nilpotent (all eigenvalues 0), or no scaling can reach the radius.
    """
    radius = validate.positive_number("scale_to_spectral_radius", "radius", radius)
    W = validate.float_array("scale_to_spectral_radius", "W", W)
    validate.shapes("scale_to_spectral_radius", "W: H H", W)
    if np.max(np.abs(np.linalg.eigvals(W))) < 1e-12:
        raise ValueError("scale_to_spectral_radius: W has spectral radius 0 (all eigenvalues are 0), "
                         "so no rescaling gives it another one")
    # BEGIN REFERENCE scale_to_spectral_radius
    rho = np.max(np.abs(np.linalg.eigvals(W)))  # eigenvalues may be complex: their moduli count
    return W * (radius / rho)
    # END REFERENCE


def random_recurrent_matrix(hidden_size, radius, seed=0):
    """A random Gaussian (H, H) matrix rescaled to spectral radius ``radius``.

    hidden_size: H; radius: finite > 0; seed: for numpy's default_rng.
    Its singular values spread around the radius (the largest is above it): the gap between
    the two numbers is what notebook 04 discusses.
    """
    H = validate.positive_int("random_recurrent_matrix", "hidden_size", hidden_size, MAX_SIZE)
    radius = validate.positive_number("random_recurrent_matrix", "radius", radius)
    W = np.random.default_rng(validate.seed("random_recurrent_matrix", seed)).normal(size=(H, H)) / np.sqrt(H)
    return scale_to_spectral_radius(W, radius)


def make_cell_weights(cell, hidden_size=32, input_size=4, radius=1.0, input_scale=1.0,
                      forget_bias=1.0, seed=0):
    """Weights of an untrained cell whose recurrent matrices have a chosen spectral radius.

    cell: "vanilla", "residual" (vanilla layout), "lstm" or "gru"; hidden_size: H; input_size: D;
    radius: spectral radius of every H x H recurrent block (W_hh, or each gate's block);
    input_scale: the input weights are scaled so that x_t @ Wx has standard deviation about
    input_scale when x_t is standard normal (0 disconnects the input);
    forget_bias: bias of the LSTM forget gate (ignored by the other cells); other biases are 0.
    Returns: dict of float64 numpy arrays in the course layout (module docstring):
    vanilla {Wx (D, H), Wh (H, H), b (H,)}, lstm {Wx (D, 4H), Wh (H, 4H), b (4H,)} with gate
    blocks i, f, o, g; gru {Wx (D, 3H), Wh (H, 3H), bx, bh (3H,)} with blocks r, z, n.
    """
    fname = "make_cell_weights"
    cell = validate.choice_of_cell(fname, cell, FLOW_CELLS)
    H = validate.positive_int(fname, "hidden_size", hidden_size, MAX_SIZE)
    D = validate.positive_int(fname, "input_size", input_size, MAX_SIZE)
    radius = validate.positive_number(fname, "radius", radius)
    input_scale = validate.finite_number(fname, "input_scale", input_scale, low=0)
    forget_bias = validate.finite_number(fname, "forget_bias", forget_bias)
    k = {"vanilla": 1, "residual": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(validate.seed("make_cell_weights", seed))
    Wh = np.concatenate([random_recurrent_matrix(H, radius, seed=int(rng.integers(2 ** 31)))
                         for _ in range(k)], axis=1)
    Wx = rng.normal(size=(D, k * H)) * (input_scale / np.sqrt(D))
    if cell == "gru":
        return {"Wx": Wx, "Wh": Wh, "bx": np.zeros(3 * H), "bh": np.zeros(3 * H)}
    b = np.zeros(k * H)
    if cell == "lstm":
        b[H:2 * H] = forget_bias
    return {"Wx": Wx, "Wh": Wh, "b": b}


def check_cell_weights(fname, cell, weights):
    """ValueError unless weights is the course layout of ``cell``'s weights, finite and non-empty.

    vanilla/residual {Wx (D, H), Wh (H, H), b (H,)}; lstm {Wx (D, 4H), Wh (H, 4H), b (4H,)};
    gru {Wx (D, 3H), Wh (H, 3H), bx (3H,), bh (3H,)}.
    """
    gates = {"lstm": 4, "gru": 3}.get(cell, 1)
    biases = ("bx", "bh") if cell == "gru" else ("b",)
    if not isinstance(weights, dict) or not {"Wx", "Wh", *biases} <= set(weights):
        raise ValueError(f"{fname}: weights must be a dict with Wx, Wh and {' and '.join(biases)} "
                         f"for a {cell} cell (make_cell_weights), got {validate.shown(weights)}")
    dims = {"Wh": f"H {gates}H", "Wx": f"D {gates}H", **{b: f"{gates}H" for b in biases}}
    validate.shapes(fname, ", ".join(f"weights['{k}']: {d}" for k, d in dims.items()), *(weights[k] for k in dims))


def recurrent_block(cell, weights):
    """The H x H recurrent matrix the figures show: W_hh (vanilla), the candidate block
    (LSTM: g, the last block; GRU: n, the last block). Returns a numpy (H, H) array."""
    Wh = np.asarray(weights["Wh"])
    H = Wh.shape[0]
    return Wh[:, -H:]
