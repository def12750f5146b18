"""The student release (utils.tools.release): nothing of NN..08 leaks, and the release works.

The fast tier builds the eight releases once and scans each for leaks; it judges the checks of
one release against the full course. The slow tier runs, for every release, lecture NN unsolved
(Run All at the tiny budget), with the solutions pasted in (make check passes) and with one
planted mistake per exercise (each exercise's check fails), and judges every check case.
"""
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from utils.tools.kernel_client import CourseNotebookClient
from utils.tools.notebooks import REPO_ROOT, lecture_with_answers
from utils.tools.planted_catalogue import CATALOGUE, representative
from utils.tools.references import references
from utils.tools.release import build_release
from utils.tools.release_checks import check_cases, verify
from utils.tools.release_leaks import leaks
from utils.tools.release_withheld import NOTEBOOKS, withheld

RELEASED = NOTEBOOKS[1:]


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    return {nb: build_release(nb, root / nb) for nb in RELEASED}


def _run(release, code):
    """Run python ``code`` with only the release's utils on the path (the course's .venv)."""
    return subprocess.run([sys.executable, "-c", code], cwd=release, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(release), "PYTHONDONTWRITEBYTECODE": "1"}, timeout=300)


@pytest.mark.parametrize("nb", RELEASED)
def test_no_reference_of_nn_to_08_leaks(releases, nb):
    release = releases[nb]
    assert leaks(release, nb) == []
    assert (release / "lectures").is_dir() and not (release / "solutions").exists()
    assert sorted(p.name[:2] for p in (release / "lectures").glob("*.ipynb")) == NOTEBOOKS[:int(nb) + 1]
    assert not (release / "utils" / "tools" / "planted_mistakes.py").exists()
    assert release.with_suffix(".zip").stat().st_size > 0


def test_a_planted_leak_a_pyc_and_a_working_reference_are_caught(releases, tmp_path):
    release = shutil.copytree(releases["05"], tmp_path / "05")
    assert leaks(release, "05") == []
    body = "\n".join("    " + line for line in references()["lstm_step_backward"].body)
    with open(release / "utils" / "viz" / "__init__.py", "a") as f:  # a solution pasted into a file
        f.write(f"\n\ndef helper(dnext_h, dnext_c, cache):\n{body}\n    return dx\n")
    (release / "utils" / "stray.cpython-311.pyc").write_bytes(b"\0")
    lstm = release / "utils" / "layers" / "lstm.py"
    shutil.copy(REPO_ROOT / "utils" / "layers" / "lstm.py", lstm)  # the full reference back
    found = "\n".join(leaks(release, "05"))
    assert "viz/__init__.py: lstm_step_backward's reference shows" in found
    assert "compiled Python ships" in found
    assert "lstm_forward still runs code" in found and "lstm_step_backward still runs code" in found


def test_a_withheld_function_names_its_notebook_and_exercise(releases):
    result = _run(releases["05"], "import numpy as np\nfrom utils.layers import lstm_forward, rnn_forward\n"
                  "x = np.ones((2, 3, 4)); print(rnn_forward(x, None, np.ones((4, 5)), np.eye(5), np.ones(5))[0].shape)\n"
                  "lstm_forward(x, None, np.ones((4, 20)), np.ones((5, 20)), np.ones(20))")
    assert "(2, 3, 5)" in result.stdout, result.stderr  # 03's reference ships in release 05
    assert "ExerciseNotSolved: lstm_forward is exercise 3 of notebook 05" in result.stderr


def test_the_checks_of_release_05_judge_like_the_full_course(releases):
    cases = check_cases("05")
    full, released = verify(REPO_ROOT, cases), verify(releases["05"], cases)
    assert len(cases) == len([e for e in withheld("05") if e.notebook == "05"]) + \
        len([m for m in CATALOGUE if m.notebook.startswith("05")])
    for case, want, got in zip(cases, full, released):
        assert (want == "passed") == (case["mistake"] is None), (case["exercise"], case["mistake"], want)
        assert got.splitlines()[0] == want.splitlines()[0], (case["exercise"], case["mistake"])


@pytest.mark.slow
@pytest.mark.parametrize("nb", RELEASED)
def test_every_check_case_of_every_release_judges_like_the_full_course(releases, nb):
    cases = check_cases(nb)
    full, released = verify(REPO_ROOT, cases), verify(releases[nb], cases)
    for case, want, got in zip(cases, full, released):
        assert (want == "passed") == (case["mistake"] is None), (case["exercise"], case["mistake"], want)
        assert got.splitlines()[0] == want.splitlines()[0], (case["exercise"], case["mistake"])


def _selfcheck(release, path):
    result = subprocess.run([sys.executable, "-m", "utils.tools.selfcheck", str(path)], cwd=release,
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "PYTHONPATH": str(release), "COURSE_BUDGET": "tiny",
                                 "PYTHONDONTWRITEBYTECODE": "1"})
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("nb", RELEASED)
def test_lecture_nn_runs_unsolved_passes_solved_and_fails_each_planted_mistake(releases, nb, tmp_path, monkeypatch):
    release = releases[nb]
    lecture = next((release / "lectures").glob(f"{nb}_*.ipynb"))
    # Run All, every exercise unsolved: no error; skipped cells say which exercise they wait for
    notebook = nbformat.read(lecture, as_version=4)
    for name, value in (("PYTHONPATH", str(release)), ("COURSE_BUDGET", "tiny"), ("PYTHONDONTWRITEBYTECODE", "1")):
        monkeypatch.setenv(name, value)  # the kernel inherits them
    CourseNotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(lecture.parent)}}).execute()
    skipped = [o["text"] for c in notebook.cells if c.cell_type == "code" for o in c.outputs
               if o.get("output_type") == "stream" and "… skipped:" in o.get("text", "")]
    assert all("exercise" in text or "waiting for" in text for text in skipped), skipped
    # the solutions pasted in: make check passes every exercise
    (tmp_path / "solved").mkdir()
    (tmp_path / "planted").mkdir()
    status, text = _selfcheck(release, lecture_with_answers(lecture.name, tmp_path / "solved"))
    assert status == 0, text
    # one planted mistake per exercise, all at once: every exercise's check fails
    mistakes = [m for m in representative() if m.notebook == lecture.name]
    planted = lecture_with_answers(lecture.name, tmp_path / "planted", {m.old: m.new for m in mistakes})
    status, text = _selfcheck(release, planted)
    assert status == 1
    for mistake in mistakes:
        assert f"{mistake.exercise}: wrong" in text or f"✗ {mistake.exercise}" in text, (mistake, text)


def test_every_shipped_dataset_goes_out_with_the_first_lecture_that_loads_it():
    from utils.tools.release import DATASET_FIRST_USED
    shipped = {p.name for p in (REPO_ROOT / "datasets").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert shipped == set(DATASET_FIRST_USED), "add the folder to DATASET_FIRST_USED with the lecture that loads it"
