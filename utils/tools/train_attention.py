"""Train the attention captioners of notebook 07 and ship them as small checkpoints.

    python -m utils.tools.train_attention [--out DIR] [--seed S] [--modes soft hard uniform]
                                          [--eval-scenes N] [--correctness-scenes N]

Trains ``utils.models.attention_captioner.AttentionCaptioner`` on the grid features of the
shipped image encoder (``datasets/shapes_encoder/encoder.pt``) for train-split scenes, with the
``utils.training.attention.CHECKPOINT_RECIPE`` (one thread, fixed seeds): soft
attention by backpropagation; hard attention by REINFORCE with a moving-average baseline and
an entropy bonus, starting from the trained soft model's weights (from random weights, with
single sampled locations, the attention of this world does not get off the ground within a
CPU recipe: it stays close to uniform); and the uniform-attention baseline. Then it measures,
on fresh scenes never used in training:

- greedy BLEU-1..4 on the test and heldout splits, with the same references as notebook 06
  (``utils.analysis.captions.evaluate_bleu``), and notebook 06's captioner without attention
  on the same scenes (``datasets/captioner/captioner.pt``, when it exists);
- attention correctness (``utils.analysis.attention``) on the test split for the soft and hard
  models, an untrained soft model and uniform maps, on each model's own greedy captions and on
  the teacher-forced reference captions (the same words for every model);
- the variance of the REINFORCE gradient of the attention parameters with and without a
  baseline, at fixed parameters: random initial weights, the start of REINFORCE, and the
  shipped hard model.

It writes ``<mode>.pt`` for each mode (weights, config, vocabulary, and a meta dict with the
recipe, the measurements and a thinned loss curve) and ``README.md`` with every number, all
taken from this run, into --out (default datasets/attention_captioner/).
"""
import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from utils.analysis.attention import attention_correctness
from utils.analysis.captions import evaluate_bleu
from utils.data import shapes_language as language
from utils.models import encoder as image_encoder
from utils.models.attention_captioner import ATTENTION_MODES
from utils.models.attention_checkpoints import CHECKPOINT_DIR, REBUILD_COMMAND, save_attention_captioner
from utils.models.captions import attention_captions
from utils.models.captioner import DEFAULT_CHECKPOINT as CAPTIONER_CHECKPOINT
from utils.models.captioner import load_captioner
from utils.training.attention import (CHECKPOINT_RECIPE, new_captioner, reinforce_gradient_variance,
                                      train_attention_captioner, training_data)

THREADS = 1   # small recurrent models: one thread is fastest (utils.course.torch_threads)
EVAL_SPLITS = ("test", "heldout")
VARIANCE = {"captions": 32, "samples": 100}   # the fixed minibatch and draws of the variance table


