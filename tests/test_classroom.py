"""Lectures that work in a classroom: an unsolved exercise prints one line and Run All goes on,
while graders (nbgrader, the self-check) still see the exercise fail."""
import os

import nbformat
import pytest

from notebook_helpers import run_selfcheck_cli
from utils.checks.char_rnn import check_temperature_probs
from utils.course import BUDGET_VARIABLE
from utils.tools.kernel_client import CourseNotebookClient
from utils.checks.core import ExerciseNotImplemented, exercise_check, student_or_reference
from utils.checks.rnn_basics import check_rnn_step_forward
from utils.layers import temperature_probs as reference_temperature_probs
from utils.tools.notebooks import LECTURES_DIR, check_name
from utils.tools.notebooks import SKIP_TAG
from utils.tools.selfcheck import prepare_copy


def _todo(*args):
    raise NotImplementedError("exercise: replace this line with your code")


@pytest.fixture
def classroom(monkeypatch):
    """No grader around: neither nbgrader's nor the self-check's variable is set."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("COURSE_SELFCHECK", raising=False)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)


def test_unsolved_exercise_prints_one_line_in_class(classroom, capsys):
    assert check_rnn_step_forward(_todo) is None
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("… rnn_step_forward: not implemented yet")


@pytest.mark.parametrize("variable, value", [("NBGRADER_EXECUTION", "autograde"), ("COURSE_SELFCHECK", "1")])
def test_unsolved_exercise_fails_under_a_grader(classroom, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ExerciseNotImplemented, match="rnn_step_forward: not implemented yet"):
        check_rnn_step_forward(_todo)


def test_a_wrong_answer_still_raises_in_class(classroom):
    from utils.checks.core import CheckFailed
    with pytest.raises(CheckFailed):
        check_rnn_step_forward(lambda x, h, Wx, Wh, b: (h @ Wh + x @ Wx + b, None))


def test_decorator_keeps_the_check_and_its_name():
    calls = []

    @exercise_check
    def check_something(fn):
        """doc"""
        calls.append(fn)
    check_something(1)
    assert calls == [1] and check_something.__name__ == "check_something"
    assert check_something.__doc__ == "doc"


def test_student_or_reference(classroom, capsys):
    def mine(scores, temperature):
        return reference_temperature_probs(scores, temperature)
    assert student_or_reference("temperature_probs", mine, reference_temperature_probs,
                                check_temperature_probs) is mine
    assert student_or_reference("temperature_probs", _todo, reference_temperature_probs,
                                check_temperature_probs) is reference_temperature_probs
    wrong = lambda scores, temperature: reference_temperature_probs(scores, 1.0)  # noqa: E731
    assert student_or_reference("temperature_probs", wrong, reference_temperature_probs,
                                check_temperature_probs) is reference_temperature_probs
    assert capsys.readouterr().out.splitlines() == [
        "using your temperature_probs",
        "using the course's reference temperature_probs (yours not implemented yet)",
        "using the course's reference temperature_probs (yours does not pass its check yet)"]


def test_selfcheck_leaves_out_tagged_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("train_for_minutes()", metadata={"tags": [SKIP_TAG]}),
        nbformat.v4.new_code_cell("check_f(f)", metadata={"course": {"check": "f", "reference_outputs": []}})])
    copy = prepare_copy(nb)
    assert [c.source for c in copy.cells] == ["x = 1", "check_f(f)"]


TRAINING_CALLS = ("train(", "train_lm(", "train_char_lm(", "compare_strategies(", "train_adding(", "train_rnn_sgd(")


@pytest.mark.parametrize("name", ["02_char_rnn.ipynb", "03_bptt.ipynb", "04_gradient_flow.ipynb",
                                  "05_lstm_gru.ipynb"])
def test_selfcheck_runs_no_training(name):
    """The self-check grades small functions: it must not retrain the notebook's models."""
    nb = prepare_copy(nbformat.read(LECTURES_DIR / name, as_version=4))
    for cell in nb.cells:
        if cell.cell_type == "code":
            called = [call for call in TRAINING_CALLS if call in cell.source and f"def {call}" not in cell.source]
            assert not called, f"{name}: the self-check would run {called} in\n{cell.source[:300]}"


def test_selfcheck_refuses_to_run_inside_a_selfcheck(tmp_path, monkeypatch):
    """A self-check command in a cell of the checked notebook would start the self-check again."""
    path = tmp_path / "01_rnn_basics.ipynb"
    path.write_bytes((LECTURES_DIR / "01_rnn_basics.ipynb").read_bytes())
    monkeypatch.setenv("COURSE_SELFCHECK", "1")  # what the kernel of a running self-check sees
    result = run_selfcheck_cli(path)
    assert result.returncode == 2 and result.stdout == ""
    assert "already running" in result.stderr and len(result.stderr.strip().splitlines()) == 1


LECTURES = sorted(p.name for p in LECTURES_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("name", LECTURES)
def test_a_fresh_lecture_runs_top_to_bottom(name, classroom, monkeypatch):
    """Run All on a lecture with every exercise unsolved: no cell raises, and every check cell
    says "not implemented yet" in one line.

    Training cells run at the tiny budget (COURSE_BUDGET=tiny, utils.course.scaled_budget): two
    optimizer steps, so each training loop, its logging, its evaluation and every fallback from an
    unsolved exercise to the reference inside it still run, and every cell after it gets a real
    (if poor) model. What the full budget adds, that training reaches the stated results, is
    nbval's proof on the solution notebooks, which retrains every model in make test."""
    monkeypatch.setenv(BUDGET_VARIABLE, "tiny")
    # one BLAS thread in the kernel, as torch has one (setup_notebook): with pytest's other worker
    # busy, one Run All of 05 took 610 s in CI against 11 s alone (one run; the cause not isolated)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    nb = nbformat.read(LECTURES_DIR / name, as_version=4)
    client = CourseNotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(LECTURES_DIR)}})
    client.execute()  # raises CellExecutionError naming the cell if any cell raises
    for cell in nb.cells:
        if cell.cell_type == "code" and check_name(cell):
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            assert text.startswith("… ") and "not implemented yet" in text and text.count("\n") == 1, \
                f"{name}: check {check_name(cell)} printed {text!r}"
    assert not os.environ.get("COURSE_SELFCHECK")
