"""Where the test suite's time goes: the wall time of each tier and its slowest items.

    python -m utils.tools.suite_time              # make test, then make test-slow
    python -m utils.tools.suite_time --tier test  # one tier
    python -m utils.tools.suite_time --readme     # and write the figures into README.md

Runs each tier through the Makefile (the same command a contributor runs, with a JUnit report
added through PYTEST_ARGS) and prints the tier's wall time, its outcome and the 15 items that
took longest (an nbval item is one notebook cell). It measures, it asserts nothing: a timed test
would fail on a busy machine without anything being wrong.
"""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from utils.tools.notebooks import REPO_ROOT
from utils.tools.report import update_readme

TIERS = ("test", "test-slow")
START, END = "<!-- suite:start -->", "<!-- suite:end -->"


def slowest(junit_path, count=15):
    """[(seconds, item id)] of the ``count`` longest test cases of a JUnit XML report."""
    cases = ET.parse(junit_path).getroot().iter("testcase")
    timed = [(float(c.get("time", 0)), f"{c.get('classname', '')}::{c.get('name', '')}") for c in cases]
    return sorted(timed, reverse=True)[:count]


def time_tier(tier, count=15):
    """Run ``make <tier>``; returns (wall seconds, exit status, slowest items)."""
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        start = time.perf_counter()
        status = subprocess.run(["make", tier, f"PYTEST_ARGS=--junitxml={junit}"], cwd=REPO_ROOT).returncode
        seconds = time.perf_counter() - start
        items = slowest(junit, count) if junit.is_file() else []
    return seconds, status, items


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=TIERS, action="append", help="default: both")
    parser.add_argument("--count", type=int, default=15)
    parser.add_argument("--readme", action="store_true", help="write the figures between the suite markers of README.md")
    args = parser.parse_args(argv)
    lines, failed = [], False
    for tier in args.tier or TIERS:
        seconds, status, items = time_tier(tier, args.count)
        failed |= status != 0
        lines += [f"make {tier}: {seconds:.0f} s wall, {'passed' if status == 0 else 'FAILED'}; "
                  f"its {len(items)} slowest items (seconds each):", ""]
        lines += [f"    {s:7.1f}  {name}" for s, name in items] + [""]
    text = (f"Measured {datetime.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores "
            f"(`python -m utils.tools.suite_time`, setup already done):\n\n" + "\n".join(lines))
    print(text)
    if args.readme and not failed:
        update_readme(text, start=START, end=END)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
