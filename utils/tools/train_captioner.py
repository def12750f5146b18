"""Train the captioner of notebook 06 on the shapes world and ship it as a small checkpoint.

    python -m utils.tools.train_captioner [--out PATH] [--seed S] [--no-readme]

Reads the summary vectors of the first ``train_scenes`` train-split scenes from the shipped,
frozen image encoder (``utils.models.encoder``), pairs each with its five reference captions
(``utils.data.captions.caption_dataset``) and trains an LSTM ``Captioner`` with teacher forcing
(``utils.training.captioning.train_captioner``), once for each way of giving it the image
("init": h_0 from the image; "every_step": the image added to every step's input). The one
with the better greedy BLEU-4 on the validation split is shipped. Everything runs on the CPU
with fixed seeds and one thread, so on the same machine and torch version the command writes
the same weights.

It then decodes the first ``eval_scenes`` scenes of the test and heldout splits (never used in
training) greedily and with beam search, measures corpus BLEU-1..4 against the five sampled
reference captions of each scene and the error analysis by caption part
(``utils.analysis.captions``), and writes ``captioner.pt`` (weights, config, vocabulary and
all those numbers) and ``README.md`` into the folder of ``--out`` (default
``datasets/captioner/``).
"""
import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from utils.analysis import captions as caption_analysis
from utils.analysis.bleu import bleu_scores
from utils.data import shapes
from utils.data import shapes_language as language
from utils.data.captions import caption_dataset
from utils.models import captioner as cap
from utils.models.captions import caption_beam, caption_greedy
from utils.models import checkpoints
from utils.models.checkpoints import weights_digest
from utils.models import encoder as enc
from utils.training.captioning import CHECKPOINT_RECIPE, train_captioner



@dataclasses.dataclass(frozen=True)
class CommandSettings:
    """How the command runs and measures; the training recipe itself is CHECKPOINT_RECIPE
    (utils.training.captioning)."""
    conditionings: tuple = ("init", "every_step")   # both are trained; the better on val is shipped
    threads: int = 1               # training; the encoder's features use encode_threads
    encode_threads: int = 2
    val_scenes: int = 300          # picks the conditioning (greedy BLEU-4)
    eval_scenes: int = 1000        # per evaluation split (test, heldout)
    beam_size: int = 3
    length_penalty: float = 0.0
    max_length: int = 20


SETTINGS = CommandSettings()
EVAL_SPLITS = ("test", "heldout")
DECODERS = ("greedy", "beam")


def features_of(encoder, split, count, chunk=2048):
    """Summary vectors (count, P) of the first count scenes of a split (float32 tensor).

    Scenes are made and encoded chunk at a time (a multiple of encode_scenes' batch of 256, so
    the batches and the numbers are the same as in one call): 24,000 images at once would take
    1.2 GB as float32.
    """
    parts = [enc.encode_scenes(encoder, shapes.make_scenes(split, min(chunk, count - start), start=start))[0]
             for start in range(0, count, chunk)]
    return torch.cat(parts)


def train_one(conditioning, features, scene_index, captions, vocab, seed, recipe, threads, progress=True):
    """One captioner of the recipe (a CaptionerRecipe) with the given conditioning; returns (model, history)."""
    model = cap.Captioner(len(vocab), features.shape[1], recipe.wordvec_dim, recipe.hidden_dim,
                          cell=recipe.cell, conditioning=conditioning, seed=seed)
    history = train_captioner(model, features, captions, image_index=scene_index, steps=recipe.steps,
                              batch_size=recipe.batch_size, lr=recipe.lr, seed=seed,
                              clip_norm=recipe.clip_norm, schedule=recipe.schedule,
                              threads=threads, progress=progress)
    model.eval()
    return model, history


def evaluate(model, vocab, split, features, settings):
    """BLEU and error analysis of greedy and beam captions of the first scenes of a split.

    Returns: {decoder: {"bleu": {...}, "errors": {part: fraction}, "examples": [3 captions],
    "seconds": float}}.
    """
    count = len(features)
    scenes = shapes.make_scenes(split, count)
    references = caption_analysis.caption_references(scenes)
    out = {}
    for decoder in DECODERS:
        start = time.perf_counter()
        if decoder == "greedy":
            found = caption_greedy(model, features, vocab, settings.max_length)
        else:
            found = caption_beam(model, features, vocab, settings.max_length, settings.beam_size,
                                 settings.length_penalty)
        seconds = time.perf_counter() - start
        bleu = {k: round(v, 4) for k, v in bleu_scores(references, found).items()}
        errors = caption_analysis.fractions(caption_analysis.error_analysis(scenes, found))
        kinds = _kinds(scenes, found)
        out[decoder] = {"bleu": bleu, "errors": {k: None if v is None else round(v, 4) for k, v in errors.items()},
                        "kinds": kinds, "examples": found[:3], "seconds": round(seconds, 1),
                        "seen_pairs": _seen_pairs(scenes, found)}
    return out


