"""Grade a class: nbgrader keeps the gradebook, the student's code runs in a sandbox, and
every check is decided in this process.

    python -m utils.tools.grade SUBMISSIONS [--out grades] [--jobs N] [--timeout SECONDS] [--unsafe]
    (or: make grade SUBMISSIONS=dir, which installs nbgrader first: requirements-teacher.txt)

SUBMISSIONS holds one folder per student with the notebooks they handed back, named as in
lectures/: ``SUBMISSIONS/<student>/<NN_name>.ipynb``. What happens:

1. A scratch nbgrader course directory, ``<out>/nbgrader``, is made from the teacher's
   solutions/ (one nbgrader assignment per notebook, named like it) and ``nbgrader
   generate_assignment`` releases each notebook that was handed in (utils.tools.nbgrader_course
   holds nbgrader's side: this directory, the runs of nbgrader, the gradebook database).
2. Every submission that is a readable notebook of this course goes through ``nbgrader
   autograde`` in a copy of that directory of its own, with execution turned off: nbgrader
   restores every locked cell from the teacher's copy, records the submission and flags the
   written answers for the formgrader, and runs none of the student's code.
3. The trusted verdict (utils.tools.grading_cases): the student's exercise cells, with the
   import lines of the lecture cells before them, run in a sandbox of their own
   (utils.tools.sandbox: no network, read-only view of what a student of that notebook gets,
   a private scratch folder, limits on time, CPU, memory, processes and file size). Each
   exercise's check then runs here, in the grader's process, on inputs drawn afresh for this
   grading run (the seed comes from os.urandom and is in the gradebook), calling the student's
   functions in the sandbox and getting back plain data only. The sandbox runs no check code
   and never sees an expected value. Those verdicts are the points of every check, in
   gradebook.csv and in nbgrader's database. Up to ``--jobs`` submissions at a time (default:
   the cores), each within ``--timeout`` seconds (the whole sandbox; on expiry every process
   of it is killed). Without Linux namespaces grading refuses to start, unless ``--unsafe``
   (the same verdicts, but the student's code runs unconfined, as the teacher).
4. The results are merged into ``<out>/nbgrader`` (gradebook.db, submitted/, autograded/, where
   each check cell shows its verdict), where nbgrader's formgrader shows them and where written
   answers are graded by hand, and written out as ``<out>/gradebook.csv`` and ``<out>/summary.md``.

gradebook.csv has one row per student and notebook: its status (graded / unreadable / timed
out / stopped by a limit / not a notebook of this course), the points of each check (columns
``<check> (<points>)``, empty where the notebook has no such check or was not graded), the
total and maximum of the checks, the number of written answers left for the teacher (nbgrader
gives 0 to one left as YOUR ANSWER HERE), the locked cells the student had edited (graded in
the teacher's version), the grading seed, and a message (which limit stopped the student's
code, if one did). A file that cannot be graded gets its row and the batch goes on.
summary.md gives, per check, how many passed and the most common failure messages.
"""
import argparse
import csv
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from utils.tools.grading_cases import CASES, encoders, grade_exercise, sandbox_program
from utils.tools.nbgrader_course import Course, _job_dir, _nbgrader, _show_verdicts, make_course_dir, merge
from utils.tools.nbgrader_meta import NBGRADER_KEY
from utils.tools.notebooks import COURSE_KEY, SOLUTIONS_DIR
from utils.tools.sandbox import Limits, Sandbox, SandboxDied, available, course_view
from utils.tools.sandbox_remote import Remote

GRADED, UNREADABLE, TIMED_OUT, LIMIT, FOREIGN = ("graded", "unreadable", "timed out",
                                                 "stopped by a limit", "not a notebook of this course")
DEFAULT_TIMEOUT = 600  # seconds per notebook: every solution runs in at most 3 minutes on 2 cores


@dataclass
class Row:
    """One line of the gradebook: a student's file and what grading made of it."""
    student: str
    notebook: str
    path: Path
    status: str = GRADED
    scores: dict = field(default_factory=dict)  # check name -> points scored
    failures: dict = field(default_factory=dict)  # check name -> first line of its error
    edited: list = field(default_factory=list)  # grade ids of edited locked cells
    manual: int = 0  # written answers that nbgrader left for the teacher
    seconds: float = 0.0  # time spent autograding it
    seed: int = 0  # of the inputs the checks drew for this grading run
    message: str = ""


