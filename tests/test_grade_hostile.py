"""Grading a hostile class: submissions that try to fool the grader or harm the machine.

The class is built by code (``hostile_class``): every student hands in notebook 01 with one
attack in an exercise cell. Most attacks are probes: the cell defines the three functions
correctly, runs the attack, and breaks ``output_projection`` if the attack worked (or could
not be tried), so a full 3/3 row means the attack failed and 2/3 that it succeeded. The fast
tests run the same attacks in a sandbox directly; the slow one grades the whole class with
nbgrader (benchmarks/grading_speed.py --hostile prints its gradebook with any grader).
"""
import csv
import re
import socket
import threading
import time

import nbformat
import numpy as np
import psutil
import pytest

from utils.tools import sandbox_runner
from utils.tools.grading_cases import CASES, grade_exercise, sandbox_program
from utils.tools.notebooks import BEGIN_SOLUTION, LECTURES_DIR, SOLUTIONS_DIR, lecture_with_answers, solution_notebooks
from utils.tools.sandbox import Limits, Sandbox, SandboxDied, _host_root, available, course_view
from utils.tools.sandbox_remote import Remote

NOTEBOOK = "01_rnn_basics.ipynb"
SANDBOX, WHY = available()
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason=f"no sandbox on this machine: {WHY}")

# --- the attacks: each sets ATTACK_WORKED (True, False, or None when it could not be tried) ---

SNOOP = r'''
import glob, os, sys
_roots = {"/", os.getcwd(), os.path.expanduser("~"), "/work", "/tmp", "/root", "/home"}
for _m in list(sys.modules.values()):
    _f = getattr(_m, "__file__", None) or ""
    if "utils" in _f:
        _roots.update(os.path.dirname(_f).split("/utils")[0:1])
_found = []
for _root in _roots:
    for _up in (_root, os.path.dirname(_root), os.path.dirname(os.path.dirname(_root))):
        for _pattern in ("solutions/*.ipynb", "*/solutions/*.ipynb", "source/*/*.ipynb",
                         "*/source/*/*.ipynb", "*/*/source/*/*.ipynb", "*/*/*/source/*/*.ipynb"):
            _found += glob.glob(os.path.join(_up, _pattern))
for _path in {p for p in _found if os.path.basename(p)[:2].isdigit()}:  # the course's NN_x.ipynb
    try:
        if "### BEGIN SOLUTION" in open(_path, encoding="utf-8").read():
            ATTACK_WORKED = True
    except OSError:
        pass
ATTACK_WORKED = bool(globals().get("ATTACK_WORKED"))
'''

WRITE_OUTSIDE = r'''
import os, utils
ATTACK_WORKED = False
for _folder in (os.path.dirname(utils.__file__), os.path.dirname(os.path.dirname(utils.__file__)), "/", "/etc", "/usr"):
    _path = os.path.join(_folder, f"hostile-probe-{os.getpid()}.txt")
    try:
        with open(_path, "x") as _f:
            _f.write("x")
        os.remove(_path)
        ATTACK_WORKED = True
    except OSError:
        pass
'''

TAMPER = r'''
import glob, os
ATTACK_WORKED = False
_here = os.getcwd()
_targets = []
for _up in (_here, *[os.path.dirname(_here.rstrip("/")) for _ in range(1)]):
    _parents = [_up]
    for _ in range(5):
        _parents.append(os.path.dirname(_parents[-1]))
    for _p in _parents:
        _targets += glob.glob(os.path.join(_p, "gradebook.db")) + glob.glob(os.path.join(_p, "*", "*.ipynb"))
for _path in set(_targets):
    try:
        with open(_path, "ab"):  # opened for writing, nothing written
            ATTACK_WORKED = True
    except OSError:
        pass
'''

NETWORK = r'''
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    ATTACK_WORKED = True
except OSError:
    ATTACK_WORKED = False
'''