def _seen_pairs(scenes, found):
    """Fraction of the colour-shape pairs the captions name that are training pairs (None if
    they name none): on heldout scenes, whose objects are all held-out pairs, every such name
    is wrong."""
    named = [tuple(claim.split()) for scene, caption in zip(scenes, found)
             for part, claim, _ in caption_analysis.caption_claims(scene, caption) if part == "pairs"]
    return round(sum(p in shapes.TRAIN_PAIRS for p in named) / len(named), 4) if named else None


def _kinds(scenes, found):
    """Fraction of captions of each kind (list, relation, count, other), rounded."""
    counts = {"list": 0, "relation": 0, "count": 0, "other": 0}
    for caption in found:
        words = caption.split()
        if len(words) > 1 and words[1] in ("shape", "shapes"):
            counts["list"] += 1
        elif any(w in words for w in ("left", "right", "above", "below")):
            counts["relation"] += 1
        elif words[:1] == ["there"] and len(words) > 2 and words[2] in language.NUMBERS:
            counts["count"] += 1
        else:
            counts["other"] += 1
    return {k: round(v / len(found), 4) for k, v in counts.items()}


def build(seed=0, recipe=CHECKPOINT_RECIPE, settings=SETTINGS, progress=True, log=print):
    """Train, select and measure the captioner of the recipe (a CaptionerRecipe) with the
    command's settings. Returns (model, vocab, meta)."""
    start = time.perf_counter()
    vocab = language.build_vocab()
    with torch.no_grad():
        torch.set_num_threads(settings.encode_threads)
        encoder = enc.load_encoder()
        t0 = time.perf_counter()
        train_features = features_of(encoder, "train", recipe.train_scenes)
        val_features = features_of(encoder, "val", settings.val_scenes)
        eval_features = {split: features_of(encoder, split, settings.eval_scenes) for split in EVAL_SPLITS}
        feature_seconds = time.perf_counter() - t0
    scene_index, captions = caption_dataset("train", recipe.train_scenes, vocab,
                                            recipe.captions_per_scene)
    log(f"{len(captions)} training captions of {recipe.train_scenes} scenes; features in "
        f"{feature_seconds:.1f} s")
    torch.set_num_threads(settings.threads)
    val_scenes = shapes.make_scenes("val", settings.val_scenes)
    val_refs = caption_analysis.caption_references(val_scenes)
    candidates = {}
    for conditioning in settings.conditionings:
        model, history = train_one(conditioning, train_features, scene_index, captions, vocab, seed,
                                   recipe, settings.threads, progress)
        val_captions = caption_greedy(model, val_features, vocab, settings.max_length)
        val_bleu = round(bleu_scores(val_refs, val_captions)["BLEU-4"], 4)
        log(f"{recipe.cell} / {conditioning}: {history['steps']} steps in {history['seconds']:.1f} s, "
            f"final loss {history['final_loss']:.3f}, val greedy BLEU-4 {val_bleu:.4f}")
        candidates[conditioning] = (model, history, val_bleu)
    best = max(candidates, key=lambda c: (candidates[c][2], -settings.conditionings.index(c)))
    model, history, _ = candidates[best]
    results = {split: evaluate(model, vocab, split, eval_features[split], settings) for split in EVAL_SPLITS}
    for split, by_decoder in results.items():
        for decoder, r in by_decoder.items():
            b = r["bleu"]
            log(f"{split:8s} {decoder:6s} BLEU-1 {b['BLEU-1']:.4f} BLEU-2 {b['BLEU-2']:.4f} "
                f"BLEU-3 {b['BLEU-3']:.4f} BLEU-4 {b['BLEU-4']:.4f}")
    parameters = sum(p.numel() for p in model.parameters())
    meta = {
        "seed": seed, "recipe": {**dataclasses.asdict(recipe), **dataclasses.asdict(settings)},
        "conditioning": best,
        "selection": {c: {"val_greedy_bleu4": v[2], "train_seconds": round(v[1]["seconds"], 1),
                          "final_loss": round(v[1]["final_loss"], 4)} for c, v in candidates.items()},
        "parameters": int(parameters), "training_captions": int(len(captions)),
        "bleu": {s: {d: r["bleu"] for d, r in by.items()} for s, by in results.items()},
        "errors": {s: {d: r["errors"] for d, r in by.items()} for s, by in results.items()},
        "kinds": {s: {d: r["kinds"] for d, r in by.items()} for s, by in results.items()},
        "examples": {s: {d: r["examples"] for d, r in by.items()} for s, by in results.items()},
        "seen_pairs": {s: {d: r["seen_pairs"] for d, r in by.items()} for s, by in results.items()},
        "decode_seconds": {s: {d: r["seconds"] for d, r in by.items()} for s, by in results.items()},
        "timing": {"features_seconds": round(feature_seconds, 1),
                   "train_seconds": {c: round(v[1]["seconds"], 1) for c, v in candidates.items()}},
        "encoder_sha256": weights_digest(enc.load_checkpoint()["state_dict"]),
        "weights_sha256": weights_digest(model.state_dict()),
        "environment": checkpoints.environment(),
    }
    meta["timing"]["total_seconds"] = round(time.perf_counter() - start, 1)
    return model, vocab, meta


