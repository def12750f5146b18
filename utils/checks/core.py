"""Helpers shared by every exercise check.

A check calls the student's function on several random cases, compares each result with the
reference implementation in ``utils.layers`` and either prints one stable line starting with
``✓`` or raises an error whose message says what to fix. In a notebook the error is shown as a
single ``✗`` line (see ``_render_traceback_``), not as a traceback through this module.

The per-notebook checks live next to this file: ``utils.checks.rnn_basics`` for 01, and so on.

An unsolved exercise. ``call_student`` turns the student's ``NotImplementedError`` into
``ExerciseNotImplemented``. A check function decorated with ``@exercise_check`` then prints one
line starting with ``…`` and returns, so that a teacher can run a fresh lecture top to bottom
in class. When the notebook is graded (``grading()``: nbgrader's autograder sets
NBGRADER_EXECUTION, the course's self-check sets COURSE_SELFCHECK) the error is raised as
before, so the exercise fails and the self-check reports it as "not implemented".
"""
import contextlib
import functools
import inspect
import io
import os
import sys
import traceback

import numpy as np

from utils.exercises import NoStoredAnswer, checking, in_release, register_solved
from utils.gradcheck import rel_error


class _CourseMessage(Exception):
    """An error that IPython shows as one readable line instead of a traceback."""

    symbol = "✗"

    def _render_traceback_(self):  # IPython calls this instead of formatting a traceback
        return [f"{self.symbol} {line}" if i == 0 else f"  {line}"
                for i, line in enumerate(str(self).splitlines())]


class CheckFailed(_CourseMessage, AssertionError):
    """The student's answer ran but is wrong. The message names the exercise and the fix."""


class ExerciseNotImplemented(_CourseMessage):
    """The exercise cell still raises NotImplementedError."""

    symbol = "…"


# Environment variables under which an unsolved exercise must fail its check instead of printing.
SELFCHECK_VARIABLE = "COURSE_SELFCHECK"  # set by utils.tools.selfcheck while it runs a notebook
GRADING_VARIABLES = ("NBGRADER_EXECUTION", SELFCHECK_VARIABLE)


def grading():
    """True when the notebook runs under a grader (nbgrader or the course's self-check)."""
    return any(os.environ.get(name) for name in GRADING_VARIABLES)


def exercise_check(check=None, *, earlier=()):
    """Decorator for a check function: an unsolved exercise prints one line instead of stopping.

    Outside a grader, ``ExerciseNotImplemented`` becomes the printed line
    ``… <name>: not implemented yet. ...`` and the check returns None; under a grader (see
    ``grading``) it propagates. Wrong answers (CheckFailed) always raise. A check that passes
    registers the student's function (its last argument) with ``utils.exercises``.
    earlier: names of earlier exercises of the notebook that the student's function may call
    (``@exercise_check(earlier=("rnn_step_forward",))``). When the check fails and the
    student's function calls one of them that fails its own check, the message says so: the
    earlier exercise is the likely cause.
    """
    if check is None:
        return functools.partial(exercise_check, earlier=earlier)

    @functools.wraps(check)
    def run(*args, **kwargs):
        name = check.__name__.removeprefix("check_")
        try:
            with checking(name):
                result = check(*args, **kwargs)
        except NoStoredAnswer as exc:
            raise CheckFailed(str(exc)) from None
        except ExerciseNotImplemented as exc:
            if grading():
                raise
            print(f"{exc.symbol} {exc}")
            return None
        except CheckFailed as exc:
            cause = _failing_earlier(name, args[-1] if args else None, earlier, check.__module__)
            if not cause:
                raise
            raise CheckFailed(f"{exc}\n{cause}") from None
        # passed: a student release's utils now runs the student's function in its place
        register_solved(name, args[-1] if args else None)
        return result
    return run


def _failing_earlier(name, student_fn, earlier, module):
    """A sentence naming the first earlier exercise that student_fn calls and that fails its
    own check ('' if none does). The student's functions are found in student_fn's globals
    (the notebook's namespace), the checks in the same checks module as ``name``'s."""
    calls = set(getattr(getattr(student_fn, "__code__", None), "co_names", ()))
    for earlier_name in earlier:
        function = getattr(student_fn, "__globals__", {}).get(earlier_name)
        if earlier_name not in calls or not callable(function):
            continue
        earlier_check = getattr(sys.modules[module], f"check_{earlier_name}")
        try:
            with checking(earlier_name), contextlib.redirect_stdout(io.StringIO()):
                getattr(earlier_check, "__wrapped__", earlier_check)(function)
        except (CheckFailed, ExerciseNotImplemented) as exc:
            first = str(exc).splitlines()[0]
            return (f"Your {earlier_name}, which {name} calls, fails its own check ({first}). "
                    f"Fix {earlier_name} first: this failure is most likely its consequence.")
    return ""


