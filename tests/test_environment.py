"""requirements.txt (pip) and environment.yml (conda) must name the same pinned versions."""
import re


def _pip_pins(text):
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip().lstrip("- ").strip()
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _conda_pins(text):
    pins = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        match = re.fullmatch(r"-\s*([A-Za-z0-9_.\-]+)\s*(==|=)\s*([^\s]+)", line)
        if match and match.group(1).lower() != "python":
            pins[match.group(1).lower()] = match.group(3)
    return pins


def test_requirements_are_all_pinned(repo_root):
    lines = [l.split("#")[0].strip() for l in (repo_root / "requirements.txt").read_text().splitlines()]
    unpinned = [l for l in lines if l and "==" not in l]
    assert not unpinned, f"unpinned requirements: {unpinned}"


def test_conda_and_pip_name_the_same_versions(repo_root):
    pip = _pip_pins((repo_root / "requirements.txt").read_text())
    conda = _conda_pins((repo_root / "environment.yml").read_text())
    assert pip, "no pins parsed from requirements.txt"
    assert pip == conda, (f"only in requirements.txt: {set(pip.items()) - set(conda.items())}; "
                          f"only in environment.yml: {set(conda.items()) - set(pip.items())}")
    for needed in ("jupyterlab", "numpy", "torch", "matplotlib", "ipywidgets", "nbval", "tqdm",
                   "pytest"):
        assert needed in pip, f"{needed} is not pinned"
    assert pip["torch"] == "2.13.0"


def test_environment_asks_for_python_311(repo_root):
    assert re.search(r"-\s*python\s*=\s*3\.11\b", (repo_root / "environment.yml").read_text())


def test_installed_versions_match_the_pins(repo_root):
    from importlib.metadata import version
    for name, pinned in _pip_pins((repo_root / "requirements.txt").read_text()).items():
        installed = version(name)
        assert installed.split("+")[0] == pinned, f"{name}: installed {installed}, pinned {pinned}"


def test_make_accepts_the_pythons_the_pins_support(repo_root):
    """The Makefile's version check, run as make runs it with other version numbers: 3.11 to
    3.14 pass (each pin publishes wheels for them: utils/tools/check_wheels.py), others get one
    line that says which versions are needed."""
    import subprocess  # only this test starts interpreters
    import sys
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    check = re.search(r"\$\(PYTHON\) -c '([^']*version_info[^']*)'", makefile).group(1)
    for version, accepted in (((3, 10), False), ((3, 11), True), ((3, 12), True), ((3, 13), True),
                              ((3, 14), True), ((3, 15), False)):
        program = f"import sys; sys.version_info = {version}; sys.version = '{version[0]}.{version[1]}.0'\n" + check
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
        assert (result.returncode == 0) == accepted, (version, result.stderr)
        if not accepted:
            assert "needs Python 3.11 to 3.14" in result.stderr and result.stderr.count("\n") == 1


def test_the_version_is_written_once_and_carried_everywhere(repo_root):
    """utils.__version__ is the course version; pyproject.toml reads it, CITATION.cff and the
    changelog carry the same number, and the setup line of every notebook prints it."""
    import re

    import utils
    assert re.fullmatch(r"\d+\.\d+\.\d+", utils.__version__)
    pyproject = (repo_root / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'version = {attr = "utils.__version__"}' in pyproject
    assert f'version: "{utils.__version__}"' in (repo_root / "CITATION.cff").read_text()
    assert f"## {utils.__version__} " in (repo_root / "CHANGELOG.md").read_text()
