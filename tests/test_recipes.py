"""Each training task has one typed recipe (a frozen dataclass in utils/training/<task>.py) with
its presets: the device picks the notebook's preset, COURSE_BUDGET overrides it, and the shipped
checkpoints were trained with the CHECKPOINT_RECIPE their command reads today."""
import dataclasses

import pytest
import torch

from utils.course import BUDGET_VARIABLE
from utils.models import checkpoints
from utils.training import attention, captioning, char_lm, vqa

TASKS = {"captioning": captioning, "attention": attention, "vqa": vqa, "char_lm": char_lm}
SHIPPED = [("captioning", "captioner", "captioner"), ("attention", "attention_captioner", "soft"),
           ("attention", "attention_captioner", "hard"), ("vqa", "vqa", "san2"), ("vqa", "vqa", "visual7w")]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("forced, preset", [(None, "CPU_RECIPE"), ("cpu", "CPU_RECIPE"),
                                            ("accelerator", "ACCELERATOR_RECIPE"), ("tiny", "TINY_RECIPE")])
def test_the_device_and_course_budget_pick_the_preset(task, forced, preset, monkeypatch):
    module = TASKS[task]
    if forced is None:
        monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(BUDGET_VARIABLE, forced)
    recipe = module.default_budget("cpu")
    assert recipe is getattr(module, preset)
    assert dataclasses.is_dataclass(recipe) and type(recipe).__dataclass_params__.frozen


def test_a_gpu_gets_the_accelerator_preset(monkeypatch):
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    for module in TASKS.values():
        assert module.default_budget(torch.device("cuda")) is module.ACCELERATOR_RECIPE


@pytest.mark.parametrize("task", ["captioning", "attention", "vqa"])
def test_the_tiny_preset_only_shortens_the_run(task):
    """The classroom test trains the tiny preset: it must build the same model as the CPU preset."""
    module = TASKS[task]
    cpu, tiny = dataclasses.asdict(module.CPU_RECIPE), dataclasses.asdict(module.TINY_RECIPE)
    sizes = {k for k in cpu if k.endswith("_dim") or k in ("cell", "conditioning", "query")}
    assert {k: tiny[k] for k in sizes} == {k: cpu[k] for k in sizes}


@pytest.mark.parametrize("task, folder, name", SHIPPED)
def test_the_shipped_checkpoint_was_trained_with_the_checkpoint_recipe(task, folder, name):
    """A changed number in CHECKPOINT_RECIPE without a rebuilt checkpoint would make the
    notebooks describe a model that was never trained."""
    path = checkpoints.shipped_path(folder, name)
    if not path.is_file():
        pytest.skip(f"{path} is not shipped in this checkout")
    stored = torch.load(path, map_location="cpu", weights_only=True)["meta"]["recipe"]
    recipe = dataclasses.asdict(TASKS[task].CHECKPOINT_RECIPE)
    changed = {k: (stored[k], v) for k, v in recipe.items() if k in stored and stored[k] != v}
    assert not changed, f"CHECKPOINT_RECIPE differs from {path} (stored, now): {changed}"
    if task != "captioning":   # its command also stores how it measured; the conditioning is chosen
        assert set(stored) == set(recipe)


def test_a_changed_checkpoint_recipe_is_caught(monkeypatch):
    monkeypatch.setattr(vqa, "CHECKPOINT_RECIPE", dataclasses.replace(vqa.CHECKPOINT_RECIPE, lr=1e-3))
    with pytest.raises(AssertionError, match="lr"):
        test_the_shipped_checkpoint_was_trained_with_the_checkpoint_recipe("vqa", "vqa", "san2")


def test_recipes_cannot_be_changed_in_place():
    with pytest.raises(dataclasses.FrozenInstanceError):
        attention.CPU_RECIPE.steps = 10


def test_notebook_05_compares_the_cells_with_its_own_preset(monkeypatch):
    monkeypatch.setenv(BUDGET_VARIABLE, "tiny")
    assert char_lm.comparison_budget("cpu") is char_lm.COMPARISON_TINY_RECIPE
    monkeypatch.delenv(BUDGET_VARIABLE)
    recipe = char_lm.comparison_budget("cpu")
    assert recipe is char_lm.COMPARISON_CPU_RECIPE and recipe.max_steps == 400 and recipe.lr_decay_frac == 0.0