USING_YOURS = "using your {name}"
USING_REFERENCE = "using the course's reference {name} (yours {why})"


def student_or_reference(name, student_fn, reference_fn, check):
    """The student's function if it passes its check, else the course's reference.

    name: the exercise name, for the printed line; check: the exercise's check function.
    Demonstrations use it to run on the student's own code once it is right, and still run
    (on the reference) before. Prints one line saying which one is used.
    Returns: student_fn or reference_fn.
    """
    raw_check = getattr(check, "__wrapped__", check)  # undecorated: raises on an unsolved exercise
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the check's own line is not wanted here
            raw_check(student_fn)
    except (ExerciseNotImplemented, CheckFailed) as exc:
        why = "not implemented yet" if isinstance(exc, ExerciseNotImplemented) else "does not pass its check yet"
        if not in_release():  # a release has no reference: the demo says which exercise it waits for
            print(USING_REFERENCE.format(name=name, why=why))
        return reference_fn
    register_solved(name, student_fn)
    print(USING_YOURS.format(name=name))
    return student_fn


def slip_hint(got, slips):
    """A hint naming the known mistake whose result the student's answer matches, if any.

    got: the student's result, an array or a tuple of arrays; slips: {the idea to revisit: a
    function of no arguments returning what that mistake gives, of the same structure}.
    Returns: "\nYour result is that of a known slip: <idea>." or "" when nothing matches.
    """
    got = got if isinstance(got, (tuple, list)) else (got,)
    for idea, result_of_slip in slips.items():
        wrong = result_of_slip()
        wrong = wrong if isinstance(wrong, (tuple, list)) else (wrong,)
        try:
            if len(got) == len(wrong) and all(np.allclose(as_numpy(g).astype(np.float64), w)
                                              for g, w in zip(got, wrong)):
                return f"\nYour result is that of a known slip: {idea}."
        except (TypeError, ValueError, AttributeError):
            return ""
    return ""


def passed(name, detail):
    """Print the one stable success line of a check, e.g. ``✓ rnn_forward: matches ...``."""
    print(f"✓ {name}: {detail}")


