"""Seconds per submission that `make grade` spends on each notebook, and what a class costs.

    .venv/bin/python benchmarks/grading_speed.py                       # every notebook
    .venv/bin/python benchmarks/grading_speed.py --notebooks 01 02 --before 9fb84d2
    .venv/bin/python benchmarks/grading_speed.py --hostile --before 9fb84d2

One perfect submission per notebook (the lecture with its solutions pasted in) is graded by
utils.tools.grade, one file at a time, and must get full marks. ``--before REV`` also grades
them with utils/tools/grade.py as it was at git revision REV (e.g. the last commit before the
sandbox, 9fb84d2, where nbgrader ran the checks in the student's kernel) and prints both
columns. ``--hostile`` instead grades the hostile class of tests/test_grade_hostile.py (its
attacks that cannot harm the machine: no fork bomb, no 30 GB allocation) and prints the
gradebook, with REV's grader too when given. It then prints how many minutes a class of n
students takes for one notebook on this machine, with JOBS files at once (n * seconds / JOBS;
with JOBS equal to the cores the sandboxes share them, so measure before relying on it).
Needs nbgrader (requirements-teacher.txt, installed by make grade or make test).
"""
import argparse
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from utils.tools.grade import grade_class  # noqa: E402
from utils.tools.notebooks import lecture_with_answers, solution_notebooks  # noqa: E402


def grader_at(rev, folder):
    """grade_class of utils/tools/grade.py as it was at git revision ``rev``."""
    source = subprocess.run(["git", "show", f"{rev}:utils/tools/grade.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(folder) / f"grade_{rev}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"grade_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.grade_class


def seconds_per_notebook(grade, names, folder, label):
    """{notebook: seconds} grading one perfect submission of each, one at a time."""
    submissions = Path(folder) / "submissions" / "perfect"
    submissions.mkdir(parents=True, exist_ok=True)
    for name in names:
        if not (submissions / name).exists():
            lecture_with_answers(name, submissions)
    rows = grade(submissions.parent, Path(folder) / label, jobs=1, timeout=900, log=io.StringIO())
    bad = [f"{r.notebook}: {r.status} {r.message}" for r in rows if r.status != "graded"
           or sum(r.scores.values()) != len(r.scores)]
    if bad:
        raise SystemExit(f"{label}: a perfect submission did not get full marks: " + "; ".join(bad))
    return {r.notebook: r.seconds for r in rows}


def hostile(grade, folder, label):
    """The gradebook of the hostile class (only the attacks that cannot harm the machine)."""
    from test_grade_hostile import Listener, hostile_class  # the class the tests grade
    listener = Listener()
    submissions = Path(folder) / f"hostile-{label}"
    hostile_class(submissions, listener.port, harmful=False)
    start = time.monotonic()
    rows = grade(submissions, Path(folder) / f"grades-{label}", jobs=1, timeout=300, log=io.StringIO())
    seconds = time.monotonic() - start
    listener.close()
    print(f"\n{label}: {len(rows)} files in {seconds:.0f} s; network connections accepted: "
          f"{listener.accepted}")
    print((Path(folder) / f"grades-{label}" / "gradebook.csv").read_text(encoding="utf-8"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=[], help="numbers such as 01 02 (default: all)")
    parser.add_argument("--before", metavar="REV", help="also grade with utils/tools/grade.py at REV")
    parser.add_argument("--hostile", action="store_true", help="grade the hostile class instead")
    parser.add_argument("--out", type=Path, help="keep the grading folders here (default: a temporary one)")
    args = parser.parse_args(argv)
    names = [p.name for p in solution_notebooks() if not args.notebooks or p.name[:2] in args.notebooks]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        graders = {"make grade": grade_class}
        if args.before:
            graders[args.before] = grader_at(args.before, scratch)
        if args.hostile:
            for label, grade in graders.items():
                hostile(grade, folder, label.replace(" ", "_"))
            return 0
        seconds = {label: seconds_per_notebook(grade, names, folder, label.replace(" ", "_"))
                   for label, grade in graders.items()}
    cores = os.cpu_count() or 1
    now = seconds["make grade"]
    print(f"seconds per submission, one file at a time ({cores} cores):")
    print(f"  {'notebook':26s} " + " ".join(f"{label:>11s}" for label in seconds))
    for name in now:
        print(f"  {name:26s} " + " ".join(f"{s[name]:9.1f} s" for s in seconds.values()))
    print(f"\nminutes for a class, one notebook (make grade), JOBS=1 / JOBS={cores}:")
    print(f"  {'notebook':26s} " + " ".join(f"{n:>13d}" for n in (30, 100, 200)) + "  students")
    for name, s in now.items():
        print(f"  {name:26s} " + " ".join(f"{n * s / 60:6.0f} / {n * s / 60 / cores:4.0f}" for n in (30, 100, 200)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
