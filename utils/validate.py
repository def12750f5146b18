"""Argument checks with one message style, used by every public function of utils.

Each check returns the value it accepted (converted: an int, a float, a float64 array; ``shapes``,
the one shape check, returns the sizes it read) or raises a ValueError that reads
``<function>: <argument> must be <what was expected>, got <what came>``,
so a student sees which call and which argument to fix, never a traceback from deep inside numpy
or torch. This module imports only numpy, so every other module of utils may use it.
"""
import functools
import math
import numbers
import re

import numpy as np


def shown(value):
    """A short description of a value for an error message (arrays show shape, not contents)."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def positive_int(fname, name, value, maximum=None):
    """``value`` as an int, or ValueError unless it is an integer in [1, maximum]."""
    return int_in_range(fname, name, value, 1, maximum)


def int_in_range(fname, name, value, low, high=None):
    """``value`` as an int, or ValueError unless it is an integer with low <= value <= high.

    high: None for no upper limit. Booleans are refused (True is not a length).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < low or (high is not None and value > high):
        wanted = (f"an integer between {low} and {high}" if high is not None
                  else "a positive integer" if low == 1 else f"an integer >= {low}")
        raise ValueError(f"{fname}: {name} must be {wanted}, got {shown(value)}")
    return int(value)


def finite_number(fname, name, value, low=None, high=None, low_open=False):
    """``value`` as a float, or ValueError unless it is a finite real number in the range.

    low, high: optional bounds (inclusive); low_open=True makes the lower bound strict (> low).
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        parts = ["a finite number"]
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            parts.append(f"<= {high}")
        raise ValueError(f"{fname}: {name} must be {' '.join(parts)}, got {shown(value)}")
    return float(value)


def positive_number(fname, name, value):
    """``value`` as a float, or ValueError unless it is finite and > 0."""
    return finite_number(fname, name, value, low=0, low_open=True)


def temperature(fname, value):
    """A sampling temperature as a float: finite and > 0 (greedy decoding is 'temperature 0')."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) \
        and math.isfinite(value) and value > 0
    if not ok:
        raise ValueError(f"{fname}: temperature must be a finite number > 0, got {shown(value)} "
                         "(for 'temperature 0' use greedy/argmax decoding)")
    return float(value)


def one_of(fname, name, value, choices):
    """``value`` unchanged, or ValueError unless it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{fname}: {name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {shown(value)}")
    return value


def non_empty_str(fname, name, value):
    """``value`` unchanged, or ValueError unless it is a non-empty str."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{fname}: {name} must be a non-empty string, got {shown(value)}")
    return value


def float_array(fname, name, value, finite=True):
    """``value`` (numpy, torch or nested lists) as a float64 numpy array of numbers, any shape.

    finite: refuse NaN and inf. Shapes are checked by ``shapes``.
    """
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        raw = np.asarray(value)  # "1.5" would convert to 1.5: refuse text before converting
        array = raw.astype(np.float64, copy=False) if raw.dtype.kind in "biuf" else None
    except (TypeError, ValueError):
        array = None
    if array is None:
        raise ValueError(f"{fname}: {name} must be an array of numbers, got {shown(value)}")
    if finite and array.size and not np.all(np.isfinite(array)):
        raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
    return array


def probability_vector(fname, name, value):
    """``value`` as a 1-D float64 array of non-negative numbers summing to 1, checked."""
    probs = float_array(fname, name, value)
    if probs.ndim != 1 or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"{fname}: {name} must be a 1-D probability vector summing to 1")
    return probs


def score_array(fname, scores):
    """scores (..., V) as a float64 array, checked: V >= 1, each score finite or -inf (a masked
    choice, probability 0), a finite score in every row; NaN and +inf are refused."""
    scores = float_array(fname, "scores", scores, finite=False)
    shapes(fname, "scores: ... V", scores, finite=False)
    if np.isnan(scores).any() or (scores == np.inf).any() or not np.isfinite(scores.max(axis=-1)).all():
        raise ValueError(f"{fname}: scores must be finite numbers or -inf (masked), with a finite "
                         "score in every row; got NaN, +inf or a row masked entirely")
    return scores


def int_array(fname, name, value, ndim=None, low=None, high=None):
    """``value`` as an int64 numpy array of whole numbers in [low, high), checked."""
    array = np.asarray(value)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{fname}: {name} must hold integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{fname}: {name} must be {ndim}-D, got shape {array.shape}")
    if array.size and ((low is not None and array.min() < low) or (high is not None and array.max() >= high)):
        raise ValueError(f"{fname}: {name} must lie in [{low}, {high}), got values from "
                         f"{array.min()} to {array.max()}")
    return array


def shapes(fname, spec, *arrays, finite=True, kind=None, **sizes):
    """Check the shapes of a function's array arguments in one line; return the sizes they name.

    The spec reads like the shapes of a docstring, so the line at the top of a function both
    checks its inputs and says what they are:

        N, D, H = validate.shapes("rnn_step_forward", "x: N D, prev_h: N H, Wx: D H, Wh: H H, b: H",
                                  x, prev_h, Wx, Wh, b)

    spec: one entry per array, in the order of ``arrays``, separated by commas; an entry is the
        argument's name, a colon and one size per axis, separated by spaces. A size is a name
        (N, H...: the same name is the same size in every entry, and at least 1), a number (3),
        or a number times a name (4H). ``...`` stands for any number of leading axes of any
        sizes, the same axes in every entry that has it.
    arrays: numpy arrays, torch tensors or nested lists of numbers, neither converted nor
        copied; None (an optional argument left out) is skipped.
    finite: refuse NaN and inf. kind: None (numpy or torch), "numpy" or "torch".
    sizes: sizes the caller knows already, by name, e.g. ``T=len(cache)``.
    Returns: a tuple of the named sizes in the order the spec first names them (None for a name
        that only a skipped array has).
    Raises: ValueError naming the function and the argument, e.g.
        ``rnn_step_forward: Wh must have shape (H, H) = (4, 4), got (4, 5)``;
        WrongType (a ValueError too) for something that is not an array of numbers.
    """
    entries, names = _parse_spec(spec)
    if len(entries) != len(arrays):
        raise TypeError(f"shapes: the spec of {fname} names {len(entries)} arrays, {len(arrays)} given")
    bound = dict(sizes)
    for (name, axes), value in zip(entries, arrays):
        if value is not None:
            got = _numbers_shape(fname, name, value, finite, kind)
            _match(fname, name, axes, got, bound)
    return tuple(bound.get(n) for n in names)


