"""The results report: notebooks record their figures only when the report asks, and the README
shows the table of the latest report (results/report.json), row for row."""
import json

import numpy as np
import pytest

from utils.course import RESULTS_VARIABLE, record_results
from utils.tools import report as report_tool
from utils.tools.notebooks import solution_notebooks


def test_record_results_writes_only_for_the_report(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_VARIABLE, raising=False)
    record = record_results("99_test", "cpu", loss=np.float32(1.5), steps=np.int64(3))
    assert record == {"notebook": "99_test", "device": "cpu", "values": {"loss": 1.5, "steps": 3}}
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(RESULTS_VARIABLE, str(tmp_path))
    record_results("99_test", "cpu", loss=1.5)
    assert json.loads((tmp_path / "99_test.json").read_text())["values"] == {"loss": 1.5}


@pytest.mark.parametrize("bad", [float("nan"), "1.5", True, None, [1.0]])
def test_record_results_refuses_what_is_not_a_number(bad):
    with pytest.raises(ValueError, match="record_results: loss must be"):
        record_results("99_test", "cpu", loss=bad)


def test_every_notebook_that_records_names_itself():
    for path in solution_notebooks():
        text = path.read_text(encoding="utf-8")
        if "record_results(" in text:
            assert f'record_results(\\"{path.stem}\\"' in text, path.name


def _readme_rows(readme):
    inside = readme.split(report_tool.START)[1].split(report_tool.END)[0]
    rows = [line for line in inside.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return inside, [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_readme_table_is_the_latest_report(repo_root):
    report = json.loads((repo_root / "results" / "report.json").read_text(encoding="utf-8"))
    inside, rows = _readme_rows((repo_root / "README.md").read_text(encoding="utf-8"))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:3] == ["notebook", "runtime", "device"] and all(len(r) == len(header) for r in rows)
    assert [r[0] for r in body] == [n["notebook"] for n in report["notebooks"]]
    assert [p.stem for p in solution_notebooks()] == [n["notebook"] for n in report["notebooks"]], \
        "a notebook was added or renamed since the report: run `make report`"
    for row, measured in zip(body, report["notebooks"]):
        assert row[1] == f"{measured['seconds']:.1f} s" and row[2] == measured["device"]
        assert row[3].count(";") == max(len(measured["values"]) - 1, 0)
    assert total[0] == f"all {len(report['notebooks'])}"
    assert report["date"] in inside and report["machine"] in inside
    assert inside.strip() == report_tool.markdown(report).strip()


def test_markdown_of_a_small_report():
    fake = {"date": "2026-01-01", "machine": "x86_64 CPU, 2 cores", "python": "3.11.7",
            "torch": "2.13.0", "threads": 1, "command": "make report",
            "notebooks": [{"notebook": "00_a", "seconds": 1.04, "device": "cpu", "values": {}},
                          {"notebook": "01_b", "seconds": 2.0, "device": "cpu",
                           "values": {"val_loss": 1.4321, "steps": 1400}}],
            "lstm_speed": {"main": {"from_equations_ms": 10.0, "torch_ms": 5.0, "ratio": 2.0}}}
    text = report_tool.markdown(fake)
    assert "| 00_a | 1.0 s | cpu | - |" in text
    assert "| 01_b | 2.0 s | cpu | val loss 1.432; steps 1,400 |" in text
    assert "| all 2 | 3.0 s | | |" in text and "main: 2.00x" in text
