"""No function in utils reseeds the global random generators behind its caller's back: a check
that reseeds torch changes the student's next random numbers, a training function that does
changes every later cell's. The only global seeding is setup_notebook's (utils.course
seed_everything, in the notebook's first cell); everything else seeds its own generator
(np.random.default_rng, torch.Generator) or runs in ``utils.course.seeded``, which puts the
caller's generator back. Commands in utils/tools run as programs of their own and may seed it."""
import ast

import pytest

from utils.tools.notebooks import REPO_ROOT

GLOBAL_SEEDERS = {("torch", "manual_seed"), ("random", "seed"), ("np.random", "seed"), ("numpy.random", "seed"),
                  ("torch.cuda", "manual_seed"), ("torch.cuda", "manual_seed_all"), ("torch.random", "manual_seed")}
ALLOWED = {("utils/course.py", "seed_everything")}


def _dotted(node):
    return f"{_dotted(node.value)}.{node.attr}" if isinstance(node, ast.Attribute) else getattr(node, "id", "?")


def global_seed_calls(source):
    """(line, function name, call) of each call that seeds a global generator."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) \
                    and (_dotted(child.func.value), child.func.attr) in GLOBAL_SEEDERS:
                found.append((child.lineno, function, _dotted(child.func)))
            visit(child, inner)

    visit(ast.parse(source), None)
    return found


@pytest.mark.parametrize("call", ["torch.manual_seed(0)", "np.random.seed(1)", "random.seed(2)"])
def test_a_planted_global_seed_is_found(call):
    assert global_seed_calls(f"def f():\n    {call}\n") == [(2, "f", call.split("(")[0])]


def test_own_generators_are_not_global_seeds():
    source = ("def f():\n    g = torch.Generator().manual_seed(0)\n    rng = np.random.default_rng(0)\n"
              "    with seeded(0):\n        pass\n")
    assert global_seed_calls(source) == []


def test_utils_seeds_no_global_generator_outside_setup():
    offenders = []
    for path in sorted((REPO_ROOT / "utils").rglob("*.py")):
        relative = str(path.relative_to(REPO_ROOT))
        if relative.startswith("utils/tools/"):
            continue
        offenders += [f"{relative}:{line} {call} in {function}"
                      for line, function, call in global_seed_calls(path.read_text(encoding="utf-8"))
                      if (relative, function) not in ALLOWED]
    assert not offenders, "global reseeding (use utils.course.seeded or an own generator): " + ", ".join(offenders)


def test_seeded_gives_the_same_numbers_and_gives_back_the_callers_generator():
    import torch

    from utils.course import seeded
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded(7):
        first = torch.rand(2)
    with seeded(7):
        second = torch.rand(2)
    assert torch.equal(first, second)
    assert torch.equal(torch.rand(3), expected_next)
