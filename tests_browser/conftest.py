"""Fixtures of the browser tests: what they need (or why they skip), one JupyterLab, one Chromium.

`make widgets` runs these tests; `make test` does not (they take minutes and need a browser).
What they need: Debian's chromium on PATH (`apt-get install chromium`) and Playwright's Python
package (requirements-browser.txt, installed into .venv by `make widgets`). The browser is
never downloaded: Playwright drives Debian's chromium through `executable_path`. Without either,
every test is skipped with the reason printed (`-rs`).

One JupyterLab server serves the whole session from a scratch directory, so that neither the
server nor the browser ever writes to solutions/ (JupyterLab saves notebooks it runs).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / "results" / "widgets"

# Debian's chromium in a container: no sandbox as root, no GPU, nothing fetched in the background.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps"]

# JupyterLab settings of the scratch server: every cell stays in the page (no windowing, so every
# widget can be found), nothing is saved, nothing is fetched from the internet.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}

MEASUREMENTS = []   # one dict per widget, filled by the tests, printed at the end of the session
CONTRAST = []       # one dict per notebook: the lowest text contrast in the light and dark themes


def chromium_path():
    """Debian's chromium on PATH, or None."""
    return shutil.which("chromium")


def missing_tools():
    """Why the browser tests cannot run here (one line), or None when they can."""
    missing = []
    if chromium_path() is None:
        missing.append("Debian's chromium is not on PATH (install it with `apt-get install chromium`, "
                       "as root; the tests never download a browser)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright's Python package is not installed (`make widgets` installs "
                       "requirements-browser.txt into .venv; never run `playwright install`)")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        missing.append("JupyterLab is not installed (`make setup` installs requirements.txt)")
    return "; ".join(missing) or None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab: its base URL, token and scratch root directory."""

    def __init__(self, url, token, root):
        self.url, self.token, self.root = url, token, root

    def api(self, path, method="GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        """Delete every session (and so shut its kernel down): one notebook's kernel at a time."""
        for session in self.api("/api/sessions"):
            try:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
            except OSError:
                pass


@pytest.fixture(scope="session")
def tools():
    """Skip (with the reason) unless chromium and Playwright are here."""
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    return chromium_path()


@pytest.fixture(scope="session")
def lab(tools, tmp_path_factory):
    """One headless JupyterLab for the session, rooted in a scratch directory (root/solutions/
    receives copies of the notebooks; root/requirements.txt a copy of the repository's, which
    notebook 00 reads as ../requirements.txt)."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "requirements.txt", root / "requirements.txt")
    settings = base / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = _free_port(), os.urandom(16).hex()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_DATA_DIR=str(base / "data"),
               PYTHONUNBUFFERED="1")
    env.pop("MPLBACKEND", None)   # the kernels must draw inline, as in a student's JupyterLab
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={base / 'workspaces'}",
               "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(base / "server.log", "wb")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Lab(f"http://127.0.0.1:{port}", token, root)
    try:
        deadline = time.time() + 120
        while True:
            if server.poll() is not None:
                pytest.fail("jupyter lab exited: " + (base / "server.log").read_text()[-3000:])
            try:
                running.api("/api/status")
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("JupyterLab did not answer within 120 s: "
                                + (base / "server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield running
    finally:
        try:
            running.shutdown_kernels()
        except OSError:
            pass
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def browser(tools):
    """Headless Debian chromium, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=tools, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def measurements():
    """The list the tests add one dict per widget to (printed and saved at the end)."""
    return MEASUREMENTS


@pytest.fixture(scope="session")
def contrast_records():
    """The list the tests add one dict per notebook to: its texts' lowest contrast in each theme."""
    return CONTRAST


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter):
    if not MEASUREMENTS and not CONTRAST:
        return
    write = terminalreporter.write_line
    terminalreporter.section("widgets in the browser (1280-px window, file browser open)")

    def times(t):
        return "no change" if t["first_change_s"] is None else f"{t['first_change_s']:.2f}/{t['settle_s']:.2f} s"

    for m in MEASUREMENTS:
        step = ", ".join(times(t) for t in m["tries"]) or "not measured"
        burst = times(m["burst"]) if "burst" in m else "not measured"
        write(f"{m['notebook']} #{m['index']} {m['widget']}: slider tracks {m['track_widths_px']} px; "
              f"'{m.get('slider')}' {m.get('value_before')} -> {m.get('value_after_step')} -> {m.get('value_after')}; "
              f"first change/settled: one step {step}, five steps {burst}; {m.get('screenshot', 'no screenshot')}")
    write(f"(run-all times: " + ", ".join(f"{n} {s:.0f} s" for n, s in
                                          dict((m["notebook"], m["run_all_s"]) for m in MEASUREMENTS).items()) + ")")
    for c in CONTRAST:
        write(f"{c['notebook']} text contrast (WCAG AA: 4.5, large text 3): " + "; ".join(
            f"{theme} min {c[theme]['min_ratio']} ('{c[theme]['min_text']}', {' on '.join(c[theme]['min_colors'] or [])}) "
            f"over {c[theme]['texts']} texts, {c[theme]['failing']} below AA" for theme in ("light", "dark") if theme in c)
            + f"; dark screenshots {', '.join(c.get('screenshots_dark', []))}")
    try:
        (SCREENSHOTS / "measurements.json").write_text(
            json.dumps({"widgets": MEASUREMENTS, "contrast": CONTRAST}, indent=1) + "\n")
    except OSError:
        pass
