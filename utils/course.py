"""One-call notebook setup: seeds, reproducible CPU threads, print options, device report."""
import os
import random

import numpy as np

# A fixed number of CPU threads keeps floating-point reductions in the same order from run to
# run, so rounded numbers printed by the notebooks are reproducible. Override with the
# environment variable COURSE_CPU_THREADS.
DEFAULT_CPU_THREADS = 2


def pick_device(prefer=None):
    """Return the best available torch device name: "cuda", then "mps", then "cpu".

    prefer: optional device name ("cpu", "cuda", "mps") to force, e.g. for comparisons.
    Returns: a ``torch.device``.
    """
    import torch

    if prefer is not None:
        prefer = str(prefer)
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": getattr(torch.backends, "mps", None) is not None
                     and torch.backends.mps.is_available()}
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


def seed_everything(seed=0):
    """Seed python's ``random``, numpy's global generator and torch (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def describe_device(device):
    """One human-readable line for a torch device, e.g. ``cpu (2 threads)``."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def setup_notebook(seed=0, device=None, quiet=False):
    """Prepare a notebook: seed everything, fix CPU threads, set print options, pick the device.

    seed: the seed for python, numpy and torch.
    device: force a device ("cpu", "cuda", "mps"); default picks cuda, then mps, then cpu.
    quiet: do not print the one-line report.
    Returns: the ``torch.device`` training cells should use.
    """
    import torch

    threads = int(os.environ.get("COURSE_CPU_THREADS", DEFAULT_CPU_THREADS))
    torch.set_num_threads(max(1, min(threads, os.cpu_count() or 1)))
    seed_everything(seed)
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    torch.set_printoptions(precision=4, sci_mode=False, linewidth=100)
    try:
        import matplotlib

        matplotlib.rcParams.update({"figure.dpi": 90, "figure.figsize": (7, 3.5),
                                    "axes.grid": True, "grid.alpha": 0.3})
    except ImportError:  # matplotlib is pinned in requirements; this only guards odd installs
        pass
    chosen = pick_device(device)
    if not quiet:
        print(f"seed {seed} · numpy {np.__version__} · torch {torch.__version__} · "
              f"device {describe_device(chosen)}")
    return chosen


def on_accelerator(device):
    """True when ``device`` is a GPU (cuda or mps): training cells then use their larger budget."""
    return getattr(device, "type", str(device)) in ("cuda", "mps")


def scaled_budget(device, cpu, accelerator):
    """Pick a training budget for the device: ``accelerator`` on a GPU, ``cpu`` otherwise.

    cpu, accelerator: any values (a number of seconds, a dict of sizes...).
    Returns: one of the two. Training cells use it so that a laptop CPU finishes in minutes
    and a GPU trains the same code bigger and longer, with no edits.
    """
    return accelerator if on_accelerator(device) else cpu
