"""Pretrain the course's image encoder on the shapes world and ship it as a small checkpoint.

    python -m utils.tools.pretrain_encoder [--out PATH] [--seed S] [--no-readme]

Trains ``utils.models.encoder.ShapesEncoder`` on train-split scenes of ``utils.data.shapes``
(generated once, in memory) to name, for each of the 8x8 cells, the object whose centre lies
there (colour, shape, size, or none: ``shapes.grid_labels``); once from the grid features and once
from the summary vector alone. A quarter of each batch is shown as gray silhouettes (no colour to
learn) and a quarter with every object drawn as a diamond (no shape to learn), so that colour and
shape are learned apart: the heldout split combines them in ways training never shows.

Everything runs on the CPU with a fixed seed, a fixed number of threads and deterministic
algorithms, so with the same torch version on the same CPU kernels the command writes the same
weights, bit for bit. It then measures accuracy on the first scenes of the val, test and heldout
splits (never used in training), and writes ``encoder.pt`` (state_dict + config: sizes, seed,
recipe, accuracies, times, torch version, weight hashes) and ``README.md`` (what it is, the
command, the recipe and the measured numbers) into the folder of ``--out``
(default ``datasets/shapes_encoder/``).
"""
import argparse
import dataclasses
import os
import sys
import textwrap
import time
from pathlib import Path

# Threads that sleep instead of spinning while they wait: on a CPU shared with other programs,
# spinning OpenMP threads made training several times slower. Results do not change. (Only
# effective when this module is the first to import torch, as in ``python -m``.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from utils.data import shapes  # noqa: E402
from utils.models import encoder as enc  # noqa: E402
from utils.models import checkpoints  # noqa: E402
from utils.models.checkpoints import weights_digest  # noqa: E402
from utils.training import encoder as pretraining  # noqa: E402
from utils.training.encoder import CHECKPOINT_RECIPE  # noqa: E402

EVAL_SPLITS = ("val", "test", "heldout")


def scene_data(split, count, start=0):
    """Scenes start..start+count-1 of a split: images (count, 3, 64, 64) float32, labels (count, 8, 8) int64."""
    scenes = shapes.make_scenes(split, count, start=start)
    images = torch.from_numpy(shapes.images_array(scenes))
    labels = torch.from_numpy(np.asarray(shapes.grid_labels(scenes, grid=enc.GRID), dtype=np.int64))
    return images, labels


def evaluate(model, images, labels, batch_size=500):
    """Accuracy of both heads on labelled images.

    images (M, 3, 64, 64) float in [0, 1], labels (M, 8, 8) as ``shapes.grid_labels``.
    Returns a dict of floats in [0, 1] (rounded to 4 decimals), for head in (grid, summary):
    {head}_cell: fraction of the 64 M cells whose decoded label is right (empty cells included);
    {head}_object: fraction of the objects (non-empty cells) named right: colour, shape and size;
    {head}_scene: fraction of images with all 64 cells right (every object, nothing extra);
    scene_head_colours: fraction of (image, colour) pairs where the scene head is right about
    whether that colour is present.
    """
    right = {"grid": [], "summary": []}
    presence = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            _, _, grid_logits, summary_logits, scene_outputs = model(images[start:start + batch_size])
            target = labels[start:start + batch_size]
            right["grid"].append(enc.decode_cells(grid_logits) == target)        # (B, 8, 8)
            right["summary"].append(enc.decode_cells(summary_logits) == target)  # (B, 8, 8)
            present = torch.zeros(len(target), len(shapes.COLOURS), dtype=torch.bool)
            colour = enc.label_factors(target)[0]                                # (B, 8, 8)
            for k in range(len(shapes.COLOURS)):
                present[:, k] = (colour == k + 1).flatten(1).any(1)
            said = scene_outputs[:, 0:pretraining.COLOUR_PART.stop:pretraining.PER_COLOUR] > 0           # (B, 6)
            presence.append(said == present)
    model.train(was_training)
    occupied = labels > 0
    result = {}
    for head, parts in right.items():
        cells = torch.cat(parts)
        result[f"{head}_cell"] = round(cells.float().mean().item(), 4)
        result[f"{head}_object"] = round(cells[occupied].float().mean().item(), 4)
        result[f"{head}_scene"] = round(cells.flatten(1).all(1).float().mean().item(), 4)
    result["scene_head_colours"] = round(torch.cat(presence).float().mean().item(), 4)
    return result


def evaluate_splits(model, count, threads=2, splits=EVAL_SPLITS):
    """``evaluate`` on the first ``count`` scenes of each split: {split: accuracies}."""
    with pretraining.Deterministic(threads):
        return {split: evaluate(model, *scene_data(split, count)) for split in splits}


