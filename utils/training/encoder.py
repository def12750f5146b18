"""Pretraining of the course's image encoder (notebooks 06-08 use its frozen features).

    EncoderRecipe, CHECKPOINT_RECIPE   the typed recipe of the shipped checkpoint
    train_encoder                      train a ShapesEncoder with a recipe, on the CPU, bit for bit
    TrainingData, batch_indices        train-split scenes as uint8 tensors; the minibatch order
    scene_targets, scene_loss          what the scene head predicts and its loss
    silhouettes, head_loss             colour-free views; the cross-entropy of the cell heads
    Deterministic                      fixed threads and deterministic algorithms inside a block

``python -m utils.tools.pretrain_encoder`` runs ``train_encoder`` with ``CHECKPOINT_RECIPE``,
measures the model and writes the checkpoint. A quarter of each batch is shown as gray
silhouettes (no colour to learn) and a quarter with every object drawn as a diamond (no shape to
learn), so that colour and shape are learned apart.
"""
import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from utils.course import seeded
from utils.data import shapes
from utils.models import encoder as enc
from utils.models.checkpoints import weights_digest

IGNORE = -100  # cross-entropy target that the loss skips


@dataclasses.dataclass(frozen=True)
class EncoderRecipe:
    """One pretraining run of the encoder. Changing a number of ``CHECKPOINT_RECIPE`` changes the
    shipped checkpoint (rerun ``python -m utils.tools.pretrain_encoder``)."""
    train_scenes: int = 24000        # the first train-split scenes, generated once
    batch_size: int = 64
    steps: int = 1500                # Adam steps, learning rate with a cosine decay to 0
    lr: float = 3e-3
    summary_loss_weight: float = 1.0  # loss = grid loss + weight * (summary loss + scene weight * scene loss)
    scene_loss_weight: float = 1.0
    silhouette_fraction: float = 0.25  # of each batch shown as gray silhouettes (colour ignored)
    diamond_fraction: float = 0.25     # of each batch with objects drawn as diamonds (shape ignored)
    eval_scenes: int = 1000          # the first scenes of each evaluation split (val, test, heldout)
    threads: int = 2
    fingerprint_steps: int = 20      # a hash of the weights after this many steps (fast reproducibility test)


CHECKPOINT_RECIPE = EncoderRecipe()


def _diamond_image(scene):
    """The scene with every object drawn as a diamond of its colour and size: (64, 64, 3) uint8."""
    image = np.empty_like(scene.image)
    image[:] = shapes.BACKGROUND_RGB
    for obj in scene.objects:
        cx, cy, r = int(obj.centre[0]), int(obj.centre[1]), shapes.RADIUS[obj.size]
        y, x = np.mgrid[-r:r + 1, -r:r + 1]
        image[cy - r:cy + r + 1, cx - r:cx + r + 1][np.abs(x) + np.abs(y) <= r] = shapes.COLOUR_RGB[obj.colour]
    return image


PER_COLOUR = 4                                     # present, x, y, large
_BINARY = torch.zeros(enc.SCENE_HEAD_SIZE, dtype=torch.bool)
_BINARY[0:PER_COLOUR * len(shapes.COLOURS):PER_COLOUR] = True       # present
_BINARY[3:PER_COLOUR * len(shapes.COLOURS):PER_COLOUR] = True       # large
COLOUR_PART = slice(0, PER_COLOUR * len(shapes.COLOURS))            # unknown in silhouettes
SHAPE_PART = slice(COLOUR_PART.stop, COLOUR_PART.stop + len(shapes.SHAPES))  # unknown in diamonds


def scene_targets(scenes):
    """Targets of the scene head: (values (N, 29) float32, defined (N, 29) bool).

    Per colour: present (0/1), x and y of its centre in cells (pixels / 8), large (0/1); the last
    three are undefined when the colour is absent. Then the number of circles, squares and
    triangles, and of small and large objects.
    """
    values = torch.zeros(len(scenes), enc.SCENE_HEAD_SIZE)  # device: CPU pretraining
    defined = torch.ones(len(scenes), enc.SCENE_HEAD_SIZE, dtype=torch.bool)  # device: CPU pretraining
    defined[:, COLOUR_PART] = False
    defined[:, 0:COLOUR_PART.stop:PER_COLOUR] = True                    # presence always defined
    cell = shapes.IMAGE_SIZE / enc.GRID
    for n, scene in enumerate(scenes):
        for obj in scene.objects:
            k = PER_COLOUR * shapes.COLOURS.index(obj.colour)
            place = [1.0, obj.centre[0] / cell, obj.centre[1] / cell, float(obj.size == "large")]
            values[n, k:k + 4] = torch.tensor(place)  # device: CPU pretraining
            defined[n, k:k + 4] = True
            values[n, SHAPE_PART.start + shapes.SHAPES.index(obj.shape)] += 1
            values[n, SHAPE_PART.stop + shapes.SIZES.index(obj.size)] += 1
    return values, defined


