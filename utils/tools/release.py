"""The student release for handing out notebook NN: no reference of an exercise of NN..08.

    python -m utils.tools.release 05              # writes release/05/ and release/05.zip
    make release NB=05                            # the same

A course hands notebooks out one at a time. When NN is handed out, notebooks before it are done
and their references may ship (later code relies on them); nothing of NN..08 may. The release
holds lectures 00..NN, the datasets they load, a student Makefile and README, the requirement
files, and utils/ in which every function holding the reference of an exercise of NN..08
(``# BEGIN REFERENCE name``, see ``utils.tools.references``) has one line for a body,

    return stand_in("lstm_forward", "05", 3, locals())

(``utils.exercises``): the checks still get the reference's answers for the calls they make,
from input/expected-output fixtures recorded here from the reference (``utils/fixtures/``),
a demonstration gets the student's function once its check has passed, and anything else gets
one line naming the exercise to solve. Commands a student does not need (grading, building,
planted mistakes, training the checkpoints) stay out, and so do solutions/, tests and results.
"""
import argparse
import ast
import contextlib
import copy
import functools
import html
import importlib
import inspect
import io
import json
import shutil
import subprocess
import sys
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from utils import exercises as exercise_module
from utils.tools.notebooks import LECTURES_DIR, REPO_ROOT
from utils.tools.planted_mistakes import CATALOGUE
from utils.tools.references import UTILS_DIR, also_references, exercises, references

RELEASE_DIR = REPO_ROOT / "release"
NOTEBOOKS = [f"{n:02d}" for n in range(9)]
# the first notebook that loads each dataset folder (the Run All test of every release proves
# that lectures 00..NN find what they load)
DATASET_FIRST_USED = {"shakespeare": "02", "shapes_encoder": "06", "captioner": "06",
                      "attention_captioner": "07", "vqa": "08"}
# what a student runs: the self-check, JupyterLab, the Colab cell's helper
STUDENT_TOOLS = ["__init__.py", "notebooks.py", "selfcheck.py", "nbval_settings.py", "lab.py", "colab.py"]
ROOT_FILES = ["requirements.txt", "environment.yml", "pyproject.toml", "nbval_sanitize.cfg",
              "LICENSE", "LICENSE-CONTENT.md"]

STUDENT_MAKEFILE = """\
# make setup    a virtual environment in .venv with the pinned packages
# make lab      JupyterLab on lectures/
# make check NB=lectures/{last}_....ipynb    check your notebook (every exercise and its check)
PYTHON ?= python3
BIN := .venv/bin
PORT ?= 8888

.PHONY: setup lab check
.venv/.installed: requirements.txt pyproject.toml
\t$(PYTHON) -m venv .venv
\t$(BIN)/python -m pip install --quiet -r requirements.txt
\t$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
\t@touch .venv/.installed
setup: .venv/.installed
lab: setup
\t$(BIN)/python -m utils.tools.lab --port=$(PORT)
check: setup
\t@if [ -z "$(NB)" ]; then echo "usage: make check NB=lectures/{last}_....ipynb"; exit 2; fi
\t$(BIN)/python -m utils.tools.selfcheck "$(NB)"
"""

STUDENT_README = """\
# Recurrent neural networks, notebooks 00 to {last}

Your assignment is lecture `{last}` in `lectures/`; the lectures before it are there to look
back at. `make setup` installs the pinned packages into `.venv` (Python 3.11 to 3.14), `make lab`
opens JupyterLab, and `make check NB=lectures/{last}_....ipynb` runs your notebook from top to
bottom and says, for every exercise, whether its check passes. The checks compare your
functions with stored answers on their own test inputs; your teacher grades with fresh inputs.

This release leaves out the course's reference of every exercise of notebook {last} and after:
code that needs one of them uses your function once its check has passed, and until then says
which exercise to solve.
"""


class ReleaseError(ValueError):
    """The release cannot be built (the message says why)."""


def _notebook(nb):
    nb = str(nb).zfill(2)
    if nb not in NOTEBOOKS[1:]:
        raise ReleaseError(f"release: NB must be a notebook number from 01 to 08, got {nb!r}")
    return nb


def withheld(nb):
    """The exercises whose reference a release for notebook ``nb`` leaves out (notebooks nb..08)."""
    return [e for e in exercises() if e.notebook >= _notebook(nb)]


