"""Each exercise's reference has one source (utils), and the solution notebooks show exactly it."""
import shutil

import nbformat
import pytest

from utils.tools.notebooks import SOLUTIONS_DIR
from utils.tools.references import (ReferenceMarkerError, divergences, exercises, references,
                                    with_references)


def test_every_exercise_has_its_reference_in_utils_and_the_solutions_show_it():
    found = exercises()
    assert len(found) >= 30 and len({e.name for e in found}) == len(found)
    assert divergences() == []


def test_a_solution_edited_by_hand_is_caught(tmp_path):
    for path in SOLUTIONS_DIR.glob("*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    path = next(tmp_path.glob("05_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "def lstm_step_backward" in c.source)
    cell.source = cell.source.replace("dprev_c = dc * f", "dprev_c = dc * f * 1.0")
    nbformat.write(nb, path)
    problems = divergences(tmp_path)
    assert len(problems) == 1 and "lstm_step_backward differs" in problems[0], problems


def test_a_region_without_reference_stops_the_build_with_its_name():
    source = "def mystery(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    with pytest.raises(ReferenceMarkerError, match="mystery has no reference"):
        with_references(source, references(), "cell 3")


def test_the_build_writes_the_reference_at_the_solution_s_indentation():
    refs = references()
    source = ("def softmax(scores):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    pass\n"
              "    ### END SOLUTION\n")
    written = with_references(source, refs).splitlines()
    assert written[3:-1] == ["    " + line for line in refs["softmax"].body]
