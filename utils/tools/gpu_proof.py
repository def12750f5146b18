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
It also runs the self-check of every lecture with its solutions pasted in, on the same device:
alongside the accelerator-budget pass when there is one (neither is timed against anything),
else after the notebooks. The passes run in the order --budgets gives; --cpu-notebooks narrows
the CPU-budget pass (e.g. to re-run the notebooks a fix touched, when device time is short).
Writes <out>/report.json and <out>/report.md (default out: results/gpu), again after every
notebook and self-check, so a run cut short keeps what it measured. Exit status 0 when every
notebook ran and every self-check passed, 1 otherwise, 2 when there is no accelerator to prove.

    python -m utils.tools.gpu_proof --merge A.json B.json --readme   # one report from several runs

Merging keeps, for each notebook and budget, the row of the run listed last, and says which run
(file) each row comes from.

The report's markdown and the README's summary are written by ``utils.tools.gpu_proof_report``.
"""
import argparse
import datetime
import json
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
import torch

from utils.course import BUDGET_VARIABLE, DEVICE_VARIABLE, RESULTS_VARIABLE, pick_device
from utils.tools.kernel_client import CourseNotebookClient
from utils.tools.gpu_proof_report import README_END, README_START, _plain, markdown, readme_block
from utils.tools.notebooks import REPO_ROOT, lecture_with_answers, solution_notebooks
from utils.tools.report import update_readme

OUT = REPO_ROOT / "results" / "gpu"
CPU_REFERENCE = OUT / "cpu_reference.json"
SLOW_CELL_S = 1.0


def accelerator():
    """The accelerator this machine has ("cuda", then "mps"), or None."""
    found = pick_device().type
    return None if found == "cpu" else found


def _seconds(cell, start="iopub.execute_input", end="shell.execute_reply"):
    """Seconds between two of nbclient's timing stamps of an executed cell (0.0 when absent):
    by default its execution, from the kernel's taking it to its reply."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get(start), timing.get(end)
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def _outside_cells(nb, seconds):
    """Where a notebook's wall time went outside its cells' own execution: the total, and the
    longest wait for a cell's outputs after its reply (reply to idle), as "cell k: s"."""
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    inside = sum(_seconds(c) for _, c in code)
    waits = [(_seconds(c, "shell.execute_reply", "iopub.status.idle"), i) for i, c in code]
    wait, where = max(waits, default=(0.0, None))
    return {"outside_cells_s": round(seconds - inside, 1),
            "longest_output_wait": f"cell {where}: {wait:.1f} s" if where is not None else None}


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
        client = CourseNotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
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
            "reported_device": _reported_device(nb), "cells": cells, "values": values, "error": error,
            **_outside_cells(nb, seconds)}


def _run_one(job):
    return run_notebook(*job)


def run_all(paths, device, budget, jobs=1, timeout=600, done=lambda rows: None):
    """run_notebook for each path, ``jobs`` at a time, each in its own process.

    timeout: seconds per cell. done(rows) is called after each notebook with the rows so far.
    Returns: the rows in path order.
    """
    rows = []
    # spawn, not fork: the self-checks may run in a thread of this process meanwhile
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in as_completed([pool.submit(_run_one, (str(p), device, budget, timeout)) for p in paths]):
            rows.append(future.result())
            print(f"  {rows[-1]['notebook']:26s} {budget:11s} {rows[-1]['seconds']:7.1f} s  "
                  f"{rows[-1]['error'] or 'ok'}", flush=True)
            done(rows)
    return sorted(rows, key=lambda row: row["notebook"])


