"""Where the test suite's time goes: the wall time of each tier and its slowest items.

    python -m utils.tools.suite_time              # make test, then make test-slow
    python -m utils.tools.suite_time --tier test  # one tier
    python -m utils.tools.suite_time --readme     # and write the figures into README.md
    python -m utils.tools.suite_time --from-log ci.log --readme   # the figures of a CI run (.ci/run's output)

Runs each tier through the Makefile (the same command a contributor runs, with a JUnit report
added through PYTEST_ARGS) and prints the tier's wall time, its outcome and the 15 items that
took longest (an nbval item is one notebook cell). It measures, it asserts nothing: a timed test
would fail on a busy machine without anything being wrong.
"""
import argparse
import re
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


def figures_from_ci_log(text, count=15):
    """What a .ci/run log says: (setup seconds, {target: (seconds, status)}, {tier: slowest items}).

    .ci/run prints "CI: setup done after N s" and "CI: make T finished with status S after N s";
    pytest's --durations prints a "slowest 15 durations" section per tier, in the order run.
    """
    setup = re.search(r"CI: setup done after (\d+) s", text)
    targets = {m[1]: (int(m[3]), int(m[2])) for m in
               re.finditer(r"CI: make (\S+) finished with status (\d+) after (\d+) s", text)}
    sections = re.findall(r"=+ slowest \d+ durations =+\n(.*?)(?:\n=|\n\n|\Z)", text, re.S)
    slow = {}
    for tier, section in zip(TIERS, sections):
        items = [re.match(r"([\d.]+)s (\w+) +(.*)", line) for line in section.splitlines()]
        slow[tier] = [(float(m[1]), m[3]) for m in items if m and m[2] == "call"][:count]
    return (int(setup[1]) if setup else None), targets, slow


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=TIERS, action="append", help="default: both")
    parser.add_argument("--count", type=int, default=15)
    parser.add_argument("--readme", action="store_true", help="write the figures between the suite markers of README.md")
    parser.add_argument("--from-log", type=Path, help="read the figures from a .ci/run log instead of running")
    parser.add_argument("--date", help="the date of the logged run (default: today)")
    args = parser.parse_args(argv)
    if args.from_log:
        setup, targets, slow = figures_from_ci_log(args.from_log.read_text(encoding="utf-8"), args.count)
        lines = [f"`.ci/run` on a fresh clone, {args.date or datetime.date.today().isoformat()}, {platform.machine()}, "
                 f"{os.cpu_count()} cores, networking "
                 f"{'disabled' if 'with networking disabled' in args.from_log.read_text(encoding='utf-8') else 'on'}: setup {setup} s; "
                 + "; ".join(f"make {t} {s} s ({'passed' if code == 0 else 'FAILED'})" for t, (s, code) in targets.items())
                 + f"; {sum(s for s, _ in targets.values()) + (setup or 0)} s in all. `make test` from a fresh "
                 f"clone, setup included: {(setup or 0) + targets.get('test', (0, 0))[0]} s.", ""]
        for tier, items in slow.items():
            lines += [f"The {len(items)} slowest items of `make {tier}` (seconds each; an nbval item is one cell):", ""]
            lines += [f"    {s:7.1f}  {name}" for s, name in items] + [""]
        text = "\n".join(lines)
        print(text)
        if args.readme:
            update_readme(text, start=START, end=END)
        return 0 if targets and all(code == 0 for _, code in targets.values()) else 1
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