@functools.lru_cache(maxsize=None)
def _parse_spec(spec):
    """"x: N D, b: 4H" -> ((("x", ((1, "N"), (1, "D"))), ("b", ((4, "H"),))), ("N", "D", "H"))."""
    entries, names = [], []
    for entry in spec.split(","):
        name, colon, dims = entry.partition(":")
        matches = [re.fullmatch(r"(\d*)([A-Za-z_]\w*)?|\.\.\.", token) for token in dims.split()]
        if not colon or not name.strip() or not all(matches):
            raise TypeError(f"shapes: cannot read {entry.strip()!r} in the spec {spec!r}")
        axes = []
        for match in matches:
            if match[0] == "...":
                axes.append((1, "..."))
            elif match[2] is None:  # a number
                axes.append((int(match[1]), None))
            else:
                axes.append((int(match[1] or 1), match[2]))
                names += [] if match[2] in names else [match[2]]
        entries.append((name.strip(), tuple(axes)))
    return tuple(entries), tuple(names)


def _numbers_shape(fname, name, value, finite, kind):
    """The shape of a numpy array, torch tensor or nested list of numbers, after its checks."""
    if hasattr(value, "detach") and hasattr(value, "is_floating_point"):  # a torch tensor
        if kind == "numpy" or value.is_complex():
            raise WrongType(f"{fname}: {name} must be a numpy array of numbers, got a torch tensor "
                            f"of dtype {value.dtype}")
        if finite and value.is_floating_point() and value.numel() and not bool(value.isfinite().all()):
            raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
        return tuple(value.shape)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = None
    if kind == "torch" or array is None or array.dtype.kind not in "biuf":
        wanted = "a torch tensor" if kind == "torch" else "an array of numbers"
        got = f"{type(value).__name__}" + (f" of dtype {array.dtype}" if array is not None else "")
        raise WrongType(f"{fname}: {name} must be {wanted}, got {got}")
    if finite and array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
    return array.shape


def _match(fname, name, axes, got, bound):
    """Bind the names of ``axes`` still unknown from the shape ``got``; ValueError on a mismatch."""
    rest = len(got) - len(axes) + 1  # how many axes "..." stands for
    rank_ok = rest >= 0 if any(sym == "..." for _, sym in axes) else len(got) == len(axes)
    fits, wanted, zero, i = rank_ok, [], [], 0
    for k, sym in axes:
        width = rest if sym == "..." else 1
        size = (got[i:i + width] if sym == "..." else got[i]) if rank_ok else None
        i += width
        if sym is None:  # a number
            want = k
        elif sym in bound:
            want = bound[sym] if sym == "..." else k * bound[sym]
        elif size is None or (sym != "..." and size % k):  # wrong rank, or not a multiple of k
            want = None
        elif sym == "...":
            want = bound[sym] = size
        elif size == 0:
            want = None
            zero.append(sym)
        else:
            bound[sym], want = size // k, size
        wanted.append(want)
        fits = fits and want == size
    if fits:
        return
    text = _tuple_text("..." if s == "..." else str(k) if s is None else f"{k if k > 1 else ''}{s}"
                       for k, s in axes)
    values, known = [], False
    for (k, sym), want in zip(axes, wanted):
        known = known or (sym is not None and want is not None)
        values += (["..."] if want is None else list(want)) if sym == "..." else ["?" if want is None else want]
    limit = f" with {', '.join(zero)} >= 1" if zero else ""
    equals = f" = {_tuple_text(values)}" if known and not zero else ""
    raise ValueError(f"{fname}: {name} must have shape {text}{limit}{equals}, got {tuple(got)}")


def _tuple_text(parts):
    """(N, D) for ["N", "D"], (H,) for ["H"], as Python writes a tuple; (...) for ["..."]."""
    parts = [str(p) for p in parts]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 and parts != ["..."] else "") + ")"


def finite_numbers(fname, name, array):
    """ValueError unless ``array`` (numpy, torch or nested lists) holds only finite numbers."""
    if hasattr(array, "isfinite") and hasattr(array, "is_floating_point"):  # a torch tensor
        if array.is_floating_point() and array.numel() and not bool(array.isfinite().all()):
            raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")
        return
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{fname}: {name} must hold numbers, got dtype {values.dtype}")
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        raise ValueError(f"{fname}: {name} must contain only finite numbers, got NaN or inf")


def seed(fname, value, name="seed"):
    """A random seed as an int: a whole number in [0, 2**32 - 1], what numpy and torch accept."""
    return int_in_range(fname, name, value, 0, 2 ** 32 - 1)


class WrongType(TypeError, ValueError):
    """A value of the wrong kind (a str where numbers belong...): both a TypeError and a ValueError."""


def choice_of_cell(fname, cell, cells=("vanilla", "lstm", "gru")):
    """The recurrent cell name, one of the course's names ('vanilla', 'lstm', 'gru')."""
    return one_of(fname, "cell", cell, cells)
