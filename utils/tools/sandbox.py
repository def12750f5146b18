"""One sandbox per submission: the student's code runs where it can neither see nor harm the rest.

``Sandbox(view, limits)`` starts ``utils.tools.sandbox_runner`` in fresh Linux namespaces
(util-linux's ``unshare``: mount, network, PID, IPC and UTS) and talks to it over pipes. Inside:

- the file system is an empty read-only tmpfs with, bound read-only, only the system's
  programs and libraries (/usr, /lib...), the Python installation, and ``view``: the course
  files a student of that notebook gets (``course_view``), at /course. No solutions/, no
  teacher's course directory, no other submission, no home directory. A private writable
  tmpfs of ``limits.scratch_mb`` is at /scratch (also HOME and TMPDIR);
- no network: a new network namespace has nothing but a loopback that is down;
- as the machine's root, the student's code runs as an unprivileged uid of its own (no
  capabilities, no new privileges), so it cannot write what it can see; as another user (or
  as root inside a user namespace, e.g. CI under ``unshare -r``), a user namespace maps it to
  root of the sandbox only, and the read-only mounts do the same; there the process limit does
  not hold (the uid is shared), and a fork bomb is ended by the wall-clock limit;
- ``prlimit`` sets CPU seconds, address space (a 30 GB allocation raises MemoryError),
  processes (a fork bomb gets EAGAIN), file size and open files. The runner is process 1 of
  its PID namespace: killing it, at the wall-clock limit or when grading ends, kills every
  process the student started.

``--unsafe`` (``Sandbox(..., unsafe=True)``) runs the same runner as a plain child process
with the same rlimits but no namespaces: verdicts still come from the grader's process, but
the student's code can read and write what the teacher can. ``available()`` says which way
this machine can go.

The grader calls the student's functions in a running sandbox through
``utils.tools.sandbox_remote.Remote``.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from utils.tools import sandbox_runner as runner
from utils.tools.notebooks import LECTURES_DIR, REPO_ROOT

NOBODY_BASE = 200000  # sandboxes run as uid/gid NOBODY_BASE + k: none of them exists on the host
_next_uid = [0]


@dataclass
class Limits:
    """What one submission may use. ``wall`` and ``cpu`` are seconds, the sizes megabytes."""
    wall: float = 600.0
    cpu: int = 600
    memory_mb: int = 4096  # address space of each process: torch and a small model fit in 1 GB
    processes: int = 64  # tasks of the sandbox's uid, threads included
    file_mb: int = 64  # largest file a process may write
    open_files: int = 256
    scratch_mb: int = 256

    def describe(self):
        return (f"{self.wall:g} s wall, {self.cpu} s CPU, {self.memory_mb} MB address space, "
                f"{self.processes} processes, {self.file_mb} MB per file, {self.scratch_mb} MB scratch, "
                f"no network")


def course_view(nn, folder):
    """Write the course files a student of notebook ``nn`` gets into ``folder``; return its path.

    The student release (utils.tools.release.build_release) when the course has it: lectures
    00..nn, utils whose references of the exercises of nn..08 answer only the self-check's
    recorded inputs, datasets/. Without it, and for 00 (which has no release), a copy of
    lectures 00..nn, utils/ and datasets/ (which still holds every reference).
    """
    try:
        from utils.tools.release import build_release  # the release module, once the course has it
    except ImportError:
        build_release = None
    folder = Path(folder)
    if build_release is not None and nn != "00":  # 00 has no release of its own
        return Path(build_release(nn, folder))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lectures").mkdir()
    for path in sorted(LECTURES_DIR.glob("[0-9][0-9]_*.ipynb")):
        if path.name[:2] <= nn:
            shutil.copy2(path, folder / "lectures" / path.name)
    shutil.copytree(REPO_ROOT / "utils", folder / "utils")
    if (REPO_ROOT / "datasets").is_dir():
        shutil.copytree(REPO_ROOT / "datasets", folder / "datasets")
    return folder


def _host_root():
    """True for root of the machine itself; False for a user, and for "root" inside a user
    namespace (a CI job under `unshare -r`), who cannot switch to an unmapped uid."""
    if os.geteuid() != 0:
        return False
    try:
        return Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def available():
    """(True, how) when this machine can sandbox, else (False, why not) in one line."""
    if sys.platform != "linux":
        return False, f"no Linux namespaces on {sys.platform} (run the grader in a Linux container)"
    for tool in ("unshare", "prlimit", "mount", "chroot") + (("setpriv",) if _host_root() else ()):
        if shutil.which(tool) is None:
            return False, f"`{tool}` (util-linux) is missing"
    probe = subprocess.run(_namespaces() + ["true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return False, ("this system refuses new namespaces to this user (`unshare` said: "
                       f"{(probe.stderr.strip().splitlines() or ['?'])[-1]})")
    return True, "Linux namespaces (unshare), " + ("an unprivileged uid" if _host_root() else
                                                   "a user namespace")


def _namespaces():
    user = [] if _host_root() else ["--user", "--map-root-user"]
    return ["unshare", *user, "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]


def _system_dirs():
    """Read-only folders the sandbox needs to run Python: libraries, the interpreter, the venv."""
    dirs = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", sys.base_prefix, sys.prefix]
    found = []
    for d in dirs:
        real = os.path.realpath(d)
        if os.path.isdir(real) and d not in found and not os.path.islink(d):
            found.append(d)
    return found


SETUP = r"""
set -eu
R="$1"; VIEW="$2"; UID_="$3"; RUNNER="$4"; shift 4
mount --make-rprivate /
mount -t tmpfs -o mode=755,size=16m sandbox "$R"
for d in $SYSTEM_DIRS; do mkdir -p "$R$d"; mount --rbind "$d" "$R$d"; mount -o remount,bind,ro "$R$d"; done
for l in /bin /sbin /lib /lib64 /lib32; do [ -L "$l" ] && ln -s "$(readlink "$l")" "$R$l" || true; done
mkdir -p "$R/etc" "$R/course" "$R/scratch" "$R/proc" "$R/dev" "$R/tmp"
[ -f /etc/ld.so.cache ] && touch "$R/etc/ld.so.cache" && mount --bind /etc/ld.so.cache "$R/etc/ld.so.cache" || true
mount --rbind "$VIEW" "$R/course"; mount -o remount,bind,ro "$R/course"
mkdir -p "$R/runner"; mount --bind "$RUNNER" "$R/runner"; mount -o remount,bind,ro "$R/runner"
mount -t tmpfs -o "mode=700,size=${SCRATCH_MB}m" scratch "$R/scratch"
chown "$UID_:$UID_" "$R/scratch" 2>/dev/null || true
case " $SYSTEM_DIRS " in  # a venv under /tmp (a CI checkout) must stay visible: TMPDIR is /scratch anyway
  *" /tmp/"*) ;;
  *) mount --rbind "$R/scratch" "$R/tmp" ;;
