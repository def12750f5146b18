"""Planted mistakes: typical student errors, applied to the solutions and run through the self-check.

    python -m utils.tools.planted_mistakes [--notebook NN] [--jobs 2] [--list]

The mistakes are data, in ``utils.tools.planted_catalogue``: each names the notebook, the
exercise, the kind of mistake and an edit ``old -> new`` of that exercise's solution code.

For each mistake the command copies the lecture with every solution pasted in
(``utils.tools.notebooks.lecture_with_answers``), plants the one edit (it must apply exactly
once, inside that exercise's solution code), runs the student self-check on the copy in a fresh
process (``utils.tools.selfcheck.run_selfcheck``; ``--jobs`` of them at a time, each starts a
kernel) and classifies the result: **caught** when the self-check's line for that exercise says
"wrong" with a message naming the exercise; **missed** for anything else (passed, not reached,
or another exercise failing instead). It prints one line per mistake, a table per exercise and
"caught C of P planted", and exits 1 if any mistake was missed. The whole catalogue takes
8 to 12 minutes on a 2-core CPU with ``--jobs 2``; tests/test_planted_catalogue.py runs a
representative subset (one mistake per exercise, see ``planted_catalogue.representative``) and
checks that the whole catalogue still applies.
"""
import argparse
import ast
import concurrent.futures
import io
import multiprocessing
import sys
import tempfile
import time
from collections import namedtuple

import nbformat

from utils.tools.notebooks import lecture_with_answers
from utils.tools.planted_catalogue import CATALOGUE, NOTEBOOKS
from utils.tools.selfcheck import run_selfcheck

Outcome = namedtuple("Outcome", "mistake status detail caught seconds")
Outcome.__doc__ = """What the self-check said about one planted mistake: the status and message
of the exercise's line (status "error" when the self-check itself could not run)."""


def plant(mistake, directory):
    """Write the lecture of ``mistake.notebook`` into ``directory`` with the solutions pasted in
    and the mistake planted in its exercise. Returns the path. Raises ValueError if the edit does
    not occur exactly once in that exercise's solution code or leaves it invalid Python."""
    path = lecture_with_answers(mistake.notebook, directory, {mistake.old: mistake.new},
                                exercise=mistake.exercise)
    for cell in nbformat.read(path, as_version=4).cells:  # a mistake is code that runs, not a typo
        if cell.cell_type == "code" and f"def {mistake.exercise}(" in cell.source:
            try:
                ast.parse(cell.source)
            except SyntaxError as exc:
                raise ValueError(f"{mistake.notebook}: the planted {mistake.exercise} is not valid "
                                 f"Python ({exc.msg}, line {exc.lineno})") from None
    return path


def classify(mistake, summary):
    """(status, detail, caught) of a mistake from the self-check's {exercise: (status, detail)}.

    Caught: the exercise's own line says "wrong" and its message names the exercise.
    """
    status, detail = summary.get(mistake.exercise, ("missing", "the self-check has no line for it"))
    if status == "passed":
        others = [name for name, (s, _) in summary.items() if s != "passed"]
        if others:
            detail = f"(only {', '.join(others)} failed)"
    return status, detail, status == "wrong" and mistake.exercise in detail


def run_mistake(mistake):
    """Plant one mistake in a temporary copy of the lecture and run the self-check on it.

    Meant to run in a process of its own (the self-check runs pytest and a kernel in-process).
    Returns: an Outcome.
    """
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
            _, summary = run_selfcheck(plant(mistake, tmp), out=io.StringIO())
    except Exception as exc:  # one broken run must not stop the catalogue
        return Outcome(mistake, "error", f"{type(exc).__name__}: {exc}", False, time.monotonic() - start)
    status, detail, caught = classify(mistake, summary)
    return Outcome(mistake, status, detail, caught, time.monotonic() - start)


def run_catalogue(mistakes, jobs=2, on_outcome=None):
    """Run ``mistakes`` through the self-check, ``jobs`` at a time, each in a fresh process.

    on_outcome: called with each Outcome, in catalogue order, as soon as it is known.
    Returns: the list of Outcomes in catalogue order.
    """
    context = multiprocessing.get_context("spawn")
    outcomes = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                max_tasks_per_child=1) as pool:
        for outcome in pool.map(run_mistake, mistakes):
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
    return outcomes