def probe_attributes():
    """The yes/no scene attributes the linear probe reads: a list of (name, function of a Scene)."""
    attributes = []
    for colour in shapes.COLOURS:
        attributes.append((f"{colour} present", lambda s, c=colour: any(o.colour == c for o in s.objects)))
        attributes.append((f"{colour} in left half",
                           lambda s, c=colour: any(o.colour == c and o.centre[0] < shapes.IMAGE_SIZE / 2
                                                   for o in s.objects)))
    for shape in shapes.SHAPES:
        attributes.append((f"a {shape}", lambda s, k=shape: any(o.shape == k for o in s.objects)))
    for size in shapes.SIZES:
        attributes.append((f"a {size} object", lambda s, z=size: any(o.size == z for o in s.objects)))
    return attributes


def linear_probe(fit_summary, fit_scenes, scored, ridge=1.0):
    """Ridge regression from the summary vector to each yes/no attribute of ``probe_attributes``.

    fit_summary (N, P) and fit_scenes (N Scenes): what the probe is fitted on (targets 0/1, features
    standardised, a bias, penalty ``ridge``); scored: {name: (summary (M, P), M scenes)}.
    Returns {name: {attribute: [accuracy, majority-class baseline]}} (threshold 0.5; rounded to 4).
    """
    attributes = probe_attributes()

    def targets(scenes):
        return np.array([[f(s) for _, f in attributes] for s in scenes], dtype=np.float64)  # (N, A)

    X = np.asarray(fit_summary, dtype=np.float64)
    mean, std = X.mean(0), X.std(0) + 1e-6

    def design(summary):
        Z = (np.asarray(summary, dtype=np.float64) - mean) / std
        return np.hstack([Z, np.ones((len(Z), 1))])                            # (N, P + 1)

    A = design(X)
    W = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ targets(fit_scenes))  # (P + 1, A)
    result = {}
    for name, (summary, scenes) in scored.items():
        Y = targets(scenes) > 0.5
        accuracy = ((design(summary) @ W > 0.5) == Y).mean(0)
        majority = np.maximum(Y.mean(0), 1 - Y.mean(0))
        result[name] = {a: [round(float(acc), 4), round(float(base), 4)]
                        for (a, _), acc, base in zip(attributes, accuracy, majority)}
    return result


def probe_model(model, fit=1200, score=300, threads=2):
    """``linear_probe`` of a model's summary vectors: fitted on test scenes 0..fit-1, scored on the
    next ``score`` test scenes and on the first ``score`` heldout scenes."""
    with pretraining.Deterministic(threads), torch.no_grad():
        test = shapes.make_scenes("test", fit + score)
        heldout = shapes.make_scenes("heldout", score)
        summary = model.summary(torch.from_numpy(shapes.images_array(test))).numpy()
        summary_heldout = model.summary(torch.from_numpy(shapes.images_array(heldout))).numpy()
    return linear_probe(summary[:fit], test[:fit],
                        {"test": (summary[fit:], test[fit:]), "heldout": (summary_heldout, heldout)})


