"""Paths and metadata conventions shared by the build and the self-check, and the lecture
with the solutions pasted in that the self-check tests and the planted mistakes run."""
import re
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = REPO_ROOT / "solutions"
LECTURES_DIR = REPO_ROOT / "lectures"
SANITIZE_FILE = REPO_ROOT / "nbval_sanitize.cfg"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
# The placeholders are nbgrader's defaults (ClearSolutions.code_stub and text_stub), so that
# `nbgrader generate_assignment` produces exactly the sources of lectures/ (tests/test_grade.py).
CODE_PLACEHOLDER = "# YOUR CODE HERE"
NOT_IMPLEMENTED = "raise NotImplementedError()"
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"

# Cell metadata key of the course. On a check cell of a solution notebook:
#   {"course": {"check": "<exercise name>"}}
# The build adds "reference_outputs" to it in the lecture, and to the notebook metadata:
#   {"course": {"lecture": true, "built_from": "solutions/NN_x.ipynb", "checks": [...]}}
COURSE_KEY = "course"
SKIP_TAG = "selfcheck-skip"  # cell tag: no check needs this cell (a training run, a figure)


def check_name(cell):
    """The exercise name of a check cell, or None for any other cell."""
    return cell.get("metadata", {}).get(COURSE_KEY, {}).get("check")


def without_skipped_cells(nb):
    """A copy of a notebook without the cells tagged SKIP_TAG: what the self-check and the
    grader run, since no check needs those cells."""
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.cells = [cell for cell in nb.cells if SKIP_TAG not in cell.get("metadata", {}).get("tags", [])]
    return nb


def solution_notebooks(directory=SOLUTIONS_DIR):
    """The numbered solution notebooks ``NN_topic.ipynb`` of a folder, sorted."""
    return sorted(p for p in Path(directory).glob("[0-9][0-9]_*.ipynb"))


def solution_regions(source):
    """(start, end) character spans of the solution code in a cell's source: the text between
    each ``### BEGIN SOLUTION`` line and the next ``### END SOLUTION``, in order."""
    spans, pos = [], 0
    while (begin := source.find(BEGIN_SOLUTION, pos)) >= 0:
        start = source.find("\n", begin) + 1 or len(source)
        end = source.find(END_SOLUTION, start)
        if end < 0:
            raise ValueError(f"{BEGIN_SOLUTION} without {END_SOLUTION}")
        spans.append((start, end))
        pos = end + len(END_SOLUTION)
    return spans


def exercise_region(source, exercise):
    """The (start, end) span of exercise ``exercise``'s solution code in a cell's source: the
    first solution region after ``def <exercise>(``; None if the cell does not define it."""
    match = re.search(rf"^\s*def {re.escape(exercise)}\(", source, re.MULTILINE)
    if match is None:
        return None
    return next(((s, e) for s, e in solution_regions(source) if s > match.end()), None)


def lecture_with_answers(name, directory, edits=None, exercise=None):
    """Copy lectures/<name> into ``directory`` with the solutions pasted into the exercise cells.

    edits: {old: new} string replacements of the solution code (the text between the
    solution markers), i.e. planted mistakes; each ``old`` must occur exactly once in the
    solution code of the whole notebook, or, when ``exercise`` is given, in that exercise's
    solution code (the function ``def <exercise>(`` of the solution notebook).
    Returns: the path of the copy. Raises: ValueError if an edit does not apply exactly once.
    """
    lecture = nbformat.read(LECTURES_DIR / name, as_version=4)
    solution = nbformat.read(SOLUTIONS_DIR / name, as_version=4)
    where = f"the solution code of {exercise}" if exercise else f"the solution code of {name}"
    pasted = []  # [lecture cell, source, solution spans that edits may touch]
    for lecture_cell, solution_cell in zip(lecture.cells, solution.cells):
        if lecture_cell.cell_type == "code" and CODE_PLACEHOLDER in lecture_cell.source:
            source = solution_cell.source
            if exercise is None:
                spans = solution_regions(source)
            else:
                span = exercise_region(source, exercise)
                spans = [span] if span else []
            pasted.append([lecture_cell, source, spans])
    if exercise is not None and not any(spans for _, _, spans in pasted):
        raise ValueError(f"{name}: no exercise cell defines {exercise}")
    for old, new in (edits or {}).items():
        hits = [(k, s + i) for k, (_, source, spans) in enumerate(pasted) for s, e in spans
                for i in _occurrences(source[s:e], old)]
        if len(hits) != 1:
            raise ValueError(f"{name}: the edit {old!r} occurs {len(hits)} times in {where}; "
                             f"it must occur exactly once")
        k, at = hits[0]
        cell, source, spans = pasted[k]
        pasted[k][1] = source[:at] + new + source[at + len(old):]
        shift = len(new) - len(old)
        pasted[k][2] = [(s + (shift if s > at else 0), e + (shift if e > at else 0)) for s, e in spans]
    for cell, source, _ in pasted:
        cell.source = source
    path = Path(directory) / name
    nbformat.write(lecture, path)
    return path


def _occurrences(text, sub):
    """Start indices of every (possibly overlapping) occurrence of ``sub`` in ``text``."""
    found, pos = [], text.find(sub) if sub else -1
    while pos >= 0:
        found.append(pos)
        pos = text.find(sub, pos + 1)
    return found
