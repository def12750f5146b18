"""The runtime of every notebook: one-call setup, the device, CPU threads, budgets, eval mode.

    setup_notebook      seeds, reproducible CPU threads, print options, device report (first cell)
    seeded              a block with its own torch seed; the only global seeding is setup_notebook's
    pick_device, describe_device, on_accelerator, scaled_budget   where and how big to train
                        (COURSE_DEVICE and COURSE_BUDGET override them)
    model_device        the device a model's parameters live on
    eval_mode           a block run with a model in eval mode, its previous mode restored after
    torch_threads       a block run with a given number of torch CPU threads
    record_results      a notebook's headline figures, for the results report (make report)
"""
import contextlib
import json
import os
import pathlib
import random
import re
from importlib import metadata

import matplotlib
import numpy as np
import torch
from cycler import cycler

import utils
from utils import exercises, palette, validate

# A fixed number of CPU threads keeps floating-point reductions in the same order from run to
# run, so rounded numbers printed by the notebooks are reproducible. Override with the
# environment variable COURSE_CPU_THREADS.
DEFAULT_CPU_THREADS = 1

DEVICE_VARIABLE = "COURSE_DEVICE"   # forces setup_notebook's device ("cpu", "cuda", "mps")
BUDGET_VARIABLE = "COURSE_BUDGET"   # forces scaled_budget's choice: "cpu", "accelerator" or "tiny"
BUDGETS = ("cpu", "accelerator", "tiny")


def pick_device(prefer=None):
    """Return the best available torch device name: "cuda", then "mps", then "cpu".

    prefer: optional device name ("cpu", "cuda", "mps") to force, e.g. for comparisons.
    Returns: a ``torch.device``.
    """
    if prefer is not None:
        prefer = str(prefer)
        available = _available_devices()
        if prefer not in available:
            raise ValueError(f"pick_device: unknown device {prefer!r}; use 'cpu', 'cuda' or 'mps'")
        if not available[prefer]:
            raise ValueError(f"pick_device: {prefer!r} was requested but is not available here")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available_devices():
    """{"cpu": True, "cuda": bool, "mps": bool}: which device types this machine has."""
    return {"cpu": True, "cuda": torch.cuda.is_available(),
            "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}


def as_device(fname, device, must_exist=True):
    """``device`` (a torch.device or a name such as "cpu", "cuda:0", "mps") as a torch.device.

    ValueError naming ``fname`` for anything else, or (must_exist) for a GPU this machine does
    not have; must_exist=False for a device that is only named (budgets, records).
    """
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"{fname}: device must be a torch.device or a name such as 'cpu' or "
                         f"'cuda', got {validate.shown(device)}")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{fname}: device must be 'cpu', 'cuda' or 'mps' (or 'cuda:1'...), "
                         f"got {device!r}") from None
    available = _available_devices()
    if chosen.type not in available:
        raise ValueError(f"{fname}: device must be 'cpu', 'cuda' or 'mps', got {device!r}")
    if must_exist and not available[chosen.type]:
        raise ValueError(f"{fname}: device {device!r} was asked for but is not available here "
                         "(use 'cpu')")
    return chosen


def seed_everything(seed=0):
    """Seed python's ``random``, numpy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed):
    """A block whose torch CPU randomness (weight initialisation, torch.randn...) starts from
    ``seed``, with the caller's generator put back afterwards: a function that seeds its own
    model does not change the random numbers of the cells that follow it."""
    seed = validate.seed("seeded", seed)
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


def describe_device(device):
    """One human-readable line for a torch device, e.g. ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def _ipython():
    """The running IPython shell, or None outside a notebook or IPython."""
    try:
        from IPython import get_ipython  # here: IPython is optional for scripts and tests
    except ImportError:
        return None
    return get_ipython()


def setup_notebook(seed=0, device=None, quiet=False):
    """Prepare a notebook: seed everything, fix CPU threads, set print options, pick the device.

    seed: the seed for python, numpy and torch.
    device: force a device ("cpu", "cuda", "mps"); default: the environment variable
        COURSE_DEVICE when it is set (``python -m utils.tools.gpu_proof`` sets it), else cuda,
        then mps, then cpu.
    quiet: do not print the one-line report.
    Returns: the ``torch.device`` training cells should use.
    """
    seed = validate.seed("setup_notebook", seed)
    threads = int(os.environ.get("COURSE_CPU_THREADS", DEFAULT_CPU_THREADS))
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    seed_everything(seed)
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    torch.set_printoptions(precision=4, sci_mode=False, linewidth=100)
    matplotlib.rcParams.update({"figure.dpi": 90, "figure.figsize": (7, 3.5),
                                "axes.grid": True, "grid.alpha": 0.3,
                                "axes.prop_cycle": cycler(color=palette.SERIES)})
    chosen = pick_device(device if device is not None else os.environ.get(DEVICE_VARIABLE) or None)
    shell = _ipython()
    if shell is not None and exercises.in_release():
        exercises.install_skipping(shell)  # cells that need an unsolved exercise say so, Run All goes on
    if not quiet:
        print(f"course {utils.__version__} · seed {seed} · numpy {np.__version__} · "
              f"torch {torch.__version__} · device {describe_device(chosen)}")
    return chosen


