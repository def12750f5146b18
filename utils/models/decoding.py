"""Turning a trained captioner into captions: greedy and sampled decoding, and the protocol
through which every decoder of the course drives a model (beam search, ``utils.models.beam_search``,
included).

The decoders know nothing about the model. They drive it through one function, called once per
generated token,

    log_probs, new_state = step_fn(prev_tokens, state)

    prev_tokens: (B,) the token each of the B rows feeds in at this step (START at the first).
        A torch LongTensor on the device of the first torch tensor in the state when there is
        one, otherwise an int64 numpy array, so the numpy captioner of notebook 06 and the
        torch captioners of notebooks 06-07 need no conversion.
    state: whatever the model carries from step to step (h; (h, c); h with attention features;
        None for a model without memory), batch on dim 0 of every array in it.
    log_probs: (B, V) log-probabilities of the next token, torch or numpy, each row
        log-normalised (apply log_softmax to the scores).
    new_state: the state after this step, same layout.

Beam search keeps the best continuations of each hypothesis, so it must reorder and duplicate
rows of the state: ``select(state, indices)`` returns the state whose row k is row indices[k]
of the old one (indices: (K,) int64 numpy array). The default, ``select_state``, indexes dim 0
of every numpy array and torch tensor in a (possibly nested) tuple, list, namedtuple or dict
and passes None and python scalars through. For another layout, e.g. the (num_layers, B, H)
hidden state of ``torch.nn.LSTM``, pass your own ``select`` (and ``batch_size``).

Greedy and sampled decoding share one loop, ``decode_loop`` (notebook 06's exercise: START
fed first, each row's chosen word fed back, a row finished at END); ``greedy_decode`` and
``sample_decode`` read the batch size from the state, check what step_fn returns and call it.

Lengths: a decoder calls step_fn at most max_length times, so a caption has at most
max_length tokens, END included. Captions come back as lists of python ints without START and
END; a caption that reached max_length without END is returned as it stands.

Scores: log_prob is the sum of the model's log-probabilities of the generated tokens, END
included when it was generated (beam search ranks by a length-normalised score, see
``utils.models.beam_search``).
"""
import numbers

import numpy as np
import torch

from utils import validate

_LOG_NORM_TOLERANCE = 1e-3  # |logsumexp(row)| allowed; float32 log_softmax is far better


# ------------------------------------------------------------------------------ the state
def _leaves(state):
    """Yield the numpy arrays and torch tensors inside a (nested) tuple/list/dict state."""
    if isinstance(state, (torch.Tensor, np.ndarray)):
        yield state
    elif isinstance(state, (tuple, list)):
        for item in state:
            yield from _leaves(item)
    elif isinstance(state, dict):
        for item in state.values():
            yield from _leaves(item)


def select_state(state, indices):
    """Rows ``indices`` of every array in ``state`` (the default ``select`` of beam search).

    state: None, a numpy array or torch tensor of shape (B, ...), or a tuple / list /
        namedtuple / dict nesting them; python scalars and strings are passed through.
    indices: (K,) integer row numbers in [0, B); repeats allowed.
    Returns: the same structure with arrays of shape (K, ...): row k is old row indices[k].
    """
    indices = validate.int_array("select_state", "indices", indices, ndim=1, low=0)
    if not indices.size:
        raise ValueError("select_state: indices must name at least one row, got none")
    return _select(state, indices)


def _select(state, indices):
    if state is None or isinstance(state, (numbers.Number, str)):
        return state
    if getattr(state, "ndim", 0) and indices.max() >= state.shape[0]:
        raise ValueError(f"select_state: indices must be rows of every array in state, got row "
                         f"{indices.max()} of an array of shape {tuple(state.shape)}")
    if isinstance(state, torch.Tensor):
        if state.ndim == 0:
            return state
        return state.index_select(0, torch.as_tensor(indices, dtype=torch.long,
                                                     device=state.device))
    if isinstance(state, np.ndarray):
        return state if state.ndim == 0 else state[indices]
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # namedtuple
        return type(state)(*(_select(item, indices) for item in state))
    if isinstance(state, (tuple, list)):
        return type(state)(_select(item, indices) for item in state)
    if isinstance(state, dict):
        return {key: _select(item, indices) for key, item in state.items()}
    raise ValueError(f"select_state: state must be None, a numpy array, a torch tensor or a "
                     f"tuple/list/dict of them with the batch on dim 0, got "
                     f"{type(state).__name__}; pass select=your_function for other states")


def _batch_size(fname, state, batch_size):
    """The number of rows B: given, or read from dim 0 of the arrays in the state."""
    if batch_size is not None:
        return validate.positive_int(fname, "batch_size", batch_size)
    sizes = {int(leaf.shape[0]) for leaf in _leaves(state) if leaf.ndim >= 1}
    if len(sizes) != 1:
        got = ("no arrays" if not sizes else
               f"arrays whose dim 0 sizes differ: {sorted(sizes)}")
        raise ValueError(f"{fname}: state must hold arrays with the batch on dim 0 so that the "
                         f"batch size can be read from it, got {got}; pass batch_size= (and "
                         "select= for beam search) for other layouts")
    size = sizes.pop()
    if size < 1:
        raise ValueError(f"{fname}: state must hold at least one row, got batch size 0")
    return size


