"""Start JupyterLab on lectures/ (what `make lab` runs), also where everyone is root.

    python -m utils.tools.lab [--port 8888] [extra JupyterLab options...]

In many containers (Docker images, cloud shells) the only user is root, and JupyterLab then
refuses to start ("Running as root is not recommended. Use --allow-root to bypass."). Run as root,
this passes --allow-root and says so in one line. JupyterLab prints the address to open, with
its access token, once the server is up.
"""
import argparse
import os
import sys

from utils.tools.notebooks import LECTURES_DIR


def lab_arguments(port, extra=(), is_root=None):
    """The jupyter-lab command line: lectures/ as the notebook folder, --allow-root for root."""
    is_root = (os.geteuid() == 0) if is_root is None else is_root
    args = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={LECTURES_DIR}", f"--port={port}", *extra]
    return args + (["--allow-root"] if is_root and "--allow-root" not in extra else [])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    args, extra = parser.parse_known_args(argv)
    command = lab_arguments(args.port, extra)
    if "--allow-root" in command and "--allow-root" not in extra:
        print("lab: running as root (usual in containers), so JupyterLab is started with --allow-root",
              flush=True)
    print(f"lab: JupyterLab on lectures/, port {args.port}; open the http://127.0.0.1:{args.port}/lab?token=... "
          "address it prints below", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
