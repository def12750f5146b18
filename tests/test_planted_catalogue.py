"""The catalogue of planted mistakes (utils.tools.planted_catalogue, run by
utils.tools.planted_mistakes): typical student errors written as edits of the real solution
code, each of which the self-check must catch.

The fast tests check the catalogue itself: its size, that every edit applies exactly once inside
its exercise's solution code and leaves valid Python, that every checked exercise of the covered
notebooks has a mistake, and how outcomes are classified. The slow test runs a representative
subset (the first mistake of every exercise, about 3 minutes on 2 cores) through the self-check;
the whole catalogue (8 to 12 minutes) is the job of ``python -m utils.tools.planted_mistakes``.
"""
import time

import nbformat
import numpy as np
import pytest

from notebook_helpers import assert_check_fails
from utils.checks.char_rnn import check_step_losses
from utils.tools import planted_mistakes as pm
from utils.tools.notebooks import LECTURES_DIR, lecture_with_answers
from utils.tools.planted_catalogue import CATALOGUE, NOTEBOOKS, Mistake, representative


def test_catalogue_is_large_and_covers_seven_notebooks():
    assert len(CATALOGUE) >= 60, len(CATALOGUE)
    assert len(NOTEBOOKS) >= 7, NOTEBOOKS
    assert {nb[:2] for nb in NOTEBOOKS} >= {"01", "02", "03", "04", "05", "06", "07", "08"}
    assert len(set(CATALOGUE)) == len(CATALOGUE), "a mistake is listed twice"
    for m in CATALOGUE:
        assert m.old != m.new and m.kind.strip(), m


def test_every_edit_applies_once_inside_its_exercise(tmp_path):
    problems = []
    for m in CATALOGUE:
        try:
            pm.plant(m, tmp_path)
        except ValueError as exc:
            problems.append(f"{m.notebook} {m.exercise} ({m.kind}): {exc}")
    assert not problems, "\n".join(problems)


def test_every_checked_exercise_has_a_mistake():
    for notebook in NOTEBOOKS:
        checks = nbformat.read(LECTURES_DIR / notebook, as_version=4).metadata["course"]["checks"]
        planted = {m.exercise for m in CATALOGUE if m.notebook == notebook}
        assert set(checks) <= planted, f"{notebook}: no planted mistake for {set(checks) - planted}"
        assert planted <= set(checks), f"{notebook}: mistakes for exercises without a check: {planted - set(checks)}"
        # at least two per exercise (each can be got wrong in more than one typical way)
        for exercise in checks:
            assert sum(m.exercise == exercise for m in CATALOGUE if m.notebook == notebook) >= 2, exercise


def test_an_edit_must_be_inside_the_named_exercise(tmp_path):
    outside = Mistake("01_rnn_basics.ipynb", "rnn_forward", "edit of another exercise",
                      "next_h = np.tanh(prev_h @ Wh + x @ Wx + b)", "next_h = prev_h @ Wh")
    with pytest.raises(ValueError, match="occurs 0 times in the solution code of rnn_forward"):
        pm.plant(outside, tmp_path)
    twice = Mistake("01_rnn_basics.ipynb", "rnn_forward", "ambiguous edit", "prev_h", "h_prev")
    with pytest.raises(ValueError, match="occurs 4 times"):
        pm.plant(twice, tmp_path)
    outside_markers = Mistake("01_rnn_basics.ipynb", "rnn_forward", "edit of the given code",
                              "N, T, D = x.shape", "N, D, T = x.shape")
    with pytest.raises(ValueError, match="occurs 0 times"):
        pm.plant(outside_markers, tmp_path)
    typo = Mistake("01_rnn_basics.ipynb", "rnn_forward", "not Python", "for t in range(T):", "for t in")
    with pytest.raises(ValueError, match="not valid Python"):
        pm.plant(typo, tmp_path)


