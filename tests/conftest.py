"""Shared fixtures, and a closing line that says how many unit tests and notebook cells ran."""
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def repo_root():
    return REPO_ROOT


def pytest_terminal_summary(terminalreporter):
    counts = {"unit tests": {}, "nbval cells": {}}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if report.when == "setup" and outcome == "passed":
                continue
            kind = "nbval cells" if ".ipynb::" in report.nodeid else "unit tests"
            counts[kind][outcome] = counts[kind].get(outcome, 0) + 1
    notebooks = {r.nodeid.split("::")[0] for o in ("passed", "failed")
                 for r in terminalreporter.stats.get(o, []) if ".ipynb::" in r.nodeid}
    parts = []
    for kind, by_outcome in counts.items():
        if by_outcome:
            detail = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items()))
            extra = f" in {len(notebooks)} notebooks" if kind == "nbval cells" else ""
            parts.append(f"{kind}: {detail}{extra}")
    if parts:
        terminalreporter.write_line("course summary: " + "; ".join(parts))
