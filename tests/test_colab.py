"""The Colab cell (utils.tools.colab), run as Colab would run it, against a local clone: with a
fake google.colab module it clones the course at this version's tag, installs it with pip
--no-deps -e and nothing else (pip is a stand-in that records its arguments), moves into the
lectures and reports the packages whose versions differ; without it, it does nothing."""
import os
import subprocess
import sys

import nbformat

from utils.tools import colab
from utils.tools.notebooks import LECTURES_DIR, REPO_ROOT, SOLUTIONS_DIR

FAKE_PIP = "import sys, pathlib\npathlib.Path(sys.argv[0]).with_name('calls.txt').open('a').write(' '.join(sys.argv[1:]) + '\\n')\n"


def _run_cell(tmp_path, in_colab, env=None):
    fakes = tmp_path / "fakes"
    (fakes / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (fakes / "google" / "__init__.py").write_text("")
    (fakes / "google" / "colab" / "__init__.py").write_text("")
    (fakes / "pip").mkdir(exist_ok=True)
    (fakes / "pip" / "__init__.py").write_text("")
    (fakes / "pip" / "__main__.py").write_text(FAKE_PIP)
    prelude = "import google.colab\n" if in_colab else ""
    code = prelude + colab.cell_source() + "\nprint('cwd', os.getcwd())\n"
    env = dict(os.environ, PYTHONPATH=f"{fakes}{os.pathsep}{REPO_ROOT}", **(env or {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120), fakes / "pip" / "calls.txt"


def _local_release(tmp_path, numpy_pin):
    """A bare repository holding a copy of the course whose tag is this version, with numpy pinned as given."""
    work, bare = tmp_path / "work", tmp_path / "origin.git"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(work)], check=True)
    requirements = work / "requirements.txt"
    requirements.write_text("\n".join(f"numpy=={numpy_pin}" if line.startswith("numpy==") else line
                                      for line in requirements.read_text().splitlines()) + "\n")
    subprocess.run([*git, "commit", "--quiet", "-am", "pin"], cwd=work, check=True)
    subprocess.run([*git, "tag", colab.tag()], cwd=work, check=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(bare)], check=True)
    return bare


def test_outside_colab_the_cell_does_nothing_and_prints_nothing(tmp_path):
    done, calls = _run_cell(tmp_path, in_colab=False, env={"COURSE_COLAB_DIR": str(tmp_path / "course")})
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"cwd {tmp_path}\n" and done.stderr == ""
    assert not (tmp_path / "course").exists() and not calls.exists()


def test_in_colab_it_clones_the_tag_installs_without_dependencies_and_reports_versions(tmp_path):
    origin = _local_release(tmp_path, numpy_pin="0.0.1")
    course = tmp_path / "course"
    done, calls = _run_cell(tmp_path, in_colab=True,
                            env={"COURSE_REPOSITORY": str(origin), "COURSE_COLAB_DIR": str(course)})
    assert done.returncode == 0, done.stderr
    assert (course / "lectures" / "01_rnn_basics.ipynb").is_file()
    tag = subprocess.run(["git", "describe", "--tags"], cwd=course, capture_output=True, text=True).stdout.strip()
    assert tag == colab.tag()
    assert calls.read_text().splitlines() == [f"install --quiet --no-deps -e {course}"]  # never -r requirements
    lines = done.stdout.splitlines()
    assert lines[-1] == f"cwd {course / 'lectures'}"
    assert [l for l in lines[:-1]] == [f"numpy {__import__('numpy').__version__} in Colab; "
                                       "the course is tested with 0.0.1"]
    again, _ = _run_cell(tmp_path, in_colab=True,   # run twice: no second clone or install
                         env={"COURSE_REPOSITORY": str(origin), "COURSE_COLAB_DIR": str(course)})
    assert again.returncode == 0 and len(calls.read_text().splitlines()) == 1


def test_every_notebook_has_the_cell_before_its_setup_cell():
    for folder in (SOLUTIONS_DIR, LECTURES_DIR):
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            assert code[0].source == colab.cell_source(), path
            assert code[1].source.startswith("from utils.course import setup_notebook"), path
