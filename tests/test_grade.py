"""Grading a class with nbgrader: the metadata the build writes, nbgrader's own release of the
solutions, and `make grade` on a class of submissions of every kind."""
import csv
import os
import shutil
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from notebook_helpers import lecture_with_answers
from utils.tools import build
from utils.tools.grade import grade_class
from utils.tools.nbgrader_meta import NBGRADER_KEY, cell_role, with_nbgrader_metadata
from utils.tools.notebooks import LECTURES_DIR, solution_notebooks


def _nbgrader():
    """Skip (with the reason printed) where the teacher requirements are not installed."""
    return pytest.importorskip("nbgrader", reason="nbgrader is not installed: `make grade` or "
                               "`pip install -r requirements-teacher.txt` installs it")


# --- the metadata (no nbgrader needed) -------------------------------------------------------

def test_roles_from_the_course_markers():
    cells = [nbformat.v4.new_markdown_cell("intro"),
             nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
             nbformat.v4.new_code_cell("check_f(f)", metadata={"course": {"check": "f"}}),
             nbformat.v4.new_markdown_cell("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION")]
    nb = with_nbgrader_metadata(nbformat.v4.new_notebook(cells=cells))
    metas = [c.metadata[NBGRADER_KEY] for c in nb.cells]
    assert [cell_role(c) for c in nb.cells] == ["locked", "exercise", "check", "written"]
    assert [(m["grade"], m["solution"], m["locked"]) for m in metas] == [
        (False, False, True), (False, True, False), (True, False, True), (True, True, False)]
    assert metas[2]["grade_id"] == "f" and metas[2]["points"] == 1 and metas[3]["points"] == 1
    assert all(m["schema_version"] == 3 for m in metas)
    assert len({m["grade_id"] for m in metas}) == 4


def test_a_marker_that_is_not_alone_on_its_line_stops_the_build():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1  # BEGIN SOLUTION")])
    with pytest.raises(build.BuildError, match="alone on its line"):
        build.build_lecture(nb, "solutions/99_x.ipynb")


def test_solutions_and_lectures_carry_the_metadata_the_build_writes():
    for path in solution_notebooks():
        assert path.read_text(encoding="utf-8") == build.solution_text(path), \
            f"{path.name}: nbgrader metadata out of date: run `make lectures`"
        solution = nbformat.read(path, as_version=4)
        lecture = nbformat.read(LECTURES_DIR / path.name, as_version=4)
        assert [c.metadata[NBGRADER_KEY] for c in lecture.cells] == \
               [c.metadata[NBGRADER_KEY] for c in solution.cells]


def test_teacher_requirements_are_pinned_and_apart_from_the_students(repo_root):
    lines = [l.split("#")[0].strip() for l in
             (repo_root / "requirements-teacher.txt").read_text().splitlines()]
    pins = [l for l in lines if l]
    assert pins == ["nbgrader==0.9.6"]
    assert "nbgrader" not in (repo_root / "requirements.txt").read_text()
    assert "requirements-teacher.txt" in (repo_root / "Makefile").read_text()


# --- nbgrader's own release of the solutions --------------------------------------------------

