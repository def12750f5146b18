"""The leak scan of a student release: does any file show the reference of a withheld exercise?

``statement_leaks`` compares runs of consecutive statements, normalised (comments, layout and
local names aside), of every reference of notebooks ``first``..08 with those of every file of a
folder (.py files, notebooks with their outputs and metadata, HTML, recorded fixtures...): a
release, or the course's website. ``leaks`` adds, for a release, the check that every withheld
utils function holds nothing but its ``stand_in`` line.
"""
import ast
import copy
import html
import json
import re
import warnings
from pathlib import Path

import numpy as np

from utils.tools.notebooks import REPO_ROOT
from utils.tools.references import exercises, references
from utils.tools.release_withheld import _enclosing_function, _notebook, withheld


class _Canonical(ast.NodeTransformer):
    """Rename every variable and argument to v0, v1... in order of first appearance."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        return node


def _blocks(tree):
    """Every list of consecutive statements in ``tree`` (a module body, a loop body...)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _windows(block, size):
    """The normalised text of every run of ``size`` consecutive statements of ``block``: comments
    and layout are gone with the parse, local names are renamed in order of appearance."""
    for start in range(len(block) - size + 1):
        canonical = _Canonical()
        yield tuple(ast.unparse(canonical.visit(copy.deepcopy(stmt))) for stmt in block[start:start + size])


def solution_windows(ref, size=3):
    """The normalised windows of ``size`` statements of a reference's body (the whole body when
    it is shorter but has at least two statements)."""
    block = ast.parse("\n".join(ref.body)).body
    found = set()
    for inner in _blocks(ast.Module(body=block, type_ignores=[])):
        n = min(size, len(inner))
        if n >= 2:
            found.update(_windows(inner, n))
    return found


def _code_texts(path):
    """The code of a release file: a .py file's text, a notebook's code cells, and every output
    and metadata text of a notebook read line by line (a traceback may show source lines)."""
    if path.suffix == ".py":
        yield path.read_text(encoding="utf-8")
    elif path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                yield "".join(cell["source"])
            yield from _lines_as_code(json.dumps([cell.get("outputs", []), cell.get("metadata", {})]))
        yield from _lines_as_code(json.dumps(nb.get("metadata", {})))
    elif path.suffix in (".html", ".htm"):  # highlighted code: tags out, entities decoded
        yield from _lines_as_code(html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))))
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            yield from _lines_as_code(str(data["index"]))
    else:
        yield from _lines_as_code(path.read_text(encoding="utf-8", errors="replace"))


def _lines_as_code(text):
    """Blocks of consecutive lines of ``text`` that parse as Python statements, JSON escapes undone."""
    text = text.replace("\\n", "\n").replace('\\"', '"')
    block = []
    for line in text.splitlines() + [""]:
        try:
            with warnings.catch_warnings():  # prose parsed as code may hold odd escapes
                warnings.simplefilter("ignore")
                parsed = ast.parse(line.strip()).body if line.strip() else []
        except (SyntaxError, ValueError):
            parsed = []
        if len(parsed) == 1:
            block.append(line.strip())
        else:
            if len(block) >= 2:
                yield "\n".join(block)
            block = []


def statement_leaks(folder, first="00", size=3):
    """Files of ``folder`` (a release, a website...) that show ``size`` consecutive statements
    (normalised: comments, layout and local names aside) of the reference of an exercise of
    notebooks ``first``..08, and compiled Python files. Returns one-line messages (empty: none).
    Statement runs that also belong to the reference of an earlier notebook are not counted:
    those lines are the student's already."""
    release_dir, refs = Path(folder), references()
    shipped = set().union(*(solution_windows(refs[e.name], size) for e in exercises() if e.notebook < first))
    wanted = {e.name: solution_windows(refs[e.name], size) - shipped for e in exercises() if e.notebook >= first}
    problems = [f"{p.relative_to(release_dir)}: compiled Python ships" for p in release_dir.rglob("*.pyc")]
    for path in sorted(p for p in release_dir.rglob("*") if p.is_file() and p.suffix != ".zip"):
        present = set()
        for text in _code_texts(path):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            for block in _blocks(tree):
                present.update(_windows(block, size))
                present.update(_windows(block, 2) if len(block) == 2 else ())
        for name, windows in wanted.items():
            hit = windows & present
            if hit:
                problems.append(f"{path.relative_to(release_dir)}: {name}'s reference shows "
                                f"({' / '.join(next(iter(hit)))})")
    return problems


def leaks(release_dir, nb, size=3):
    """Every exercise of notebooks nb..08 whose reference shows in the release: ``statement_leaks``,
    and a withheld utils function that still runs code. Returns one-line messages (empty: none)."""
    release_dir, refs = Path(release_dir), references()
    problems = statement_leaks(release_dir, _notebook(nb), size)
    for exercise in withheld(nb):
        ref = refs[exercise.name]
        name = _enclosing_function(ast.parse(ref.path.read_text(encoding="utf-8")), ref.begin + 1).name
        released = ast.parse((release_dir / ref.path.relative_to(REPO_ROOT)).read_text(encoding="utf-8"))
        function = next(n for n in ast.walk(released) if isinstance(n, ast.FunctionDef) and n.name == name)
        body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or "stand_in" not in ast.unparse(body[0]):
            problems.append(f"{ref.path.name}: {function.name} still runs code in the release")
    return problems
