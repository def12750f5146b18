"""Prove the GPU path: every solution notebook on an accelerator, its speed-up and its results.

    python -m utils.tools.gpu_proof                          # the GPU this machine has (cuda, then mps)
    python -m utils.tools.gpu_proof --device cpu --out /tmp/dry --notebooks 01   # dry run, same code path
    python -m utils.tools.gpu_proof --device cpu --write-reference               # the CPU reference

Every solution notebook is executed from a copy (the files in solutions/ are never touched) in a
fresh kernel whose environment forces the device (COURSE_DEVICE) and the budget (COURSE_BUDGET,
see utils.course.scaled_budget). On an accelerator each notebook runs twice:

    budget "cpu"          the CPU budget on the GPU, one notebook at a time: the speed-up against
                          the CPU reference (results/gpu/cpu_reference.json, made on a CPU
                          machine with --write-reference)
    budget "accelerator"  what a GPU user gets (bigger models, longer runs): its headline results,
                          run --jobs notebooks at a time (their times are not compared)

On the CPU it runs once, with the CPU budget. For every run it records the wall time, the device
the notebook reported, every cell that took at least a second (the training cells), the figures
its last cell records (utils.course.record_results) and, if a cell raised, which one and why.
Then it runs the self-check of every lecture with its solutions pasted in, on the same device.
Writes <out>/report.json and <out>/report.md (default out: results/gpu). Exit status 0 when every
notebook ran and every self-check passed, 1 otherwise, 2 when there is no accelerator to prove.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

from utils.course import BUDGET_VARIABLE, DEVICE_VARIABLE, RESULTS_VARIABLE, pick_device
from utils.tools.notebooks import REPO_ROOT, lecture_with_answers, solution_notebooks
from utils.tools.report import update_readme

OUT = REPO_ROOT / "results" / "gpu"
CPU_REFERENCE = OUT / "cpu_reference.json"
SLOW_CELL_S = 1.0


def accelerator():
    """The accelerator this machine has ("cuda", then "mps"), or None."""
    found = pick_device().type
    return None if found == "cpu" else found


def _seconds(cell):
    """Execution time of an executed cell, from nbclient's timing metadata (0.0 when absent)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def _reported_device(nb):
    """The device line setup_notebook printed in the first cells ("cuda (NVIDIA H200)"), or None."""
    for cell in nb.cells[:6]:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if " · device " in text:
                return text.split(" · device ", 1)[1].strip()
    return None


