"""How far another seed moves the comparisons that notebooks 07 and 08 make from one run each.

    python -m utils.tools.seed_spread [--seeds 0 1 2] [--only attention vqa] [--steps N] [--out DIR]

- attention (notebook 07, section 6): the three variants of the ablation (gate with lambda = 0,
  gate with lambda = 1, no gate), each trained with the live CPU recipe
  (``utils.training.attention.CPU_RECIPE``) from each seed (weights and minibatch order), and
  measured as the notebook measures them (``utils.analysis.attention.ablation_measures``: the
  words' loss on 200 validation scenes, the coverage term, the mean gate, the peak correctness
  on 100 test scenes). Seed 0 is the seed of the notebook's own run.
- vqa (notebook 08, section 7): stacked attention with one hop, with two hops, and with two hops
  without the relative offsets of the second hop, trained from each seed on the shipped models'
  training questions for the same number of steps (``VQA_STEPS``, unlike the shipped
  checkpoints' 4,000 and 7,000), and scored per question type on the shipped models' test
  questions.

Everything runs on the CPU with one thread. Writes ``attention_seeds.json`` and ``vqa_seeds.json``
into --out (default ``datasets/seed_spread/``), which the notebooks print; each file records its
seconds (three seeds on a 2-core machine: 195 s for attention, 789 s for vqa).
"""
import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from utils.analysis.attention import ablation_measures
from utils.analysis.seed_spread import SPREAD_DIR
from utils.analysis.vqa import accuracy_by_type
from utils.course import torch_threads
from utils.data import shapes_language as language
from utils.data.captions import caption_dataset
from utils.models import encoder as image_encoder
from utils.models.vqa import build_model
from utils.training import attention as attention_training
from utils.training import vqa as vqa_training

VARIANTS = {"gate, lambda = 0 (as shipped)": (True, 0.0), "gate, lambda = 1": (True, 1.0),
            "no gate, lambda = 0": (False, 0.0)}
VQA_STEPS = 3000
VQA_VARIANTS = {"1 hop": ("san1", {}), "2 hops": ("san2", {}),
                "2 hops, no offsets": ("san2", {"relative": False})}


def attention_spread(seeds, steps=None, progress=False):
    """{variant: {seed: ablation_measures}} for notebook 07's ablation (see the module's text)."""
    recipe = attention_training.CPU_RECIPE
    if steps is not None:
        recipe = dataclasses.replace(recipe, steps=steps)
    vocab = language.build_vocab()
    grid, captions, index = attention_training.training_data(recipe.train_scenes, recipe.captions_per_scene,
                                                             vocab=vocab)
    val_index, val_caps = caption_dataset("val", 200, vocab, 5)
    val_grid = image_encoder.cached_features("val", 200)[1][torch.from_numpy(val_index)]
    result = {name: {} for name in VARIANTS}
    for seed in seeds:
        for name, (gate, lam) in VARIANTS.items():
            model = attention_training.new_captioner(recipe, len(vocab), gate=gate, seed=seed)
            attention_training.train_attention_captioner(
                model, grid, captions, image_index=index, steps=recipe.steps, batch_size=recipe.batch_size,
                lr=recipe.lr, schedule=recipe.schedule, doubly_stochastic=lam, seed=seed, progress=progress)
            measures = ablation_measures(model, val_grid, val_caps)
            result[name][str(seed)] = {k: round(v, 4) for k, v in measures.items()}
            print(f"[attention] seed {seed} {name}: {result[name][str(seed)]}", flush=True)
    return {"recipe": dataclasses.asdict(recipe), "seeds": list(seeds), "variants": result}


def vqa_spread(seeds, steps=VQA_STEPS, progress=False):
    """{variant: {seed: accuracy per type on the test questions}} for VQA_VARIANTS, equal steps."""
    recipe = vqa_training.CHECKPOINT_RECIPE
    train = vqa_training.vqa_data("train", recipe.train_questions)
    test = vqa_training.vqa_data("test", recipe.test_questions)
    vocab_size = len(language.build_vocab())
    result = {name: {} for name in VQA_VARIANTS}
    for seed in seeds:
        for name, (kind, options) in VQA_VARIANTS.items():
            sizes = vqa_training.model_sizes(recipe, kind)
            model = build_model(kind, vocab_size, seed=seed, **sizes, **options)
            vqa_training.train_vqa(model, *train, steps=steps, batch_size=recipe.batch_size, lr=recipe.lr,
                                   seed=seed, progress=progress)
            accuracy = accuracy_by_type(vqa_training.predict(model, *test)["answer"], test[0])
            result[name][str(seed)] = {k: None if v is None else round(v, 4) for k, v in accuracy.items()}
            print(f"[vqa] seed {seed} {name}: overall {accuracy['overall']:.4f}", flush=True)
    return {"recipe": dataclasses.asdict(recipe), "steps": steps, "seeds": list(seeds),
            "test_questions": recipe.test_questions, "variants": result}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.tools.seed_spread", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=("attention", "vqa"), default=["attention", "vqa"])
    parser.add_argument("--steps", type=int, default=None,
                        help="override the training steps of both studies (tests)")
    parser.add_argument("--out", type=Path, default=SPREAD_DIR)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = {}
    with torch_threads(1):
        for study in args.only:
            start = time.perf_counter()
            if study == "attention":
                report = attention_spread(args.seeds, args.steps)
            else:
                report = vqa_spread(args.seeds, VQA_STEPS if args.steps is None else args.steps)
            report["seconds"] = round(time.perf_counter() - start, 1)
            report["command"] = "python -m utils.tools.seed_spread " + " ".join(argv or sys.argv[1:])
            path = args.out / f"{study}_seeds.json"
            path.write_text(json.dumps(report, indent=1) + "\n")
            written[study] = report
            print(f"wrote {path} ({report['seconds']} s)")
    return written


if __name__ == "__main__":
    main()
