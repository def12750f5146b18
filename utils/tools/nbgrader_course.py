"""nbgrader's side of grading: the course's notebooks as nbgrader sees them, its course
directory, its runs and its gradebook database.

``Course`` reads the solution notebooks with their nbgrader metadata (as the build writes it);
``make_course_dir`` releases them as nbgrader assignments; ``_job_dir`` and ``_nbgrader`` give one
submission a copy of that directory of its own and run nbgrader there; ``_show_verdicts``
writes the trusted verdicts into the autograded notebook; ``merge`` copies a graded submission
into the class's directory and gradebook. ``utils.tools.grade`` decides the verdicts.
"""
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat

from utils.tools.build import lecture_text, solution_text
from utils.tools.nbgrader_meta import NBGRADER_KEY, cell_role
from utils.tools.notebooks import SOLUTIONS_DIR, check_name, solution_notebooks, without_skipped_cells
from utils.tools.sandbox import kill_tree

CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.Execute.timeout = {timeout}  # per cell; the whole notebook is limited by the grader
c.Autograde.create_student = True
c.Execute.enabled = False  # the student's code runs in the sandbox only (utils.tools.sandbox)
"""


class Course:
    """The notebooks of the course, from solutions/: checks and nbgrader cells of each."""

    def __init__(self, solutions_dir=SOLUTIONS_DIR, whole=False):
        self.solutions = {p.stem: p for p in solution_notebooks(solutions_dir)}
        self.whole = whole
        self._sources, self._lectures = {}, {}

    def source(self, name):
        """The solution notebook with its nbgrader metadata (as the build writes it), without
        the cells no check needs (unless whole)."""
        if name not in self._sources:
            nb = nbformat.reads(solution_text(self.solutions[name]), as_version=4)
            self._sources[name] = nb if self.whole else without_skipped_cells(nb)
        return self._sources[name]

    def lecture(self, name):
        """The whole lecture as the build writes it (every cell, whatever is graded)."""
        if name not in self._lectures:
            self._lectures[name] = nbformat.reads(lecture_text(self.solutions[name]), as_version=4)
        return self._lectures[name]

    def graded_copy(self, path, target):
        """Write the submission at ``path`` to ``target`` as it is graded: without the cells
        the source leaves out."""
        nb = nbformat.read(path, as_version=4)
        nbformat.write(nb if self.whole else without_skipped_cells(nb), target)

    def checks(self, name):
        """{check name: points} of a notebook, in order."""
        return {check_name(c): c.metadata[NBGRADER_KEY]["points"]
                for c in self.source(name).cells if cell_role(c) == "check"}

    def written(self, name):
        return sum(cell_role(c) == "written" for c in self.source(name).cells)


def _env():
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)
    env.pop("COURSE_SELFCHECK", None)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # alembic
    return env


def _nbgrader(args, cwd, timeout=None):
    """Run an nbgrader command in ``cwd``; kill it and its kernel past ``timeout`` seconds.

    Returns: (return code or None when it timed out, the tail of its log).
    """
    log_path = Path(cwd) / "nbgrader.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=_env(),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            kill_tree(proc)
    return code, log_path.read_text(errors="replace")[-3000:]


def make_course_dir(course, root, names, timeout):
    """A fresh nbgrader course directory with the notebooks ``names`` released."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root.resolve()),
                                                           timeout=int(timeout)))
    for name in names:
        target = root / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(course.source(name), target)
    if names:  # one run releases every assignment of source/
        code, log = _nbgrader(["generate_assignment", "*", "--force"], cwd=root)
        missing = [n for n in names if not (root / "release" / n / f"{n}.ipynb").exists()]
        if code != 0 or missing:
            raise RuntimeError(f"nbgrader generate_assignment failed ({', '.join(missing)}):\n{log}")
    return root


def _job_dir(course, root, jobs_dir, row, timeout):
    """A copy of the course directory holding only this submission."""
    job = jobs_dir / f"{row.student}--{row.notebook}"
    job.mkdir(parents=True)
    for part in ("source", "release"):
        shutil.copytree(root / part / row.notebook, job / part / row.notebook)
    shutil.copy2(root / "gradebook.db", job / "gradebook.db")
    (job / "nbgrader_config.py").write_text(CONFIG.format(root=str(job.resolve()),
                                                          timeout=int(timeout)))
    target = job / "submitted" / row.student / row.notebook / f"{row.notebook}.ipynb"
    target.parent.mkdir(parents=True)
    course.graded_copy(row.path, target)
    return job


def _show_verdicts(path, verdicts):
    """Write each check's trusted verdict as the output of its cell in the graded notebook."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        name = check_name(cell) or cell.metadata.get(NBGRADER_KEY, {}).get("grade_id")
        if cell.cell_type == "code" and name in verdicts:
            ok, message = verdicts[name]
            if ok:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=message + "\n")]
            else:
                ename, _, evalue = message.partition(": ")
                cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                                       traceback=[message])]
    nbformat.write(nb, path)


def merge(root, job, row):
    """Copy one graded submission (files and scores) into the course directory of the class."""
    from nbgrader.api import Gradebook  # nbgrader is a teacher requirement, loaded only to grade
    for part in ("submitted", "autograded"):
        src = job / part / row.student / row.notebook
        if src.exists():
            dst = root / part / row.student / row.notebook
            shutil.copytree(src, dst, dirs_exist_ok=True)
    with Gradebook(f"sqlite:///{job / 'gradebook.db'}") as source:
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for g in
                  source.find_submission_notebook(row.notebook, row.notebook, row.student).grades}
        comments = {c.name: c.auto_comment for c in
                    source.find_submission_notebook(row.notebook, row.notebook, row.student).comments}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns inside nbgrader's add_submission
        gb.update_or_create_student(row.student)
        gb.add_submission(row.notebook, row.student)
        for name, (auto_score, needs_manual) in grades.items():
            grade = gb.find_grade(name, row.notebook, row.notebook, row.student)
            grade.auto_score, grade.needs_manual_grade = auto_score, needs_manual
        for name, text in comments.items():
            gb.find_comment(name, row.notebook, row.notebook, row.student).auto_comment = text
        gb.db.commit()
