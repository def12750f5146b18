"""The seed studies that notebooks 07 and 08 print: the summary arithmetic, the stored reports
against the recipes they claim, and (slow) the command itself."""
import dataclasses
import math

import pytest

from utils.analysis.seed_spread import SPREAD_DIR, load_seed_spread, spread, spread_lines
from utils.models.checkpoints import CheckpointError
from utils.training import attention, vqa


def test_spread_is_mean_sample_sd_and_range():
    mean, sd, lo, hi = spread([1.0, 2.0, 6.0])
    assert (mean, lo, hi) == (3.0, 1.0, 6.0)
    assert sd == pytest.approx(math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 2))
    assert math.isnan(spread([0.5])[1])
    with pytest.raises(ValueError, match="spread: values must be a non-empty list"):
        spread([])


def test_spread_lines_show_every_variant():
    variants = {"a": {"0": {"x": 0.5, "y": 1.0}, "1": {"x": 0.7, "y": 1.0}},
                "long name": {"0": {"x": 0.1, "y": 2.0}, "1": {"x": 0.3, "y": 4.0}}}
    assert spread_lines(variants, "x", 2) == ["a          0.60 ± 0.14 [0.50, 0.70]", "long name  0.20 ± 0.14 [0.10, 0.30]"]
    assert spread_lines(variants, "y", 1)[1] == "long name  3.0 ± 1.4 [2.0, 4.0]"
    with pytest.raises(ValueError, match="every run of 'a' must have the measure 'z'"):
        spread_lines(variants, "z")


def test_a_missing_report_names_the_command(tmp_path):
    with pytest.raises(CheckpointError, match="python -m utils.tools.seed_spread --only vqa"):
        load_seed_spread("vqa", tmp_path)
    with pytest.raises(ValueError, match="load_seed_spread: study must be one of"):
        load_seed_spread("captioning")


@pytest.mark.parametrize("study, recipe", [("attention", attention.CPU_RECIPE), ("vqa", vqa.CHECKPOINT_RECIPE)])
def test_the_stored_reports_are_of_todays_recipes(study, recipe):
    """A report trained with other numbers than the notebook's recipe would be printed as if it were
    the notebook's comparison: rebuild it when the recipe changes."""
    if not (SPREAD_DIR / f"{study}_seeds.json").is_file():
        pytest.skip("no stored report in this checkout")
    report = load_seed_spread(study)
    stored = dict(report["recipe"])
    if study == "vqa":
        from utils.tools.seed_spread import VQA_STEPS, VQA_VARIANTS  # tools sit above everything: only here
        assert report["steps"] == VQA_STEPS and set(report["variants"]) == set(VQA_VARIANTS)
    assert stored == dataclasses.asdict(recipe), "rerun python -m utils.tools.seed_spread --only " + study
    assert len(report["seeds"]) >= 3
    assert all(set(runs) == {str(s) for s in report["seeds"]} for runs in report["variants"].values())


@pytest.mark.slow
def test_the_command_writes_both_reports(tmp_path):
    """Slow (about a minute): two seeds, two steps of training each."""
    from utils.tools import seed_spread  # tools sit above everything: only here
    written = seed_spread.main(["--seeds", "0", "1", "--steps", "2", "--out", str(tmp_path)])
    for study in ("attention", "vqa"):
        report = load_seed_spread(study, tmp_path)
        assert report["seeds"] == [0, 1] and report == written[study]
        assert all(len(runs) == 2 for runs in report["variants"].values())
    assert load_seed_spread("attention", tmp_path)["recipe"]["steps"] == 2
