"""Run the strict nbval suite several times in a row and report the cells that do not always pass.

    python -m utils.tools.flaky                       # every solution notebook, 3 runs
    python -m utils.tools.flaky --runs 3 solutions/01_rnn_basics.ipynb solutions/04_gradient_flow.ipynb
    python -m utils.tools.flaky --jobs 2                # two notebooks at a time, as make test runs them on 2 cores

Each run checks every notebook given (default: all of solutions/) with the nbval options of
``make test`` (strict: every output compared, the course's sanitiser, a 600 s cell timeout), but
not through ``make test``: one fresh pytest process per notebook, ``--jobs`` of them at a time
(default 1; ``make test`` runs one notebook per core with pytest-xdist). ``--runs`` is at least
2 (default 3). Cells are named as nbval names them, ``Cell N`` counting the code cells of the
notebook from 0 (markdown cells are not counted). A cell is flaky when it passed in some runs
and failed in others (an error counts as a failure), and always failing when it failed in
every run. Prints one line per run (cells passed and failed, wall seconds, notebooks at a
time), then one line per flaky or always-failing cell (notebook, cell, runs passed), then
"flaky cells: K; always failing: F; cells checked: C"; the exit status is 1 when any cell is
flaky or always failing, 0 otherwise. A notebook that yields no nbval result stops the command
with the end of pytest's output. With ``--jobs 1`` a run takes about as long as ``make test``'s
nbval part with ``TEST_JOBS=1`` (minutes on a 2-core machine), so this is a command to run
before a release, not part of the tests.
"""
import argparse
import re
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from utils.tools.notebooks import REPO_ROOT, SANITIZE_FILE, solution_notebooks

RESULT = re.compile(r"::Cell (?P<cell>\d+) (?P<outcome>PASSED|FAILED|ERROR)")


def nbval_run(path):
    """One strict nbval run of one notebook; returns ({cell index: passed?}, seconds)."""
    command = [sys.executable, "-m", "pytest", str(path), "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", str(SANITIZE_FILE), "--nbval-cell-timeout=600", "-v",
               "-p", "no:cacheprovider", "-o", "console_output_style=classic"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    seconds = time.perf_counter() - start
    outcomes = {}
    for line in done.stdout.splitlines():
        found = RESULT.search(line)
        if found:
            outcomes[int(found["cell"])] = found["outcome"] == "PASSED"
    if not outcomes:
        raise SystemExit(f"flaky: no nbval results for {path}:\n{done.stdout[-2000:]}"
                         f"{done.stderr[-2000:]}")
    return outcomes, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="solution notebooks (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="notebooks at a time in each run")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    paths = args.notebooks or [str(p) for p in solution_notebooks()]
    history = defaultdict(list)
    for run in range(1, args.runs + 1):
        passed = failed = 0
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(nbval_run, paths))
        seconds = time.perf_counter() - start
        for path, (outcomes, _) in zip(paths, results):
            for cell, ok in outcomes.items():
                history[Path(path).name, cell].append(ok)
                passed, failed = passed + ok, failed + (not ok)
        print(f"run {run}: {passed} cells passed, {failed} failed, {seconds:.0f} s wall "
              f"({args.jobs} at a time)", flush=True)
    flaky = sorted(k for k, v in history.items() if any(v) and not all(v))
    broken = sorted(k for k, v in history.items() if not any(v))
    for label, keys in (("flaky", flaky), ("broken", broken)):
        for notebook, cell in keys:
            print(f"{label}: {notebook} cell {cell} passed {sum(history[notebook, cell])} of "
                  f"{len(history[notebook, cell])} runs")
    print(f"flaky cells: {len(flaky)}; always failing: {len(broken)}; cells checked: {len(history)}")
    return 1 if flaky or broken else 0


if __name__ == "__main__":
    sys.exit(main())
