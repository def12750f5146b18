"""Helpers for tests that run the self-check on edited copies of a real lecture."""
import subprocess
import sys

import pytest

from utils.checks.core import CheckFailed, ExerciseNotImplemented
from utils.tools.notebooks import REPO_ROOT, lecture_with_answers  # noqa: F401 (tests import it from here)


def run_selfcheck_cli(path):
    """Run ``python -m utils.tools.selfcheck path``; return the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "utils.tools.selfcheck", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def assert_check_fails(check, wrong_fn, name):
    """Run ``check(wrong_fn)``; it must raise CheckFailed naming the exercise. Returns the message."""
    with pytest.raises(CheckFailed) as info:
        check(wrong_fn)
    assert name in str(info.value), f"the message does not name {name}: {info.value}"
    return str(info.value)


def exercise_check_tests(checks, reference_answers, planted, expected_hints):
    """The three tests every exercise check of a notebook gets, for a checks module.

    checks: the module holding ``check_<name>`` functions. reference_answers: name -> a correct
    answer. planted: name -> list of at least two typical wrong answers. expected_hints:
    (name, index into planted[name]) -> a phrase the failure message must contain.
    Returns: (passes on a correct answer, catches planted mistakes, reports unsolved), to be
    bound to ``test_...`` names in the test module so that pytest collects them.
    """
    def check_of(name):
        return getattr(checks, f"check_{name}")

    @pytest.mark.parametrize("name", sorted(reference_answers))
    def passes_on_a_correct_answer(name, capsys):
        check_of(name)(reference_answers[name])
        out = capsys.readouterr().out
        assert out.startswith(f"✓ {name}:") and out.count("\n") == 1

    @pytest.mark.parametrize("name", sorted(planted))
    def catches_planted_mistakes(name):
        assert len(planted[name]) >= 2
        for k, wrong in enumerate(planted[name]):
            message = assert_check_fails(check_of(name), wrong, name)
            if (name, k) in expected_hints:
                assert expected_hints[name, k] in message, (k, message)

    @pytest.mark.parametrize("name", sorted(reference_answers))
    def reports_unsolved(name, monkeypatch, capsys):
        def todo(*args, **kwargs):
            raise NotImplementedError
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
        monkeypatch.delenv("COURSE_SELFCHECK", raising=False)
        assert check_of(name)(todo) is None                # in class: one line, Run All goes on
        out = capsys.readouterr().out
        assert out.startswith(f"… {name}: not implemented yet") and out.count("\n") == 1
        monkeypatch.setenv("COURSE_SELFCHECK", "1")        # under a grader the check fails
        with pytest.raises(ExerciseNotImplemented, match=f"{name}: not implemented yet"):
            check_of(name)(todo)

    return passes_on_a_correct_answer, catches_planted_mistakes, reports_unsolved
