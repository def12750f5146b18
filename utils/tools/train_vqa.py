"""Train the VQA models of notebook 08 and ship them as small checkpoints.

    python -m utils.tools.train_vqa [--out DIR] [--seed S] [--kinds san2 visual7w ...]

Trains every model of ``utils.models.vqa.MODEL_KINDS`` (question only, image only, concat and
product fusion, stacked attention with 1 and 2 hops, the Visual7W-style multiple-choice
model) on the train split's balanced question set with the shipped encoder's features, with
``utils.training.vqa.CHECKPOINT_RECIPE`` (one thread, fixed seeds), fits the
most-frequent-answer baseline, and measures every model's accuracy per question type on the
test split and on the heldout split (colour-shape pairs never seen in training), plus the
attention analysis of the 2-hop model. It writes ``<kind>.pt`` for each model (weights,
config, vocabulary, and a meta dict with the recipe, the measurements, the digest of the
encoder weights and a thinned loss curve) and ``README.md`` with every number, all taken from
this run, into --out (default datasets/vqa/).
"""
import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from utils.analysis.vqa import accuracy_by_type, accuracy_table, attention_vs_answer, parameter_count
from utils.data import shapes_language as language
from utils.models import encoder as image_encoder
from utils.models.checkpoints import weights_digest
from utils.models.vqa import MODEL_KINDS, PriorBaseline, build_model
from utils.models.vqa_io import CHECKPOINT_DIR, REBUILD_COMMAND, save_vqa_model
from utils.training.vqa import CHECKPOINT_RECIPE, model_sizes, predict, train_vqa, vqa_data

THREADS = 1   # small models: one thread is fastest (utils.course.torch_threads)
EVAL_SPLITS = ("test", "heldout")
NAMES = {"prior": "most frequent answer", "question_only": "question only", "image_only": "image only",
         "concat": "concat fusion", "product": "product fusion", "san1": "attention, 1 hop",
         "san2": "attention, 2 hops", "visual7w": "Visual7W (4 choices)"}


def encoder_digest(path=None):
    """sha256 (hex) of the encoder's weights, tensor by tensor: the VQA models only fit the
    features of those weights (tests/test_vqa.py compares the recorded digest with it)."""
    return weights_digest(image_encoder.load_encoder(path).state_dict())


