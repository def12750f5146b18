"""Build the student notebooks in lectures/ from the solution notebooks in solutions/.

    python -m utils.tools.build            # write lectures/NN_*.ipynb
    python -m utils.tools.build --check    # exit 1 if lectures/ is out of date, write nothing

What the build does to each cell of a solution notebook:
- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE``
  and ``raise NotImplementedError(...)`` at the same indentation; the cell's outputs go;
- in a markdown cell the text between the markers becomes ``YOUR ANSWER HERE``;
- a check cell (cell metadata ``course.check``) keeps its source, loses its outputs, and
  stores them as ``course.reference_outputs`` in its metadata: saving a notebook rewrites
  outputs but not this, so the self-check compares against an answer the student cannot
  overwrite by accident;
- every other cell is copied as it is, outputs included (figures, demonstrations), except that
  a demonstration's "using your X" line (``checks.core.student_or_reference``) becomes the line a
  fresh lecture prints, "using the course's reference X (yours not implemented yet)";
- the Colab cell (``utils.tools.colab``: fetches the course in Colab, does nothing elsewhere)
  is put before the first code cell, the setup cell, or brought up to date, in the solution
  notebook and the lecture alike;
- in the solution notebook, the code between the markers is written from the exercise's one
  source, its reference in utils (``utils.tools.references``: ``# BEGIN REFERENCE name``);
- every cell gets nbgrader's metadata from these markers (``utils.tools.nbgrader_meta``), in
  the lecture and in the solution notebook itself (nbgrader's source copy), so that
  ``nbgrader generate_assignment`` turns solutions/ into exactly the sources of lectures/ and
  ``make grade`` can autograde what students hand back. The solution notebook is rewritten
  only when that metadata is missing or out of date.

A line that contains ``BEGIN SOLUTION`` or ``END SOLUTION`` without being exactly the marker
stops the build: nbgrader would read it as a marker too.
"""
import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from utils.tools.notebooks import (ANSWER_PLACEHOLDER, BEGIN_SOLUTION, CODE_PLACEHOLDER,
                                   COURSE_KEY, END_SOLUTION, LECTURES_DIR, NOT_IMPLEMENTED,
                                   REPO_ROOT, SOLUTIONS_DIR, check_name, solution_notebooks)
from utils.checks.core import USING_REFERENCE, USING_YOURS
from utils.tools import colab
from utils.tools.references import ReferenceMarkerError, references, with_references
from utils.tools.nbgrader_meta import with_nbgrader_metadata


_USING_YOURS = re.compile("^" + re.escape(USING_YOURS).replace(re.escape("{name}"), r"(?P<name>\w+)") + "$",
                          re.MULTILINE)


class BuildError(Exception):
    """A solution notebook cannot be turned into a lecture (the message says where)."""


def _regions(source, where):
    """Split a cell source into (kind, lines) chunks, kind "keep" or "solution"; validate markers."""
    chunks, current, inside, begin_line = [], [], False, None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            if inside:
                raise BuildError(f"{where}: line {number}: '{BEGIN_SOLUTION}' inside a solution "
                                 f"opened on line {begin_line} (missing '{END_SOLUTION}')")
            chunks.append(("keep", current))
            current, inside, begin_line = [line], True, number
        elif stripped == END_SOLUTION:
            if not inside:
                raise BuildError(f"{where}: line {number}: '{END_SOLUTION}' without a "
                                 f"'{BEGIN_SOLUTION}' before it")
            chunks.append(("solution", current))
            current, inside = [], False
        elif "BEGIN SOLUTION" in line or "END SOLUTION" in line:
            raise BuildError(f"{where}: line {number}: a solution marker must be alone on its "
                             f"line ('{BEGIN_SOLUTION}' or '{END_SOLUTION}'); nbgrader reads "
                             f"any line containing 'BEGIN SOLUTION' or 'END SOLUTION' as one")
        else:
            current.append(line)
    if inside:
        raise BuildError(f"{where}: '{BEGIN_SOLUTION}' on line {begin_line} is never closed "
                         f"by '{END_SOLUTION}'")
    chunks.append(("keep", current))
    return chunks


def strip_code(source, where="cell"):
    """Replace each solution region of a code cell by a placeholder at the same indentation.

    source: the cell source (str). where: used in error messages.
    Returns: (new source, number of regions replaced).
    """
    out, replaced = [], 0
    for kind, lines in _regions(source, where):
        if kind == "keep":
            out.extend(lines)
        else:
            indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
            out.extend([indent + CODE_PLACEHOLDER, indent + NOT_IMPLEMENTED])
            replaced += 1
    return "\n".join(out), replaced


def strip_markdown(source, where="cell"):
    """Replace each model answer between the markers of a markdown cell by YOUR ANSWER HERE."""
    out, replaced = [], 0
    for kind, lines in _regions(source, where):
        if kind == "keep":
            out.extend(lines)
        else:
            out.append(ANSWER_PLACEHOLDER)
            replaced += 1
    return "\n".join(out), replaced


def _reference_outputs(cell):
    """The outputs of a check cell, without execution counts, to store in its metadata."""
    outputs = copy.deepcopy(cell.get("outputs", []))
    for output in outputs:
        output.pop("execution_count", None)
    return outputs


def _as_unsolved(cell):
    """A demonstration that ran on the solutions says "using your X"; in the lecture, before the
    student wrote X, it runs on the reference and says so: store what a fresh lecture prints."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text = "".join(output.text) if isinstance(output.text, list) else output.text
            output.text = _USING_YOURS.sub(
                lambda m: USING_REFERENCE.format(name=m["name"], why="not implemented yet"), text)


def check_markers(nb, source_name):
    """BuildError naming the cell (as numbered in the file) whose solution markers are unbalanced;
    nbgrader's cells are decided by the markers."""
    for index, cell in enumerate(nb.cells):
        _regions(cell.source, f"{source_name}, cell {index} ({cell.cell_type})")


