"""Helpers for tests that run the self-check on edited copies of a real lecture."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils.checks.core import CheckFailed

from utils.tools.notebooks import CODE_PLACEHOLDER, LECTURES_DIR, REPO_ROOT, SOLUTIONS_DIR


def lecture_with_answers(name, tmp_path, edits=None):
    """Copy lectures/<name> into tmp_path with the solutions pasted into the exercise cells.

    edits: {(old, new)} string replacements applied to the pasted solutions, i.e. planted
    mistakes. Returns the path of the copy.
    """
    lecture = nbformat.read(LECTURES_DIR / name, as_version=4)
    solution = nbformat.read(SOLUTIONS_DIR / name, as_version=4)
    applied = set()
    for lecture_cell, solution_cell in zip(lecture.cells, solution.cells):
        if lecture_cell.cell_type == "code" and CODE_PLACEHOLDER in lecture_cell.source:
            source = solution_cell.source
            for old, new in (edits or {}).items():
                if old in source:
                    source = source.replace(old, new)
                    applied.add(old)
            lecture_cell.source = source
    missing = set(edits or {}) - applied
    assert not missing, f"planted mistake not found in any exercise: {missing}"
    path = Path(tmp_path) / name
    nbformat.write(lecture, path)
    return path


def run_selfcheck_cli(path):
    """Run ``python -m utils.tools.selfcheck path``; return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "utils.tools.selfcheck", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def assert_check_fails(check, wrong_fn, name):
    """Run ``check(wrong_fn)``; it must raise CheckFailed naming the exercise. Returns the message."""
    with pytest.raises(CheckFailed) as info:
        check(wrong_fn)
    assert name in str(info.value), f"the message does not name {name}: {info.value}"
    return str(info.value)