def _short(notebook):
    return notebook[:2]


def outcome_line(outcome):
    """One line: notebook, exercise, kind, caught/missed, the self-check's first message line."""
    m = outcome.mistake
    verdict = "caught" if outcome.caught else f"MISSED ({outcome.status})"
    detail = outcome.detail.splitlines()[0] if outcome.detail else ""
    return f"{_short(m.notebook)}  {m.exercise:<29} {m.kind:<46} {verdict:<8}  {detail}"


def summary_lines(outcomes):
    """A table per exercise (planted, caught), per notebook subtotals, and the total line."""
    rows, lines = {}, []
    for o in outcomes:
        row = rows.setdefault((o.mistake.notebook, o.mistake.exercise), [0, 0])
        row[0] += 1
        row[1] += o.caught
    width = max([len("exercise")] + [len(exercise) for _, exercise in rows]) + 2
    lines.append(f"{'nb':<4}{'exercise':<{width}}{'planted':>8}{'caught':>8}")
    for notebook in dict.fromkeys(nb for nb, _ in rows):
        for (nb, exercise), (planted, caught) in rows.items():
            if nb == notebook:
                lines.append(f"{_short(nb):<4}{exercise:<{width}}{planted:>8}{caught:>8}"
                             + ("" if planted == caught else "   <- missed some"))
        planted = sum(p for (nb, _), (p, _) in rows.items() if nb == notebook)
        caught = sum(c for (nb, _), (_, c) in rows.items() if nb == notebook)
        lines.append(f"{_short(notebook):<4}{'(notebook)':<{width}}{planted:>8}{caught:>8}")
    n_caught = sum(o.caught for o in outcomes)
    lines.append(f"caught {n_caught} of {len(outcomes)} planted")
    return lines


def select(catalogue=CATALOGUE, notebooks=None):
    """The mistakes of the notebooks numbered in ``notebooks`` (e.g. ["01", "05"]); all if None."""
    if not notebooks:
        return tuple(catalogue)
    wanted = {str(n).zfill(2) for n in notebooks}
    return tuple(m for m in catalogue if _short(m.notebook) in wanted)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plant typical student mistakes in the solutions "
                                                 "and check that the self-check catches each one.")
    parser.add_argument("--notebook", action="append", metavar="NN",
                        help="only this notebook's mistakes, e.g. 05 (may be repeated)")
    parser.add_argument("--jobs", type=int, default=2, help="self-checks at a time (default 2)")
    parser.add_argument("--list", action="store_true", help="print the catalogue and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    mistakes = select(CATALOGUE, args.notebook)
    if not mistakes:
        print(f"no planted mistakes for notebook {', '.join(args.notebook)}; the catalogue covers "
              f"{', '.join(_short(nb) for nb in NOTEBOOKS)}", file=sys.stderr)
        return 2
    if args.list:
        for m in mistakes:
            print(f"{_short(m.notebook)}  {m.exercise:<25} {m.kind:<46} {m.old!r} -> {m.new!r}")
        print(f"{len(mistakes)} mistakes")
        return 0
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in mistakes:  # fail fast on an edit that no longer applies
            try:
                plant(m, tmp)
            except ValueError as exc:
                problems.append(f"{_short(m.notebook)} {m.exercise} ({m.kind}): {exc}")
    if problems:
        print("these mistakes cannot be planted (did the solution change?):", *problems, sep="\n  ",
              file=sys.stderr)
        return 2
    print(f"planting {len(mistakes)} mistakes, {args.jobs} self-checks at a time...", flush=True)
    start = time.monotonic()
    outcomes = run_catalogue(mistakes, jobs=args.jobs,
                             on_outcome=lambda o: print(outcome_line(o), flush=True))
    print()
    print(*summary_lines(outcomes), sep="\n")
    print(f"({time.monotonic() - start:.0f} s)")
    return 0 if all(o.caught for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