REFERENCE = r'''
import numpy as np
try:
    from utils.layers import rnn_step_forward as _reference
    _r = np.random.default_rng()
    _reference(_r.normal(size=(2, 3)), _r.normal(size=(2, 4)), _r.normal(size=(3, 4)),
               _r.normal(size=(4, 4)), _r.normal(size=4))
    ATTACK_WORKED = True
except Exception:
    ATTACK_WORKED = False
'''

CALLS_REFERENCE = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    from utils.layers import rnn_step_forward as reference
    return reference(x, prev_h, Wx, Wh, b)
'''

PROBES = {"snoop": SNOOP, "write_outside": WRITE_OUTSIDE, "tamper": TAMPER, "network": NETWORK,
          "reference": REFERENCE}
BREAK = "\nif ATTACK_WORKED is not False:\n    def output_projection(h, Wy, by):\n        return None\n"

REPLACE_CHECKS = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    return None
def rnn_forward(x, h0, Wx, Wh, b):
    return None
def output_projection(h, Wy, by):
    return None
import utils.checks.rnn_basics as _checks
for _name in ("rnn_step_forward", "rnn_forward", "output_projection"):
    setattr(_checks, "check_" + _name, lambda fn, _n=_name: print(f"✓ {_n}: matches the reference"))
'''

PATCH = '''
import builtins, numpy
numpy.allclose = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
_print = builtins.print
builtins.print = lambda *args, **kwargs: _print("✓", *args, **kwargs)
'''

FORK_BOMB = '''
import os
while True:
    os.fork()
'''

ALLOCATE_30GB = '''
import numpy as np
_big = np.ones(30 * 2 ** 30 // 8)
'''

NO_TANH = {"next_h = np.tanh(prev_h @ Wh + x @ Wx + b)": "next_h = prev_h @ Wh + x @ Wx + b"}


def _edit_exercise(path, exercise, before="", after=""):
    """Put code before / after the source of the exercise cell that defines ``exercise``."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {exercise}(" in c.source
                and c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = before + cell.source + after
    nbformat.write(nb, path)
    return path


def hostile_class(root, port, harmful=True):
    """The class: ``root/<student>/01_rnn_basics.ipynb``. harmful: include the fork bomb and the
    30 GB allocation (never hand those to a grader without a sandbox)."""
    def student(name):
        (root / name).mkdir(parents=True)
        return root / name

    lecture_with_answers(NOTEBOOK, student("perfect"))
    replaced = lecture_with_answers(NOTEBOOK, student("replaced_checks"))
    nb = nbformat.read(replaced, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = ""
    first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    first.source = REPLACE_CHECKS
    nbformat.write(nb, replaced)
    _edit_exercise(lecture_with_answers(NOTEBOOK, student("patched"), NO_TANH), "rnn_step_forward",
                   before=PATCH)
    for name, probe in PROBES.items():
        _edit_exercise(lecture_with_answers(NOTEBOOK, student(name)), "output_projection",
                       after="\n" + probe.replace("{port}", str(port)) + BREAK)
    _edit_exercise(lecture_with_answers(NOTEBOOK, student("calls_reference")), "rnn_step_forward",
                   after="\n" + CALLS_REFERENCE)
    if harmful:
        _edit_exercise(lecture_with_answers(NOTEBOOK, student("fork_bomb")), "output_projection",
                       after="\n" + FORK_BOMB)
        _edit_exercise(lecture_with_answers(NOTEBOOK, student("allocate_30gb")), "output_projection",
                       after="\n" + ALLOCATE_30GB)


class Listener:
    """A TCP server on the loopback that a network probe tries to reach."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.server.close()


# --- fast: the table, the wire format, one sandbox -------------------------------------------

def test_every_exercise_has_a_grading_case():
    exercises = []
    for path in solution_notebooks(SOLUTIONS_DIR):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and BEGIN_SOLUTION in cell.source:
                exercises += re.findall(r"^def (\w+)\(", cell.source, re.MULTILINE)
    assert len(exercises) == 36
    assert sorted(CASES) == sorted(exercises)
    checks = [n for p in solution_notebooks(LECTURES_DIR)
              for n in nbformat.read(p, as_version=4).metadata["course"]["checks"]]
    assert sorted(checks) == sorted(CASES)


