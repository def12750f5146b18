"""Student self-check: re-run a lecture notebook and compare its check cells with the reference.

    python -m utils.tools.selfcheck lectures/01_rnn_basics.ipynb      (or: make check NB=...)

How it works. The build stored the reference output of every check cell in that cell's
metadata. This tool copies the notebook to a temporary folder, puts those reference outputs
back into the check cells, marks every other cell as "run it, do not compare", leaves out the
cells tagged ``selfcheck-skip`` (training runs and figures that no check needs), and runs
nbval on the copy in a fresh kernel. So what counts is what the student's code does now, not
what the saved notebook shows. The kernel runs with COURSE_SELFCHECK set: checks then fail on
an unsolved exercise instead of printing a line (see utils.checks.core.grading), and a
self-check started from inside the notebook being checked refuses to run (it would check
itself again, forever). It then prints one line per exercise:
passed / wrong (with the first line of the check's message) / not implemented / not reached.
Nothing is written next to the student's notebook. Exit status: 0 if every exercise passed,
1 if some did not, 2 if the path is not a lecture notebook.

The self-check is for the student, not for grading: the checks run in the student's own
kernel, after the student's code, which could replace or patch them (fooling yourself gains
nothing). The trusted path is ``make grade`` (utils.tools.grade): the student's code runs in a
sandbox and every check is decided in the grader's own process, on fresh inputs.
"""
import argparse
import contextlib
import io
import itertools
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from utils.checks.core import SELFCHECK_VARIABLE
from utils.tools.notebooks import COURSE_KEY, SANITIZE_FILE, SKIP_TAG, check_name, without_skipped_cells
from utils.tools import nbval_settings

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class NotALecture(Exception):
    """The path given is not a lecture notebook that the self-check can run."""


class AlreadyRunning(Exception):
    """A self-check was started from inside a notebook that a self-check is running."""


def load_lecture(path):
    """Read and validate a lecture notebook. Returns the NotebookNode; raises NotALecture."""
    path = Path(path)
    if not path.exists():
        raise NotALecture(f"{path}: no such file")
    if path.is_dir():
        raise NotALecture(f"{path}: is a folder; give one notebook, e.g. lectures/01_rnn_basics.ipynb")
    if path.suffix != ".ipynb":
        raise NotALecture(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for broken JSON
        raise NotALecture(f"{path}: cannot be read as a notebook ({type(exc).__name__})") from None
    info = nb.metadata.get(COURSE_KEY, {})
    if not info.get("lecture"):
        raise NotALecture(f"{path}: not a lecture notebook of this course (run the self-check "
                          f"on the copy in lectures/, not on solutions/ or another notebook)")
    if not info.get("checks"):
        raise NotALecture(f"{path}: this lecture has no exercises to check")
    return nb


def prepare_copy(nb):
    """The notebook nbval runs: reference outputs in check cells, other cells unchecked."""
    nb = without_skipped_cells(nb)  # a copy
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if check_name(cell):
            cell.outputs = [nbformat.from_dict(o)
                            for o in cell.metadata[COURSE_KEY].get("reference_outputs", [])]
            cell.execution_count = 1  # nbval only compares cells that have been run
        else:
            cell.outputs = []
            cell.execution_count = None  # not compared
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")  # an unfinished exercise must not stop the run
    return nb


class _CheckCollector:
    """pytest plugin that records the outcome of each check cell."""

    def __init__(self):
        self.results = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        cell = getattr(item, "cell", None)
        name = check_name(cell) if cell is not None else None
        if name and report.when == "call":
            self.results[name] = (report.outcome, ANSI.sub("", report.longreprtext or ""))


def classify(outcome, text):
    """(status, detail) of one check cell from its nbval outcome and failure text."""
    if outcome == "passed":
        return "passed", ""
    raw = text.splitlines()
    lines = [line.strip() for line in raw if line.strip()]
    for line in lines:
        if line.startswith("…") and "not implemented" in line:
            return "not implemented", ""
    for i, line in enumerate(raw):
        if line.strip().startswith("✗"):
            # the message's further lines (indented by _render_traceback_) say why: keep them
            more = [m.strip() for m in itertools.takewhile(lambda m: m.startswith("  ") and m.strip(), raw[i + 1:])]
            return "wrong", "\n".join([line.strip()[1:].strip()] + more)
    if "Cell outputs differ" in text:
        return "wrong", "the check printed something else than the reference (was the check cell edited?)"
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)]
    if errors:
        return "wrong", errors[-1] + " (did the exercise cell above run without errors?)"
    return "wrong", lines[-1] if lines else "the check cell failed"


