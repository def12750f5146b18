"""`make lab` starts JupyterLab: start the same server headless on a free port and fetch /lab."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_serves_the_lectures(repo_root, tmp_path):
    port = _free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
         "--notebook-dir=lectures", "--allow-root"],
        cwd=repo_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        body = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as r:
                    body = r.read().decode()
                    break
            except OSError:
                if server.poll() is not None:
                    pytest.fail("jupyter lab exited: " + server.stderr.read().decode()[-2000:])
                time.sleep(1)
        assert body is not None, "JupyterLab did not answer within 90 s"
        assert "JupyterLab" in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5) as r:
            listing = r.read().decode()
        assert "01_rnn_basics.ipynb" in listing
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
