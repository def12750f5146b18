"""Device hygiene: code that runs while a model trains or evaluates makes its tensors on the
model's device. A tensor made with a torch factory (torch.zeros, torch.tensor...) and no device
lands on the CPU; beside a model on a GPU the next operation fails with "expected all tensors to
be on the same device". These tests read utils' source (the GPU itself is proven by
``python -m utils.tools.gpu_proof``; make test stays a CPU proof).

A factory call without ``device=`` is fine where the tensor cannot meet a GPU tensor unmoved:
at module level (a constant), inside a module's ``__init__`` (parameters and buffers move with
``model.to(device)``, as does a tensor passed to ``nn.Parameter`` or ``register_buffer``), when
the result is moved at once (``torch.zeros(n).to(x.device)``), or on
a line that says why it stays on the CPU (``# device: ...``).
"""
import ast

import pytest

from utils.tools.notebooks import REPO_ROOT

FACTORIES = {"zeros", "ones", "empty", "full", "arange", "tensor", "randn", "rand", "randint",
             "eye", "linspace", "randperm"}
# the code that runs beside a model on the training device; checks/ and tools/ work on the CPU
RUNTIME_PACKAGES = ("models", "training", "analysis", "viz", "data", "layers")
TEMPLATE = "def f(x):\n    return x + {call}\n"


def undeviced_factory_calls(source):
    """Line numbers of torch factory calls without device= that the rules above do not excuse."""
    tree = ast.parse(source)
    lines = source.splitlines()
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    moved = {id(node.func.value) for node in calls if node.func.attr == "to"}
    moved |= {id(arg) for node in calls if node.func.attr in ("Parameter", "register_buffer") for arg in node.args}
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr in FACTORIES and isinstance(child.func.value, ast.Name)
                    and child.func.value.id == "torch" and function not in (None, "__init__")
                    and not any(k.arg == "device" for k in child.keywords) and id(child) not in moved
                    and "# device:" not in lines[child.lineno - 1]):
                found.append(child.lineno)
            visit(child, inner)

    visit(tree, None)
    return found


@pytest.mark.parametrize("call", ["torch.zeros(3)", "torch.tensor([1.0, 2.0])", "torch.arange(4)"])
def test_a_planted_factory_without_a_device_is_caught(call):
    assert undeviced_factory_calls(TEMPLATE.format(call=call)) == [2]


@pytest.mark.parametrize("call", ["torch.zeros(3, device=x.device)", "torch.zeros(3).to(x.device)",
                                  "torch.arange(4)  # device: indexes a CPU array"])
def test_factories_that_follow_the_rules_pass(call):
    assert undeviced_factory_calls(TEMPLATE.format(call=call)) == []


def test_module_constants_and_module_construction_pass():
    source = ("import torch\nTABLE = torch.zeros(3)\nclass M:\n    def __init__(self):\n"
              "        self.w = torch.randn(3)\n    def setup(self):\n"
              "        self.register_buffer('b', torch.zeros(3))\n")
    assert undeviced_factory_calls(source) == []


def test_runtime_code_makes_its_tensors_on_the_right_device():
    offenders = []
    for package in RUNTIME_PACKAGES:
        for path in sorted((REPO_ROOT / "utils" / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(REPO_ROOT)}:{line}" for line in undeviced_factory_calls(source)]
    assert not offenders, ("torch factory calls without device= (pass the device of the tensors they "
                           "meet, or say why they stay on the CPU with '# device: ...'): " + ", ".join(offenders))


def test_checkpoints_load_onto_the_cpu_first():
    """torch.load without map_location puts a checkpoint saved on a GPU back on a GPU, which a
    CPU-only machine does not have; every load maps to the CPU, and the caller moves the model."""
    calls = []
    for path in sorted((REPO_ROOT / "utils").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                calls.append((path.name, node.lineno, {k.arg for k in node.keywords}))
    assert calls, "no torch.load found: the test looks in the wrong place"
    assert all("map_location" in keys for _, _, keys in calls), calls