def build_lecture(solution, source_name):
    """Turn a solution notebook into its lecture.

    solution: a ``nbformat.NotebookNode`` (not modified). source_name: e.g.
    "solutions/01_rnn_basics.ipynb", used in messages and stored in the metadata.
    Returns: the lecture ``NotebookNode``, with nbgrader's metadata on every cell.
    """
    check_markers(solution, source_name)
    try:
        lecture = with_nbgrader_metadata(solution)
    except ValueError as exc:
        raise BuildError(f"{source_name}: {exc}") from None
    checks = []
    for index, cell in enumerate(lecture.cells):
        where = f"{source_name}, cell {index} ({cell.cell_type})"
        if cell.cell_type == "code":
            cell.source, replaced = strip_code(cell.source, where)
            name = check_name(cell)
            if name:
                if replaced:
                    raise BuildError(f"{where}: a check cell ({name}) must not contain a solution")
                if name in checks:
                    raise BuildError(f"{where}: two check cells are named {name!r}")
                checks.append(name)
                cell.metadata[COURSE_KEY]["reference_outputs"] = _reference_outputs(cell)
            if replaced or name:
                cell.outputs = []
                cell.execution_count = None
            else:
                _as_unsolved(cell)
        elif cell.cell_type == "markdown":
            cell.source, _ = strip_markdown(cell.source, where)
    lecture.metadata[COURSE_KEY] = {"lecture": True, "built_from": source_name,
                                    "checks": checks}
    return lecture


def with_colab_cell(nb):
    """The notebook with the Colab cell of this version before its first code cell (in place)."""
    source = colab.cell_source()
    marked = [c for c in nb.cells if c.get("metadata", {}).get(COURSE_KEY, {}).get(colab.MARK)]
    if marked:
        marked[0].source = source
        return nb
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    cell = nbformat.v4.new_code_cell(source, metadata={COURSE_KEY: {colab.MARK: True}})
    cell["id"] = "course-colab"  # a fixed id: the build must write the same text every time
    nb.cells.insert(first_code, cell)
    return nb


def _source_name(solution_path):
    try:
        return solution_path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return f"solutions/{solution_path.name}"


def lecture_text(solution_path):
    """The JSON text of the lecture built from one solution notebook file."""
    solution_path = Path(solution_path)
    nb = nbformat.read(solution_path, as_version=4)
    check_markers(nb, _source_name(solution_path))  # before the Colab cell: the file's cell numbers
    return nbformat.writes(build_lecture(with_colab_cell(nb), _source_name(solution_path))) + "\n"


def with_utils_references(nb, source_name, refs=None):
    """The notebook with every code solution region rewritten from its reference in utils (in place)."""
    refs = references() if refs is None else refs
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            try:
                cell.source = with_references(cell.source, refs, f"{source_name}, cell {index}")
            except ReferenceMarkerError as exc:
                raise BuildError(str(exc)) from None
    return nb


def solution_text(solution_path, refs=None):
    """The JSON text of a solution notebook with its solutions written from utils and its nbgrader
    metadata up to date."""
    solution_path = Path(solution_path)
    nb = nbformat.read(solution_path, as_version=4)
    check_markers(nb, _source_name(solution_path))  # before the Colab cell: the file's cell numbers
    with_utils_references(nb, _source_name(solution_path), refs)
    nb = with_colab_cell(nb)
    build_lecture(nb, _source_name(solution_path))  # validates grade ids
    return nbformat.writes(with_nbgrader_metadata(nb)) + "\n"


def build_all(solutions_dir=SOLUTIONS_DIR, lectures_dir=LECTURES_DIR, check_only=False):
    """Build every lecture and bring the nbgrader metadata of every solution up to date.

    Returns the list of paths (solutions and lectures) that were (or would be) changed.
    """
    lectures_dir = Path(lectures_dir)
    changed, refs = [], references()  # utils is read once for all the notebooks
    for solution_path in solution_notebooks(solutions_dir):
        text = solution_text(solution_path, refs)
        if solution_path.read_text(encoding="utf-8") != text:
            changed.append(solution_path)
            if not check_only:
                solution_path.write_text(text, encoding="utf-8")
    for solution_path in solution_notebooks(solutions_dir):
        target = lectures_dir / solution_path.name
        text = lecture_text(solution_path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check_only:
                lectures_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report lectures that differ from a fresh build")
    parser.add_argument("--solutions", default=SOLUTIONS_DIR, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lectures", default=LECTURES_DIR, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        # build everything in memory first, so a broken notebook leaves lectures/ untouched
        refs = references()
        for path in solution_notebooks(args.solutions):
            lecture_text(path)
            solution_text(path, refs)
        changed = build_all(args.solutions, args.lectures, check_only=args.check)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 2
    n = len(solution_notebooks(args.solutions))
    if args.check:
        for path in changed:
            print(f"out of date: {path.parent.name}/{path.name}")
        print(f"{n - sum(p.parent == args.lectures for p in changed)} of {n} lectures up to date"
              + (", nbgrader metadata of some solutions out of date"
                 if any(p.parent != args.lectures for p in changed) else ""))
        return 1 if changed else 0
    for path in changed:
        print(f"wrote {path.parent.name}/{path.name}")
    print(f"{n} lectures built, {len(changed)} files changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