def _token_maker(state):
    """A function (B,) int64 numpy -> prev_tokens of the kind the model expects: a LongTensor
    on the device of the first torch tensor in the state, else an int64 numpy array."""
    for leaf in _leaves(state):
        if isinstance(leaf, torch.Tensor):
            device = leaf.device
            return lambda tokens: torch.as_tensor(tokens, dtype=torch.long, device=device)
    return lambda tokens: np.array(tokens, dtype=np.int64)


# --------------------------------------------------------------------- checking the model
def _log_probs(fname, log_probs, rows, vocab_size, end_id):
    """step_fn's log_probs as a float64 numpy array (rows, V), checked."""
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().to("cpu", torch.float64).numpy()
    try:
        lp = np.asarray(log_probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{fname}: step_fn must return (log_probs, new_state) with log_probs "
                         f"an array of shape ({rows}, V), got "
                         f"{validate.shown(log_probs)}") from None
    wanted_v = "V" if vocab_size is None else vocab_size
    if lp.ndim != 2 or lp.shape[0] != rows \
            or (vocab_size is not None and lp.shape[1] != vocab_size):
        raise ValueError(f"{fname}: step_fn must return log_probs of shape ({rows}, {wanted_v}) "
                         f"(one row per row of prev_tokens), got shape {lp.shape}; the batch size "
                         "is read from dim 0 of the state unless batch_size= is given")
    if end_id >= lp.shape[1]:
        raise ValueError(f"{fname}: end_id must be a token id below the vocabulary size "
                         f"{lp.shape[1]}, got {end_id}")
    if np.isnan(lp).any() or np.isposinf(lp).any():
        raise ValueError(f"{fname}: step_fn must return finite log_probs (or -inf for impossible "
                         "tokens), got NaN or +inf")
    top = lp.max(axis=1)
    if np.isneginf(top).any():
        raise ValueError(f"{fname}: step_fn must return log_probs with at least one possible "
                         "token per row, got a row of -inf")
    norm = top + np.log(np.exp(lp - top[:, None]).sum(axis=1))  # logsumexp of each row
    if np.abs(norm).max() > _LOG_NORM_TOLERANCE:
        worst = int(np.abs(norm).argmax())
        raise ValueError(f"{fname}: step_fn must return log-probabilities (each row's exp sums "
                         f"to 1; apply log_softmax to the scores), got a row whose exp sums to "
                         f"{np.exp(norm[worst]):.4g}")
    return lp


def _common_args(fname, start_id, end_id, max_length):
    start_id = validate.int_in_range(fname, "start_id", start_id, 0)
    end_id = validate.int_in_range(fname, "end_id", end_id, 0)
    max_length = validate.positive_int(fname, "max_length", max_length)
    return start_id, end_id, max_length


# ------------------------------------------------------------------- greedy and sampling
def _numpy_steps(fname, step_fn, state, end_id):
    """``step_fn`` as decode_loop drives it: (B,) int64 numpy tokens in (converted to what the
    model takes, see _token_maker), (B, V) float64 numpy log-probabilities out, checked."""
    make_tokens = _token_maker(state)
    vocab_size = []  # V, fixed by the first step

    def step(prev_tokens, state):
        prev_tokens = np.asarray(prev_tokens, dtype=np.int64)
        out = step_fn(make_tokens(prev_tokens), state)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ValueError(f"{fname}: step_fn must return a pair (log_probs, new_state), "
                             f"got {validate.shown(out)}")
        lp = _log_probs(fname, out[0], len(prev_tokens), vocab_size[0] if vocab_size else None,
                        end_id)
        vocab_size[:] = [lp.shape[1]]
        return lp, out[1]
    step.checked_by = fname
    return step


def _loop_args(fname, step_fn, state, batch_size, start_id, end_id, max_length, temperature,
               generator):
    """decode_loop's arguments, checked; step_fn wrapped by _numpy_steps unless it already is."""
    if not callable(step_fn):
        raise ValueError(f"{fname}: step_fn must be a function (prev_tokens, state) -> "
                         f"(log_probs, new_state), got {validate.shown(step_fn)}")
    batch_size = validate.positive_int(fname, "batch_size", batch_size)
    start_id, end_id, max_length = _common_args(fname, start_id, end_id, max_length)
    temperature = validate.finite_number(fname, "temperature", temperature, low=0)
    if temperature > 0 and not isinstance(generator, np.random.Generator):
        raise ValueError(f"{fname}: generator must be a numpy Generator "
                         "(np.random.default_rng(seed)) when temperature > 0, got "
                         f"{validate.shown(generator)}")
    if not hasattr(step_fn, "checked_by"):
        step_fn = _numpy_steps(fname, step_fn, state, end_id)
    return step_fn, batch_size, start_id, end_id, max_length, temperature


