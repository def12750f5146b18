"""The reference of every exercise has one source: a function in utils.

A utils function holds the reference of an exercise between two comment lines,

    # BEGIN REFERENCE lstm_step_forward
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H)
    ...
    # END REFERENCE

and the build (``utils.tools.build``) writes those lines into the solution cell of the
notebook, between its ``### BEGIN SOLUTION`` and ``### END SOLUTION`` markers, so the solution
notebook shows exactly what utils runs. The exercises themselves are the build's markers: a
solution region in a code cell is the exercise of the function it sits in, numbered by its
cell among the notebook's exercise cells (the "Exercise k" headings). The student release
(``utils.tools.release``) blanks the same lines out of utils.

    python -m utils.tools.references      # list every exercise and where its reference lives
"""
import re
import sys
from collections import namedtuple
from pathlib import Path

import nbformat

from utils.tools.notebooks import BEGIN_SOLUTION, END_SOLUTION, REPO_ROOT, SOLUTIONS_DIR, solution_notebooks

UTILS_DIR = REPO_ROOT / "utils"
BEGIN_REFERENCE = "# BEGIN REFERENCE"
ALSO_REFERENCE = "# ALSO REFERENCE"  # a helper that shows the answer in another form (a slip's variant...)
END_REFERENCE = "# END REFERENCE"

# path: the utils file; begin, end: 0-based indices of the two marker lines; body: the lines
# between them with their common indentation removed
Reference = namedtuple("Reference", "name path begin end body")
# notebook: "05"; stem: "05_lstm_gru"; number: k of "Exercise k"; cell: index in the notebook
Exercise = namedtuple("Exercise", "notebook stem number name cell")


class ReferenceMarkerError(ValueError):
    """A reference marker in utils, or a solution region without a reference (message says where)."""


def _dedent(lines):
    width = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return [line[width:] for line in lines]


def references(utils_dir=UTILS_DIR):
    """Every marked reference in utils. Returns: {exercise function name: Reference}."""
    found = {}
    for path in sorted(Path(utils_dir).rglob("*.py")):
        if "tools" in path.relative_to(utils_dir).parts:  # commands hold no reference (and this docstring shows one)
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        begin = None
        for index, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith(BEGIN_REFERENCE):
                name = stripped[len(BEGIN_REFERENCE):].strip()
                if begin is not None or not name.isidentifier():
                    raise ReferenceMarkerError(f"{path}:{index + 1}: '{BEGIN_REFERENCE} <function name>' "
                                          "must name the exercise and close before the next one")
                if name in found:
                    raise ReferenceMarkerError(f"{path}:{index + 1}: a second reference of {name} "
                                          f"(the first is in {found[name].path})")
                begin = index
            elif stripped == END_REFERENCE:
                if begin is None:
                    raise ReferenceMarkerError(f"{path}:{index + 1}: '{END_REFERENCE}' without a begin")
                found[name] = Reference(name, path, begin, index, _dedent(lines[begin + 1:index]))
                begin = None
        if begin is not None:
            raise ReferenceMarkerError(f"{path}:{begin + 1}: '{BEGIN_REFERENCE}' never closed")
    return found


def also_references(utils_dir=UTILS_DIR):
    """Helpers that would show an exercise's answer (a comment ``# ALSO REFERENCE name`` in their
    body): a release leaves them out with that exercise. Returns: [(exercise name, path, line index)]."""
    found = []
    for path in sorted(Path(utils_dir).rglob("*.py")):
        if "tools" in path.relative_to(utils_dir).parts:
            continue
        for index, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip().startswith(ALSO_REFERENCE):
                found.append((line.strip()[len(ALSO_REFERENCE):].split()[0], path, index))
    return found


def _enclosing_function(lines, index):
    for line in reversed(lines[:index]):
        match = re.match(r"\s*def (\w+)\(", line)
        if match:
            return match.group(1)
    return None


def solution_regions(source):
    """(function name, first line index, last line index) of each code solution region of a cell
    source, the indices being those of the ``### BEGIN/END SOLUTION`` marker lines."""
    lines = source.splitlines()
    regions, begin = [], None
    for index, line in enumerate(lines):
        if line.strip() == BEGIN_SOLUTION:
            begin = index
        elif line.strip() == END_SOLUTION and begin is not None:
            regions.append((_enclosing_function(lines, begin), begin, index))
            begin = None
    return regions


def exercises(solutions_dir=SOLUTIONS_DIR):
    """Every code exercise of the course, in notebook order, read from the solution markers."""
    found = []
    for path in solution_notebooks(solutions_dir):
        nb = nbformat.read(path, as_version=4)
        number = 0
        for index, cell in enumerate(nb.cells):
            regions = solution_regions(cell.source) if cell.cell_type == "code" else []
            if regions:
                number += 1
            found.extend(Exercise(path.name[:2], path.stem, number, name, index) for name, _, _ in regions)
    return found


def with_references(source, refs, where="cell"):
    """The code cell source with each solution region replaced by its reference from utils.

    refs: from ``references()``. Raises ReferenceMarkerError naming the function when utils holds no
    reference for a region.
    """
    lines = source.splitlines()
    for name, begin, end in reversed(solution_regions(source)):
        if name not in refs:
            raise ReferenceMarkerError(f"{where}: the solution of {name} has no reference in utils: mark "
                                  f"its lines in the utils function with '{BEGIN_REFERENCE} {name}' "
                                  f"and '{END_REFERENCE}'")
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        body = [indent + line if line.strip() else "" for line in refs[name].body]
        lines[begin + 1:end] = body
    return "\n".join(lines)


def divergences(solutions_dir=SOLUTIONS_DIR, refs=None):
    """Where a solution notebook and utils disagree. Returns a list of one-line messages: a
    solution region whose code differs from its reference, an exercise without a reference, and
    a reference that no exercise uses."""
    refs = references() if refs is None else refs
    problems, used = [], set()
    for path in solution_notebooks(solutions_dir):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            lines = cell.source.splitlines()
            for name, begin, end in solution_regions(cell.source):
                used.add(name)
                if name not in refs:
                    problems.append(f"{path.name}, cell {index}: {name} has no reference in utils")
                elif _dedent(lines[begin + 1:end]) != refs[name].body:
                    problems.append(f"{path.name}, cell {index}: the solution of {name} differs from "
                                    f"its reference in {refs[name].path.name} (run make lectures)")
    problems += [f"{ref.path.name}:{ref.begin + 1}: reference of {name}, which no exercise has"
                 for name, ref in refs.items() if name not in used]
    return problems


def main():
    refs = references()
    for exercise in exercises():
        ref = refs.get(exercise.name)
        where = (f"{ref.path.relative_to(REPO_ROOT)}:{ref.begin + 1}" if ref else "NO REFERENCE")
        print(f"{exercise.notebook} exercise {exercise.number}: {exercise.name:26s} {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
