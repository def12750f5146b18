"""The GPU proof's command (utils.tools.gpu_proof): it refuses without a GPU, runs the same code
path on the CPU as a dry run, and reads a run cut short from its log. The proof itself runs on a
GPU machine, never in the tests: make test stays a CPU proof."""
import json

import pytest
import torch

from utils.tools import gpu_proof


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_refuses_in_one_line(capsys, tmp_path):
    assert gpu_proof.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no GPU here" in err and "--device cpu" in err
    assert not list(tmp_path.iterdir())


def test_a_log_of_a_run_cut_short_gives_its_notebook_lines():
    log = ("gpu_proof: 9 notebooks on cuda, budgets cpu, accelerator\n"
           "  01_rnn_basics              cpu             6.9 s  ok\n"
           "  05_lstm_gru                cpu           158.0 s  cell 59: CellExecutionError: boom\n"
           "Traceback (most recent call last):\n")
    runs = gpu_proof.runs_from_log(log)
    assert [(r["notebook"], r["seconds"], r["error"]) for r in runs] == [
        ("01_rnn_basics", 6.9, None), ("05_lstm_gru", 158.0, "cell 59: CellExecutionError: boom")]


@pytest.mark.slow
def test_the_dry_run_on_the_cpu_executes_times_and_selfchecks(tmp_path):
    """The same code path as on a GPU, on notebook 01: a copy executed with the device forced,
    its cells timed, the lecture with solutions self-checked; solutions/ untouched."""
    before = (gpu_proof.REPO_ROOT / "solutions" / "01_rnn_basics.ipynb").read_bytes()
    assert gpu_proof.main(["--device", "cpu", "--notebooks", "01", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    (run,) = report["runs"]
    assert run["notebook"] == "01_rnn_basics" and run["budget"] == "cpu" and run["error"] is None
    assert run["reported_device"].startswith("cpu") and run["seconds"] > 0
    assert report["selfchecks"] == [{"notebook": "01_rnn_basics", "passed": True,
                                     "summary": report["selfchecks"][0]["summary"]}]
    assert "3 of 3 exercises passed" in report["selfchecks"][0]["summary"]
    assert "| 01_rnn_basics |" in (tmp_path / "report.md").read_text()
    assert (gpu_proof.REPO_ROOT / "solutions" / "01_rnn_basics.ipynb").read_bytes() == before


def test_a_notebook_that_raises_is_reported_with_its_cell(tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("raise RuntimeError('cuda says no')")])
    path = tmp_path / "09_broken.ipynb"
    nbformat.write(nb, path)
    row = gpu_proof.run_notebook(path, "cpu", "cpu", timeout=60)
    assert row["error"].startswith("cell 1: CellExecutionError") and "cuda says no" in row["error"]