def decode_loop(step_fn, state, batch_size, start_id, end_id, max_length, temperature=0.0,
                generator=None):
    """The test-time loop, as notebook 06's exercise states it: B captions at once, each row
    feeding back the word it chose, greedy (temperature 0) or sampled.

    step_fn: (prev_tokens (B,) int array, state) -> (log_probs (B, V), new_state); the model,
        see the module docstring. state: the model's state for the B rows (never looked into).
    batch_size: B. start_id: fed to every row at the first step. end_id: closes a caption.
    max_length: step_fn is called at most this many times, so a caption has at most
        max_length tokens, END included.
    temperature: 0 for greedy decoding (the most probable word; the lowest id on a tie), > 0
        to draw each word from softmax(log_probs / temperature) with ``generator``.
    generator: a seeded np.random.Generator, used for every draw (unused when greedy).
    Returns: captions, a list of B lists of int (no START, no END), and log_probs, a list of B
        floats: the sum of the model's own log-probabilities (temperature 1) of each caption's
        tokens, END included when it was chosen.
    ``greedy_decode`` and ``sample_decode`` read B from the state and call this.
    """
    step_fn, batch_size, start_id, end_id, max_length, temperature = _loop_args(
        "decode_loop", step_fn, state, batch_size, start_id, end_id, max_length, temperature,
        generator)
    # BEGIN REFERENCE decode_loop
    captions = [[] for _ in range(batch_size)]
    totals = np.zeros(batch_size)                 # log-probability of each caption so far
    finished = np.zeros(batch_size, dtype=bool)   # rows that have chosen END
    prev = np.full(batch_size, start_id)          # every row starts from START
    for _ in range(max_length):                   # at most max_length tokens, END included
        log_probs, state = step_fn(prev, state)   # (B, V); the new state is the next step's
        if temperature == 0:
            words = log_probs.argmax(axis=1)      # the first maximum: the lowest id on a tie
        else:                                     # softmax(log_probs / T), shifted: no underflow
            p = np.exp((log_probs - log_probs.max(axis=1, keepdims=True)) / temperature)
            p = p / p.sum(axis=1, keepdims=True)
            words = np.array([generator.choice(len(row), p=row) for row in p])
        for i in np.flatnonzero(~finished):       # a finished row's later words are ignored
            totals[i] += log_probs[i, words[i]]
            if words[i] == end_id:
                finished[i] = True
            else:
                captions[i].append(int(words[i]))
        if finished.all():
            break
        prev = words                              # each row's word is its next input
    return captions, [float(total) for total in totals]
    # END REFERENCE


def greedy_decode(step_fn, state, start_id, end_id, max_length, batch_size=None):
    """Greedy decoding: at every step take the most probable token (the lowest id on a tie).

    step_fn: (prev_tokens (B,), state) -> (log_probs (B, V), new_state); see the module docstring.
    state: the model's initial state for B rows (e.g. h0 from the image features).
    start_id, end_id: token ids of START (fed first) and END (closes a caption).
    max_length: at most this many tokens per caption, END included.
    batch_size: B, only needed when it cannot be read from dim 0 of the state.
    Returns: captions, a list of B lists of int (no START/END), and log_probs, a list of B
        floats (summed log-probability of each caption's tokens, END included if generated).
    """
    fname = "greedy_decode"
    start_id, end_id, max_length = _common_args(fname, start_id, end_id, max_length)
    B = _batch_size(fname, state, batch_size)
    return decode_loop(_numpy_steps(fname, step_fn, state, end_id), state, B, start_id, end_id,
                       max_length)


def _numpy_generator(fname, generator):
    """A numpy Generator: ``generator`` itself, or one seeded from a torch.Generator's next draw
    (the same torch seed gives the same captions)."""
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, torch.Generator):
        seed = torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device)
        return np.random.default_rng(int(seed))
    raise ValueError(f"{fname}: generator must be a numpy Generator "
                     "(np.random.default_rng(seed)) or a torch.Generator, got "
                     f"{validate.shown(generator)}")


def sample_decode(step_fn, state, start_id, end_id, max_length, temperature=1.0, generator=None,
                  batch_size=None):
    """Sampled decoding: draw each token from softmax(log_probs / temperature).

    step_fn, state, start_id, end_id, max_length, batch_size: as for greedy_decode.
    temperature: finite, > 0. Below 1 sharpens the distribution (towards greedy), above 1
        flattens it (more varied, more mistakes); 1 samples from the model itself.
    generator: a numpy ``np.random.Generator`` or a ``torch.Generator``, seeded by the caller
        for reproducible captions (required: sampling without one is not reproducible); a
        torch.Generator gives one draw, the seed of the numpy Generator that decode_loop uses.
    Returns: captions (list of B lists of int, no START/END) and log_probs (list of B floats):
        the summed log-probabilities under the model itself (temperature 1) of the sampled
        tokens.
    """
    fname = "sample_decode"
    start_id, end_id, max_length = _common_args(fname, start_id, end_id, max_length)
    temperature = validate.temperature(fname, temperature)
    generator = _numpy_generator(fname, generator)
    B = _batch_size(fname, state, batch_size)
    return decode_loop(_numpy_steps(fname, step_fn, state, end_id), state, B, start_id, end_id,
                       max_length, temperature=temperature, generator=generator)