def classify(course, path):
    """None if ``path`` is a notebook of the course to autograde, else (status, message)."""
    if path.suffix != ".ipynb" or path.stem not in course.solutions:
        return FOREIGN, f"{path.name} is not named like a notebook of this course"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for broken JSON or schema
        return UNREADABLE, f"cannot be read as a notebook ({type(exc).__name__})"
    info = nb.metadata.get(COURSE_KEY, {})
    if not info.get("lecture") or info.get("built_from") != f"solutions/{path.name}":
        return FOREIGN, "not the course's lecture (no course metadata, or another notebook's)"
    return None


def edited_locked_cells(submitted, released):
    """grade ids of the locked cells of ``released`` whose source the student changed or deleted."""
    cells = {c.metadata.get(NBGRADER_KEY, {}).get("grade_id"): c for c in submitted.cells}
    edited = []
    for cell in released.cells:
        meta = cell.metadata.get(NBGRADER_KEY, {})
        if meta.get("locked"):
            mine = cells.get(meta["grade_id"])
            if mine is None or mine.source != cell.source or mine.cell_type != cell.cell_type:
                edited.append(meta["grade_id"])
    return edited


def autograde(course, root, jobs_dir, row, timeout, views=None, seed=0, unsafe=False):
    """Grade one submission in a directory of its own; fill in ``row``. Returns the job dir.

    nbgrader (execution off) restores locked cells and records the submission; the points
    come from ``trusted_verdicts``. views: {notebook: course view folder} (made if missing).
    """
    job = _job_dir(course, root, jobs_dir, row, timeout)
    began = time.monotonic()
    code, log = _nbgrader(["autograde", row.notebook, "--student", row.student, "--force"],
                          cwd=job, timeout=timeout)
    if code is None:
        row.status, row.message = TIMED_OUT, f"stopped after {timeout:g} s"
        return job
    graded = job / "autograded" / row.student / row.notebook / f"{row.notebook}.ipynb"
    if code != 0 or not graded.exists():
        errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
        row.status = UNREADABLE
        row.message = "nbgrader could not grade it: " + (errors[0] if errors else f"exit {code}")
        return job
    # against the whole lecture: an edit to a cell that grading leaves out is still reported
    submitted = nbformat.read(row.path, as_version=4)
    row.edited = edited_locked_cells(submitted, course.lecture(row.notebook))
    views = {} if views is None else views
    if row.notebook not in views:
        views[row.notebook] = course_view(row.notebook[:2], jobs_dir / f"view-{row.notebook}")
    left = max(1.0, timeout - (time.monotonic() - began))
    verdicts, stopped = trusted_verdicts(course, row, submitted, views[row.notebook], left, seed, unsafe)
    row.seed = seed
    for name, (ok, message) in verdicts.items():
        row.scores[name] = course.checks(row.notebook)[name] if ok else 0
        if not ok:
            row.failures[name] = message
    if stopped:
        row.message = stopped
        if stopped.startswith("time limit"):
            row.status, row.message = TIMED_OUT, f"stopped after {timeout:g} s (time limit)"
        elif stopped.startswith("the sandbox stopped"):
            row.status = LIMIT
    if row.status != GRADED:
        row.scores, row.failures = {}, {}
        return job
    from nbgrader.api import Gradebook  # nbgrader is a teacher requirement, loaded only to grade
    with Gradebook(f"sqlite:///{job / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(row.notebook, row.notebook, row.student)
        for grade in submission.grades:
            if grade.name in row.scores:
                grade.auto_score, grade.needs_manual_grade = row.scores[grade.name], False
        row.manual = sum(bool(grade.needs_manual_grade) for grade in submission.grades)
        gb.db.commit()
    _show_verdicts(graded, verdicts)
    return job


def trusted_verdicts(course, row, submitted, view, timeout, seed, unsafe=False):
    """{check: (passed, message)} of one submission, and what stopped its sandbox ("" if nothing).

    The student's exercise cells run in a sandbox (one per submission, ``timeout`` seconds in
    all); each check runs here on the sandboxed functions (utils.tools.grading_cases).
    """
    names = list(course.checks(row.notebook))
    verdicts = {n: (False, "CheckFailed: not graded (the sandbox stopped first)") for n in names}
    limits = Limits(wall=timeout, cpu=int(timeout) + 5)  # a busy loop meets the wall-clock limit first
    stopped = ""
    with Sandbox(view, limits, unsafe=unsafe) as box:
        try:
            remote = Remote(box, encoders())
            errors, _ = remote.load(sandbox_program(submitted, course.lecture(row.notebook)))
            stopped = _limit_in(errors, limits)
            for name in names:
                if name not in CASES:
                    verdicts[name] = (False, f"CheckFailed: {name}: no grading case (grade it by hand)")
                    continue
                verdicts[name] = grade_exercise(name, remote, seed)
        except SandboxDied as exc:
            stopped = f"the sandbox stopped: {exc}" if not str(exc).startswith("time limit") else str(exc)
    return verdicts, stopped


def _limit_in(errors, limits):
    """Which limit the student's cells ran into, from their errors ("" if none)."""
    for label, error in errors.items():
        if error.startswith("MemoryError"):
            return f"memory limit ({limits.memory_mb} MB address space) in cell {label}: {error}"
        if error.startswith("BlockingIOError") or "Resource temporarily unavailable" in error:
            return f"process limit ({limits.processes} processes) in cell {label}: {error}"
        if "File too large" in error:
            return f"file size limit ({limits.file_mb} MB) in cell {label}: {error}"
    return ""


def collect(submissions):
    """Rows for every file ``<student>/<file>`` under the submissions folder, sorted."""
    rows = []
    for student in sorted(p for p in Path(submissions).iterdir()
                          if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(p for p in student.iterdir() if p.is_file() and not p.name.startswith(".")):
            rows.append(Row(student.name, path.stem if path.suffix == ".ipynb" else path.name, path))
    return rows


def write_gradebook(course, rows, path):
    names = [n for n in course.solutions if any(r.notebook == n and r.status == GRADED for r in rows)]
    columns = [(name, check, points) for name in names for check, points in course.checks(name).items()]
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["student", "notebook", "status"] + [f"{c} ({p:g})" for _, c, p in columns]
                     + ["total", "max", "written answers to grade", "edited locked cells", "grading seed",
                        "message"])
        for r in rows:
            known = r.notebook in course.solutions and r.status != FOREIGN
            checks = course.checks(r.notebook) if known else {}
            cells = [f"{r.scores[c]:g}" if c in r.scores else "" for _, c, _ in columns]
            out.writerow([r.student, r.notebook, r.status] + cells
                         + [f"{sum(r.scores.values()):g}", f"{sum(checks.values()):g}" if known else "",
                            r.manual if r.status == GRADED else "",
                            " ".join(r.edited), r.seed if r.scores else "", r.message])


def write_summary(course, rows, path, top=3):
    lines = ["# Grading summary", ""]
    counts = Counter(r.status for r in rows)
    lines.append("Files: " + ", ".join(f"{n} {s}" for s, n in counts.most_common()) + ".")
    for name in course.solutions:
        graded = [r for r in rows if r.notebook == name and r.status == GRADED]
        if not graded:
            continue
        lines += ["", f"## {name}", "", "| check | passed | most common failures |", "| --- | --- | --- |"]
        for check, points in course.checks(name).items():
            passed = sum(r.scores.get(check) == points for r in graded)
            common = Counter(r.failures[check] for r in graded if check in r.failures).most_common(top)
            text = "<br>".join(f"{n}× {msg.replace('|', '/')}" for msg, n in common) or "-"
            lines.append(f"| {check} | {passed} of {len(graded)} | {text} |")
        edited = Counter(g for r in graded for g in r.edited)
        if edited:
            lines += ["", "Edited locked cells (graded in the teacher's version): "
                      + ", ".join(f"{g} ({n})" for g, n in edited.most_common()) + "."]
        manual = sum(r.manual for r in graded)
        if course.written(name):
            lines += ["", f"Written answers ({course.written(name)} per notebook): {manual} to "
                      "grade by hand in nbgrader's formgrader (the others were left unanswered)."]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


class CannotSandbox(Exception):
    """This machine cannot sandbox the students' code, and ``unsafe`` was not given."""


def grade_class(submissions, out="grades", jobs=None, timeout=DEFAULT_TIMEOUT,
                solutions_dir=SOLUTIONS_DIR, log=sys.stdout, whole=False, unsafe=False, seed=None):
    """Grade every submission; write gradebook.csv, summary.md and the course directory.

    whole: give nbgrader every cell, instead of leaving out the cells tagged selfcheck-skip
    (no cell is executed either way; kept for comparison). unsafe: grade without a sandbox
    where this machine has none (the student's code then runs as the teacher). seed: of the
    checks' inputs (default: drawn from os.urandom, one per run).

    Returns: the list of Rows. Raises: CannotSandbox.
    """
    start = time.monotonic()
    ok, how = available()
    if not ok and not unsafe:
        raise CannotSandbox(f"cannot sandbox the students' code: {how}; grading refused "
                            f"(--unsafe grades anyway, with their code running as you)")
    seed = int.from_bytes(os.urandom(4), "little") % 2 ** 31 if seed is None else int(seed)
    course, out = Course(solutions_dir, whole), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = collect(submissions)
    todo = []
    for row in rows:
        problem = classify(course, row.path)
        if problem:
            row.status, row.message = problem
        else:
            todo.append(row)
    names = [n for n in course.solutions if any(r.notebook == n for r in todo)]
    print(f"grading {len(todo)} of {len(rows)} files ({', '.join(names) or 'none'}), "
          f"{timeout:g} s per notebook, seed {seed}, "
          + (f"sandbox: {how}" if ok and not unsafe else "UNSAFE: no sandbox"), file=log, flush=True)
    root = make_course_dir(course, out / "nbgrader", names, timeout)
    jobs_dir = root / ".jobs"
    jobs_dir.mkdir()
    views = {name: course_view(name[:2], jobs_dir / f"view-{name}") for name in names}

    def run(row):
        began = time.monotonic()
        try:
            job = autograde(course, root, jobs_dir, row, timeout, views, seed, unsafe)
        except Exception as exc:  # one bad submission must not stop the batch
            row.status, row.message = UNREADABLE, f"grading failed: {type(exc).__name__}: {exc}"
            job = None
        row.seconds = time.monotonic() - began
        return row, job

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        for row, job in pool.map(run, todo):
            if row.status == GRADED:
                merge(root, job, row)
            print(f"  {row.student}/{row.path.name}: {row.status}"
                  + (f" {sum(row.scores.values()):g}/{sum(course.checks(row.notebook).values()):g}"
                     if row.status == GRADED else "") + f" ({row.seconds:.0f} s)"
                  + (f": {row.message}" if row.message else ""), file=log, flush=True)
    shutil.rmtree(jobs_dir, ignore_errors=True)
    write_gradebook(course, rows, out / "gradebook.csv")
    write_summary(course, rows, out / "summary.md")
    print(f"wrote {out / 'gradebook.csv'} and {out / 'summary.md'} "
          f"({time.monotonic() - start:.0f} s); written answers: formgrader in {root}", file=log)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder of <student>/<NN_name>.ipynb")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="where to write (grades/)")
    parser.add_argument("--jobs", type=int, default=0, help="notebooks graded at once (0: the cores)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per notebook ({DEFAULT_TIMEOUT})")
    parser.add_argument("--whole", action="store_true",
                        help="give nbgrader every cell, training included (none runs; the same verdicts)")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade even where the students' code cannot be sandboxed (it runs as you)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"grade: {args.submissions} is not a folder of <student>/<NN_name>.ipynb", file=sys.stderr)
        return 2
    try:
        grade_class(args.submissions, args.out, args.jobs, args.timeout, whole=args.whole,
                    unsafe=args.unsafe)
    except CannotSandbox as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
