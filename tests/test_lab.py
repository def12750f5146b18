"""`make lab` starts JupyterLab on lectures/: run the target itself on a free port, as root (as in
most containers, where JupyterLab refuses root without --allow-root) and as an unprivileged user
where the machine has one, fetch /lab and the contents listing, then stop it."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from utils.tools.lab import lab_arguments

pytestmark = pytest.mark.slow
HEADLESS = "--no-browser --ip=127.0.0.1 --ServerApp.token= --ServerApp.password="


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_and_fetch(repo_root, folder, prefix=()):
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(folder / "runtime"), JUPYTER_CONFIG_DIR=str(folder / "config"),
               JUPYTER_DATA_DIR=str(folder / "data"), HOME=str(folder))
    server = subprocess.Popen([*prefix, "make", "--no-print-directory", "lab", f"PORT={port}", f"LAB_ARGS={HEADLESS}"],
                              cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline, body = time.time() + 90, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as r:
                    assert r.status == 200
                    body = r.read().decode()
            except OSError:
                if server.poll() is not None:
                    pytest.fail("make lab exited: " + server.stdout.read().decode()[-2000:])
                time.sleep(1)
        assert body is not None and "JupyterLab" in body, "JupyterLab did not answer within 90 s"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5) as r:
            assert "01_rnn_basics.ipynb" in r.read().decode()
    finally:
        _stop(server)
    return server.stdout.read().decode() if not server.stdout.closed else ""


def _stop(server):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
            server.wait(timeout=20)
            return
        except ProcessLookupError:  # already gone
            return
        except subprocess.TimeoutExpired:
            continue


def _nobody_can_run(repo_root):
    """The unprivileged user can run the project's interpreter (not where it links into /root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    nobody = pwd.getpwnam("nobody")
    return subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
                           "sh", "-c", ".venv/bin/python -c 'import jupyterlab'"],  # as make runs it
                          cwd=repo_root, capture_output=True).returncode == 0


def test_root_gets_allow_root_and_one_line_saying_why():
    assert "--allow-root" in lab_arguments(8888, is_root=True)
    assert "--allow-root" not in lab_arguments(8888, is_root=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="the machine runs the tests as an ordinary user")
def test_make_lab_as_root(repo_root, tmp_path):
    out = _serve_and_fetch(repo_root, tmp_path)
    assert "running as root" in out and "Running as root is not recommended" not in out


def test_make_lab_as_an_unprivileged_user(repo_root, tmp_path):
    if not _nobody_can_run(repo_root):
        pytest.skip("no unprivileged user who can run .venv's python here (needs root, setpriv, and an "
                    "interpreter outside /root)")
    nobody = pwd.getpwnam("nobody")
    tmp_path.chmod(0o777)
    out = _serve_and_fetch(repo_root, tmp_path, prefix=("setpriv", f"--reuid={nobody.pw_uid}",
                                                        f"--regid={nobody.pw_gid}", "--clear-groups"))
    assert "running as root" not in out