def write_readme(path, config, size_bytes):
    """Write README.md describing the checkpoint, from the measured values in ``config``."""
    r, acc, t, env = config["recipe"], config["accuracy"], config["timing"], config["environment"]
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    rows = "\n".join(
        f"| {split} | {pct(a['grid_object'])} | {pct(a['grid_scene'])} | {pct(a['summary_object'])} "
        f"| {pct(a['summary_scene'])} | {pct(a['scene_head_colours'])} |"
        for split, a in acc.items())
    held, test = acc["heldout"], acc["test"]
    probe = config["probe"]
    probe_rows = "\n".join(
        f"| {name} | {pct(probe['test'][name][0])} | {pct(probe['test'][name][1])} "
        f"| {pct(probe['heldout'][name][0])} | {pct(probe['heldout'][name][1])} |"
        for name in probe["test"])
    lower = [head for head in ("grid", "summary")
             if held[f"{head}_object"] < test[f"{head}_object"] - 0.01]
    heldout_text = (
        f"Its accuracy is **{'lower' if lower else 'about the same'}**: the grid head names "
        f"{pct(held['grid_object'])} of its objects (test: {pct(test['grid_object'])}), the summary head "
        f"{pct(held['summary_object'])} (test: {pct(test['summary_object'])}).")
    if "summary" in lower:
        heldout_text += (
            " The summary head, which must bind each colour to its shape in the right cell, does"
            " much worse on pairs it never saw than the grid head; the linear probes below show that"
            " which colours, shapes and sizes are present stays readable from the summary vector"
            " on heldout scenes. Models that need to bind colour and shape from the summary vector"
            " alone inherit the weakness; that is a limit of the frozen encoder, not of those models.")
    D, P, Dc = config["grid_channels"], config["summary_size"], enc.COLOUR_CHANNELS
    text = f"""# Pretrained shapes-world encoder (the course's stand-in for an ImageNet VGG)

`encoder.pt` holds the weights of `utils.models.encoder.ShapesEncoder`, a small CNN that
notebooks 06 (captioning), 07 (attention) and 08 (VQA) use **frozen**, the way captioning papers
use a VGG pretrained on ImageNet. It is not downloaded: the course's own command trains it on
images of the procedural shapes world (`utils.data.shapes`), and anyone can rebuild it. Load it
with `utils.models.encoder.load_encoder()`; `encode_scenes` and `cached_features` give features.

What the notebooks read from it, for a 64x64 RGB image:

- `grid_features(images)` -> `(N, L, D)` = `(N, 64, {D})`: an 8x8 grid of features, location
  `l = row * 8 + col` standing for the 8x8-pixel cell at that row and column (notebook 07 attends
  over these L = 64 locations);
- `summary(images)` -> `(N, P)` = `(N, {P})`: the fc7-style summary vector (the layer before the
  classifiers, after its ReLU; not a softmax), which notebook 06 feeds to its RNN.

## Rebuild

```
{config['command']}
```

This writes `encoder.pt` and this README; every number below comes from that run.

## Recipe

- **Architecture** (BN = batch norm): two streams make the grid.
  The *shape stream* sees only where objects are (a 1-channel mask: pixel differs from the
  background): conv3x3 stride 2 (1->16) BN ReLU -> conv3x3 (16->32) BN ReLU maxpool ->
  conv3x3 (32->64) BN ReLU maxpool -> conv3x3 (64->{D - Dc}) BN ReLU, (N, {D - Dc}, 8, 8).
  The *colour stream* sees each pixel's colour but no shapes: two 1x1 convolutions (3->{Dc}->{Dc}) BN
  ReLU on every other pixel, 4x4 average pooling, conv3x3 ({Dc}->{Dc}) BN ReLU, (N, {Dc}, 8, 8).
  Grid = both, concatenated: (N, {D}, 8, 8). Summary: conv1x1 ({D}->{enc.REDUCED_CHANNELS}) ReLU -> flatten ->
  linear ({enc.REDUCED_CHANNELS * enc.NUM_LOCATIONS} -> {P}) -> ReLU. {config['parameters']:,} parameters.
- **Pretraining task**: two auxiliary heads, used only here, name for each of the 64 cells the
  object whose centre lies in it (`utils.data.shapes.grid_labels`), as three classifiers: colour
  (none or 6), shape (none or 3), size (none or 2). The *grid head* is a 1x1 convolution on the
  grid; the *summary head* is one linear layer on the summary vector ({P} -> 64 x 14), which forces
  the summary vector to hold every object, its colour, shape and size, and its position. A third
  linear head on the summary vector, the *scene head* ({P} -> 29), asks for the scene as a whole,
  so that it is linearly readable from the summary vector: for each colour, whether it is present,
  the x and y of its centre and whether it is large; how many circles, squares and triangles;
  how many small and large objects (binary cross-entropy for yes/no, squared error for numbers).
- **Data**: the first {r['train_scenes']:,} train-split scenes (2-4 objects each), generated once in
  memory. In each batch, {pct(r['silhouette_fraction'])} of the images are gray silhouettes (colour target
  ignored) and {pct(r['diamond_fraction'])} show every object as a diamond of its colour (shape target
  ignored); no image ever shows a held-out colour-shape pair.
- **Training**: {r['steps']:,} steps of Adam, lr {r['lr']:g} with a cosine decay to 0, batch {r['batch_size']}
  (about {r['steps'] * r['batch_size'] / r['train_scenes']:.1f} passes over the data), loss = grid head loss
  + {r['summary_loss_weight']:g} x (summary head loss + {r['scene_loss_weight']:g} x scene head loss).
- **Determinism**: seed {config['seed']} (initial weights, batch order, augmentation), CPU,
  {r['threads']} threads, `torch.use_deterministic_algorithms(True)`. With the same torch version on the
  same CPU kernels the command reproduces the weights bit for bit (`tests/test_encoder.py`
  checks it; CPUs of another vendor may round differently even with the same kernel capability,
  and then only the accuracy is reproduced). Built with torch {env['torch']}, CPU capability
  {env['cpu_capability']}, {env['machine']}.

## Measured

- **Time**: {t['data_seconds']} s to generate the training scenes, {t['train_seconds']} s to train,
  {t['total_seconds']} s for the whole command, on {t['cpus']} CPU cores with a load average of
  {t['load_before']} before and {t['load_after']} after the run (a load above the number of cores means
  other programs were competing for them, and the times above are longer than on a free machine).
- **Checkpoint size**: {size_bytes / 1e6:.2f} MB ({size_bytes:,} bytes).
- **Accuracy** on the first {r['eval_scenes']:,} scenes of each split (none seen in training).
  *object* = fraction of objects whose cell gets the right colour, shape and size;
  *scene* = fraction of images with all 64 cells right (every object found and named, nothing
  extra); *colours* = fraction of (image, colour) pairs where the scene head is right about
  whether the colour is in the image. (The checkpoint's config also holds *cell*, the fraction of
  all 64 cells right, which is always high since most cells are empty.)

| split | grid head, object | grid head, scene | summary head, object | summary head, scene | scene head, colours |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

The summary vector is a bottleneck: from it alone, one linear layer names
{pct(test['summary_object'])} of the test objects, against {pct(test['grid_object'])} from the grid.

The **heldout** split shows only the colour-shape pairs of `utils.data.shapes.HELDOUT_PAIRS`,
which never appear in training, so it measures whether colour and shape were learned apart.
{textwrap.fill(heldout_text, 96)}

**Linear probes.** Is the summary vector informative beyond the heads it was trained with? A
ridge regression (penalty 1, standardised features) from the summary vector to each yes/no
attribute below, fitted on test scenes 0-1199, is scored on test scenes 1200-1499 and on heldout
scenes 0-299 (threshold 0.5), next to the majority-class baseline of each:

| attribute | test | test baseline | heldout | heldout baseline |
| --- | ---: | ---: | ---: | ---: |
{probe_rows}

`tests/test_encoder.py` loads this checkpoint, measures the test-split accuracy again and compares
it with the figures saved in the checkpoint's config, checks with linear probes that the summary
vector holds each attribute, and checks that the command reproduces the weights.
"""
    Path(path).write_text(text)


