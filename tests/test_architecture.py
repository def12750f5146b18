"""The shape of utils/: imports point down only, no cycles, in-function imports say why, and a
regular (non-editable) install carries every subpackage."""
import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
UTILS = REPO_ROOT / "utils"

# The layers of the package, bottom first. A module may import modules of a lower layer, and
# modules of its own folder (without cycles); never a higher layer or a sibling of its layer.
LAYERS = [
    {"utils", "utils.course", "utils.validate", "utils.gradcheck", "utils.palette", "utils.exercises"},
    {"utils.layers"},
    {"utils.data"},
    {"utils.models"},
    {"utils.training"},
    {"utils.analysis"},
    {"utils.viz", "utils.checks"},
    {"utils.tools"},
]


def _modules():
    mods = {}
    for path in sorted(UTILS.rglob("*.py")):
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _resolve(target):
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _group(module):
    """The layer entry a module belongs to: its subpackage, or itself for a bottom module."""
    parts = module.split(".")
    top = ".".join(parts[:2])
    if module in LAYERS[0]:
        return "the bottom modules"
    for layer in LAYERS:
        if top in layer:
            return top
    raise AssertionError(f"{module} belongs to no layer: add its folder to LAYERS")


def _rank(module):
    group = _group(module)
    return 0 if group == "the bottom modules" else next(i for i, layer in enumerate(LAYERS) if group in layer)


def _imports(path, module):
    """(imported utils module, line number, inside a function?, comment on that line) for a file."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                        for _ in range(child.level - 1):
                            package = package.rpartition(".")[0]
                        base = f"{package}.{base}".rstrip(".")
                    names = [_resolve(f"{base}.{a.name}") or _resolve(base) for a in child.names]
                else:
                    names = [_resolve(a.name) for a in child.names]
                line = lines[child.lineno - 1]
                comment = line.partition("#")[2].strip() or (lines[child.lineno - 2].strip().lstrip("#").strip()
                                                             if lines[child.lineno - 2].strip().startswith("#") else "")
                found.append((names, child.lineno, in_function, comment))
            visit(child, inner)

    visit(tree, False)
    return found


def test_imports_point_down_and_have_no_cycles():
    upward, edges = [], {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for names, lineno, _, _ in _imports(path, module):
            for target in filter(None, names):
                if target == module or module.startswith(target + ".") and target == "utils":
                    continue
                edges[module].add(target)
                if _rank(target) > _rank(module) or (
                        _rank(target) == _rank(module) and _group(target) != _group(module)):
                    upward.append(f"{path.relative_to(REPO_ROOT)}:{lineno} imports {target} "
                                  f"({_group(module)} may not import {_group(target)})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)

    # cycles: depth-first search over the module graph
    state, stack, cycles = {}, [], []

    def dfs(node):
        state[node] = "open"
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = "done"

    for node in edges:
        if node not in state:
            dfs(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_in_function_imports_say_why():
    silent = []
    for module, path in MODULES.items():
        for _, lineno, in_function, comment in _imports(path, module):
            if in_function and not comment:
                silent.append(f"{path.relative_to(REPO_ROOT)}:{lineno}")
    assert not silent, ("imports inside functions without a comment saying why they are not at "
                        "the top of the module:\n" + "\n".join(silent))


def test_the_rules_catch_an_upward_import(tmp_path):
    """The rank table itself: a layer importing a higher one is flagged, a lower one is not."""
    assert _rank("utils.layers.rnn") < _rank("utils.models.cells") < _rank("utils.training.char_lm")
    assert _rank("utils.viz.widgets") == _rank("utils.checks.core")
    assert _group("utils.viz.widgets") != _group("utils.checks.core")
    assert _rank("utils.validate") == 0 and _rank("utils.tools.build") == len(LAYERS) - 1


@pytest.mark.slow
def test_a_regular_install_contains_every_subpackage(tmp_path):
    """Build the wheel (what `pip install .` installs) and list it: every utils package is there."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--quiet", "-w", str(tmp_path), str(REPO_ROOT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = list(tmp_path.glob("*.whl"))
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    packages = sorted(str(p.parent.relative_to(REPO_ROOT)) for p in UTILS.rglob("__init__.py"))
    assert len(packages) >= 9
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"subpackages missing from the wheel: {missing}"
    modules = [str(p.relative_to(REPO_ROOT)) for p in UTILS.rglob("*.py")]
    assert not [m for m in modules if m not in names]