def _thin(values, points=100):
    values = np.asarray(values, dtype=np.float64)
    width = max(1, len(values) // points)
    cut = len(values) // width * width
    return [round(float(v), 4) for v in values[:cut].reshape(-1, width).mean(axis=1)]


def _round(acc):
    return {k: None if v is None else round(v, 4) for k, v in acc.items()}


def write_readme(out_dir, report):
    """README.md of the checkpoints, from the run's own measurements."""
    r = report
    table = accuracy_table({NAMES[k]: v for k, v in r["accuracy"].items()})
    lines = [
        "# Visual question answering models of notebook 08 (shapes world)",
        "",
        "Answer classifiers and a multiple-choice model over the course's frozen image encoder",
        "(`utils.models.vqa`). Built by",
        "",
        f"    {REBUILD_COMMAND}",
        "",
        f"on {r['machine']} with torch {r['torch']}, {THREADS} thread, seed {r['seed']}. The whole",
        f"command (data, {len(r['seconds'])} trainings, every measurement below) took "
        f"{r['total_seconds']:.0f} s (a shared 2-core machine; times vary with its load).",
        "",
        "| model | kind | parameters | training steps | seconds | final training loss | file |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in r["seconds"]:
        lines.append(f"| {NAMES[kind]} | `{kind}` | {r['parameters'][kind]} | {r['steps'][kind]} | "
                     f"{r['seconds'][kind]:.0f} | {r['final_loss'][kind]:.3f} | `{kind}.pt` |")
    lines += [
        "",
        "## Accuracy per question type",
        "",
        f"{r['test_questions']} questions per split (`question_set`, balanced over the six types",
        "and, within a type, over its answers). Classifiers choose among the 42 answers; the",
        "Visual7W-style model among each question's 4 candidates (chance 0.25), so its numbers",
        "are not comparable with the classifiers' one for one. Heldout scenes only hold the six",
        "colour-shape pairs never seen in training; a classifier has never been trained to output",
        "their names (pointing answers), the multiple-choice model embeds them from their words.",
        "",
        "```",
        *table,
        "```",
        "",
        "## Attention of the 2-hop model (test split)",
        "",
        "For questions about one object (attribute, position, relational, pointing): does the most",
        "attended cell of the last hop lie inside the box of the object the answer is about.",
        "",
        "```",
        json.dumps(r["attention"], indent=1),
        "```",
        "",
        "## Recipe",
        "",
        "```",
        json.dumps(r["recipe"], indent=1),
        "```",
        "",
        f"Training data: the first {r['recipe']['train_questions']} questions of the train split "
        f"({r['train_scenes']} scenes), features from `datasets/shapes_encoder/encoder.pt` (sha256 "
        f"`{r['encoder_weights_sha256'][:16]}...`; the models fit that encoder only: rebuild them "
        "when it changes).",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(MODEL_KINDS), choices=MODEL_KINDS)
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    start = time.perf_counter()
    recipe = CHECKPOINT_RECIPE
    train = vqa_data("train", recipe.train_questions)
    evaluation = {split: vqa_data(split, recipe.test_questions) for split in EVAL_SPLITS}
    digest = encoder_digest()
    vocab_size = len(language.build_vocab())
    report = {"machine": f"{platform.machine()} CPU ({os.cpu_count()} cores)",
              "torch": torch.__version__, "seed": args.seed, "recipe": dataclasses.asdict(recipe),
              "train_scenes": train[0]["num_scenes"], "test_questions": recipe.test_questions,
              "encoder_weights_sha256": digest, "accuracy": {}, "seconds": {}, "steps": {},
              "parameters": {}, "final_loss": {}, "attention": {}}
    prior = PriorBaseline().fit(train[0]["qtype"], train[0]["answer"])
    report["accuracy"]["prior"] = {s: _round(accuracy_by_type(prior.predict(d[0]["qtype"]), d[0]))
                                   for s, d in evaluation.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in args.kinds:
        torch.manual_seed(args.seed)
        model = build_model(kind, vocab_size, seed=args.seed, **model_sizes(recipe, kind))
        steps = recipe.steps[kind]
        history = train_vqa(model, *train, steps=steps, batch_size=recipe.batch_size,
                            lr=recipe.lr, seed=args.seed, progress=False, log_every=500,
                            log=lambda line, kind=kind: print(f"[{kind}] {line}", flush=True))
        accuracy, attention = {}, None
        for split, data in evaluation.items():
            result = predict(model, *data)
            accuracy[split] = _round(accuracy_by_type(result["answer"], data[0]))
            if kind == "san2" and split == "test":
                found = attention_vs_answer(result["answer"], result["attention"], data[0])
                attention = {"counts": {" / ".join(k): v for k, v in found["counts"].items()},
                             "by_type": found["by_type"]}
        report["accuracy"][kind] = accuracy
        report["seconds"][kind] = history["seconds"]
        report["steps"][kind] = steps
        report["parameters"][kind] = parameter_count(model)
        report["final_loss"][kind] = history["final_loss"]
        if attention is not None:
            report["attention"] = attention
        meta = {"recipe": dataclasses.asdict(recipe), "steps": steps, "seconds": round(history["seconds"], 1),
                "accuracy": accuracy, "encoder_weights_sha256": digest,
                "loss_curve": _thin(history["loss"]), "command": REBUILD_COMMAND}
        path = save_vqa_model(model, args.out / f"{kind}.pt", meta=meta)
        print(f"[{kind}] {history['seconds']:.0f} s, test {accuracy['test']['overall']:.3f}, "
              f"heldout {accuracy['heldout']['overall']:.3f} -> {path}", flush=True)
    report["total_seconds"] = time.perf_counter() - start
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    write_readme(args.out, report)
    print("\n".join(accuracy_table({NAMES[k]: v for k, v in report["accuracy"].items()})))
    print(f"total {report['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
