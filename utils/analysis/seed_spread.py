"""The same comparison trained from several seeds: what ``python -m utils.tools.seed_spread``
stored, summarised for the notebooks that compare their variants from one run.

    SPREAD_DIR         datasets/seed_spread/, where the command writes <study>_seeds.json
    load_seed_spread   one study's stored report ("attention": notebook 07, "vqa": notebook 08)
    spread             mean, sample standard deviation, min and max over the seeds
    spread_lines       a text table of one measure: one row per variant, mean ± sd [min, max]
"""
import json

import numpy as np

from utils import validate
from utils.models.checkpoints import DATASETS, CheckpointError

SPREAD_DIR = DATASETS / "seed_spread"
STUDIES = ("attention", "vqa")
COMMAND = "python -m utils.tools.seed_spread"


def load_seed_spread(study, folder=SPREAD_DIR):
    """The stored report of one study: dict with "seeds", "variants" ({variant: {seed: {measure:
    value}}}), "recipe", "seconds", "command". Raises CheckpointError (naming the command) when
    the file is missing."""
    validate.one_of("load_seed_spread", "study", study, STUDIES)
    path = folder / f"{study}_seeds.json"
    if not path.is_file():
        raise CheckpointError(f"load_seed_spread: no {path}; rebuild it with `{COMMAND} --only {study}`")
    return json.loads(path.read_text())


def spread(values):
    """values: a sequence of numbers (one per seed) -> (mean, sd with n - 1, min, max)."""
    values = np.asarray(list(values), dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"spread: values must be a non-empty list of numbers, got {validate.shown(values)}")
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return float(values.mean()), sd, float(values.min()), float(values.max())


def spread_lines(variants, measure, digits=3):
    """One row per variant, "name  mean ± sd [min, max]" of one measure over the seeds, for
    variants {name: {seed: {measure: value}}}."""
    if not isinstance(variants, dict) or not variants or not all(isinstance(r, dict) and r for r in variants.values()):
        raise ValueError(f"spread_lines: variants must be a non-empty dict {{variant: {{seed: {{measure: value}}}}}}, "
                         f"got {validate.shown(variants)}")
    digits = validate.int_in_range("spread_lines", "digits", digits, 0, 6)
    width = max(len(name) for name in variants)
    lines = []
    for name, runs in variants.items():
        if not all(isinstance(run, dict) and measure in run for run in runs.values()):
            raise ValueError(f"spread_lines: every run of {name!r} must have the measure {measure!r}")
        m, sd, lo, hi = spread(run[measure] for run in runs.values())
        lines.append(f"{name:{width}s}  {m:.{digits}f} ± {sd:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
    return lines