def _where_in_student_code(exc):
    """Line of the student's notebook cell where ``exc`` was raised, if it came from a cell."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if "ipykernel" in frame.filename or frame.filename.startswith("<"):
            return f" (line {frame.lineno} of your cell: `{(frame.line or '').strip()}`)"
    return ""


SHAPE_ERRORS = ("matmul", "shapes cannot be multiplied", "could not be broadcast", "must match the size",
                "not aligned", "size mismatch")


def _argument_shapes(fn, args, kwargs):
    """'x (3, 5), Wx (5, 4), ...': the array arguments of a call, named as fn names them."""
    try:
        named = inspect.signature(fn).bind(*args, **kwargs).arguments.items()
    except (TypeError, ValueError):
        named = [(f"argument {k + 1}", a) for k, a in enumerate(args)] + list(kwargs.items())
    return ", ".join(f"{n} {tuple(a.shape)}" for n, a in named if hasattr(a, "shape"))


def diagnosis(exc, fn, args, kwargs):
    """A line saying what a common exception in student code usually means ('' if none applies)."""
    if isinstance(exc, (ValueError, RuntimeError)) and any(k in str(exc) for k in SHAPE_ERRORS):
        return (f"\nThe shapes do not fit together. Your function was called with "
                f"{_argument_shapes(fn, args, kwargs)}: write the shape of each intermediate as a "
                f"comment and check which weight multiplies which input, and whether it needs .T")
    if isinstance(exc, ZeroDivisionError):
        return "\nA division by zero: a count or a length you divide by is 0 here (an empty loop?)"
    if isinstance(exc, IndexError):
        return ("\nAn index past the end of an axis: check the bounds of your loops (range(T) "
                "gives 0 .. T-1) and which axis each index is for")
    return ""


def call_student(name, fn, *args, **kwargs):
    """Call the student's ``fn(*args, **kwargs)`` and turn its failures into course messages.

    name: the exercise name used in messages.
    Returns: whatever fn returns.
    Raises: ExerciseNotImplemented if fn raises NotImplementedError; CheckFailed for any other
    exception, with its type, message, the line of the student's cell and, for the common
    ones (shapes that do not fit, a division by zero, an index out of range), what they mean.
    """
    if not callable(fn):
        raise CheckFailed(f"{name}: expected your function, got {type(fn).__name__}. "
                          f"Pass the function itself, e.g. check_{name}({name}).")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise ExerciseNotImplemented(
            f"{name}: not implemented yet. Replace `raise NotImplementedError` in its cell "
            f"with your code, run that cell, then run this check again.") from None
    except Exception as exc:  # any bug in student code becomes one readable line
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {exc}"
                          f"{_where_in_student_code(exc)}{diagnosis(exc, fn, args, kwargs)}") from None


def as_numpy(value):
    """A numpy array from a numpy array, torch tensor, list or scalar (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def log_probs_of(p):
    """np.log of probabilities as float64, with log 0 = -inf and no warning: the
    log-probabilities of the checks' hand-made models."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=np.float64))


def close_enough(got, expected, tol=1e-9):
    """Whether a student's result has the shape and (to tol, relative and absolute) the values of
    ``expected``; False for anything that cannot be read as a float array."""
    try:
        got, expected = np.asarray(as_numpy(got), dtype=np.float64), np.asarray(expected, dtype=np.float64)
        return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=tol, atol=tol))
    except (TypeError, ValueError):
        return False


def expect_tuple(name, result, names):
    """Check that a function returned a tuple with the given field names; return it.

    names: e.g. ("next_h", "cache") for a CS231n-style forward.
    """
    wanted = f"({', '.join(names)})"
    if not isinstance(result, (tuple, list)):
        raise CheckFailed(f"{name}: should return a tuple {wanted}, "
                          f"got a single {type(result).__name__}")
    if len(result) != len(names):
        raise CheckFailed(f"{name}: should return {len(names)} values {wanted}, "
                          f"got {len(result)}")
    return tuple(result)


def expect_array(name, got, expected, what="output", rtol=1e-8):
    """Compare the student's array with the reference one; raise CheckFailed if they differ.

    got: the student's value (numpy array, torch tensor or list).
    expected: the reference numpy array.
    what: what the value is, e.g. "next_h" or "dWx", used in messages.
    rtol: allowed maximum relative error (see ``utils.gradcheck.rel_error``).
    Returns: the maximum relative error (float).
    """
    expected = as_numpy(expected)
    if got is None:
        raise CheckFailed(f"{name}: {what} is None. Is a `return` missing?")
    try:
        got = as_numpy(got)
    except Exception:
        raise CheckFailed(f"{name}: {what} should be an array, "
                          f"got {type(got).__name__}") from None
    if got.dtype == object or not np.issubdtype(got.dtype, np.number):
        raise CheckFailed(f"{name}: {what} should be a numeric array, got dtype {got.dtype}")
    if got.shape != expected.shape:
        hint = ""
        if got.ndim == expected.ndim and sorted(got.shape) == sorted(expected.shape):
            hint = " (same sizes in another order: a transpose or a swapped matrix product?)"
        raise CheckFailed(f"{name}: {what} has shape {got.shape}, expected "
                          f"{expected.shape}{hint}")
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(f"{name}: {what} contains NaN or inf, first at index {idx}")
    got64 = got.astype(np.float64)
    exp64 = expected.astype(np.float64)
    err = rel_error(got64, exp64)
    if err > rtol:
        elementwise = np.abs(got64 - exp64) / np.maximum(1e-8, np.abs(got64) + np.abs(exp64))
        idx = tuple(int(i) for i in np.argwhere(elementwise > rtol)[0])
        n_bad = int((elementwise > rtol).sum())
        raise CheckFailed(
            f"{name}: {what} differs from the reference at {n_bad} of {got.size} entries, "
            f"first at index {idx}: expected {exp64[idx]:.6g}, got {got64[idx]:.6g}\n"
            f"max relative error {err:.1e} (allowed {rtol:.0e})")
    return err


def expect_cache(name, got, expected, names, label):
    """Compare the student's cache with the layout the exercise states, entry by entry, by value.

    got: the student's cache; expected: the reference forward's cache (a tuple of arrays);
    names: the entries' names, e.g. ("h_prev", "V", ..., "alpha"); label: the case, for messages.
    A backward pass reads these entries by position, so a wrong or reordered entry is a bug
    even when the forward's outputs are right.
    """
    layout = f"({', '.join(names)})"
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        raise CheckFailed(f"{name}: the cache must be the tuple {layout} the exercise states, got "
                          f"{len(got) if isinstance(got, (tuple, list)) else 'a ' + type(got).__name__}"
                          f"{' values' if isinstance(got, (tuple, list)) else ''}")
    for entry, want, what in zip(got, expected, names):
        try:
            expect_array(name, entry, want, what=f"cache entry {what} ({label})", rtol=1e-8)
        except CheckFailed as exc:
            raise CheckFailed(f"{exc}\nthe outputs are right, but the backward pass will read {what} "
                              f"from the cache {layout}: store exactly that value there") from None


def expect_unchanged(name, before, after, what):
    """Raise CheckFailed if the student's function modified an input array in place."""
    if not np.array_equal(before, as_numpy(after)):
        raise CheckFailed(f"{name}: your function changed its input {what} in place; "
                          f"compute a new array instead (e.g. `a = a + b`, not `a += b`)")
