"""The student release for handing out notebook NN: no reference of an exercise of NN..08.

    python -m utils.tools.release 05              # writes release/05/ and release/05.zip
    make release NB=05                            # the same

A course hands notebooks out one at a time. When NN is handed out, notebooks before it are done
and their references may ship (later code relies on them); nothing of NN..08 may. The release
holds lectures 00..NN, the datasets they load, a student Makefile and README, the requirement
files, and utils/ in which every function holding the reference of an exercise of NN..08
(``# BEGIN REFERENCE name``, see ``utils.tools.references``) has one line for a body,

    return stand_in("lstm_forward", "05", 3, locals())

(``utils.exercises``): the checks still get the reference's answers for the calls they make,
from input/expected-output fixtures recorded here from the reference (``utils/fixtures/``),
a demonstration gets the student's function once its check has passed, and anything else gets
one line naming the exercise to solve. Commands a student does not need (grading, building,
planted mistakes, training the checkpoints) stay out, and so do solutions/, tests and results.

The parts: what is withheld and the source shipped instead (``utils.tools.release_withheld``),
the checks' recorded answers and check cases (``utils.tools.release_checks``), the leak scan
(``utils.tools.release_leaks``); this module writes the release folder and its zip.
"""
import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from utils.tools.notebooks import LECTURES_DIR, REPO_ROOT
from utils.tools.references import UTILS_DIR
from utils.tools.release_checks import check_module_notebooks, record_fixtures
from utils.tools.release_withheld import ReleaseError, _notebook, released_source, withheld, withheld_functions

RELEASE_DIR = REPO_ROOT / "release"
# the first notebook that loads each dataset folder (the Run All test of every release proves
# that lectures 00..NN find what they load)
DATASET_FIRST_USED = {"shakespeare": "02", "shapes_encoder": "06", "captioner": "06",
                      "attention_captioner": "07", "seed_spread": "07", "vqa": "08"}
# what a student runs: the self-check, JupyterLab, the Colab cell's helper
STUDENT_TOOLS = ["__init__.py", "notebooks.py", "selfcheck.py", "nbval_settings.py", "lab.py", "colab.py"]
ROOT_FILES = ["requirements.txt", "environment.yml", "pyproject.toml", "nbval_sanitize.cfg",
              "LICENSE", "LICENSE-CONTENT.md"]

STUDENT_MAKEFILE = """\
# make setup    a virtual environment in .venv with the pinned packages
# make lab      JupyterLab on lectures/
# make check NB=lectures/{last}_....ipynb    check your notebook (every exercise and its check)
PYTHON ?= python3
BIN := .venv/bin
PORT ?= 8888

.PHONY: setup lab check
.venv/.installed: requirements.txt pyproject.toml
\t$(PYTHON) -m venv .venv
\t$(BIN)/python -m pip install --quiet -r requirements.txt
\t$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
\t@touch .venv/.installed
setup: .venv/.installed
lab: setup
\t$(BIN)/python -m utils.tools.lab --port=$(PORT)
check: setup
\t@if [ -z "$(NB)" ]; then echo "usage: make check NB=lectures/{last}_....ipynb"; exit 2; fi
\t$(BIN)/python -m utils.tools.selfcheck "$(NB)"
"""

STUDENT_README = """\
# Recurrent neural networks, notebooks 00 to {last}

Your assignment is lecture `{last}` in `lectures/`; the lectures before it are there to look
back at. `make setup` installs the pinned packages into `.venv` (Python 3.11 to 3.14), `make lab`
opens JupyterLab, and `make check NB=lectures/{last}_....ipynb` runs your notebook from top to
bottom and says, for every exercise, whether its check passes. The checks compare your
functions with stored answers on their own test inputs; your teacher grades with fresh inputs.

This release leaves out the course's reference of every exercise of notebook {last} and after:
code that needs one of them uses your function once its check has passed, and until then says
which exercise to solve.
"""


def build_release(nb, out_dir=None):
    """Write the release for notebook ``nb`` into ``out_dir`` (default release/NN) and a zip
    beside it. Returns: the release folder."""
    nb = _notebook(nb)
    out = Path(out_dir) if out_dir else RELEASE_DIR / nb
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    held = withheld(nb)
    # lectures 00..NN
    (out / "lectures").mkdir()
    for path in sorted(LECTURES_DIR.glob("*.ipynb")):
        if path.name[:2] <= nb:
            shutil.copy2(path, out / "lectures" / path.name)
    # datasets the lectures load
    for folder, first in DATASET_FIRST_USED.items():
        if first <= nb:
            shutil.copytree(REPO_ROOT / "datasets" / folder, out / "datasets" / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # utils: everything a lecture imports, minus the withheld references and the teacher's tools
    shutil.copytree(UTILS_DIR, out / "utils", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "fixtures", "tools"))
    (out / "utils" / "tools").mkdir()
    for name in STUDENT_TOOLS:
        shutil.copy2(UTILS_DIR / "tools" / name, out / "utils" / "tools" / name)
    by_file = {}
    for line, name, exercise, solvable in withheld_functions(nb):
        by_file.setdefault(line[0], []).append((line[1], name, exercise, solvable))
    for path, entries in by_file.items():
        (out / path.relative_to(REPO_ROOT)).write_text(released_source(path, entries), encoding="utf-8")
    # the checks of later notebooks: their lectures are not in the release
    for module, notebooks in check_module_notebooks().items():
        if min(notebooks) > nb:
            (out / "utils" / "checks" / f"{module}.py").unlink()
    # the checks' answers for the exercises of notebook NN (later lectures are not in the release)
    names = [e.name for e in held if e.notebook == nb]
    record_fixtures(names, out / "utils" / "fixtures", [e.name for e in held])
    for name in ROOT_FILES:
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, out / name)
    (out / "Makefile").write_text(STUDENT_MAKEFILE.format(last=nb), encoding="utf-8")
    (out / "README.md").write_text(STUDENT_README.format(last=nb), encoding="utf-8")
    with zipfile.ZipFile(out.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(out.rglob("*")):
            archive.write(path, Path(nb) / path.relative_to(out))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nb", help="the notebook handed out, 01 to 08")
    parser.add_argument("--out", type=Path, help="the release folder (default release/NN)")
    args = parser.parse_args(argv)
    try:
        out = build_release(args.nb, args.out)
    except ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 2
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {out} ({len(files)} files, {size / 1e6:.1f} MB) and {out.with_suffix('.zip').name}; "
          f"withheld: {', '.join(e.name for e in withheld(args.nb))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