def selfcheck_solved(paths, device, jobs=1, done=lambda rows: None):
    """The self-check of each lecture with its solutions pasted in, on ``device``.

    done(rows) is called after each lecture with the rows so far.
    Returns: list of dict notebook, passed (bool), summary (the self-check's last line), in path order.
    """
    env = dict(os.environ, **{DEVICE_VARIABLE: device})
    env.pop(BUDGET_VARIABLE, None)

    def one(path):
        with tempfile.TemporaryDirectory() as folder:
            lecture = lecture_with_answers(Path(path).name, Path(folder))
            try:
                done = subprocess.run([sys.executable, "-m", "utils.tools.selfcheck", str(lecture)],
                                      capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=900)
            except subprocess.TimeoutExpired:
                return {"notebook": Path(path).stem, "passed": False, "summary": "timed out after 900 s"}
        lines = [l for l in done.stdout.strip().splitlines() if l.strip()]
        return {"notebook": Path(path).stem, "passed": done.returncode == 0,
                "summary": lines[-1].strip() if lines else done.stderr.strip()[-300:]}

    rows = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in as_completed([pool.submit(one, p) for p in paths]):
            rows.append(future.result())
            print(f"  self-check {rows[-1]['notebook']:26s} {rows[-1]['summary']}", flush=True)
            done(sorted(rows, key=lambda row: row["notebook"]))
    return sorted(rows, key=lambda row: row["notebook"])


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


def unfinished(report):
    """Rows for the notebooks a report's command asked for but that have no row: the proof was
    stopped first (its remote script's time limit). [] when the command cannot be read."""
    words = shlex.split(report.get("command", ""))
    if words[:3] != ["python", "-m", "utils.tools.gpu_proof"] or "--merge" in words:
        return []
    try:
        args = _parser().parse_args(words[3:])
    except SystemExit:
        return []
    numbered = lambda numbers: [p.stem for p in solution_notebooks() if not numbers or p.name[:2] in numbers]
    budgets = args.budgets or (["cpu"] if report.get("device") == "cpu" else ["cpu", "accelerator"])
    done = {(r["notebook"], r["budget"]) for r in report["runs"]}
    return [{"notebook": name, "budget": budget, "seconds": None, "cells": [], "values": {},
             "reported_device": None, "error": "not finished: the proof was stopped first"}
            for budget in budgets
            for name in numbered(args.cpu_notebooks if budget == "cpu" and args.cpu_notebooks is not None
                                 else args.notebooks)
            if (name, budget) not in done]


def merge(paths, out):
    """One report from several runs on the same device (JSON reports, or logs of runs cut short).

    For each notebook and budget the run listed last wins; each row says which run (file name) it
    comes from ("run"; a row of an earlier merged report keeps its own), and the self-checks come
    from the last report that has them. A notebook a report's command asked for but did not finish
    gets a row that says so (see unfinished), unless a later run has it. The header (date, device, command) is the last JSON
    report's. Writes out/report.{json,md}. Returns: the merged report.
    """
    merged, rows, sources, selfchecks = None, {}, [], None
    for path in map(Path, paths):
        if path.suffix == ".json":
            report = json.loads(path.read_text())
            merged = dict(report)
            runs = report["runs"] + unfinished(report)
            earlier = report.get("merged_from", [])
            sources += [s for s in earlier if s["run"] not in {t["run"] for t in sources}]
            if not earlier:
                sources.append({"run": path.name, "date": report.get("date"), "command": report.get("command")})
            if report.get("selfchecks"):
                selfchecks = (report["selfchecks"], report.get("selfchecks_from") or path.name)
        else:
            runs = runs_from_log(path.read_text())
            sources.append({"run": path.name, "date": None, "command": None})
        rows.update({(r["notebook"], r["budget"]): dict(r, run=r.get("run", path.name)) for r in runs})
    if merged is None:
        raise ValueError("gpu_proof --merge: give at least one JSON report")
    merged["command"] = "python -m utils.tools.gpu_proof --merge " + " ".join(map(str, paths))
    merged["merged_from"] = [s for s in sources if any(r["run"] == s["run"] for r in rows.values())
                             or (selfchecks and selfchecks[1] == s["run"])]
    merged["runs"] = [rows[key] for key in sorted(rows)]
    merged["selfchecks"], merged["selfchecks_from"] = selfchecks or ([], None)
    reference = json.loads(CPU_REFERENCE.read_text()) if CPU_REFERENCE.is_file() else None
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "report.json").write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    (Path(out) / "report.md").write_text(markdown(merged, reference), encoding="utf-8")
    return merged


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "mps", "cpu"), help="default: the accelerator found")
    parser.add_argument("--notebooks", nargs="*", default=[], help="numbers such as 02 05 (default: all)")
    parser.add_argument("--cpu-notebooks", nargs="*", default=None,
                        help="numbers for the CPU-budget pass only (default: those of --notebooks)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--jobs", type=int, default=4, help="notebooks at once in the accelerator-budget pass")
    parser.add_argument("--selfcheck-jobs", type=int, default=None,
                        help="self-checks at once (default: 1 on the CPU, else --jobs)")
    parser.add_argument("--write-reference", action="store_true",
                        help="(CPU only) write the runs to results/gpu/cpu_reference.json")
    parser.add_argument("--no-selfcheck", action="store_true")
    parser.add_argument("--budgets", nargs="*", choices=("cpu", "accelerator"),
                        help="in this order (default: cpu, and accelerator on a GPU)")
    parser.add_argument("--cpu-jobs", type=int, default=1,
                        help="notebooks at once in the CPU-budget pass (1: clean timings)")
    parser.add_argument("--cell-timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="REPORT",
                        help="only merge earlier runs' report.json files (or logs) into --out")
    parser.add_argument("--readme", action="store_true", help="write the summary table into README.md")
    return parser


