"""The GPU proof's command (utils.tools.gpu_proof): it refuses without a GPU, runs the same code
path on the CPU as a dry run, and reads a run cut short from its log. The proof itself runs on a
GPU machine, never in the tests: make test stays a CPU proof."""
import json

import pytest
import torch

from utils.tools import gpu_proof
from utils.tools.gpu_proof_report import markdown


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


def _row(notebook, budget, seconds, values=None, error=None):
    return {"notebook": notebook, "budget": budget, "seconds": seconds, "cells": [], "values": values or {},
            "reported_device": "cuda (GPU)", "error": error}


def _report(command, runs, selfchecks=()):
    return {"date": "2026-12-05", "device": "cuda", "device_name": "GPU", "machine": "x86_64, 16 cores",
            "python": "3.12", "torch": "2.11", "command": command, "runs": runs, "selfchecks": list(selfchecks)}


def test_a_merge_keeps_the_last_run_of_each_notebook_and_says_which_run_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_proof, "CPU_REFERENCE", tmp_path / "none.json")
    log = tmp_path / "run1_log.txt"
    log.write_text("  00_welcome   cpu   5.2 s  cell 15: PackageNotFoundError: jupyterlab\n"
                   "  01_rnn_basics   cpu   6.9 s  ok\n")
    first = tmp_path / "run2.json"
    first.write_text(json.dumps(_report("first", [_row("02_char_rnn", "cpu", 27.3)],
                                        [{"notebook": "01_rnn_basics", "passed": False, "summary": "old"}])))
    last = tmp_path / "run3.json"
    last.write_text(json.dumps(_report("last", [
        _row("00_welcome", "cpu", 5.0),
        _row("02_char_rnn", "accelerator", 90.0, {"lstm_validation_nats": 1.2, "bigram_validation_nats": 2.5})],
        [{"notebook": "01_rnn_basics", "passed": True, "summary": "3 of 3 exercises passed"}])))
    merged = gpu_proof.merge([log, first, last], tmp_path / "out")
    where = {(r["notebook"], r["budget"]): r["run"] for r in merged["runs"]}
    assert where == {("00_welcome", "cpu"): "run3.json", ("01_rnn_basics", "cpu"): "run1_log.txt",
                     ("02_char_rnn", "cpu"): "run2.json", ("02_char_rnn", "accelerator"): "run3.json"}
    assert merged["selfchecks"][0]["passed"] and merged["selfchecks_from"] == "run3.json"
    assert [s["run"] for s in merged["merged_from"]] == ["run1_log.txt", "run2.json", "run3.json"]
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| 00_welcome | - | 5.0 s | - | ran | run3.json |" in text
    assert "| 02_char_rnn | 90.0 s | ran | lstm validation nats | - | - | 1.200 | run3.json |" in text
    # merging the merged report again keeps each row's run
    again = gpu_proof.merge([tmp_path / "out" / "report.json"], tmp_path / "again")
    assert {(r["notebook"], r["budget"]): r["run"] for r in again["runs"]} == where


def test_cells_are_matched_with_the_reference_by_their_first_line_not_their_number():
    reference = {"device_name": "cpu", "machine": "x86_64, 2 cores", "torch": "2.13", "date": "2026-12-04",
                 "runs": [dict(_row("05_lstm_gru", "cpu", 90.0), cells=[
                     {"index": 44, "seconds": 39.0, "first_line": "from utils.course import scaled_budget"}])]}
    report = _report("x", [dict(_row("05_lstm_gru", "cpu", 60.0), cells=[
        {"index": 45, "seconds": 13.0, "first_line": "from utils.course import scaled_budget"}])])
    assert "| 05_lstm_gru | 45 | `from utils.course import scaled_budget` | 39.0 s | 13.0 s | 3.0x |" in \
        markdown(report, reference)


def test_the_passes_run_in_the_order_asked_with_the_self_checks_beside_the_accelerator_pass(tmp_path, monkeypatch):
    calls = []

    def run_all(paths, device, budget, jobs=1, timeout=600, done=lambda rows: None):
        calls.append((budget, [p.name[:2] for p in paths], jobs))
        rows = [_row(p.stem, budget, 1.0) for p in paths]
        done(rows)
        return rows

    def selfcheck_solved(paths, device, jobs=1, done=lambda rows: None):
        calls.append(("self-check", [p.name[:2] for p in paths], jobs))
        rows = [{"notebook": p.stem, "passed": True, "summary": "ok"} for p in paths]
        done(rows)
        return rows

    monkeypatch.setattr(gpu_proof, "run_all", run_all)
    monkeypatch.setattr(gpu_proof, "selfcheck_solved", selfcheck_solved)
    assert gpu_proof.main(["--device", "cpu", "--budgets", "accelerator", "cpu", "--notebooks", "01", "02",
                           "--cpu-notebooks", "02", "--jobs", "3", "--selfcheck-jobs", "2",
                           "--out", str(tmp_path)]) == 0
    assert sorted(calls[:2]) == [("accelerator", ["01", "02"], 3), ("self-check", ["01", "02"], 2)]
    assert calls[2] == ("cpu", ["02"], 1)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["notebook"], r["budget"]) for r in report["runs"]] == [
        ("01_rnn_basics", "accelerator"), ("02_char_rnn", "accelerator"), ("02_char_rnn", "cpu")]
    assert len(report["selfchecks"]) == 2 and not list(tmp_path.glob("*.part"))


def test_a_notebook_the_command_asked_for_but_did_not_finish_gets_a_row(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_proof, "CPU_REFERENCE", tmp_path / "none.json")
    stopped = tmp_path / "run3.json"
    stopped.write_text(json.dumps(_report(
        "python -m utils.tools.gpu_proof --out /o --budgets accelerator cpu --notebooks 01 05 --cpu-notebooks 05",
        [_row("01_rnn_basics", "accelerator", 7.9)])))
    later = tmp_path / "run4.json"
    later.write_text(json.dumps(_report("python -m utils.tools.gpu_proof --out /o --budgets cpu --notebooks 05",
                                        [_row("05_lstm_gru", "cpu", 139.1)])))
    merged = gpu_proof.merge([stopped, later], tmp_path / "out")
    rows = {(r["notebook"], r["budget"]): (r["run"], r["error"]) for r in merged["runs"]}
    assert rows == {("01_rnn_basics", "accelerator"): ("run3.json", None),
                    ("05_lstm_gru", "accelerator"): ("run3.json", "not finished: the proof was stopped first"),
                    ("05_lstm_gru", "cpu"): ("run4.json", None)}
    assert "| 05_lstm_gru | - | not finished: the proof was stopped first |" in (tmp_path / "out" / "report.md").read_text()


def test_time_outside_the_cells_is_measured(tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = 2")])
    path = tmp_path / "09_small.ipynb"
    nbformat.write(nb, path)
    row = gpu_proof.run_notebook(path, "cpu", "cpu", timeout=60)
    assert 0 <= row["outside_cells_s"] <= row["seconds"] and row["longest_output_wait"].startswith("cell ")
