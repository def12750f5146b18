"""The student self-check on a real lecture: the three cases, and bad input."""
import json

import nbformat
import pytest

from notebook_helpers import lecture_with_answers, run_selfcheck_cli
from utils.tools.notebooks import LECTURES_DIR

LECTURE = "01_rnn_basics.ipynb"


def test_untouched_lecture_reports_not_implemented(tmp_path):
    path = tmp_path / LECTURE
    path.write_bytes((LECTURES_DIR / LECTURE).read_bytes())
    result = run_selfcheck_cli(path)
    assert result.returncode == 1
    for name in ("rnn_step_forward", "rnn_forward", "output_projection"):
        assert f"{name}" in result.stdout
    assert result.stdout.count("not implemented") == 3, result.stdout
    assert "0 of 3 exercises passed" in result.stdout


def test_pasted_solutions_pass(tmp_path):
    result = run_selfcheck_cli(lecture_with_answers(LECTURE, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 of 3 exercises passed" in result.stdout


def test_planted_mistake_fails_and_names_the_exercise(tmp_path):
    # a classic mistake: forgetting the nonlinearity
    path = lecture_with_answers(LECTURE, tmp_path, {
        "next_h = np.tanh(prev_h @ Wh + x @ Wx + b)": "next_h = prev_h @ Wh + x @ Wx + b"})
    result = run_selfcheck_cli(path)
    assert result.returncode == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines()
             if line.startswith("  ") and len(line.split()) > 2}
    assert "wrong" in lines["rnn_step_forward"] and "next_h" in lines["rnn_step_forward"]
    # rnn_forward calls the student's step, so it is wrong too; the projection is independent
    assert "wrong" in lines["rnn_forward"]
    assert "passed" in lines["output_projection"]
    assert "1 of 3 exercises passed" in result.stdout


def test_saved_outputs_cannot_fool_the_check(tmp_path):
    """A lecture whose check cells show the reference output, but whose code is unfinished."""
    nb = nbformat.read(LECTURES_DIR / LECTURE, as_version=4)
    for cell in nb.cells:
        ref = cell.get("metadata", {}).get("course", {}).get("reference_outputs")
        if ref is not None:
            cell.outputs = [nbformat.from_dict(o) for o in ref]
            cell.execution_count = 1
    path = tmp_path / LECTURE
    nbformat.write(nb, path)
    result = run_selfcheck_cli(path)
    assert result.returncode == 1 and "0 of 3 exercises passed" in result.stdout


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d / "missing.ipynb", "no such file"),
    (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "not a notebook"),
    (lambda d: (d / "broken.ipynb").write_text("{not json") and d / "broken.ipynb",
     "cannot be read as a notebook"),
    (lambda d: d, "is a folder"),
])
def test_bad_paths_give_one_clear_line(tmp_path, make_input, message):
    path = make_input(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_selfcheck_cli(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_solution_notebook_is_not_a_lecture(repo_root):
    result = run_selfcheck_cli(repo_root / "solutions" / LECTURE)
    assert result.returncode == 2 and "not a lecture notebook" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_notebook_from_elsewhere_is_not_a_lecture(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text(json.dumps(nbformat.v4.new_notebook()))
    result = run_selfcheck_cli(path)
    assert result.returncode == 2 and "not a lecture notebook" in result.stderr


def test_summary_keeps_the_lines_that_say_why():
    """A check's message names the mistake on its later lines: the summary must show them."""
    from utils.checks.core import CheckFailed
    from utils.tools.selfcheck import classify
    rendered = CheckFailed("temporal_softmax_loss: loss is 0.7, expected 4.2\n"
                           "you divided by N * T; the loss is summed over steps").\
        _render_traceback_()
    text = "Traceback:\n\n" + "\n".join(rendered) + "\n\nNotebook cell execution failed\n  unrelated"
    status, detail = classify("failed", text)
    assert status == "wrong"
    assert detail.splitlines() == ["temporal_softmax_loss: loss is 0.7, expected 4.2",
                                   "you divided by N * T; the loss is summed over steps"]