esac
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755,size=1m dev "$R/dev"
for n in null zero urandom random; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mount -o remount,ro,bind "$R"
exec chroot "$R" "$@"
"""


class SandboxDied(Exception):
    """The sandbox stopped before answering: a limit was hit, or the student's code exited."""


class Sandbox:
    """A running sandbox: ``proc`` is its outermost process; ``stdin``/``stdout`` its channel."""

    def __init__(self, view, limits=None, unsafe=False, log_path=None):
        self.limits = limits or Limits()
        self.unsafe = unsafe
        self.log_path = Path(log_path or tempfile.mktemp(prefix="sandbox-", suffix=".log"))
        self.started = time.monotonic()
        lim = self.limits
        rlimits = ["prlimit", f"--cpu={lim.cpu}", f"--as={lim.memory_mb * 2 ** 20}",
                   f"--nproc={lim.processes}", f"--fsize={lim.file_mb * 2 ** 20}",
                   f"--nofile={lim.open_files}", "--core=0", "--"]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/scratch", "TMPDIR": "/scratch",
               "MPLCONFIGDIR": "/scratch", "MPLBACKEND": "Agg", "PYTHONNOUSERSITE": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        python = os.path.join(sys.prefix, "bin", "python")
        # the runner travels on its own: a student release holds no grading tools
        self._runner_dir = Path(tempfile.mkdtemp(prefix="sandbox-runner-"))
        shutil.copy2(runner.__file__, self._runner_dir / "sandbox_runner.py")
        os.chmod(self._runner_dir, 0o755)  # readable by the sandbox's unprivileged uid
        if unsafe:
            scratch = Path(tempfile.mkdtemp(prefix="sandbox-scratch-"))
            env.update(HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch),
                       PYTHONPATH=str(view))
            argv = rlimits + [python, "-s", str(self._runner_dir / "sandbox_runner.py")]
            cwd = scratch
            self._cleanup = [scratch, self._runner_dir]
        else:
            env["PYTHONPATH"] = "/course"
            self._root = Path(tempfile.mkdtemp(prefix="sandbox-root-"))
            self._cleanup = [self._root, self._runner_dir]
            if _host_root():
                uid = NOBODY_BASE + _next_uid[0] % 10000
                _next_uid[0] += 1
                drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                        "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
            else:
                uid, drop = 0, []
            inner = (rlimits + drop + ["/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in env.items()]
                     + [python, "-s", "/runner/sandbox_runner.py"])
            argv = _namespaces() + ["sh", "-c", SETUP, "sandbox", str(self._root), str(view), str(uid),
                                    str(self._runner_dir)] + inner
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "SYSTEM_DIRS": " ".join(_system_dirs()), "SCRATCH_MB": str(lim.scratch_mb)}
            cwd = "/"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, cwd=cwd, start_new_session=True)
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def remaining(self):
        return self.limits.wall - (time.monotonic() - self.started)

    def why_stopped(self):
        """Which limit (or what) ended the sandbox, in words, once it has stopped."""
        code = self.proc.poll()
        log = self.log_tail()
        if self.remaining() <= 0:
            return f"time limit ({self.limits.wall:g} s wall clock)"
        if code is not None and code < 0:
            sig = -code
        elif code is not None and code > 128:  # unshare reports the child's signal as 128 + n
            sig = code - 128
        else:
            sig = None
        spent = time.monotonic() - self.started
        # unshare may report a child killed by SIGXCPU as exit status 1
        if sig == signal.SIGXCPU or (code == 1 and spent >= self.limits.cpu and not log.strip()):
            return f"CPU time limit ({self.limits.cpu} s)"
        if sig == signal.SIGXFSZ:
            return f"file size limit ({self.limits.file_mb} MB)"
        if "MemoryError" in log or "Cannot allocate memory" in log:
            return f"memory limit ({self.limits.memory_mb} MB address space)"
        if sig is not None:
            return f"killed by signal {signal.Signals(sig).name}"
        return f"the student's code ended the process (exit status {code})"

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - n))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        """Kill every process of the sandbox and remove its folders."""
        kill_tree(self.proc)
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()
        for folder in self._cleanup:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            self.log_path.unlink()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def kill_tree(proc):
    """SIGKILL a process and everything below it; its PID namespace's process 1 first, which
    takes every process of the namespace with it."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
    psutil.wait_procs(family, timeout=10)