def withheld_functions(nb):
    """What a release for ``nb`` replaces by a stand-in: [((path, line index), name, Exercise,
    solvable)] for every reference of notebooks nb..08 and every helper marked with one of them."""
    refs, held = references(), {e.name: e for e in withheld(nb)}
    found = [((refs[name].path, refs[name].begin), name, exercise, True) for name, exercise in held.items()]
    for name, path, line in also_references():
        if name in held:
            function = _enclosing_function(ast.parse(path.read_text(encoding="utf-8")), line + 1)
            found.append(((path, line), function.name, held[name], False))
    return found


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


def _enclosing_function(tree, line):
    """The innermost function definition of ``tree`` containing the 1-based ``line``."""
    found = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            if found is None or node.lineno > found.lineno:
                found = node
    return found


def released_source(path, withheld_here):
    """The text of utils file ``path`` with the body of every function holding one of
    ``withheld_here`` ([(line index, name, Exercise, solvable)]: a reference, or a helper marked
    ``# ALSO REFERENCE``) replaced by its ``stand_in`` line."""
    text = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    edits = []
    for line, name, exercise, solvable in withheld_here:
        function = _enclosing_function(tree, line + 1)
        body = function.body
        has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str)
        first = body[1] if has_docstring and len(body) > 1 else body[0]
        indent = " " * first.col_offset
        extra = "" if solvable else ", solvable=False"
        edits.append((first.lineno - 1, function.end_lineno,
                      [f'{indent}return stand_in("{name}", "{exercise.notebook}", {exercise.number}, locals(){extra})']))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    first_import = next(node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines.insert(first_import.lineno - 1, "from utils.exercises import stand_in  # the release's references, see there")
    return "\n".join(lines) + "\n"


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


class _Canonical(ast.NodeTransformer):
    """Rename every variable and argument to v0, v1... in order of first appearance."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        return node


def _blocks(tree):
    """Every list of consecutive statements in ``tree`` (a module body, a loop body...)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _windows(block, size):
    """The normalised text of every run of ``size`` consecutive statements of ``block``: comments
    and layout are gone with the parse, local names are renamed in order of appearance."""
    for start in range(len(block) - size + 1):
        canonical = _Canonical()
        yield tuple(ast.unparse(canonical.visit(copy.deepcopy(stmt))) for stmt in block[start:start + size])


def solution_windows(ref, size=3):
    """The normalised windows of ``size`` statements of a reference's body (the whole body when
    it is shorter but has at least two statements)."""
    block = ast.parse("\n".join(ref.body)).body
    found = set()
    for inner in _blocks(ast.Module(body=block, type_ignores=[])):
        n = min(size, len(inner))
        if n >= 2:
            found.update(_windows(inner, n))
    return found


def _code_texts(path):
    """The code of a release file: a .py file's text, a notebook's code cells, and every output
    and metadata text of a notebook read line by line (a traceback may show source lines)."""
    if path.suffix == ".py":
        yield path.read_text(encoding="utf-8")
    elif path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                yield "".join(cell["source"])
            yield from _lines_as_code(json.dumps([cell.get("outputs", []), cell.get("metadata", {})]))
        yield from _lines_as_code(json.dumps(nb.get("metadata", {})))
    elif path.suffix in (".html", ".htm"):  # highlighted code: tags out, entities decoded
        yield from _lines_as_code(html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))))
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            yield from _lines_as_code(str(data["index"]))
    else:
        yield from _lines_as_code(path.read_text(encoding="utf-8", errors="replace"))


def _lines_as_code(text):
    """Blocks of consecutive lines of ``text`` that parse as Python statements, JSON escapes undone."""
    text = text.replace("\\n", "\n").replace('\\"', '"')
    block = []
    for line in text.splitlines() + [""]:
        try:
            with warnings.catch_warnings():  # prose parsed as code may hold odd escapes
                warnings.simplefilter("ignore")
                parsed = ast.parse(line.strip()).body if line.strip() else []
        except (SyntaxError, ValueError):
            parsed = []
        if len(parsed) == 1:
            block.append(line.strip())
        else:
            if len(block) >= 2:
                yield "\n".join(block)
            block = []