def run_notebook(path, device, budget, timeout=600):
    """Execute a copy of one solution notebook with the device and budget forced.

    Returns: dict notebook, device, budget, seconds, reported_device, cells (index, seconds,
    first line, for cells of at least SLOW_CELL_S), values (recorded figures), error (None or
    "cell k: <last line of the traceback>").
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # timings stored with the reference outputs are not this run's
        cell.get("metadata", {}).pop("execution", None)
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update({DEVICE_VARIABLE: device, BUDGET_VARIABLE: budget, RESULTS_VARIABLE: folder})
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": str(path.parent)}})
        error, start = None, time.perf_counter()
        try:
            client.execute()
        except Exception as failure:  # a cell that raised, timed out or killed its kernel
            ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                   and c.get("metadata", {}).get("execution")]  # the failing cell is the last one started
            lines = str(failure).strip().splitlines() or [""]
            last = _plain(lines[0] if type(failure).__name__ == "CellTimeoutError" else lines[-1])[:300]
            error = f"cell {ran[-1] if ran else '?'}: {type(failure).__name__}: {last}"
        seconds = time.perf_counter() - start
        recorded = Path(folder) / f"{path.stem}.json"
        values = json.loads(recorded.read_text())["values"] if recorded.is_file() else {}
    timed = [(i, c, _seconds(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    cells = [{"index": i, "seconds": round(s, 2), "first_line": c.source.strip().splitlines()[0][:70]}
             for i, c, s in timed if s >= SLOW_CELL_S]
    return {"notebook": path.stem, "device": device, "budget": budget, "seconds": round(seconds, 1),
            "reported_device": _reported_device(nb), "cells": cells, "values": values, "error": error}


def _run_one(job):
    return run_notebook(*job)


def run_all(paths, device, budget, jobs=1, timeout=600, done=lambda rows: None):
    """run_notebook for each path, ``jobs`` at a time, each in its own process.

    timeout: seconds per cell. done(rows) is called after each notebook with the rows so far.
    Returns: the rows in path order.
    """
    rows = []
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in as_completed([pool.submit(_run_one, (str(p), device, budget, timeout)) for p in paths]):
            rows.append(future.result())
            print(f"  {rows[-1]['notebook']:26s} {budget:11s} {rows[-1]['seconds']:7.1f} s  "
                  f"{rows[-1]['error'] or 'ok'}", flush=True)
            done(rows)
    return sorted(rows, key=lambda row: row["notebook"])


def selfcheck_solved(paths, device, jobs=1):
    """The self-check of each lecture with its solutions pasted in, on ``device``.

    Returns: list of dict notebook, passed (bool), summary (the self-check's last line).
    """
    env = dict(os.environ, **{DEVICE_VARIABLE: device})
    env.pop(BUDGET_VARIABLE, None)

    def one(path):
        with tempfile.TemporaryDirectory() as folder:
            lecture = lecture_with_answers(Path(path).name, Path(folder))
            done = subprocess.run([sys.executable, "-m", "utils.tools.selfcheck", str(lecture)],
                                  capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=900)
        lines = [l for l in done.stdout.strip().splitlines() if l.strip()]
        return {"notebook": Path(path).stem, "passed": done.returncode == 0,
                "summary": lines[-1].strip() if lines else done.stderr.strip()[-300:]}

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(one, paths))
    for row in rows:
        print(f"  self-check {row['notebook']:26s} {row['summary']}", flush=True)
    return rows


def _plain(text):
    """Text without the terminal colour codes of a traceback."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text or "")


def _figures(values):
    return "; ".join(f"{k.replace('_', ' ')} {v:.3f}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                     for k, v in values.items()) or "-"


README_START, README_END = "<!-- gpu:start -->", "<!-- gpu:end -->"


def readme_block(report, reference):
    """The README's summary: the header and the per-notebook table of markdown(), and where the rest is."""
    text = markdown(report, reference)
    head = text.split("\nCells of at least a second")[0]
    return head.rstrip() + "\n\nPer cell and the headline figures: `results/gpu/report.md`.\n"


def markdown(report, reference):
    """The report as markdown: speed-up per notebook and per slow cell, then results, then self-checks."""
    ref = {r["notebook"]: r for r in (reference or {}).get("runs", [])}
    lines = [f"Measured {report['date']} on {report['device_name']} ({report['machine']}; Python "
             f"{report['python']}, torch {report['torch']}) by `{report['command']}`.", ""]
    if reference:
        lines += [f"CPU reference: {reference['device_name']} ({reference['machine']}; torch "
                  f"{reference['torch']}), {reference['date']}.", ""]
    lines += ["| notebook | CPU, CPU budget | device, CPU budget | speed-up | status |", "| --- | --- | --- | --- | --- |"]
    for row in (r for r in report["runs"] if r["budget"] == "cpu"):
        base = ref.get(row["notebook"])
        ratio = f"{base['seconds'] / row['seconds']:.1f}x" if base and row["seconds"] else "-"
        lines.append(f"| {row['notebook']} | {base['seconds'] if base else '-'} s | {row['seconds']} s | {ratio} | "
                     f"{_plain(row['error']) or 'ran'} |")
    lines += ["", "Cells of at least a second (CPU budget):", "",
              "| notebook | cell | first line | CPU | device | speed-up |", "| --- | --- | --- | --- | --- | --- |"]
    for row in (r for r in report["runs"] if r["budget"] == "cpu"):
        base = {c["index"]: c for c in ref.get(row["notebook"], {}).get("cells", [])}
        for cell in row["cells"]:
            cpu_s = base.get(cell["index"], {}).get("seconds")
            ratio = f"{cpu_s / cell['seconds']:.1f}x" if cpu_s else "-"
            lines.append(f"| {row['notebook']} | {cell['index']} | `{cell['first_line']}` | "
                         f"{cpu_s if cpu_s is not None else '-'} s | {cell['seconds']} s | {ratio} |")
    lines += ["", "Headline figures (each notebook's record_results):", "",
              "| notebook | budget | seconds | figures |", "| --- | --- | --- | --- |"]
    for name, base in ref.items():
        if base["values"]:
            lines.append(f"| {name} | CPU reference | {base['seconds']} | {_figures(base['values'])} |")
    for row in report["runs"]:
        if row["values"] or row["error"]:
            lines.append(f"| {row['notebook']} | {row['budget']} | {row['seconds']} | "
                         f"{_plain(row['error']) or _figures(row['values'])} |")
    lines += ["", "Self-check of each lecture with its solutions pasted in, on the same device:", ""]
    lines += [f"- {r['notebook']}: {r['summary']}" for r in report["selfchecks"]]
    return "\n".join(lines) + "\n"


def runs_from_log(text):
    """The per-notebook lines of a proof's log ("  02_char_rnn  cpu  27.3 s  ok") as runs without
    cell times: for a run cut short before it wrote its JSON."""
    runs = []
    for line in text.splitlines():
        parts = line.split(None, 4)
        if len(parts) == 5 and parts[0][:2].isdigit() and parts[1] in ("cpu", "accelerator") and parts[3] == "s":
            runs.append({"notebook": parts[0], "budget": parts[1], "seconds": float(parts[2]), "cells": [],
                         "values": {}, "reported_device": None, "error": None if parts[4] == "ok" else parts[4]})
    return runs


def merge(paths, out):
    """One report from several runs on the same device (JSON reports, or logs of runs cut short):
    for each notebook and budget the run listed last wins. Writes out/report.{json,md}."""
    merged, rows = None, {}
    for path in map(Path, paths):
        if path.suffix == ".json":
            report = json.loads(path.read_text())
            merged = merged or dict(report, command=f"{report['command']} (merged: {', '.join(map(str, paths))})")
            runs = report["runs"]
        else:
            runs = runs_from_log(path.read_text())
        rows.update({(r["notebook"], r["budget"]): r for r in runs})
    if merged is None:
        raise ValueError("gpu_proof --merge: give at least one JSON report")
    merged["runs"] = [rows[key] for key in sorted(rows)]
    reference = json.loads(CPU_REFERENCE.read_text()) if CPU_REFERENCE.is_file() else None
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "report.json").write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    (Path(out) / "report.md").write_text(markdown(merged, reference), encoding="utf-8")
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "mps", "cpu"), help="default: the accelerator found")
    parser.add_argument("--notebooks", nargs="*", default=[], help="numbers such as 02 05 (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--jobs", type=int, default=4, help="notebooks at once in the accelerator-budget pass")
    parser.add_argument("--write-reference", action="store_true",
                        help=f"(CPU only) write the runs to {CPU_REFERENCE.relative_to(REPO_ROOT)}")
    parser.add_argument("--no-selfcheck", action="store_true")
    parser.add_argument("--budgets", nargs="*", choices=("cpu", "accelerator"),
                        help="default: cpu, and accelerator on a GPU")
    parser.add_argument("--cpu-jobs", type=int, default=1,
                        help="notebooks at once in the CPU-budget pass (1: clean timings)")
    parser.add_argument("--cell-timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="REPORT",
                        help="only merge earlier runs' report.json files (or logs) into --out")
    parser.add_argument("--readme", action="store_true", help="write the summary table into README.md")
    args = parser.parse_args(argv)
    if args.merge:
        reference = json.loads(CPU_REFERENCE.read_text()) if CPU_REFERENCE.is_file() else None
        merged = merge(args.merge, args.out)
        if args.readme:
            update_readme(readme_block(merged, reference), start=README_START, end=README_END)
        print(markdown(merged, reference))
        return 0
    device = args.device or accelerator()
    if device is None:
        print("gpu_proof: no GPU here (torch sees neither cuda nor mps); run it on a GPU machine, "
              "or pass --device cpu for a dry run", file=sys.stderr)
        return 2
    pick_device(device)  # a clear error if the asked-for device is missing
    paths = [p for p in solution_notebooks() if not args.notebooks or p.name[:2] in args.notebooks]
    if not paths:
        parser.error(f"no solution notebook numbered {' '.join(args.notebooks)}")
    budgets = args.budgets or (["cpu"] if device == "cpu" else ["cpu", "accelerator"])
    print(f"gpu_proof: {len(paths)} notebooks on {device}, budgets {', '.join(budgets)}", flush=True)
    report = {"date": datetime.date.today().isoformat(), "device": device,
              "device_name": torch.cuda.get_device_name() if device == "cuda" else device,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
              "torch": torch.__version__, "command": "python -m utils.tools.gpu_proof " + " ".join(argv or sys.argv[1:]),
              "runs": [], "selfchecks": []}
    reference = json.loads(CPU_REFERENCE.read_text()) if CPU_REFERENCE.is_file() and device != "cpu" else None
    args.out.mkdir(parents=True, exist_ok=True)

    def write():  # after every pass, so that a run cut short still leaves what it measured
        (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        (args.out / "report.md").write_text(markdown(report, reference), encoding="utf-8")

    for budget in budgets:
        before = list(report["runs"])

        def done(rows):
            report["runs"] = before + rows
            write()
        run_all(paths, device, budget, jobs=args.cpu_jobs if budget == "cpu" else args.jobs,
                timeout=args.cell_timeout, done=done)
    if not args.no_selfcheck:
        report["selfchecks"] = selfcheck_solved(paths, device, jobs=1 if device == "cpu" else args.jobs)
        write()
    if args.write_reference:
        if device != "cpu":
            parser.error("--write-reference is for the CPU run")
        CPU_REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        CPU_REFERENCE.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown(report, reference))
    if args.readme and device != "cpu":
        update_readme(readme_block(report, reference), start=README_START, end=README_END)
    runs, selfchecks = report["runs"], report["selfchecks"]
    failed = [r for r in runs if r["error"]] + [r for r in selfchecks if not r["passed"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