def run_selfcheck(path, out=sys.stdout, verbose=False):
    """Run the self-check on one lecture notebook and print the summary.

    verbose: also print nbval's own report (inputs and outputs of every failing cell).

    Returns: (exit status, {exercise: (status, detail)}).
    Raises: NotALecture for a path that is not a lecture; AlreadyRunning inside a self-check.
    """
    if os.environ.get(SELFCHECK_VARIABLE):
        raise AlreadyRunning("a self-check is already running this notebook (the command is in one of "
                             "its cells); run the self-check from a terminal instead")
    nb = load_lecture(path)
    names = nb.metadata[COURSE_KEY]["checks"]
    collector = _CheckCollector()
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as tmp:
        copy_path = Path(tmp) / Path(path).name
        nbformat.write(prepare_copy(nb), copy_path)
        (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
        args = [str(copy_path), "--nbval", "--nbval-current-env", "-q",
                "-p", "no:cacheprovider", "--rootdir", tmp, "-c", str(Path(tmp) / "pytest.ini"),
                "--nbval-cell-timeout", "600"]
        if SANITIZE_FILE.exists():
            args += ["--nbval-sanitize-with", str(SANITIZE_FILE)]
        print(f"Running {path} in a fresh kernel and comparing its {len(names)} checks "
              f"with the reference...", file=out, flush=True)
        nbval_log = io.StringIO()
        os.environ[SELFCHECK_VARIABLE] = "1"  # the kernel inherits it: checks fail, nested runs refuse
        try:
            with contextlib.redirect_stdout(nbval_log):
                code = pytest.main(args, plugins=[collector, nbval_settings])
        finally:
            del os.environ[SELFCHECK_VARIABLE]
        if verbose:
            print(nbval_log.getvalue(), file=out)
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR,
                pytest.ExitCode.NO_TESTS_COLLECTED):
        raise RuntimeError(f"self-check: nbval could not run the notebook (pytest exit {code})")
    summary = {}
    for name in names:
        if name in collector.results:
            summary[name] = classify(*collector.results[name])
        else:
            summary[name] = ("not reached", "the notebook stopped before this check ran")
    width = max(len(n) for n in names)
    print(f"\nSelf-check of {path}", file=out)
    for name, (status, detail) in summary.items():
        mark = {"passed": "✓", "wrong": "✗", "not implemented": "…"}.get(status, "?")
        line = f"  {mark} {name:<{width}}  {status}"
        print(line + (f": {detail}" if detail else "").replace("\n", "\n" + " " * (width + 6)), file=out)
    n_passed = sum(status == "passed" for status, _ in summary.values())
    print(f"{n_passed} of {len(names)} exercises passed", file=out)
    return (0 if n_passed == len(names) else 1), summary


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check the exercises of a lecture notebook.")
    parser.add_argument("notebook", help="a lecture notebook, e.g. lectures/01_rnn_basics.ipynb")
    parser.add_argument("--verbose", action="store_true",
                        help="also show nbval's full report of every failing cell")
    args = parser.parse_args(argv)
    try:
        status, _ = run_selfcheck(args.notebook, verbose=args.verbose)
    except (NotALecture, AlreadyRunning) as exc:
        print(f"self-check: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
