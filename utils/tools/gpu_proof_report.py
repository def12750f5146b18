"""The GPU proof's report as markdown: the speed-up per notebook, the accelerator budget's
headline figures beside the CPU reference, the slow cells, every figure, the self-checks; and
the README's summary of it. ``utils.tools.gpu_proof`` runs the notebooks and writes the report.
"""
import re

# the figure of each notebook's record_results that the summary tables show (else its first one)
HEADLINE = {"02_char_rnn": "lstm_validation_nats", "05_lstm_gru": "adding_T100_test_mse_lstm",
            "06_image_captioning": "bleu4_beam_test", "07_attention_captioning": "soft_bleu4_test",
            "08_vqa": "two_hop_test_overall"}


def _plain(text):
    """Text without the terminal colour codes of a traceback."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text or "")


def _s(seconds):
    return "-" if seconds is None else f"{seconds} s"


def _value(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


README_START, README_END = "<!-- gpu:start -->", "<!-- gpu:end -->"


def readme_block(report, reference):
    """The README's summary: the header and the per-notebook tables of markdown(), and where the rest is."""
    text = markdown(report, reference)
    head = text.split("\nCells of at least a second")[0].rstrip()
    checks = report.get("selfchecks") or []
    if checks:
        failed = ", ".join(r["notebook"] for r in checks if not r["passed"])
        head += (f"\n\nSelf-check of each lecture with its solutions pasted in, on the device: "
                 f"{sum(r['passed'] for r in checks)} of {len(checks)} lectures pass"
                 + (f" (not: {failed})." if failed else "."))
    return head + "\n\nPer cell, every headline figure and the self-checks: `results/gpu/report.md`.\n"


def _headline(notebook, *value_dicts):
    """The name of the figure the summary shows for a notebook: HEADLINE's, else the first recorded."""
    names = [k for values in value_dicts for k in values]
    preferred = HEADLINE.get(notebook)
    return preferred if preferred in names else (names[0] if names else None)


def _cell_keys(cells):
    """A key per timed cell that survives cells added above it: its first line and how many timed
    cells before it start with the same line (the cell numbers move when the notebook changes)."""
    seen = {}
    keys = []
    for cell in cells:
        seen[cell["first_line"]] = seen.get(cell["first_line"], -1) + 1
        keys.append((cell["first_line"], seen[cell["first_line"]]))
    return keys


