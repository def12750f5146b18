"""Which Python versions the pinned packages publish installable files for.

    python -m utils.tools.check_wheels              # 3.11 3.12 3.13 3.14
    python -m utils.tools.check_wheels 3.12 3.13

For each version and each pin of requirements.txt, asks pip which file it would install for
that Python (``pip install --dry-run --report - --no-deps --only-binary=:all:
--python-version V``): pip resolves from the index's metadata and downloads nothing large.
Prints one line per version: every pin's file, or the pins with no wheel for it, and exits 1
when a version lacks any. Needs the package index (the only step of the course that does).
The Makefile accepts the versions this reports as complete.
"""
import json
import subprocess
import sys
import tempfile

from utils.course import requirement_pins
from utils.tools.notebooks import REPO_ROOT

DEFAULT_VERSIONS = ("3.11", "3.12", "3.13", "3.14")


def pins(path=REPO_ROOT / "requirements.txt"):
    """The 'name==version' pins of a requirements file."""
    return [f"{name}=={version}" for name, version in requirement_pins(path).items()]


def wheel_for(pin, version, target):
    """The file name pip would install for ``pin`` on Python ``version``, or None."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
               "--no-deps", "--only-binary=:all:", "--python-version", version, "--target",
               target, pin]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    text = result.stdout
    if result.returncode != 0 or "{" not in text:
        return None
    report = json.loads(text[text.index("{"):])          # pip may print warnings first
    return report["install"][0]["download_info"]["url"].rsplit("/", 1)[-1]


def main(argv=None):
    versions = list(sys.argv[1:] if argv is None else argv) or list(DEFAULT_VERSIONS)
    missing_any = False
    with tempfile.TemporaryDirectory() as target:
        for version in versions:
            files = {pin: wheel_for(pin, version, target) for pin in pins()}
            missing = [pin for pin, name in files.items() if name is None]
            missing_any |= bool(missing)
            compiled = sorted(name for name in files.values() if name and "none-any" not in name)
            status = "every pin has a wheel" if not missing else "no wheel for " + ", ".join(missing)
            print(f"Python {version}: {status}; compiled wheels: {', '.join(compiled) or 'none'}")
    return 1 if missing_any else 0


if __name__ == "__main__":
    sys.exit(main())