def main(argv=None):
    parser = _parser()
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
    numbered = lambda numbers: [p for p in solution_notebooks() if not numbers or p.name[:2] in numbers]
    paths = numbered(args.notebooks)
    cpu_paths = paths if args.cpu_notebooks is None else numbered(args.cpu_notebooks)
    if not paths or (args.cpu_notebooks and not cpu_paths):
        parser.error(f"no solution notebook numbered {' '.join(args.notebooks + (args.cpu_notebooks or []))}")
    budgets = list(dict.fromkeys(args.budgets or (["cpu"] if device == "cpu" else ["cpu", "accelerator"])))
    print(f"gpu_proof: {len(paths)} notebooks on {device}, budgets {', '.join(budgets)}"
          + (f" (cpu: {len(cpu_paths)} notebooks)" if cpu_paths != paths and "cpu" in budgets else ""), flush=True)
    report = {"date": datetime.date.today().isoformat(), "device": device,
              "device_name": torch.cuda.get_device_name() if device == "cuda" else device,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
              "torch": torch.__version__, "command": "python -m utils.tools.gpu_proof " + " ".join(argv or sys.argv[1:]),
              "runs": [], "selfchecks": []}
    reference = json.loads(CPU_REFERENCE.read_text()) if CPU_REFERENCE.is_file() and device != "cpu" else None
    args.out.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    def write():  # after every notebook and self-check, so that a run cut short keeps what it measured
        with lock:  # whole files: the proof may be stopped at any moment
            for name, text in (("report.json", json.dumps(report, indent=1) + "\n"),
                               ("report.md", markdown(report, reference))):
                (args.out / f"{name}.part").write_text(text, encoding="utf-8")
                (args.out / f"{name}.part").replace(args.out / name)

    def selfchecks_done(rows):
        report["selfchecks"] = rows
        write()

    selfcheck_jobs = args.selfcheck_jobs or (1 if device == "cpu" else args.jobs)
    selfcheck = None
    for budget in budgets:
        before = list(report["runs"])

        def done(rows):
            report["runs"] = before + rows
            write()
        if budget == "accelerator" and not args.no_selfcheck and selfcheck is None:
            # beside the accelerator pass, whose times are compared with nothing; joined before the next pass
            selfcheck = threading.Thread(target=selfcheck_solved, args=(paths, device, selfcheck_jobs, selfchecks_done))
            selfcheck.start()
        run_all(cpu_paths if budget == "cpu" else paths, device, budget,
                jobs=args.cpu_jobs if budget == "cpu" else args.jobs, timeout=args.cell_timeout, done=done)
        if selfcheck is not None:
            selfcheck.join()
    if not args.no_selfcheck and selfcheck is None:
        selfcheck_solved(paths, device, jobs=selfcheck_jobs, done=selfchecks_done)
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