def statement_leaks(folder, first="00", size=3):
    """Files of ``folder`` (a release, a website...) that show ``size`` consecutive statements
    (normalised: comments, layout and local names aside) of the reference of an exercise of
    notebooks ``first``..08, and compiled Python files. Returns one-line messages (empty: none).
    Statement runs that also belong to the reference of an earlier notebook are not counted:
    those lines are the student's already."""
    release_dir, refs = Path(folder), references()
    shipped = set().union(*(solution_windows(refs[e.name], size) for e in exercises() if e.notebook < first))
    wanted = {e.name: solution_windows(refs[e.name], size) - shipped for e in exercises() if e.notebook >= first}
    problems = [f"{p.relative_to(release_dir)}: compiled Python ships" for p in release_dir.rglob("*.pyc")]
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file() and p.suffix != ".zip"):
        present = set()
        for text in _code_texts(path):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            for block in _blocks(tree):
                present.update(_windows(block, size))
                present.update(_windows(block, 2) if len(block) == 2 else ())
        for name, windows in wanted.items():
            hit = windows & present
            if hit:
                problems.append(f"{path.relative_to(release_dir)}: {name}'s reference shows "
                                f"({' / '.join(next(iter(hit)))})")
    return problems


def leaks(release_dir, nb, size=3):
    """Every exercise of notebooks nb..08 whose reference shows in the release: ``statement_leaks``,
    and a withheld utils function that still runs code. Returns one-line messages (empty: none)."""
    release_dir, refs = Path(release_dir), references()
    problems = statement_leaks(release_dir, _notebook(nb), size)
    for exercise in withheld(nb):
        ref = refs[exercise.name]
        name = _enclosing_function(ast.parse(ref.path.read_text(encoding="utf-8")), ref.begin + 1).name
        released = ast.parse((release_dir / ref.path.relative_to(REPO_ROOT)).read_text(encoding="utf-8"))
        function = next(n for n in ast.walk(released) if isinstance(n, ast.FunctionDef) and n.name == name)
        body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or "stand_in" not in ast.unparse(body[0]):
            problems.append(f"{ref.path.name}: {function.name} still runs code in the release")
    return problems


def build_release(nb, out_dir=None):
    """Write the release for notebook ``nb`` into ``out_dir`` (default release/NN) and a zip
    beside it. Returns: the release folder."""
    nb = _notebook(nb)
    out = Path(out_dir) if out_dir else RELEASE_DIR / nb
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    refs = references()
    held = withheld(nb)
    # lectures 00..NN
    (out / "lectures").mkdir()
    for path in sorted(LECTURES_DIR.glob("*.ipynb")):
        if path.name[:2] <= nb:
            shutil.copy2(path, out / "lectures" / path.name)
    # datasets the lectures load
    for folder, first in DATASET_FIRST_USED.items():
        if first <= nb:
            shutil.copytree(REPO_ROOT / "datasets" / folder, out / "datasets" / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # utils: everything a lecture imports, minus the withheld references and the teacher's tools
    shutil.copytree(UTILS_DIR, out / "utils", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "fixtures", "tools"))
    (out / "utils" / "tools").mkdir()
    for name in STUDENT_TOOLS:
        shutil.copy2(UTILS_DIR / "tools" / name, out / "utils" / "tools" / name)
    by_file = {}
    for line, name, exercise, solvable in withheld_functions(nb):
        by_file.setdefault(line[0], []).append((line[1], name, exercise, solvable))
    for path, entries in by_file.items():
        (out / path.relative_to(REPO_ROOT)).write_text(released_source(path, entries), encoding="utf-8")
    # the checks of later notebooks: their lectures are not in the release
    for module, notebooks in check_module_notebooks().items():
        if min(notebooks) > nb:
            (out / "utils" / "checks" / f"{module}.py").unlink()
    # the checks' answers for the exercises of notebook NN (later lectures are not in the release)
    names = [e.name for e in held if e.notebook == nb]
    record_fixtures(names, out / "utils" / "fixtures", [e.name for e in held])
    for name in ROOT_FILES:
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, out / name)
    (out / "Makefile").write_text(STUDENT_MAKEFILE.format(last=nb), encoding="utf-8")
    (out / "README.md").write_text(STUDENT_README.format(last=nb), encoding="utf-8")
    with zipfile.ZipFile(out.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(out.rglob("*")):
            archive.write(path, Path(nb) / path.relative_to(out))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nb", help="the notebook handed out, 01 to 08")
    parser.add_argument("--out", type=Path, help="the release folder (default release/NN)")
    args = parser.parse_args(argv)
    try:
        out = build_release(args.nb, args.out)
    except ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 2
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {out} ({len(files)} files, {size / 1e6:.1f} MB) and {out.with_suffix('.zip').name}; "
          f"withheld: {', '.join(e.name for e in withheld(args.nb))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
