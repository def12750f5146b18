"""The results report: execute every solution notebook, collect what each one measured.

    python -m utils.tools.report                 # make report: all notebooks, then the README
    python -m utils.tools.report --no-readme solutions/07_attention_captioning.ipynb

Executes the solution notebooks in place, as ``make execute`` does (these are the reference
outputs), with the environment variable COURSE_RESULTS_DIR set, so that each notebook's last
cell (``utils.course.record_results``) hands over the headline figures its own cells computed.
Then it measures the from-equations LSTM against ``torch.nn.LSTM`` with
``benchmarks/lstm_speed.py --json`` and writes

    results/report.json   date, machine, command, versions; per notebook: wall time, device,
                          the recorded figures; the LSTM speed ratio
    results/report.md     the same as a markdown table

and replaces the table between the markers ``<!-- report:start -->`` and ``<!-- report:end -->``
of README.md with it (``--no-readme`` leaves the README alone). Nothing is typed in: every
figure comes from a notebook's computation or the benchmark's measurement in this run.
tests/test_report.py checks that the README's table and results/report.json agree in shape.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from utils.course import DEFAULT_CPU_THREADS, RESULTS_VARIABLE
from utils.tools.execute import execute_notebook
from utils.tools.notebooks import REPO_ROOT, solution_notebooks

RESULTS_DIR = REPO_ROOT / "results"
README = REPO_ROOT / "README.md"
START, END = "<!-- report:start -->", "<!-- report:end -->"
COMMAND = "make report"


def lstm_speed(repeats=20):
    """The benchmark's JSON: {size name: {"from_equations_ms", "torch_ms", "ratio"}}."""
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "lstm_speed.py"), "--json",
                           "--repeats", str(repeats)], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"report: benchmarks/lstm_speed.py failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _number(value):
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def markdown(report):
    """The report as markdown: a header line and one table row per notebook."""
    lines = [f"Measured {report['date']} on {report['machine']} (Python {report['python']}, "
             f"torch {report['torch']}, {report['threads']} CPU thread) by `{report['command']}`.", "",
             "| notebook | runtime | device | headline figures (computed by the notebook) |",
             "| --- | --- | --- | --- |"]
    for row in report["notebooks"]:
        figures = "; ".join(f"{name.replace('_', ' ')} {_number(value)}"
                            for name, value in row["values"].items()) or "-"
        lines.append(f"| {row['notebook']} | {row['seconds']:.1f} s | {row['device']} | {figures} |")
    total = sum(row["seconds"] for row in report["notebooks"])
    lines.append(f"| all {len(report['notebooks'])} | {total:.1f} s | | |")
    speed = report.get("lstm_speed")
    if speed:
        lines += ["", "From-equations LSTM against `torch.nn.LSTM`, one training step "
                  "(`benchmarks/lstm_speed.py`, median of its timed steps): " +
                  "; ".join(f"{name}: {v['ratio']:.2f}x ({v['from_equations_ms']:.1f} ms against "
                            f"{v['torch_ms']:.1f} ms)" for name, v in speed.items()) + "."]
    return "\n".join(lines) + "\n"


def update_readme(text, readme=README, start=START, end=END):
    """Put text between two markers of the README (which must hold both, once): the report's by
    default; the suite's times and the GPU proof have their own."""
    content = readme.read_text(encoding="utf-8")
    if content.count(start) != 1 or content.count(end) != 1:
        raise ValueError(f"{readme} must contain {start} and {end} once each")
    head, rest = content.split(start)
    _, tail = rest.split(end)
    readme.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="solution notebooks (default: all)")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    parser.add_argument("--speed-repeats", type=int, default=20)
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or solution_notebooks()
    for path in paths:
        if not path.is_file() or path.suffix != ".ipynb":
            parser.error(f"{path}: not a notebook")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        os.environ[RESULTS_VARIABLE] = folder        # inherited by the kernels nbclient starts
        try:
            for path in paths:
                print(f"executing {path} ...", flush=True)
                seconds = execute_notebook(path)
                recorded = Path(folder) / f"{path.stem}.json"
                found = json.loads(recorded.read_text()) if recorded.is_file() else {}
                rows.append({"notebook": path.stem, "seconds": round(seconds, 1),
                             "device": found.get("device", "cpu"), "values": found.get("values", {})})
                print(f"  {seconds:6.1f} s  {path.name}  {rows[-1]['values']}", flush=True)
        finally:
            del os.environ[RESULTS_VARIABLE]
    report = {"date": datetime.date.today().isoformat(),
              "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
              "python": platform.python_version(), "torch": torch.__version__,
              "threads": int(os.environ.get("COURSE_CPU_THREADS", DEFAULT_CPU_THREADS)), "command": COMMAND, "notebooks": rows,
              "lstm_speed": lstm_speed(args.speed_repeats)}
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    (RESULTS_DIR / "report.md").write_text(text, encoding="utf-8")
    if not args.no_readme:
        update_readme(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
