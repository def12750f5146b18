"""Execute every solution notebook in place (headless) and print how long each one took.

    python -m utils.tools.execute                        # all of solutions/
    python -m utils.tools.execute solutions/02_char_rnn.ipynb
    python -m utils.tools.execute --time-only            # measure runtimes, keep the files as they are

This is how the reference outputs in solutions/ are produced; rebuild lectures/ afterwards
(``make execute`` does both).
"""
import sys
import time
from pathlib import Path

import nbformat

from utils.tools.kernel_client import CourseNotebookClient
from utils.tools.notebooks import solution_notebooks


def execute_notebook(path, timeout=600, write=True):
    """Execute one notebook in its own folder, in place unless write=False.

    Returns: the wall time of the execution in seconds.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = CourseNotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if write:
        nbformat.write(nb, path)
    return seconds


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    write = "--time-only" not in argv
    argv = [a for a in argv if a != "--time-only"]
    paths = [Path(p) for p in argv] or solution_notebooks()
    for p in paths:
        if not p.exists() or p.suffix != ".ipynb":
            print(f"execute: {p}: not a notebook", file=sys.stderr)
            return 2
    total = 0.0
    for p in paths:
        print(f"executing {p} ...", flush=True)
        seconds = execute_notebook(p, write=write)
        total += seconds
        print(f"  {seconds:6.1f} s  {p.name}", flush=True)
    print(f"  {total:6.1f} s  total ({len(paths)} notebooks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
