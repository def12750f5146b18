"""What stands in for a reference that a student release leaves out.

In the full course every exercise's reference lives in utils (``# BEGIN REFERENCE name``) and
nothing here is used. A student release for notebook NN (``utils.tools.release``) replaces the
body of each utils function that holds a reference of notebooks NN..08 by one call,

    return stand_in("lstm_forward", "05", 3, locals())

which answers in this order:
1. the stored result, when the call is one the exercise's check makes: the release ships the
   input/expected-output pairs of every check call (``utils/fixtures/<name>.npz``, computed from
   the reference when the release was built), looked up by a digest of the arguments;
2. the student's own function, once its check has passed in this kernel (the check registers
   it: ``register_solved``), so demonstrations and later code run on the student's work;
3. otherwise ``ExerciseNotSolved``, whose one-line message names the notebook and exercise.
Arrays travel as .npz and structure as JSON: nothing is pickled.
"""
import contextlib
import hashlib
import inspect
import json
from pathlib import Path

import numpy as np
import torch

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
_SOLVED = {}     # exercise name -> the student's function, after its check passed
_FIXTURES = {}   # exercise name -> {digest: (result tree, arrays, module states)}


class ExerciseNotSolved(RuntimeError):
    """A demonstration needs an exercise that this release leaves to the student."""

    def __init__(self, message, exercise=None):
        super().__init__(message)
        self.exercise = exercise

    def _render_traceback_(self):  # IPython shows one line instead of a traceback
        return [f"… {self}"]


class NoStoredAnswer(ExerciseNotSolved):
    """A check asked for the reference's answer on inputs the release did not store: this
    happens only on a check's failure path, whose hint depends on the student's wrong result."""


_CHECKING = []   # the exercise whose check is running (pushed by utils.checks.core)


def register_solved(name, function):
    """Remember the student's function for ``name`` once its check passed (called by the checks)."""
    _SOLVED[name] = function


@contextlib.contextmanager
def checking(name):
    """Inside the check of exercise ``name`` (a missing stored answer is then the check's failure)."""
    _CHECKING.append(name)
    try:
        yield
    finally:
        _CHECKING.pop()


def solved(name):
    """The student's function for ``name`` if its check passed in this kernel, else None."""
    return _SOLVED.get(name)


def stand_in(name, notebook, number, arguments, solvable=True):
    """The result of exercise ``name`` (notebook ``notebook``, exercise ``number``) on
    ``arguments`` ({parameter: value}, the released function's ``locals()``), see the module
    docstring. solvable=False: a helper left out with the exercise (only stored results).
    Raises ExerciseNotSolved when neither a stored result nor a solved function exists."""
    stored = _fixtures(name).get(digest(arguments))
    if stored is not None:
        tree, arrays, states = stored
        for key, state in states.items():  # a training step's effect on its model, as recorded
            arguments[key].load_state_dict(state)
        return unpack(tree, arrays)
    function = _SOLVED.get(name) if solvable else None
    if _CHECKING:
        raise NoStoredAnswer(f"{_CHECKING[-1]}: your result differs from the reference's on the "
                             "check's cases; this release stores only the reference's answers, not "
                             "every hint, so it cannot name the mistake: compare with the equations")
    if function is None and not solvable:
        raise ExerciseNotSolved(f"{name} belongs to the reference of exercise {number} of notebook "
                                f"{notebook}, which this release leaves out", exercise=name)
    if function is None:
        raise ExerciseNotSolved(f"{name} is exercise {number} of notebook {notebook}: solve exercise "
                                f"{number} of notebook {notebook} (its check must pass) to run this",
                                exercise=name)
    accepted = inspect.signature(function).parameters
    return function(**{key: value for key, value in arguments.items() if key in accepted})


def in_release():
    """True in a student release (it ships the checks' stored answers), False in the full course."""
    return FIXTURES_DIR.is_dir()


# errors that a cell raises when an earlier cell was skipped (a name it did not define...)
_FOLLOW_ON = (NameError, KeyError, AttributeError, TypeError, IndexError)
_SKIPPED = set()   # exercises whose absence made a cell skip in this kernel