@pytest.mark.slow
def test_nbgrader_generate_assignment_produces_the_lectures(tmp_path):
    """One way of stripping solutions: nbgrader's, with its default settings, gives lectures/."""
    _nbgrader()
    source = tmp_path / "source" / "course"
    source.mkdir(parents=True)
    for path in solution_notebooks():  # as the build writes them (the test above: solutions/ are)
        (source / path.name).write_text(build.solution_text(path), encoding="utf-8")
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(tmp_path)!r}\n")
    env_path = f"{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin"  # nbgrader runs alembic from there
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "course"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={"PATH": env_path, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for path in solution_notebooks():
        released = nbformat.read(tmp_path / "release" / "course" / path.name, as_version=4)
        # what the build writes to lectures/ (test_build: lectures/ are exactly that)
        lecture = nbformat.reads(build.lecture_text(path), as_version=4)
        assert len(released.cells) == len(lecture.cells), path.name
        for index, (ours, theirs) in enumerate(zip(lecture.cells, released.cells)):
            assert (ours.cell_type, ours.source) == (theirs.cell_type, theirs.source), \
                f"{path.name}, cell {index}: the build and nbgrader strip it differently"


# --- a class ---------------------------------------------------------------------------------

def _a_class(root):
    """Nine files of eight students: every case the gradebook must tell apart."""
    def student(name):
        (root / name).mkdir(parents=True)
        return root / name

    perfect = student("perfect")
    lecture_with_answers("01_rnn_basics.ipynb", perfect)
    lecture_with_answers("00_welcome.ipynb", perfect)
    shutil.copy2(LECTURES_DIR / "01_rnn_basics.ipynb", student("untouched"))
    lecture_with_answers("01_rnn_basics.ipynb", student("mistake"), {  # forgets the nonlinearity
        "next_h = np.tanh(prev_h @ Wh + x @ Wx + b)": "next_h = prev_h @ Wh + x @ Wx + b"})
    # the same mistake, and a check cell edited to print the success line it should print
    path = lecture_with_answers("01_rnn_basics.ipynb", student("edited_check"), {
        "next_h = np.tanh(prev_h @ Wh + x @ Wx + b)": "next_h = prev_h @ Wh + x @ Wx + b"})
    nb = nbformat.read(path, as_version=4)
    check = next(c for c in nb.cells if c.metadata.get("course", {}).get("check") == "rnn_step_forward")
    check.source = "print(" + repr(check.metadata["course"]["reference_outputs"][0]["text"]) + ", end='')"
    nbformat.write(nb, path)
    (student("broken_json") / "01_rnn_basics.ipynb").write_text('{"cells": [', encoding="utf-8")
    path = lecture_with_answers("00_welcome.ipynb", student("loop"))
    nb = nbformat.read(path, as_version=4)
    exercise = next(c for c in nb.cells if cell_role(c) == "exercise")
    exercise.source = "while True:\n    pass\n" + exercise.source
    nbformat.write(nb, path)
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import pandas as pd")])
    nbformat.write(other, student("foreign") / "01_rnn_basics.ipynb")  # same name, other course
    nbformat.write(other, root / "foreign" / "03_dataframes.ipynb")


@pytest.mark.slow
def test_grading_a_class(tmp_path):
    """Nine files, one at a time (this test's machine has 2 cores), the loop stopped after 20 s."""
    _nbgrader()
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    _a_class(submissions)
    start = time.monotonic()
    seed = int.from_bytes(os.urandom(4), "little") % 2 ** 31  # the same fresh inputs both ways below
    rows = grade_class(submissions, out, jobs=1, timeout=20, seed=seed)  # one notebook at a time: a 2-core machine
    elapsed = time.monotonic() - start
    assert psutil.Process().children(recursive=True) == []  # the looping kernel was killed too
    print(f"graded {len(rows)} files in {elapsed:.0f} s")
    with open(out / "gradebook.csv", encoding="utf-8") as f:
        table = {(r["student"], r["notebook"]): r for r in csv.DictReader(f)}
    print((out / "gradebook.csv").read_text(encoding="utf-8"))

    def scores(student, notebook="01_rnn_basics"):
        r = table[student, notebook]
        return r["status"], r["rnn_step_forward (1)"], r["rnn_forward (1)"], r["output_projection (1)"], r["total"]

    assert len(table) == 9
    assert scores("perfect") == ("graded", "1", "1", "1", "3")
    assert table["perfect", "00_welcome"]["status"] == "graded"
    assert table["perfect", "00_welcome"]["total"] == table["perfect", "00_welcome"]["max"] == "1"
    assert scores("untouched") == ("graded", "0", "0", "0", "0")
    # the mistake in rnn_step_forward also breaks rnn_forward, which calls it
    assert scores("mistake") == ("graded", "0", "0", "1", "1")
    # the edited check cell was restored and graded by the teacher's check
    assert scores("edited_check") == ("graded", "0", "0", "1", "1")
    assert table["edited_check", "01_rnn_basics"]["edited locked cells"] == "rnn_step_forward"
    assert all(table[s, "01_rnn_basics"]["edited locked cells"] == ""
               for s in ("perfect", "untouched", "mistake"))
    assert table["broken_json", "01_rnn_basics"]["status"] == "unreadable"
    assert table["loop", "00_welcome"]["status"] == "timed out"  # killed by the limit
    assert table["loop", "00_welcome"]["total"] == "0"
    assert table["foreign", "01_rnn_basics"]["status"] == "not a notebook of this course"
    assert table["foreign", "03_dataframes"]["status"] == "not a notebook of this course"
    assert all(r["max"] == "3" for (s, n), r in table.items() if n == "01_rnn_basics" and s != "foreign")

    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| rnn_step_forward | 1 of 4 |" in summary and "| output_projection | 3 of 4 |" in summary
    assert "ExerciseNotImplemented: rnn_step_forward: not implemented yet" in summary
    assert "CheckFailed: rnn_step_forward: next_h" in summary

    # the class's course directory, for the formgrader: every graded submission is in its database
    from nbgrader.api import Gradebook  # only this test reads nbgrader's database
    with Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}") as gb:
        assert gb.find_submission("01_rnn_basics", "mistake").score == 1
        assert gb.find_submission("00_welcome", "perfect").score == 1
        assert len(gb.students) == 4  # the timed-out one has no grades

    # with every cell given to nbgrader (training and figures included), the gradebook is the same
    grade_class(submissions, tmp_path / "whole", jobs=1, timeout=20, whole=True, seed=seed)
    assert (tmp_path / "whole" / "gradebook.csv").read_text(encoding="utf-8") == \
        (out / "gradebook.csv").read_text(encoding="utf-8")