def _table(meta, part):
    rows = []
    for split in EVAL_SPLITS:
        for decoder in DECODERS:
            values = meta[part][split][decoder]
            rows.append(f"| {split} | {decoder} | " + " | ".join(
                "n/a" if v is None else f"{v:.3f}" for v in values.values()) + " |")
    return "\n".join(rows)


def write_readme(path, meta, checkpoint_path):
    """README.md describing the checkpoint, from the measured values in ``meta``."""
    r, t = meta["recipe"], meta["timing"]
    parts = list(meta["errors"]["test"]["greedy"])
    kinds = list(meta["kinds"]["test"]["greedy"])
    test, held = meta["bleu"]["test"]["greedy"], meta["bleu"]["heldout"]["greedy"]
    err_t, err_h = meta["errors"]["test"]["greedy"], meta["errors"]["heldout"]["greedy"]
    pct = lambda x: "n/a" if x is None else f"{100 * x:.0f} %"  # noqa: E731
    selection = "\n".join(f"| {c} | {v['val_greedy_bleu4']:.3f} | {v['final_loss']:.3f} | {v['train_seconds']:.0f} s |"
                          for c, v in meta["selection"].items())
    examples = "\n".join(f"  - {split}, {decoder}: " + "; ".join(f"*{e}*" for e in found)
                         for split, by in meta["examples"].items() for decoder, found in by.items())
    text = f"""# Trained shapes-world captioner (notebook 06)

`captioner.pt` holds an LSTM captioner (`utils.models.captioner.Captioner`) trained on the summary
vectors of the course's frozen image encoder (`datasets/shapes_encoder/`). Notebook 06 loads it
with `utils.models.captioner.load_captioner()` to show greedy, sampled and beam-search captions
without waiting for training. It stores the weights (float32), the model's config, the words of
the vocabulary (loading with another vocabulary is refused), the digest of the encoder weights it
was trained on (a retrained encoder makes it refuse to load) and every number below.

## Rebuild

```
{meta['command']}
```

This writes `captioner.pt` and this README; all numbers below come from that run.

## Recipe

- **Data**: the first {r['train_scenes']:,} scenes of the train split, {r['captions_per_scene']} reference captions each
  (`utils.data.captions.caption_dataset`): {meta['training_captions']:,} (image, caption) pairs. Image
  features: the encoder's {meta['config']['feature_dim']}-dimensional summary vector, computed once.
- **Model**: word vectors W = {r['wordvec_dim']}, {r['cell'].upper()} with H = {r['hidden_dim']} hidden units,
  vocabulary V = {meta['config']['vocab_size']}; {meta['parameters']:,} parameters.
- **Training**: {r['steps']:,} Adam steps, batch {r['batch_size']}, lr {r['lr']:g} with a {r['schedule']} decay,
  gradient clipping at norm {r['clip_norm']:g}, teacher forcing, loss summed over the words and averaged
  over the captions (<NULL> padding masked). Seed {meta['seed']}, CPU, {r['threads']} thread.
- **Conditioning**, chosen by greedy BLEU-4 on the first {r['val_scenes']} validation scenes (both trained with the
  same recipe and seed): **{meta['conditioning']}** is shipped.

| conditioning | val greedy BLEU-4 | final training loss | training time |
| --- | ---: | ---: | ---: |
{selection}

- **Built with**: torch {meta['environment']['torch']}, CPU capability {meta['environment']['cpu_capability']},
  {meta['environment']['machine']}.

## Measured

- **Time**: encoder features {t['features_seconds']} s; training {', '.join(f'{c} {s} s' for c, s in t['train_seconds'].items())};
  {t['total_seconds']} s for the whole command (a 2-core CPU machine shared with other work).
- **Checkpoint size**: {meta['checkpoint_size']}.
- **BLEU** (corpus BLEU, 0-1, `utils.analysis.bleu`) on the first {r['eval_scenes']:,} scenes of each split,
  none seen in training, against the five reference captions `shapes_language.captions(scene)`
  draws for each scene (like COCO's five). Beam search: beam {r['beam_size']}, length penalty {r['length_penalty']:g}.

| split | decoder | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 |
| --- | --- | ---: | ---: | ---: | ---: |
{_table(meta, 'bleu')}

- **Error analysis** (`utils.analysis.captions.error_analysis`): the fraction of true claims per caption part
  (true_caption: the whole caption is one the grammar can truly say about the scene).

| split | decoder | {' | '.join(parts)} |
| --- | --- | {' | '.join('---:' for _ in parts)} |
{_table(meta, 'errors')}

- **Which kind of caption** the decoders choose (fractions):

| split | decoder | {' | '.join(kinds)} |
| --- | --- | {' | '.join('---:' for _ in kinds)} |
{_table(meta, 'kinds')}

- **Examples** (the first three scenes):
{examples}

## Reading the numbers

- **Greedy and beam search.** Greedy decoding takes the most probable word at each step and ends
  with whichever kind of caption wins the first words; beam search ({r['beam_size']} beams, no length
  penalty) prefers the short, certain count captions ({pct(meta['kinds']['test']['beam']['count'])} of its test
  captions), which are always among the five references, so its BLEU is higher although it says
  less about the scene.
- **Relations** are the weakest part ({meta['errors']['test']['greedy']['relations']:.3f} of the relations in greedy test
  captions are true): a relation compares two positions to within a few pixels (it is only
  stated when the centres are more than 4 px apart), and positions reach the RNN only through
  the {meta['config']['feature_dim']} numbers of the summary vector.
- **Heldout.** Greedy BLEU-4 drops from {test['BLEU-4']:.3f} (test) to {held['BLEU-4']:.3f} (heldout), beam
  BLEU-4 from {meta['bleu']['test']['beam']['BLEU-4']:.3f} to {meta['bleu']['heldout']['beam']['BLEU-4']:.3f}. The heldout split shows only the six
  colour-shape pairs (`utils.data.shapes.HELDOUT_PAIRS`) that no training scene contains. The
  error analysis says what breaks: colours ({err_t['colours']:.3f} -> {err_h['colours']:.3f}) and shapes
  ({err_t['shapes']:.3f} -> {err_h['shapes']:.3f}) are still named right, but colour-shape pairs fall from
  {err_t['pairs']:.3f} to {err_h['pairs']:.3f}, and {pct(meta['seen_pairs']['heldout']['greedy'])} of the pairs the greedy
  captions name on heldout scenes are training pairs: the language model has only ever written
  "red" followed by "circle" or "square", and writes that again. Relation captions name pairs, so
  their truth falls too ({err_t['relations']:.3f} -> {err_h['relations']:.3f}). Beam search loses less BLEU because
  count captions name no colour-shape pair: BLEU rewards the caption that avoids the hard part.
"""
    Path(path).write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m utils.tools.train_captioner",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(cap.DEFAULT_CHECKPOINT),
                        help="checkpoint path (README.md goes into the same folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and batch order")
    parser.add_argument("--no-readme", action="store_true", help="do not write README.md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    model, vocab, meta = build(seed=args.seed)
    meta["command"] = cap.REBUILD_COMMAND + (f" --seed {args.seed}" if args.seed else "")
    meta["config"] = model.config()
    meta["checkpoint_size"] = "?"
    cap.save_captioner(model, vocab, out, meta)
    for _ in range(2):  # the size goes into the file itself; a second pass settles its digits
        size = out.stat().st_size
        meta["checkpoint_size"] = f"{size / 1e6:.2f} MB ({size:,} bytes)"
        cap.save_captioner(model, vocab, out, meta)
    print(f"wrote {out}: {meta['checkpoint_size']}; {meta['timing']['total_seconds']} s in all")
    if not args.no_readme:
        readme = out.parent / "README.md"
        write_readme(readme, meta, out)
        print(f"wrote {readme}")
    return meta


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