def test_the_wire_format_carries_plain_data_only():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": (1, 2.5, None, "x", [True]),
             "c": np.int64(3), "d": np.array([np.nan, np.inf])}
    back = sandbox_runner.decode(sandbox_runner.encode(value, _refuse), _refuse)
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert back["b"] == (1, 2.5, None, "x", [True]) and back["c"] == 3 and type(back["c"]) is np.int64
    assert np.isnan(back["d"][0]) and np.isinf(back["d"][1])
    with pytest.raises(TypeError):
        sandbox_runner.encode(np.array([object()]), _refuse)
    with pytest.raises(sandbox_runner.ProtocolError):
        sandbox_runner.decode({"__nd__": ["|O", [1], ""]}, _refuse)


def _refuse(*args):
    raise TypeError(f"not plain data: {args}")


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    return course_view("01", tmp_path_factory.mktemp("view") / "course")


@needs_sandbox
def test_the_sandbox_confines_the_students_code(view, tmp_path):
    """Every probe, one after another in one sandbox: it found no solutions, wrote nothing outside
    its scratch, reached no network, changed no gradebook or submission. Replaced checks and
    patched numpy and print change no verdict."""
    listener = Listener()
    root = tmp_path / "class"
    hostile_class(root, listener.port, harmful=False)
    (root / "gradebook.db").write_bytes(b"")  # a gradebook next to the submissions, to tamper with
    before = {p: p.read_bytes() for p in root.glob("*/*.ipynb")}
    lecture = nbformat.read(LECTURES_DIR / NOTEBOOK, as_version=4)
    verdicts = {}
    for name in ("perfect", "replaced_checks", "patched"):
        submission = nbformat.read(root / name / NOTEBOOK, as_version=4)
        with Sandbox(view, Limits(wall=120)) as box:
            remote = Remote(box)
            cells = sandbox_program(submission, lecture)
            if name == "perfect":
                cells += [(probe, code.replace("{port}", str(listener.port))
                           + f"\nWORKED = globals().get('WORKED', {{}}); WORKED[{probe!r}] = ATTACK_WORKED")
                          for probe, code in PROBES.items()]
                cells.append(("report", "def attacks_that_worked():\n    return WORKED\n"))
            errors, _ = remote.load(cells)
            assert errors == {}, errors
            verdicts[name] = [grade_exercise(n, remote, 7)[0] for n in
                              ("rnn_step_forward", "rnn_forward", "output_projection")]
            if name == "perfect":
                worked = remote.function("attacks_that_worked")()
    listener.close()
    print(verdicts, worked)
    assert verdicts == {"perfect": [True, True, True], "replaced_checks": [False, False, False],
                        "patched": [False, False, True]}  # patched: its no-tanh mistake still fails
    assert worked == {"snoop": False, "write_outside": False, "tamper": False, "network": False,
                      "reference": worked["reference"]}
    assert listener.accepted == 0
    assert (root / "gradebook.db").read_bytes() == b""
    assert before == {p: p.read_bytes() for p in root.glob("*/*.ipynb")}
    if not _release_view():
        pytest.skip("the course view still holds the references (utils/tools/release.py is not "
                    "there yet); a call of the reference is refused once it is")
    assert worked["reference"] is False  # the release's stand-in knows no answer for fresh inputs


def _release_view():
    try:
        from utils.tools.release import build_release  # noqa: F401 (only whether it exists)
        return True
    except ImportError:
        return False


@needs_sandbox
@pytest.mark.skipif(not _host_root(), reason="the process limit needs the machine's root (an unprivileged "
                    "uid per sandbox); in a user namespace (a teacher's account, CI under unshare -r) "
                    "a fork bomb is ended by the time limit instead")
