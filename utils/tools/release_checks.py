"""The checks of a student release: their answers recorded from the references, and the cases
that prove they still judge right.

A release keeps every check but not the references of notebooks NN..08 that the checks call.
``record_fixtures`` runs each exercise's check on its reference, and on its planted mistakes
(``utils.tools.planted_catalogue``), and stores every call the check makes to a withheld
reference with its result (``utils/fixtures/``, read by ``utils.exercises.stand_in``).
``check_cases`` and ``verify`` run each exercise's check on its solution and on each planted
mistake with the utils of a release, in a fresh process, so a test can compare the verdicts
with the full course's.
"""
import ast
import contextlib
import functools
import importlib
import inspect
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from utils import exercises as exercise_module
from utils.tools.notebooks import REPO_ROOT
from utils.tools.planted_catalogue import CATALOGUE
from utils.tools.references import UTILS_DIR, also_references, exercises, references
from utils.tools.release_withheld import ReleaseError, _enclosing_function, withheld

# a check that takes the student's earlier function too: check_lstm_backward(lstm_forward, lstm_backward)
EARLIER_ARGUMENT = {"lstm_backward": "lstm_forward", "lstm_step_backward": "lstm_step_forward"}


def exercise_checks():
    """{exercise name: its check function}, every ``check_<name>`` defined in utils/checks."""
    found = {}
    for path in sorted((UTILS_DIR / "checks").glob("*.py")):
        module = importlib.import_module(f"utils.checks.{path.stem}")
        found.update({name.removeprefix("check_"): fn for name, fn in vars(module).items()
                      if name.startswith("check_") and callable(fn) and fn.__module__ == module.__name__})
    return found


def check_module_notebooks():
    """{check module name: the notebooks whose exercises it checks}, from the exercise markers."""
    owner, found = {e.name: e.notebook for e in exercises()}, {}
    for name, check in exercise_checks().items():
        if name in owner:
            found.setdefault(check.__module__.rsplit(".", 1)[-1], set()).add(owner[name])
    return found


def reference_functions(refs=None):
    """{exercise name: the utils function object that holds its reference}."""
    refs = references() if refs is None else refs
    found = {}
    for name, ref in refs.items():
        module = importlib.import_module(".".join(ref.path.relative_to(REPO_ROOT).with_suffix("").parts))
        function = _enclosing_function(ast.parse(ref.path.read_text(encoding="utf-8")), ref.begin + 1)
        found[name] = getattr(module, function.name)
    return found


_depth = [0]


@contextlib.contextmanager
def _inside():
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1


def _as_student(fn):
    """The reference, called as the student's function: what it calls is not recorded."""
    @functools.wraps(fn)
    def student(*args, **kwargs):
        with _inside():
            return fn(*args, **kwargs)
    return student


