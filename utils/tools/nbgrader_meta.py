"""nbgrader's cell metadata, written from the course's own markers (never by hand).

The build (``utils.tools.build``) calls ``with_nbgrader_metadata`` on every solution notebook
and writes the result into solutions/ (nbgrader's source copy) and lectures/ (its release
copy), so that ``nbgrader generate_assignment`` accepts the solutions and ``nbgrader
autograde`` grades the lectures a class hands back. What each cell becomes:

| the course's marker | nbgrader cell | grade_id |
| --- | --- | --- |
| code cell with ``### BEGIN SOLUTION`` (an exercise) | autograded answer (solution) | ``exercise-<cell id>`` |
| check cell (metadata ``course.check``) | autograded test, ``CHECK_POINTS`` points, locked | the check's name |
| markdown cell with ``### BEGIN SOLUTION`` (a written answer) | manually graded answer, ``WRITTEN_POINTS`` points | ``written-<cell id>`` |
| any other cell | read-only (locked: restored from the teacher's copy at grading) | ``locked-<cell id>`` |

A check cell fails (and scores 0) when it raises: a wrong answer raises ``CheckFailed``, and
an unsolved exercise raises too under nbgrader, which sets NBGRADER_EXECUTION (see
``utils.checks.core.grading``). A check that calls a later exercise built on an earlier one
fails with it, so a mistake loses the points of every check that depends on it.
"""
import copy

from utils.tools.notebooks import BEGIN_SOLUTION, check_name

NBGRADER_KEY = "nbgrader"
SCHEMA_VERSION = 3  # nbgrader 0.9's cell metadata format
CHECK_POINTS = 1  # each check is worth one point: exercises are of similar size
WRITTEN_POINTS = 1  # each written answer, graded by hand in the formgrader

ROLES = ("exercise", "check", "written", "locked")


def has_solution_region(source):
    """True if a cell source holds a line that is exactly the solution marker."""
    return any(line.strip() == BEGIN_SOLUTION for line in source.splitlines())


def cell_role(cell):
    """"exercise", "check", "written" or "locked": what a solution notebook's cell is for grading."""
    if cell.cell_type == "code" and check_name(cell):
        return "check"
    if has_solution_region(cell.source):
        if cell.cell_type == "code":
            return "exercise"
        if cell.cell_type == "markdown":
            return "written"
    return "locked"


def _cell_key(cell, index):
    """A stable, nbgrader-valid key for a cell: its nbformat id, else its position."""
    cell_id = cell.get("id")
    return cell_id if cell_id else f"cell-{index:03d}"


def nbgrader_metadata(cell, index):
    """The ``nbgrader`` cell metadata of one cell of a solution notebook (a new dict)."""
    role = cell_role(cell)
    key = _cell_key(cell, index)
    if role == "check":
        meta = {"grade": True, "grade_id": check_name(cell), "locked": True,
                "points": CHECK_POINTS, "solution": False}
    elif role == "exercise":
        meta = {"grade": False, "grade_id": f"exercise-{key}", "locked": False, "solution": True}
    elif role == "written":
        meta = {"grade": True, "grade_id": f"written-{key}", "locked": False,
                "points": WRITTEN_POINTS, "solution": True}
    else:
        meta = {"grade": False, "grade_id": f"locked-{key}", "locked": True, "solution": False}
    meta["cell_type"] = cell.cell_type  # nbgrader records it too, and checks it on grading
    meta["schema_version"] = SCHEMA_VERSION
    return dict(sorted(meta.items()))


def with_nbgrader_metadata(nb):
    """A copy of a solution notebook whose every cell carries its nbgrader metadata.

    Any nbgrader metadata already there is replaced, so the result depends only on the
    course's markers. Raises ValueError when two cells would get the same grade_id.
    """
    nb = copy.deepcopy(nb)
    seen = {}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_metadata(cell, index)
        if meta["grade_id"] in seen:
            raise ValueError(f"cells {seen[meta['grade_id']]} and {index} would both get the "
                             f"nbgrader grade_id {meta['grade_id']!r}")
        seen[meta["grade_id"]] = index
        cell.metadata[NBGRADER_KEY] = meta
    return nb


def grading_roles(nb):
    """{grade_id: role} of a notebook that carries nbgrader metadata, in cell order."""
    roles = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get(NBGRADER_KEY)
        if meta:
            roles[meta["grade_id"]] = cell_role(cell) if meta.get("grade") or meta.get("solution") \
                else "locked"
    return roles