def markdown(report, reference):
    """The report as markdown: speed-up per notebook (CPU budget), the accelerator budget's runs and
    headline figures beside the CPU reference, the slow cells, every figure, then the self-checks."""
    ref = {r["notebook"]: r for r in (reference or {}).get("runs", [])}
    runs = {(r["notebook"], r["budget"]): r for r in report["runs"]}
    merged = any("run" in r for r in report["runs"])
    run_col = lambda row: f" {row.get('run', '-')} |" if merged else ""
    lines = [f"Measured {report['date']} on {report['device_name']} ({report['machine']}; Python "
             f"{report['python']}, torch {report['torch']}) by `{report['command']}`.", ""]
    for source in report.get("merged_from", []):
        lines.append(f"- run `{source['run']}`: {source['date'] or 'date not recorded'}, "
                     f"`{source['command'] or 'its log only (no cell times, no figures)'}`")
    if report.get("merged_from"):
        lines.append("")
    if reference:
        lines += [f"CPU reference: {reference['device_name']} ({reference['machine']}; torch "
                  f"{reference['torch']}), {reference['date']}.", ""]
    cpu_rows = [r for r in report["runs"] if r["budget"] == "cpu"]
    if cpu_rows:
        lines += ["The CPU budget on both (speed-up = CPU time / device time):", "",
                  "| notebook | CPU, CPU budget | device, CPU budget | speed-up | status |" + (" run |" if merged else ""),
                  "| --- | --- | --- | --- | --- |" + (" --- |" if merged else "")]
        for row in cpu_rows:
            base = ref.get(row["notebook"])
            ratio = f"{base['seconds'] / row['seconds']:.1f}x" if base and row["seconds"] else "-"
            lines.append(f"| {row['notebook']} | {_s(base['seconds'] if base else None)} | {_s(row['seconds'])} | {ratio} | "
                         f"{_plain(row['error']) or 'ran'} |" + run_col(row))
        lines.append("")
    acc_rows = [r for r in report["runs"] if r["budget"] == "accelerator"]
    if acc_rows:
        lines += ["The accelerator budget (bigger models, longer runs: what a GPU user gets; notebooks run "
                  "side by side, so their times are not compared), its headline figure beside the CPU "
                  "budget's:", "",
                  "| notebook | device, GPU budget | status | headline figure | CPU reference | device, CPU budget "
                  "| device, GPU budget |" + (" run |" if merged else ""),
                  "| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if merged else "")]
        for row in acc_rows:
            base = ref.get(row["notebook"], {}).get("values", {})
            cpu = runs.get((row["notebook"], "cpu"), {}).get("values", {})
            name = _headline(row["notebook"], row["values"], base, cpu)
            cells = [_value(v[name]) if name in v else "-" for v in (base, cpu, row["values"])]
            lines.append(f"| {row['notebook']} | {_s(row['seconds'])} | {_plain(row['error']) or 'ran'} | "
                         f"{name.replace('_', ' ') if name else '-'} | {' | '.join(cells)} |" + run_col(row))
        lines.append("")
    lines += ["Cells of at least a second (CPU budget):", "",
              "| notebook | cell | first line | CPU | device | speed-up |", "| --- | --- | --- | --- | --- | --- |"]
    for row in cpu_rows:
        base = dict(zip(_cell_keys(ref.get(row["notebook"], {}).get("cells", [])),
                        ref.get(row["notebook"], {}).get("cells", [])))
        for key, cell in zip(_cell_keys(row["cells"]), row["cells"]):
            cpu_s = base.get(key, {}).get("seconds")
            ratio = f"{cpu_s / cell['seconds']:.1f}x" if cpu_s else "-"
            lines.append(f"| {row['notebook']} | {cell['index']} | `{cell['first_line']}` | "
                         f"{_s(cpu_s)} | {cell['seconds']} s | {ratio} |")
    if acc_rows:
        lines += ["", "Cells of at least a second (accelerator budget, device):", "",
                  "| notebook | cell | first line | device |", "| --- | --- | --- | --- |"]
        lines += [f"| {row['notebook']} | {cell['index']} | `{cell['first_line']}` | {cell['seconds']} s |"
                  for row in acc_rows for cell in row["cells"]]
    outside = [r for r in report["runs"] if r.get("outside_cells_s") is not None]
    if outside:
        lines += ["", "Wall time outside the cells' own execution (kernel start and stop, waits between "
                  "cells, outputs still arriving after a cell's reply):", "",
                  "| notebook | budget | wall | outside the cells | longest wait for outputs |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r['notebook']} | {r['budget']} | {_s(r['seconds'])} | {_s(r['outside_cells_s'])} | "
                  f"{r.get('longest_output_wait') or '-'} |" for r in outside]
    lines += ["", "Every headline figure (each notebook's record_results):", "",
              "| notebook | figure | CPU reference | device, CPU budget | device, GPU budget |",
              "| --- | --- | --- | --- | --- |"]
    for name in sorted({r["notebook"] for r in report["runs"]} | set(ref)):
        columns = [ref.get(name, {}).get("values", {}), runs.get((name, "cpu"), {}).get("values", {}),
                   runs.get((name, "accelerator"), {}).get("values", {})]
        for figure in dict.fromkeys(k for values in columns for k in values):
            lines.append(f"| {name} | {figure.replace('_', ' ')} | "
                         + " | ".join(_value(v[figure]) if figure in v else "-" for v in columns) + " |")
    lines += ["", "Self-check of each lecture with its solutions pasted in, on the same device"
              + (f" (run `{report['selfchecks_from']}`)" if report.get("selfchecks_from") else "") + ":", ""]
    lines += [f"- {r['notebook']}: {r['summary']}" for r in report["selfchecks"]] or ["- not run"]
    return "\n".join(lines) + "\n"