def _thin(history, key, points=120):
    """Means of a per-step curve over about ``points`` equal windows (for the meta dict)."""
    values = np.asarray(history[key], dtype=np.float64)
    width = max(1, len(values) // points)
    cut = len(values) // width * width
    means = values[:cut].reshape(-1, width).mean(axis=1)
    return {"step": [int((k + 1) * width) for k in range(len(means))],
            key: [round(float(v), 4) for v in means]}


def _bleu(model, vocab, split, count, grid):
    captions = attention_captions(model, grid, vocab)
    scores = evaluate_bleu(None, split, count, captions=captions)
    return {k: round(v, 4) for k, v in scores.items()}, captions[:5]


def _correctness(model, count, maps="model", sources=("generated", "reference")):
    found = {}
    for source in sources:
        r = attention_correctness(model, "test", count, maps=maps, source=source)
        found[source] = {"peak": None if r["peak"] is None else round(r["peak"], 4),
                         "mass": None if r["mass"] is None else round(r["mass"], 4),
                         "words": r["words"],
                         "peak_by_kind": {k: None if v["peak"] is None else round(v["peak"], 4)
                                          for k, v in r["by_kind"].items()}}
    return found


def encoder_digest(path=None):
    """sha256 (hex) of the encoder's weights, tensor by tensor (not of the file, whose other
    contents may change without changing a single feature).

    The attention captioners only fit the grid features of those weights: the checkpoints
    record the digest, and tests/test_attention.py compares it with the shipped encoder's.
    """
    hasher = hashlib.sha256()
    for name, tensor in image_encoder.load_encoder(path).state_dict().items():
        hasher.update(name.encode())
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()


def _fmt(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_readme(out_dir, report):
    """README.md of the checkpoints, from the run's own measurements (the report dict)."""
    r = report
    lines = [
        "# Attention captioners of notebook 07 (shapes world)",
        "",
        "Captioners with soft, hard and uniform attention over the 8 x 8 grid of the course's image",
        "encoder (`utils.models.attention_captioner.AttentionCaptioner`, Xu et al. 2015). Built by",
        "",
        f"    {r['command']}",
        "",
        f"on {r['machine']} with torch {r['torch']}, {THREADS} thread{'s' if THREADS > 1 else ''}, seed {r['seed']}.",
        f"The whole command (data, {len(r['models'])} trainings, every measurement below) took "
        f"{r['total_seconds']:.0f} s. Measured wall-clock times"
        f"{' (' + r['load_note'] + ')' if r['load_note'] else ''}:",
        "",
        "| mode | training steps | seconds | final nll per caption | file | size |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    notes = {"hard": " (REINFORCE after the soft model's steps; nll with sampled locations)"
             if r["recipe"]["hard_warm_start"] else " (nll with sampled locations)"}
    for mode, m in r["models"].items():
        lines.append(f"| {mode}{notes.get(mode, '')} | {m['steps']} | {m['seconds']:.0f} | "
                     f"{m['final_nll']:.3f} | `{mode}.pt` | {m['bytes'] / 1e6:.2f} MB |")
    lines += ["", "## Recipe", "", "```", json.dumps(r["recipe"], indent=1), "```", "",
              f"Training data: the first {r['recipe']['train_scenes']} train-split scenes, "
              f"{r['recipe']['captions_per_scene']} captions each (`utils.data.captions.caption_dataset`), "
              "grid features from `datasets/shapes_encoder/encoder.pt` (weights sha256 "
              f"`{r['encoder_weights_sha256'][:16]}...`; the captioners fit that encoder only: rebuild "
              "them when it changes).", "",
              "## Greedy BLEU-4", "",
              f"On the first {r['eval_scenes']} scenes of each split, references as notebook 06 "
              "(the 5 sampled captions of each scene, `utils.analysis.captions.evaluate_bleu`).", "",
              "| model | " + " | ".join(EVAL_SPLITS) + " |",
              "| --- |" + " --- |" * len(EVAL_SPLITS)]
    for name, by_split in r["bleu"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(by_split.get(s, {}).get("BLEU-4")) for s in EVAL_SPLITS) + " |")
    lines += ["", "## Attention correctness on the test split", "",
              f"First {r['correctness_scenes']} test scenes. For each word that names an object "
              "(`utils.analysis.attention.referring_words`): peak = the most attended cell's centre "
              "lies in the object's box; mass = fraction of the map inside the box. 'generated': "
              "the words of each model's own greedy caption; 'reference': the 5 reference captions "
              "teacher-forced, the same words for every model.", "",
              "| maps | peak (generated) | mass (generated) | words | peak (reference) | mass (reference) | words |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, c in r["correctness"].items():
        g, f = c["generated"], c["reference"]
        lines.append(f"| {name} | {_fmt(g['peak'])} | {_fmt(g['mass'])} | {g['words']} | "
                     f"{_fmt(f['peak'])} | {_fmt(f['mass'])} | {f['words']} |")
    lines += ["", "Peak by kind of word (generated captions): " + "; ".join(
        f"{name}: colour words {_fmt(c['generated']['peak_by_kind']['colour'])}, shape words "
        f"{_fmt(c['generated']['peak_by_kind']['shape'])}"
        for name, c in r["correctness"].items() if name in ("soft", "hard")) + "."]
    if r.get("variance"):
        lines += ["", "## REINFORCE gradient variance (hard attention)", "",
                  f"Gradient of the score-function term with respect to Wa_h, Wa_v, w_a at fixed "
                  f"parameters, one minibatch of {VARIANCE['captions']} training captions, "
                  f"{VARIANCE['samples']} draws of the locations (`reinforce_gradient_variance`). "
                  "total variance = E|g - E g|^2; the baseline is the mean reward over as many "
                  "separate draws. The mean of the draws carries its own noise, about "
                  "sqrt(total variance / draws), so the norm of the mean without a baseline is "
                  "mostly noise; the expected gradient is the same with and without.", "",
                  "| parameters | baseline | total variance | norm of mean (its noise) | relative std |",
                  "| --- | --- | --- | --- | --- |"]
        for where, v in r["variance"].items():
            for label in ("without", "with"):
                x = v[label]
                noise = (x["total_variance"] / x["samples"]) ** 0.5
                lines.append(f"| {where} | {label} (b = {x['baseline']:.2f}) | {x['total_variance']:.4g} "
                             f"| {x['mean_norm']:.3g} ({noise:.2g}) | {x['relative_std']:.3g} |")
    lines += ["", "## Example captions (soft attention, test split)", ""]
    lines += [f"- {c}" for c in r["examples"]]
    lines += ["", "Rebuild with the command above; the numbers in each `.pt`'s meta dict are the same "
              "as here.", ""]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", default=list(ATTENTION_MODES), choices=ATTENTION_MODES)
    parser.add_argument("--eval-scenes", type=int, default=1000)
    parser.add_argument("--correctness-scenes", type=int, default=500)
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's steps (tests)")
    parser.add_argument("--load-note", default="measured on a shared 2-core machine under load",
                        help="how the wall-clock times were measured")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    torch.set_num_threads(THREADS)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = language.build_vocab()
    recipe = CHECKPOINT_RECIPE
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, steps=args.steps, hard_steps=args.steps)
    train_grid, captions, scene_index = training_data(recipe.train_scenes,
                                                      recipe.captions_per_scene, vocab=vocab)
    grids = {s: image_encoder.cached_features(s, args.eval_scenes)[1] for s in EVAL_SPLITS}
    report = {"command": (REBUILD_COMMAND + " " + shlex.join(argv if argv is not None else sys.argv[1:])).rstrip(),
              "seed": args.seed, "torch": str(torch.__version__),
              "machine": f"{platform.machine()} CPU ({os.cpu_count()} cores)",
              "load_note": args.load_note, "recipe": dataclasses.asdict(recipe), "eval_scenes": args.eval_scenes,
              "correctness_scenes": args.correctness_scenes, "models": {}, "bleu": {},
              "correctness": {}, "variance": {}, "examples": [],
              "encoder_weights_sha256": encoder_digest()}
    modes = [m for m in ATTENTION_MODES if m in args.modes]         # soft before hard
    if "hard" in modes and recipe.hard_warm_start and "soft" not in modes:
        parser.error("--modes hard needs soft too: hard attention starts from the soft model")
    trained = {}
    for mode in modes:
        model = new_captioner(recipe, len(vocab), attention=mode, seed=args.seed)
        steps, lr = recipe.steps, recipe.lr
        if mode == "hard":
            steps, lr = recipe.hard_steps, recipe.hard_lr
            if recipe.hard_warm_start:
                model.load_state_dict(trained["soft"][0].state_dict())
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        print(f"training {mode} attention: {steps} steps", flush=True)
        history = train_attention_captioner(
            model, train_grid, captions, image_index=scene_index, steps=steps,
            batch_size=recipe.batch_size, lr=lr, device="cpu", seed=args.seed,
            doubly_stochastic=recipe.doubly_stochastic if mode == "soft" else 0.0,
            schedule=recipe.schedule, entropy_bonus=recipe.entropy_bonus,
            baseline_decay=recipe.baseline_decay, expected_fraction=recipe.expected_fraction,
            progress=False, log_every=500)
        model.eval()
        trained[mode] = (model, initial, history)
        report["models"][mode] = {"steps": history["steps"], "seconds": round(history["seconds"], 1),
                                  "final_nll": round(history["final_nll"], 4)}
        report["bleu"][f"{mode} attention"] = {}
        for split in EVAL_SPLITS:
            scores, examples = _bleu(model, vocab, split, args.eval_scenes, grids[split])
            report["bleu"][f"{mode} attention"][split] = scores
            if mode == "soft" and split == "test":
                report["examples"] = examples
            print(f"{mode} {split} BLEU-4 {scores['BLEU-4']:.3f}", flush=True)
        if mode != "uniform":
            report["correctness"][mode] = _correctness(model, args.correctness_scenes)
            print(f"{mode} correctness {report['correctness'][mode]}", flush=True)
    if CAPTIONER_CHECKPOINT.is_file():
        baseline = load_captioner()
        report["bleu"]["no attention (notebook 06)"] = {
            split: {k: round(v, 4) for k, v in evaluate_bleu(baseline, split, args.eval_scenes).items()}
            for split in EVAL_SPLITS}
    else:
        print(f"no notebook-06 captioner at {CAPTIONER_CHECKPOINT}: no comparison", flush=True)
    reference_model = trained.get("soft", next(iter(trained.values())))[0]
    untrained = new_captioner(recipe, len(vocab), attention="soft", seed=args.seed).eval()
    report["correctness"]["untrained soft"] = _correctness(untrained, args.correctness_scenes)
    report["correctness"]["uniform maps (soft model's words)"] = _correctness(
        reference_model, args.correctness_scenes, maps="uniform")
    if "hard" in trained:
        model, initial, _ = trained["hard"]
        start = new_captioner(recipe, len(vocab), attention="hard", seed=args.seed)
        start.load_state_dict(initial)
        rows = np.arange(VARIANCE["captions"]) * recipe.captions_per_scene   # one caption per scene
        where_models = (("random initial weights", new_captioner(recipe, len(vocab), attention="hard", seed=args.seed)),
                        ("start of REINFORCE" + (" (the soft model)" if recipe.hard_warm_start else ""), start),
                        ("after REINFORCE (shipped hard model)", model))
        for where, m in where_models:
            report["variance"][where] = {
                label: {k: (round(v, 6) if isinstance(v, float) else v) for k, v in
                        reinforce_gradient_variance(m, train_grid, captions[rows], VARIANCE["samples"],
                                                    baseline=flag, image_index=scene_index[rows],
                                                    seed=args.seed).items()}
                for label, flag in (("without", False), ("with", True))}
        print(f"variance {report['variance']}", flush=True)
    for mode, (model, _, history) in trained.items():
        meta = {"recipe": dataclasses.asdict(recipe), "seed": args.seed, "command": report["command"],
                "seconds": report["models"][mode]["seconds"], "load_note": args.load_note,
                "final_nll": report["models"][mode]["final_nll"],
                "bleu": report["bleu"][f"{mode} attention"], "eval_scenes": args.eval_scenes,
                "correctness": report["correctness"].get(mode),
                "correctness_scenes": args.correctness_scenes,
                "bleu_without_attention": report["bleu"].get("no attention (notebook 06)"),
                "history": _thin(history, "nll"), "torch": str(torch.__version__),
                "encoder_weights_sha256": report["encoder_weights_sha256"]}
        if mode == "hard":
            meta["variance"] = report["variance"]
        path = save_attention_captioner(model, vocab, out_dir / f"{mode}.pt", meta=meta)
        report["models"][mode]["bytes"] = path.stat().st_size
    report["total_seconds"] = round(time.perf_counter() - began, 1)
    write_readme(out_dir, report)
    print(f"wrote {', '.join(f'{m}.pt' for m in trained)} and README.md to {out_dir}")
    return report


if __name__ == "__main__":
    main()