def scene_loss(outputs, values, defined):
    """Mean over defined entries of BCE-with-logits (present, large) or squared error (the rest).

    outputs, values (B, 29) float; defined (B, 29) bool.
    """
    logits = _BINARY.expand_as(outputs)
    bce = F.binary_cross_entropy_with_logits(outputs, values, reduction="none")
    squared = (outputs - values) ** 2
    per_entry = torch.where(logits, bce, squared)
    return (per_entry * defined).sum() / defined.sum().clamp(min=1)


class TrainingData:
    """Train-split scenes as uint8 tensors (4x smaller than floats), possibly only some of them.

    images (K, 3, 64, 64) uint8; diamonds (K, 3, 64, 64) uint8, the same scenes with every object
    drawn as a diamond of its colour (a shape that is not in the world); labels (K, 8, 8) int64;
    scene_values, scene_defined (K, 29): ``scene_targets``;
    row (count,) long: the row holding scene i, or -1 when scene i was not generated.
    """

    def __init__(self, count, indices=None, chunk=2000):
        indices = list(range(count)) if indices is None else sorted(set(int(i) for i in indices))
        size = shapes.IMAGE_SIZE
        self.count = count
        self.images = torch.empty(len(indices), 3, size, size, dtype=torch.uint8)
        self.diamonds = torch.empty(len(indices), 3, size, size, dtype=torch.uint8)
        self.labels = torch.empty(len(indices), enc.GRID, enc.GRID, dtype=torch.long)
        self.scene_values = torch.empty(len(indices), enc.SCENE_HEAD_SIZE)
        self.scene_defined = torch.empty(len(indices), enc.SCENE_HEAD_SIZE, dtype=torch.bool)
        for first in range(0, len(indices), chunk):  # in chunks: the Scene objects are freed as we go
            part = indices[first:first + chunk]
            if part == list(range(part[0], part[0] + len(part))):
                scenes = shapes.make_scenes("train", len(part), start=part[0])
            else:
                scenes = [shapes.make_scenes("train", 1, start=i)[0] for i in part]
            rows = slice(first, first + len(part))
            self.images[rows] = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2)
            self.diamonds[rows] = torch.from_numpy(np.stack([_diamond_image(s) for s in scenes])).permute(0, 3, 1, 2)
            self.labels[rows] = torch.from_numpy(np.asarray(shapes.grid_labels(scenes, grid=enc.GRID)))
            self.scene_values[rows], self.scene_defined[rows] = scene_targets(scenes)
        self.row = torch.full((count,), -1, dtype=torch.long)
        self.row[torch.as_tensor(indices, dtype=torch.long)] = torch.arange(len(indices))


def batch_indices(seed, count, batch_size, steps):
    """The scene indices of each minibatch, in order: a generator of ``steps`` long tensors (batch_size,).

    Passes over the ``count`` scenes in a fresh random order each epoch (seeded with ``seed``).
    """
    order = torch.Generator().manual_seed(seed)
    permutation, position = torch.randperm(count, generator=order), 0  # device: CPU pretraining
    for _ in range(steps):
        if position + batch_size > count:
            permutation, position = torch.randperm(count, generator=order), 0  # device: CPU pretraining
        yield permutation[position:position + batch_size]
        position += batch_size


def silhouettes(images, gray):
    """Colour-free copies: every object pixel painted one gray level, the background kept.

    images (B, 3, 64, 64) in [0, 1]; gray (B,) levels in [0, 1]. Returns (B, 3, 64, 64).
    """
    rgb = torch.tensor(shapes.BACKGROUND_RGB, dtype=images.dtype)  # device: CPU pretraining
    background = rgb.view(1, 3, 1, 1) / 255
    objects = (images - background).abs().amax(1, keepdim=True) > 1e-3     # (B, 1, 64, 64)
    return torch.where(objects, gray.view(-1, 1, 1, 1).to(images.dtype).expand_as(images),
                       background.expand_as(images))


def head_loss(logits, factors):
    """Sum over colour, shape and size of the mean cross-entropy over cells.

    logits (B, 14, 8, 8) from a head; factors: 3 long tensors (B, 8, 8) (``enc.label_factors``),
    where IGNORE (-100) marks targets the loss skips.
    """
    return sum(F.cross_entropy(part, target, ignore_index=IGNORE)
               for part, target in zip(enc.split_logits(logits), factors))