@contextlib.contextmanager
def _recording(functions, calls):
    """Replace every reference function in every loaded utils module by a recorder of its calls."""
    originals = {id(fn): name for name, fn in functions.items()}
    patched = []

    def recorder(name, fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def record(*args, **kwargs):
            if _depth[0]:  # a call from inside a reference or the checked function: not the check's
                return fn(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            key = exercise_module.digest(arguments)  # before the call: training changes a model
            with _inside():
                result = fn(*args, **kwargs)
            states = {k: {p: t.detach().clone() for p, t in v.state_dict().items()}
                      for k, v in arguments.items() if isinstance(v, torch.nn.Module)}
            calls.setdefault(name, {})[key] = (result, states)
            return result
        return record

    wrappers = {name: recorder(name, fn) for name, fn in functions.items()}
    for module in [m for n, m in list(sys.modules.items()) if n == "utils" or n.startswith("utils.")]:
        for attribute, value in list(vars(module).items()):
            if callable(value) and id(value) in originals:
                setattr(module, attribute, wrappers[originals[id(value)]])
                patched.append((module, attribute, value))
    try:
        yield
    finally:
        for module, attribute, value in patched:
            setattr(module, attribute, value)


def mistaken(function, ref, mistake):
    """``function`` (a utils function holding the reference ``ref``) with the planted mistake's
    edit applied to its reference lines, compiled in the function's own module."""
    name, source = _function_source(ref, mistake)
    namespace = dict(vars(sys.modules[function.__module__]))
    exec(compile(source, f"<{ref.name}: {mistake.kind}>", "exec"), namespace)
    return namespace[name]


def record_fixtures(names, out_dir, withheld_names=None):
    """Run the check of every exercise in ``names`` on its reference (and on its planted
    mistakes) and store, for every call the checks make to a reference of ``withheld_names``
    (default: ``names``), the arguments' digest and the result, one file per exercise.
    Returns: {exercise name: number of calls stored}."""
    functions = reference_functions()
    withheld_names = names if withheld_names is None else withheld_names
    recorded = {name: functions[name] for name in withheld_names}
    for exercise, path, line in also_references():
        if exercise in withheld_names:
            helper = _enclosing_function(ast.parse(path.read_text(encoding="utf-8")), line + 1).name
            module = importlib.import_module(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts))
            recorded[helper] = getattr(module, helper)
    calls, checks, refs = {}, exercise_checks(), references()
    with _recording(recorded, calls), contextlib.redirect_stdout(io.StringIO()):
        for name in names:
            if name not in checks:
                raise ReleaseError(f"release: exercise {name} has no check_{name} in utils/checks")
            arguments = [_as_student(functions[EARLIER_ARGUMENT[name]])] if name in EARLIER_ARGUMENT else []
            checks[name](*arguments, _as_student(functions[name]))
            # the planted mistakes of this exercise: the hints of a failing check call
            # references on other inputs, which the release must answer too
            for mistake in CATALOGUE:
                if mistake.exercise == name:
                    wrong = _as_student(mistaken(functions[name], refs[name], mistake))
                    with contextlib.suppress(Exception):
                        checks[name](*arguments, wrong)
    exercise_module._SOLVED.clear()  # the checks registered the references as "solved"
    out_dir = Path(out_dir)
    for name in calls:
        exercise_module.write_fixtures(out_dir / f"{name}.npz", calls[name])
    return {name: len(found) for name, found in calls.items()}


def _function_source(ref, mistake=None):
    """The source of the utils function holding ``ref``, its reference lines edited by ``mistake``."""
    source_lines = ref.path.read_text(encoding="utf-8").splitlines()
    node = _enclosing_function(ast.parse("\n".join(source_lines)), ref.begin + 1)
    indent = source_lines[ref.begin][: len(source_lines[ref.begin]) - len(source_lines[ref.begin].lstrip())]
    body = "\n".join("    " + line if line.strip() else "" for line in ref.body)  # as in the notebook
    if mistake is not None:
        if body.count(mistake.old) != 1:
            raise ReleaseError(f"release: the planted mistake {mistake.kind!r} does not apply to {ref.name}")
        body = body.replace(mistake.old, mistake.new)
    edited = [indent + line[4:] if line.strip() else "" for line in body.splitlines()]
    lines = source_lines[node.lineno - 1:ref.begin] + edited + source_lines[ref.end + 1:node.end_lineno]
    width = len(lines[0]) - len(lines[0].lstrip())
    return node.name, "\n".join(line[width:] for line in lines) + "\n"


_VERIFY = r"""
import contextlib, importlib, io, json, sys
import utils.exercises
cases, verdicts = json.load(open(sys.argv[1])), []
for case in cases:
    utils.exercises._SOLVED.clear()
    ns = {}
    for module in case["modules"]:
        ns.update(vars(importlib.import_module(module)))
    for source in case["sources"]:
        exec(source, ns)
    check = getattr(importlib.import_module(case["check_module"]), "check_" + case["exercise"])
    args = [ns[case["earlier"]]] if case["earlier"] else []
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(*args, ns[case["function"]])
        verdicts.append("passed")
    except Exception as exc:
        verdicts.append(type(exc).__name__ + ": " + str(exc))
json.dump(verdicts, open(sys.argv[2], "w"))
"""


def check_cases(nb):
    """For every exercise of notebook nb: its solution and each planted mistake, as plain
    data for ``verify``: the function sources (the notebook's exercises up to this one, one of
    them edited), the modules whose names they use, and the check to run."""
    refs, functions, checks = references(), reference_functions(), exercise_checks()
    cases, held = [], withheld(nb)
    for exercise in [e for e in held if e.notebook == nb]:
        before = [e for e in held if e.notebook == exercise.notebook and e.cell <= exercise.cell]
        modules = sorted({functions[e.name].__module__ for e in before})
        earlier = EARLIER_ARGUMENT.get(exercise.name)  # also one of `before`: its function's name
        for mistake in [None] + [m for m in CATALOGUE if m.exercise == exercise.name]:
            sources, function = [], None
            for e in before:
                name, source = _function_source(refs[e.name], mistake if e.name == exercise.name else None)
                sources.append(source)
                function = name if e.name == exercise.name else function
            cases.append({"exercise": exercise.name, "notebook": exercise.notebook, "modules": modules,
                          "sources": sources, "function": function, "check_module": checks[exercise.name].__module__,
                          "earlier": functions[earlier].__name__ if earlier else None,
                          "mistake": mistake.kind if mistake else None})
    return cases


def verify(root, cases, python=sys.executable):
    """Run ``cases`` (from ``check_cases``) with the utils of ``root`` (a release folder or the
    repository) in a fresh process. Returns one verdict per case: "passed" or the error line."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "cases.json", Path(tmp) / "verdicts.json"
        spec.write_text(json.dumps(cases))
        subprocess.run([python, "-c", _VERIFY, str(spec), str(out)], cwd=root, check=True,
                       env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                            "PYTHONDONTWRITEBYTECODE": "1"})  # a release ships no .pyc
        return json.loads(out.read_text())
