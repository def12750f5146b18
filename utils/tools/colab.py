"""The Colab cell: one template, which the build puts before the setup cell of every notebook.

In Google Colab (where the kernel has imported ``google.colab``) the cell clones the course at the tag of
this version into /content/rnn-course, installs its ``utils`` package with ``pip install
--no-deps -e`` and nothing else (Colab's torch, numpy and matplotlib are already imported, and
pinned copies installed over them break the running kernel: "numpy.dtype size changed"), puts
the clone on the path, moves into its lectures folder, and prints one line for each of torch,
numpy, matplotlib and ipywidgets whose version differs from the one the course is tested with.
Anywhere else it does nothing and prints nothing.

The repository's address is REPOSITORY, set once here; a teacher who publishes the course sets it
to the address of their copy (the README says so). The environment variables COURSE_REPOSITORY
and COURSE_COLAB_DIR override the address and the folder (tests/test_colab.py clones a local copy).
"""
import utils

REPOSITORY = "https://github.com/YOUR-ORGANISATION/rnn-course"  # placeholder: the course's own address
FOLDER = "/content/rnn-course"
CHECKED = ("torch", "numpy", "matplotlib", "ipywidgets")
MARK = "colab"  # the cell's metadata: {"course": {"colab": true}}

TEMPLATE = '''\
# In Google Colab: fetch the course (version {version}) and its utils. Elsewhere: does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules:
    course = os.environ.get("COURSE_COLAB_DIR", "{folder}")
    if not os.path.isdir(course):
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", "{tag}",
                        os.environ.get("COURSE_REPOSITORY", "{repository}"), course], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", course], check=True)
    sys.path.insert(0, course)
    os.chdir(os.path.join(course, "lectures"))
    from utils.course import pinned_packages
    for name, (tested, here) in pinned_packages(os.path.join(course, "requirements.txt")).items():
        if name in {checked} and (here or "").split("+")[0] != tested:
            print(f"{{name}} {{here}} in Colab; the course is tested with {{tested}}")'''


def tag():
    """The git tag of this version, e.g. v1.1.0."""
    return f"v{utils.__version__}"


def cell_source():
    """The source of the Colab cell for this version."""
    return TEMPLATE.format(version=utils.__version__, folder=FOLDER, tag=tag(), repository=REPOSITORY,
                           checked=CHECKED)

