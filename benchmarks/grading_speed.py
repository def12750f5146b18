"""Seconds per submission that `make grade` spends on each notebook, and what a class costs.

    .venv/bin/python benchmarks/grading_speed.py                 # every notebook, both ways
    .venv/bin/python benchmarks/grading_speed.py --notebooks 01 02 --out /tmp/grading

One perfect submission per notebook (the lecture with its solutions pasted in) is graded by
utils.tools.grade twice, one file at a time: as `make grade` does (only the cells the checks
need) and with --whole (every cell, training included). It prints seconds per submission for
each notebook both ways, checks that both ways give the same gradebook, and a table of how many
minutes a class of n students takes for one notebook on this machine, with JOBS files at once
(estimated from the measured seconds: n * seconds / JOBS; with JOBS equal to the cores the
kernels share them, so measure before relying on the last column).
Needs nbgrader (requirements-teacher.txt, installed by make grade or make test).
"""
import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.tools.grade import grade_class  # noqa: E402
from utils.tools.notebooks import lecture_with_answers, solution_notebooks  # noqa: E402


def seconds_per_notebook(names, folder, whole):
    """{notebook: seconds} grading one perfect submission of each, one at a time; and the gradebook."""
    submissions = Path(folder) / "submissions" / "perfect"
    submissions.mkdir(parents=True, exist_ok=True)
    for name in names:
        lecture_with_answers(name, submissions)
    out = Path(folder) / ("whole" if whole else "checks")
    rows = grade_class(submissions.parent, out, jobs=1, timeout=900, whole=whole, log=io.StringIO())
    bad = [f"{r.notebook}: {r.status} {r.message}" for r in rows if r.status != "graded"
           or sum(r.scores.values()) != len(r.scores)]
    if bad:
        raise SystemExit("a perfect submission did not get full marks: " + "; ".join(bad))
    return {r.notebook: r.seconds for r in rows}, (out / "gradebook.csv").read_text(encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=[], help="numbers such as 01 02 (default: all)")
    parser.add_argument("--out", type=Path, help="keep the grading folders here (default: a temporary one)")
    args = parser.parse_args(argv)
    names = [p.name for p in solution_notebooks() if not args.notebooks or p.name[:2] in args.notebooks]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        fast, fast_book = seconds_per_notebook(names, folder, whole=False)
        whole, whole_book = seconds_per_notebook(names, folder, whole=True)
    cores = os.cpu_count() or 1
    print(f"seconds per submission, one file at a time ({cores} cores):")
    print(f"  {'notebook':26s} {'make grade':>11s} {'--whole':>9s}")
    for name in fast:
        print(f"  {name:26s} {fast[name]:9.1f} s {whole[name]:7.1f} s")
    print("same gradebook both ways:", fast_book == whole_book)
    print(f"\nminutes for a class, one notebook (make grade), JOBS=1 / JOBS={cores}:")
    print(f"  {'notebook':26s} " + " ".join(f"{n:>13d}" for n in (30, 100, 200)) + "  students")
    for name, s in fast.items():
        print(f"  {name:26s} " + " ".join(f"{n * s / 60:6.0f} / {n * s / 60 / cores:4.0f}" for n in (30, 100, 200)))
    return 0 if fast_book == whole_book else 1


if __name__ == "__main__":
    sys.exit(main())
