"""What a student release for notebook NN withholds, and the source it ships instead.

The exercises of notebooks NN..08 (``withheld``), the utils functions that hold their references
or a helper marked ``# ALSO REFERENCE`` with one of them (``withheld_functions``), and the text
of a utils file with the body of each such function replaced by one ``stand_in`` line
(``released_source``; see ``utils.exercises``). ``utils.tools.release`` writes the release.
"""
import ast
from pathlib import Path

from utils.tools.references import also_references, exercises, references

NOTEBOOKS = [f"{n:02d}" for n in range(9)]


class ReleaseError(ValueError):
    """The release cannot be built (the message says why)."""


def _notebook(nb):
    nb = str(nb).zfill(2)
    if nb not in NOTEBOOKS[1:]:
        raise ReleaseError(f"release: NB must be a notebook number from 01 to 08, got {nb!r}")
    return nb


def withheld(nb):
    """The exercises whose reference a release for notebook ``nb`` leaves out (notebooks nb..08)."""
    return [e for e in exercises() if e.notebook >= _notebook(nb)]


def withheld_functions(nb):
    """What a release for ``nb`` replaces by a stand-in: [((path, line index), name, Exercise,
    solvable)] for every reference of notebooks nb..08 and every helper marked with one of them."""
    refs, held = references(), {e.name: e for e in withheld(nb)}
    found = [((refs[name].path, refs[name].begin), name, exercise, True) for name, exercise in held.items()]
    for name, path, line in also_references():
        if name in held:
            function = _enclosing_function(ast.parse(path.read_text(encoding="utf-8")), line + 1)
            found.append(((path, line), function.name, held[name], False))
    return found


def _enclosing_function(tree, line):
    """The innermost function definition of ``tree`` containing the 1-based ``line``."""
    found = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            if found is None or node.lineno > found.lineno:
                found = node
    return found


def released_source(path, withheld_here):
    """The text of utils file ``path`` with the body of every function holding one of
    ``withheld_here`` ([(line index, name, Exercise, solvable)]: a reference, or a helper marked
    ``# ALSO REFERENCE``) replaced by its ``stand_in`` line."""
    text = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    edits = []
    for line, name, exercise, solvable in withheld_here:
        function = _enclosing_function(tree, line + 1)
        body = function.body
        has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str)
        first = body[1] if has_docstring and len(body) > 1 else body[0]
        indent = " " * first.col_offset
        extra = "" if solvable else ", solvable=False"
        edits.append((first.lineno - 1, function.end_lineno,
                      [f'{indent}return stand_in("{name}", "{exercise.notebook}", {exercise.number}, locals(){extra})']))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    first_import = next(node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    lines.insert(first_import.lineno - 1, "from utils.exercises import stand_in  # the release's references, see there")
    return "\n".join(lines) + "\n"