def on_accelerator(device):
    """True when ``device`` is a GPU (cuda or mps): training cells then use their larger budget."""
    return getattr(device, "type", str(device)) in ("cuda", "mps")


def scaled_budget(device, cpu, accelerator, tiny=None, *, fname="scaled_budget"):
    """Pick a training budget: ``accelerator`` on a GPU, ``cpu`` otherwise.

    cpu, accelerator, tiny: any values (a number of steps, a dict of sizes...); tiny (default:
        cpu) is a run of a few optimizer steps that only proves the cell runs.
    The environment variable COURSE_BUDGET ("cpu", "accelerator" or "tiny") overrides the
    device's choice: the GPU proof trains the CPU budget on a GPU to measure the speed-up, and
    the classroom test runs every lecture with the tiny one. This is the only place that rule lives.
    fname: the function its messages name (a task's ``default_budget`` passes its own name).
    Returns: one of the three. Training cells use it so that a laptop CPU finishes in minutes
    and a GPU trains the same code bigger and longer, with no edits.
    """
    as_device(fname, device, must_exist=False)
    forced = os.environ.get(BUDGET_VARIABLE) or None
    if forced not in (None,) + BUDGETS:
        raise ValueError(f"{fname}: {BUDGET_VARIABLE} must be one of {', '.join(BUDGETS)}, "
                         f"got {forced!r}")
    choice = forced or ("accelerator" if on_accelerator(device) else "cpu")
    return {"cpu": cpu, "accelerator": accelerator,
            "tiny": cpu if tiny is None else tiny}[choice]


def model_device(model):
    """The torch.device of a module's first parameter (cpu for a module without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model):
    """Run the block with ``model.eval()`` (no dropout) and gradients off, then restore its mode.

    The previous train/eval mode comes back even when the block raises.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def torch_threads(n):
    """Run the block with ``n`` torch CPU threads, then restore the previous number.

    Use as ``with torch_threads(1): ...``. Small recurrent models are faster on one thread:
    each time step multiplies matrices too small to be worth splitting, and threads would wait
    for each other T times per batch. n is checked when called, before the block starts.
    """
    return _threads(validate.positive_int("torch_threads", "n", n))


@contextlib.contextmanager
def _threads(n):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def requirement_pins(requirements):
    """{name: version} of the ``name==version`` lines of a requirements file ({} when missing)."""
    path = pathlib.Path(requirements)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return dict(re.findall(r"^([\w\-]+)==(\S+)", text, re.M))


def pinned_packages(requirements):
    """{name: (pinned version, installed version or None)} for each ``name==version`` line of a
    requirements file (none when the file is missing). A package that is not installed (as in
    Colab, which lacks the test tools) is reported, not an error."""
    if not isinstance(requirements, (str, os.PathLike)) or not str(requirements):
        raise ValueError(f"pinned_packages: requirements must be a file path, got {validate.shown(requirements)}")
    found = {}
    for name, pinned in requirement_pins(requirements).items():
        try:
            found[name] = (pinned, metadata.version(name))
        except metadata.PackageNotFoundError:
            found[name] = (pinned, None)
    return found


RESULTS_VARIABLE = "COURSE_RESULTS_DIR"   # set by utils.tools.report while it executes notebooks


def record_results(notebook, device, **values):
    """Hand a notebook's headline figures to the results report (``make report``).

    notebook: the notebook's file name without .ipynb, e.g. "02_char_rnn". device: where it
    trained (the DEVICE of its first cell). values: name -> a number (int or finite float),
    as computed by the notebook's own cells.
    Writes ``<notebook>.json`` into the folder named by the environment variable
    COURSE_RESULTS_DIR when it is set (the report sets it for the kernels it starts); does
    nothing otherwise, so a student's or nbval's run leaves no file behind. Prints nothing.
    Returns: the dict that was (or would have been) written.
    """
    fname = "record_results"
    notebook = validate.non_empty_str(fname, "notebook", notebook)
    as_device(fname, device, must_exist=False)
    found = {}
    for name, value in values.items():
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{fname}: {name} must be a number, got {validate.shown(value)}")
        found[name] = validate.finite_number(fname, name, value)
        if isinstance(value, (int, np.integer)):
            found[name] = int(value)
    record = {"notebook": notebook, "device": str(device), "values": found}
    folder = os.environ.get(RESULTS_VARIABLE)
    if folder:
        path = os.path.join(folder, f"{notebook}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=1)
    return record
