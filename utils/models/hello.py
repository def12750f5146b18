"""The numpy model of the 'hello' example: a vanilla RNN (reference layers) and an output layer.

    init_hello_params, hello_scores   the model and its scores on a whole input sequence
    hello_generate                    generation step by step: scores, probabilities, a sample fed back
"""
import numpy as np

from utils import validate
from utils.data.hello import HELLO_VOCAB
from utils.layers import output_projection, rnn_forward, rnn_step_forward, sample_index, temperature_probs


def check_hello_params(fname, params):
    """ValueError unless params holds Wx (4, H), Wh (H, H), b (H,), Wy (H, 4), by (4,), finite."""
    if not isinstance(params, dict) or not {"Wx", "Wh", "b", "Wy", "by"} <= set(params):
        raise ValueError(f"{fname}: params must be a dict with Wx, Wh, b, Wy, by "
                         f"(init_hello_params), got {validate.shown(params)}")
    validate.shapes(fname, "params['Wx']: V H, params['Wh']: H H, params['b']: H, params['Wy']: H V, "
                    "params['by']: V", *(params[k] for k in ("Wx", "Wh", "b", "Wy", "by")), V=len(HELLO_VOCAB))


def init_hello_params(hidden_size=3, seed=0):
    """Small random weights: Wx (4, H), Wh (H, H), b (H,), Wy (H, 4), by (4,)."""
    H = validate.positive_int("init_hello_params", "hidden_size", hidden_size)
    rng = np.random.default_rng(validate.seed("init_hello_params", seed))
    V = len(HELLO_VOCAB)
    return {"Wx": rng.normal(scale=0.5, size=(V, H)), "Wh": rng.normal(scale=0.5, size=(H, H)),
            "b": np.zeros(H), "Wy": rng.normal(scale=0.5, size=(H, V)), "by": np.zeros(V)}


def hello_scores(params, x):
    """Scores (1, T, 4) of the model on one-hot inputs x (1, T, 4)."""
    check_hello_params("hello_scores", params)
    validate.shapes("hello_scores", "x: N T V", x, V=len(HELLO_VOCAB))
    h, _ = rnn_forward(x, None, params["Wx"], params["Wh"], params["b"])
    return output_projection(h, params["Wy"], params["by"])


def hello_generate(params, first="h", steps=4, temperature=1.0, rng=None,
                   probs_fn=temperature_probs, sample_fn=sample_index):
    """Generate letters from the hello model one step at a time, feeding each sample back in.

    first: the given first letter; steps: how many letters to generate; temperature: > 0;
    rng: a numpy Generator (default: seeded with 0); probs_fn(scores (4,), temperature) -> (4,)
    and sample_fn(probs (4,), rng) -> int: the functions that turn scores into a letter (the
    course's references by default, a student's own in notebook 02).
    Returns: a list with one dict per step: input (letter), x (4,) one-hot, h (H,) the new
    hidden state, scores (4,), probs (4,), argmax (letter), sampled (letter).
    """
    check_hello_params("hello_generate", params)
    steps = validate.positive_int("hello_generate", "steps", steps)
    validate.temperature("hello_generate", temperature)
    if first not in HELLO_VOCAB:
        raise ValueError(f"hello_generate: first must be one of {HELLO_VOCAB}, got {first!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    H = params["Wh"].shape[0]
    h, letter, records = np.zeros((1, H)), first, []
    for _ in range(steps):
        x = np.eye(len(HELLO_VOCAB))[[HELLO_VOCAB.index(letter)]]  # (1, 4) one-hot
        h, _ = rnn_step_forward(x, h, params["Wx"], params["Wh"], params["b"])  # (1, H)
        scores = h[0] @ params["Wy"] + params["by"]  # (4,)
        probs = np.asarray(probs_fn(scores, temperature), dtype=np.float64)
        sampled = HELLO_VOCAB[int(sample_fn(probs, rng))]
        records.append({"input": letter, "x": x[0], "h": h[0].copy(), "scores": scores, "probs": probs,
                        "argmax": HELLO_VOCAB[int(np.argmax(scores))], "sampled": sampled})
        letter = sampled  # fed back in as the next input
    return records