def main(argv=None):
    """Run the command; returns the checkpoint's config dict."""
    parser = argparse.ArgumentParser(prog="python -m utils.tools.pretrain_encoder",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(enc.DEFAULT_CHECKPOINT),
                        help="checkpoint path (README.md goes into the same folder)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights, batch order and augmentation")
    parser.add_argument("--no-readme", action="store_true", help="do not write README.md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else "unknown"
    start = time.perf_counter()
    model, info = pretraining.train_encoder(seed=args.seed)
    print(f"trained {info['steps']} steps in {info['train_seconds']} s "
          f"(+ {info['data_seconds']} s to generate the scenes)")
    accuracy = evaluate_splits(model, CHECKPOINT_RECIPE.eval_scenes, CHECKPOINT_RECIPE.threads)
    for split, a in accuracy.items():
        print(f"{split:8s} grid head: object {a['grid_object']:.4f} scene {a['grid_scene']:.4f} | "
              f"summary head: object {a['summary_object']:.4f} scene {a['summary_scene']:.4f}")
    probe = probe_model(model, threads=CHECKPOINT_RECIPE.threads)
    for name, rows in probe.items():
        worst = min(rows.items(), key=lambda kv: kv[1][0])
        print(f"linear probe on {name}: lowest accuracy {worst[1][0]:.4f} ({worst[0]}, baseline {worst[1][1]:.4f})")
    total = round(time.perf_counter() - start, 1)
    command = "python -m utils.tools.pretrain_encoder" + (f" --seed {args.seed}" if args.seed else "")
    config = {**model.config(), "grid": enc.GRID, "image_size": shapes.IMAGE_SIZE,
              "seed": args.seed, "recipe": dataclasses.asdict(CHECKPOINT_RECIPE), "accuracy": accuracy, "probe": probe,
              "timing": {"data_seconds": info["data_seconds"], "train_seconds": info["train_seconds"],
                         "total_seconds": total, "cpus": os.cpu_count(), "load_before": load_before,
                         "load_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else "unknown"},
              "fingerprint": info["fingerprint"], "weights_sha256": weights_digest(model.state_dict()),
              "parameters": sum(p.numel() for p in model.parameters()),
              "environment": checkpoints.environment(), "torch_version": str(torch.__version__), "command": command}
    checkpoints.write_checkpoint("pretrain_encoder", model, out, config=config)
    size = out.stat().st_size
    print(f"wrote {out}: {size / 1e6:.2f} MB; {total} s in all")
    if not args.no_readme:
        readme = out.parent / "README.md"
        write_readme(readme, config, size)
        print(f"wrote {readme}")
    return config


if __name__ == "__main__":
    main()
    sys.exit(0)