def _skip_cell(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for ExerciseNotSolved and the follow-on errors of a skipped cell."""
    waiting = {name for name in _SKIPPED if name not in _SOLVED}
    if isinstance(value, ExerciseNotSolved) and not isinstance(value, NoStoredAnswer):
        _SKIPPED.add(value.exercise)
        print(f"… skipped: {value}")
    elif isinstance(value, _FOLLOW_ON) and waiting:
        print(f"… skipped: this cell uses what a skipped cell above makes (waiting for "
              f"{', '.join(sorted(waiting))}; {type(value).__name__}: {value})")
    else:  # a real error: the usual traceback, and Run All stops
        shell._showtraceback(etype, value, shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset))
        return
    shell.course_cell_skipped = True


def install_skipping(shell):
    """In a student release, a cell that needs an unsolved exercise prints one line ("… skipped:
    ...") and Run All goes on, and so does a later cell that fails for want of what it would have
    made, while that exercise is unsolved. Any other error stops Run All as usual."""
    def after_cell(result):
        if getattr(shell, "course_cell_skipped", False):
            result.error_in_exec = None  # a skipped cell is not an error: Run All goes on
            shell.course_cell_skipped = False

    shell.set_custom_exc((ExerciseNotSolved,) + _FOLLOW_ON, _skip_cell)
    shell.events.register("post_run_cell", after_cell)


def _fixtures(name):
    if name not in _FIXTURES:
        _FIXTURES[name] = read_fixtures(FIXTURES_DIR / f"{name}.npz")
    return _FIXTURES[name]


# --- digests and plain-data packing (shared with the release builder, which records) ---------

def _feed(h, value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        h.update(f"a{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (bool, int, float, str, type(None), np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}[".encode())
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(f"d{len(value)}{{".encode())
        for key in sorted(value, key=str):
            _feed(h, str(key))
            _feed(h, value[key])
        h.update(b"}")
    elif isinstance(value, torch.nn.Module):
        h.update(type(value).__name__.encode())
        _feed(h, dict(value.state_dict()))
    elif isinstance(value, torch.optim.Optimizer):
        h.update(type(value).__name__.encode())
        _feed(h, [{k: v for k, v in group.items() if k != "params"} for group in value.param_groups])
    elif callable(value) and hasattr(value, "__code__"):
        h.update(value.__code__.co_code)
        _feed(h, [cell.cell_contents for cell in (value.__closure__ or ())])
    else:
        h.update(type(value).__name__.encode())


def digest(arguments):
    """A digest of a call's arguments (arrays by value, models by weights, functions by code and
    closure): equal for equal calls, so that a check's call finds its stored result."""
    h = hashlib.sha256()
    _feed(h, arguments)
    return h.hexdigest()[:32]


def pack(value, arrays):
    """A JSON-able tree for ``value``; its arrays are appended to ``arrays`` (referenced by index)."""
    if isinstance(value, torch.Tensor):
        arrays.append(value.detach().cpu().numpy())
        return {"tensor": len(arrays) - 1}
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, np.generic):
        return {"scalar": value.item(), "dtype": value.dtype.str}
    if isinstance(value, (bool, int, float, str, type(None))):
        return {"value": value}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [pack(item, arrays) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[key, pack(item, arrays)] for key, item in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} as a fixture")


def unpack(tree, arrays):
    """The value ``pack`` made ``tree`` from."""
    kind, content = next(iter(tree.items()))
    if kind == "tensor":
        return torch.from_numpy(arrays[content].copy())
    if kind == "array":
        return arrays[content].copy()
    if kind == "scalar":
        return np.array(content, dtype=tree["dtype"])[()]
    if kind == "value":
        return content
    if kind in ("list", "tuple"):
        items = [unpack(item, arrays) for item in content]
        return items if kind == "list" else tuple(items)
    return {key: unpack(item, arrays) for key, item in content}


def read_fixtures(path):
    """{digest: (tree, arrays, module states)} from a fixtures file, or {} when there is none."""
    if not Path(path).exists():
        return {}
    with np.load(path, allow_pickle=False) as data:
        index = json.loads(str(data["index"]))
        arrays = [data[f"a{i}"] for i in range(index["arrays"])]
    return {key: (tree, arrays, {k: {n: torch.from_numpy(arrays[i].copy()) for n, i in s.items()}
                                 for k, s in states.items()})
            for key, (tree, states) in index["calls"].items()}


def write_fixtures(path, calls):
    """Write {digest: (result, {argument name: module state_dict})} to ``path`` (.npz, no pickle)."""
    arrays, index = [], {}
    for key, (result, states) in calls.items():
        tree = pack(result, arrays)
        packed_states = {}
        for arg, state in states.items():
            packed_states[arg] = {}
            for pname, tensor in state.items():
                arrays.append(tensor.detach().cpu().numpy())
                packed_states[arg][pname] = len(arrays) - 1
        index[key] = [tree, packed_states]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, index=np.array(json.dumps({"arrays": len(arrays), "calls": index})),
                        **{f"a{i}": a for i, a in enumerate(arrays)})