@pytest.mark.parametrize("attack, limit", [(FORK_BOMB, "process limit"),
                                           (ALLOCATE_30GB, "MemoryError")])
def test_a_fork_bomb_and_a_30gb_allocation_are_stopped(view, attack, limit):
    with Sandbox(view, Limits(wall=60)) as box:
        remote = Remote(box)
        errors, defined = remote.load([("attack", attack), ("after", "def f():\n    return 1\n")])
        assert remote.function("f")() == 1  # the runner survived its cell
    message = errors["attack"]
    if limit == "process limit":
        assert message.startswith("BlockingIOError") and "Resource temporarily unavailable" in message
    else:
        assert message.startswith("MemoryError")


@needs_sandbox
def test_the_time_limit_kills_every_process(view):
    start = time.monotonic()
    box = Sandbox(view, Limits(wall=5))
    try:
        remote = Remote(box)
        with pytest.raises(SandboxDied, match="time limit"):
            remote.load([("loop", "import subprocess\nsubprocess.Popen(['sleep', '300'])\nwhile True:\n    pass\n")])
        pids = [p.pid for p in psutil.Process(box.proc.pid).children(recursive=True)]
    finally:
        box.close()
    assert time.monotonic() - start < 30
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


# --- slow: the class through `make grade` ----------------------------------------------------

@pytest.mark.slow
@needs_sandbox
def test_grading_a_hostile_class(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is not installed: `make grade` installs it")
    from utils.tools.grade import grade_class  # needs nbgrader at run time only
    listener = Listener()
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    harmful = _host_root()  # in a user namespace the process limit does not hold (see sandbox.py)
    hostile_class(submissions, listener.port, harmful=harmful)
    # processes this worker already had (a kernel or a pool of an earlier test): not the grader's
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    start = time.monotonic()
    grade_class(submissions, out, jobs=1, timeout=120)
    print(f"graded {len(list(submissions.iterdir()))} files in {time.monotonic() - start:.0f} s")
    listener.close()
    text = (out / "gradebook.csv").read_text(encoding="utf-8")
    print(text)
    with open(out / "gradebook.csv", encoding="utf-8") as f:
        table = {r["student"]: r for r in csv.DictReader(f)}

    def scores(student):
        r = table[student]
        return r["rnn_step_forward (1)"], r["rnn_forward (1)"], r["output_projection (1)"]

    assert scores("perfect") == ("1", "1", "1")
    assert scores("replaced_checks") == ("0", "0", "0")
    assert scores("patched") == ("0", "0", "1")
    for name in ("snoop", "write_outside", "tamper", "network"):
        assert scores(name) == ("1", "1", "1"), name
    assert listener.accepted == 0
    if _release_view():
        assert scores("calls_reference") == ("0", "0", "1")
    if harmful:
        assert "process limit" in table["fork_bomb"]["message"]
        assert "memory limit" in table["allocate_30gb"]["message"]
    assert all(r["status"] == "graded" for r in table.values())
    assert len({r["grading seed"] for r in table.values()}) == 1
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == [], f"the grader left processes behind: {left}"


def test_the_probes_catch_an_unconfined_runner(view):
    """The same probes without the sandbox (--unsafe): they do find solutions, write and connect."""
    listener = Listener()
    with Sandbox(view, Limits(wall=60), unsafe=True) as box:
        remote = Remote(box)
        cells = [(probe, PROBES[probe].replace("{port}", str(listener.port))
                  + f"\nWORKED = globals().get('WORKED', {{}}); WORKED[{probe!r}] = ATTACK_WORKED")
                 for probe in ("snoop", "write_outside", "network")]
        errors, _ = remote.load(cells + [("report", "def attacks_that_worked():\n    return WORKED\n")])
        worked = remote.function("attacks_that_worked")()
    listener.close()
    assert errors == {} and worked == {"snoop": True, "write_outside": True, "network": True}
    assert listener.accepted == 1
