"""The student releases in one table: size, leak scan, checks, Run All of the handed-out lecture.

    .venv/bin/python benchmarks/release_table.py            # all eight (about 5 minutes on 2 cores)
    .venv/bin/python benchmarks/release_table.py 03 05      # some

For each NN it builds release/NN (``utils.tools.release``), scans it for leaks, runs every
check case of notebook NN (its solution and every planted mistake of the catalogue) with the
release's utils and with the full course's and counts how many verdicts agree, and times Run
All of lecture NN unsolved in the release at the tiny budget (``COURSE_BUDGET=tiny``), listing
the cells that said "… skipped".
"""
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

from utils.tools.notebooks import REPO_ROOT
from utils.tools.release import build_release
from utils.tools.release_checks import check_cases, verify
from utils.tools.release_leaks import leaks
from utils.tools.release_withheld import NOTEBOOKS


def run_all(release, nb):
    """Seconds of Run All of lecture nb in the release, and how many cells were skipped."""
    lecture = next((release / "lectures").glob(f"{nb}_*.ipynb"))
    notebook = nbformat.read(lecture, as_version=4)
    os.environ.update(PYTHONPATH=str(release), COURSE_BUDGET="tiny", PYTHONDONTWRITEBYTECODE="1")
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(lecture.parent)}}).execute()
    seconds = time.perf_counter() - start
    skipped = sum(1 for c in notebook.cells if c.cell_type == "code"
                  for o in c.outputs if "… skipped:" in o.get("text", ""))
    return seconds, skipped


def main(notebooks):
    print("| NN | files | MB (folder / zip) | leaks | solutions pass | planted mistakes judged like the full course | Run All unsolved (tiny) | cells skipped |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for nb in notebooks:
        release = build_release(nb)
        files = [p for p in release.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files) / 1e6
        zipped = release.with_suffix(".zip").stat().st_size / 1e6
        found = leaks(release, nb)
        cases = check_cases(nb)
        full, released = verify(REPO_ROOT, cases), verify(release, cases)
        solved = [c for c in cases if c["mistake"] is None]
        passed = sum(1 for c, r in zip(cases, released) if c["mistake"] is None and r == "passed")
        planted = [(f, r) for c, f, r in zip(cases, full, released) if c["mistake"]]
        alike = sum(1 for f, r in planted if f.splitlines()[0] == r.splitlines()[0] and f != "passed")
        seconds, skipped = run_all(release, nb)
        print(f"| {nb} | {len(files)} | {size:.1f} / {zipped:.1f} | {len(found)} | {passed} of {len(solved)} "
              f"| {alike} of {len(planted)} | {seconds:.0f} s | {skipped} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or NOTEBOOKS[1:])