def test_the_planted_copy_differs_from_the_solution_only_by_the_edit(tmp_path):
    m = CATALOGUE[0]
    (tmp_path / "clean").mkdir()
    (tmp_path / "planted").mkdir()
    clean = nbformat.read(lecture_with_answers(m.notebook, tmp_path / "clean"), as_version=4)
    planted = nbformat.read(pm.plant(m, tmp_path / "planted"), as_version=4)
    changed = [(c.source, p.source) for c, p in zip(clean.cells, planted.cells) if c.source != p.source]
    assert len(changed) == 1
    before, after = changed[0]
    assert f"def {m.exercise}(" in before and before.replace(m.old, m.new) == after


@pytest.mark.parametrize("summary, caught", [
    ({"rnn_forward": ("wrong", "rnn_forward: h differs from the reference"), "other": ("passed", "")}, True),
    ({"rnn_forward": ("wrong", "the check printed something else than the reference"),
      "other": ("passed", "")}, False),                                       # does not name it
    ({"rnn_forward": ("passed", ""), "other": ("wrong", "other: differs")}, False),  # another one fails
    ({"rnn_forward": ("not reached", "the notebook stopped before this check ran")}, False),
    ({"rnn_forward": ("not implemented", "")}, False),
    ({}, False),
])
def test_classify(summary, caught):
    m = Mistake("01_rnn_basics.ipynb", "rnn_forward", "k", "a", "b")
    assert pm.classify(m, summary)[2] is caught


def test_representative_subset_has_one_mistake_per_exercise():
    subset = representative()
    keys = [(m.notebook, m.exercise) for m in subset]
    assert len(keys) == len(set(keys)) == len({(m.notebook, m.exercise) for m in CATALOGUE})
    assert all(m in CATALOGUE for m in subset)


def test_command_lists_and_refuses_an_unknown_notebook(capsys):
    assert pm.main(["--list", "--notebook", "1"]) == 0
    out = capsys.readouterr().out
    assert "rnn_step_forward" in out and "lstm" not in out
    assert pm.main(["--notebook", "99"]) == 2
    assert "no planted mistakes for notebook 99" in capsys.readouterr().err


def test_summary_table_and_total():
    ms = CATALOGUE[:3]
    outcomes = [pm.Outcome(m, "wrong", f"{m.exercise}: differs\nsecond line", True, 1.0) for m in ms[:2]]
    outcomes.append(pm.Outcome(ms[2], "passed", "", False, 1.0))
    lines = pm.summary_lines(outcomes)
    assert lines[-1] == "caught 2 of 3 planted"
    assert any("missed some" in line for line in lines)
    line = pm.outcome_line(outcomes[0])
    assert line.startswith(ms[0].notebook[:2]) and ms[0].kind in line and "caught" in line
    assert line.endswith(f"{ms[0].exercise}: differs")          # the first line of the message
    assert "MISSED (passed)" in pm.outcome_line(outcomes[2])


@pytest.mark.slow
def test_self_check_catches_a_representative_subset(capsys):
    """One mistake per exercise through the real self-check (the command runs all of them)."""
    subset = representative()
    start = time.monotonic()
    outcomes = pm.run_catalogue(subset, jobs=2)
    seconds = time.monotonic() - start
    lines = [pm.outcome_line(o) for o in outcomes] + pm.summary_lines(outcomes)
    with capsys.disabled():
        print("\n" + "\n".join(lines) + f"\n({seconds:.0f} s for {len(subset)} self-checks)")
    caught = sum(o.caught for o in outcomes)
    missed = [pm.outcome_line(o) for o in outcomes if not o.caught]
    assert caught == len(outcomes), (f"caught {caught} of {len(outcomes)} planted; missed:\n"
                                     + "\n".join(missed))


# ---- checks strengthened because the catalogue found a mistake they let through ----------------
def test_step_losses_check_catches_the_missing_max_shift():
    """Scores of size ~300 did not overflow exp (e ** 709 is finite); at ~1000 a log-sum-exp
    without the max shift gives inf and the check fails on it."""
    def no_max_shift(scores, targets):
        log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return -log_probs[np.arange(len(targets)), targets]

    with np.errstate(all="ignore"):
        assert "NaN or inf" in assert_check_fails(check_step_losses, no_max_shift, "step_losses")