class Deterministic:
    """Fixed threads and deterministic algorithms inside a ``with`` block; restored afterwards."""

    def __init__(self, threads):
        self.threads = threads

    def __enter__(self):
        self.saved = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved[0])
        torch.use_deterministic_algorithms(self.saved[1])
        return False


def train_encoder(seed=0, recipe=CHECKPOINT_RECIPE, stop_after=None, progress=True, data=None):
    """Train a ShapesEncoder with the recipe, on the CPU, deterministically.

    seed: seeds the initial weights, the order of the minibatches and the augmentation.
    recipe: an ``EncoderRecipe`` (default: the shipped checkpoint's).
    stop_after: stop after this many steps (the learning-rate schedule still assumes the whole
        recipe); None for the whole recipe. The fast reproducibility test uses it.
    progress: show a tqdm progress bar.
    data: a ``TrainingData`` holding at least the scenes the batches use (default: generate the
        first ``recipe.train_scenes``).
    Returns: (model in eval mode, info dict: data_seconds, train_seconds, steps, final losses,
    fingerprint = ``weights_digest`` after ``recipe.fingerprint_steps`` steps, or None).
    """
    if not isinstance(recipe, EncoderRecipe):
        raise TypeError(f"train_encoder: recipe must be an EncoderRecipe, got {type(recipe).__name__}")
    steps = recipe.steps if stop_after is None else min(stop_after, recipe.steps)
    batch = recipe.batch_size
    grays = round(recipe.silhouette_fraction * batch)
    diamonds = round(recipe.diamond_fraction * batch)
    with Deterministic(recipe.threads):
        start = time.perf_counter()
        data = TrainingData(recipe.train_scenes) if data is None else data
        factors = torch.stack(enc.label_factors(data.labels), 1)   # (K, 3, 8, 8): colour, shape, size
        data_seconds = time.perf_counter() - start
        with seeded(seed):
            model = enc.ShapesEncoder()
        optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, recipe.steps) / recipe.steps)))
        augment = torch.Generator().manual_seed(seed + 1)
        fingerprint = None
        model.train()
        start = time.perf_counter()
        bar = tqdm(batch_indices(seed, recipe.train_scenes, batch, steps), total=steps,
                   desc="pretrain encoder", disable=not progress, mininterval=1.0)
        for step, index in enumerate(bar):
            rows = data.row[index]
            if (rows < 0).any():
                raise ValueError("train_encoder: data must hold every scene the batches use, "
                                 f"got none for scene {index[rows < 0][0].item()}")
            x = data.images[rows].float() / 255                    # (B, 3, 64, 64)
            y = factors[rows]                                      # (B, 3, 8, 8)
            # Colour-free and shape-free views, so that colour and shape are learned apart. Their
            # missing factor is ignored in occupied cells; empty cells still say "none".
            levels = 0.4 + 0.6 * torch.rand(grays, generator=augment)  # device: CPU pretraining
            x[:grays] = silhouettes(x[:grays], levels)
            x[grays:grays + diamonds] = data.diamonds[rows[grays:grays + diamonds]].float() / 255
            occupied = y[:, 0] > 0
            y[:grays, 0][occupied[:grays]] = IGNORE
            y[grays:grays + diamonds, 1][occupied[grays:grays + diamonds]] = IGNORE
            values, defined = data.scene_values[rows], data.scene_defined[rows].clone()   # (B, 29)
            defined[:grays, COLOUR_PART] = False
            defined[grays:grays + diamonds, SHAPE_PART] = False
            _, _, grid_logits, summary_logits, scene_outputs = model(x)
            grid_loss = head_loss(grid_logits, y.unbind(1))
            summary_loss = (head_loss(summary_logits, y.unbind(1))
                            + recipe.scene_loss_weight * scene_loss(scene_outputs, values, defined))
            loss = grid_loss + recipe.summary_loss_weight * summary_loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            if step + 1 == recipe.fingerprint_steps:
                fingerprint = weights_digest(model.state_dict())
            if step % 50 == 0 or step + 1 == steps:
                bar.set_postfix(grid=f"{grid_loss.item():.3f}", summary=f"{summary_loss.item():.3f}")
        bar.close()
        train_seconds = time.perf_counter() - start
    model.eval()
    info = {"data_seconds": round(data_seconds, 1), "train_seconds": round(train_seconds, 1),
            "steps": steps, "final_grid_loss": round(grid_loss.item(), 4),
            "final_summary_loss": round(summary_loss.item(), 4), "fingerprint": fingerprint}
    return model, info
