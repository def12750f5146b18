"""Stacked LSTMs on Shakespeare: held-out loss and training time for 1 to 4 layers.

    .venv/bin/python benchmarks/multilayer_shakespeare.py                 # CPU defaults
    .venv/bin/python benchmarks/multilayer_shakespeare.py --device cuda --hidden 512 --steps 4000
    .venv/bin/python benchmarks/multilayer_shakespeare.py --layers 1 2 --steps 500   # quicker

The measurement behind notebook 05's section on stacking layers: every model is a
utils.models.char_lm.CharLM with an LSTM of the given width, trained with the same fixed number of
Adam steps on the same random windows (seeded), then evaluated on the held-out tenth of the
corpus. Output: one line per depth and a closing table.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.models.char_lm import CharLM, evaluate_nats_per_char  # noqa: E402
from utils.training.char_lm import train_char_lm
from utils.data.text import CharVocab, load_shakespeare, split_by_position  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-chars", type=int, default=100_000, help="held-out characters for the final loss")
    args = parser.parse_args(argv)
    if min(args.layers) < 1 or args.hidden < 1 or args.steps < 1 or args.threads < 1:
        parser.error("--layers, --hidden, --steps and --threads must be positive")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    text = load_shakespeare()
    vocab = CharVocab(text)
    train_ids, val_ids = split_by_position(vocab.encode(text))
    val_ids = val_ids[:args.eval_chars]
    print(f"torch {torch.__version__} on {device} ({args.threads} CPU threads); LSTM width {args.hidden}, "
          f"{args.steps} steps of {args.batch_size} x {args.seq_len} characters, lr {args.lr}, "
          f"dropout {args.dropout}", flush=True)
    rows = []
    for layers in args.layers:
        torch.manual_seed(0)
        model = CharLM(len(vocab), args.hidden, num_layers=layers, cell="lstm", embed_size=64,
                       dropout=args.dropout if layers > 1 else 0.0)
        start = time.perf_counter()
        hist = train_char_lm(model, train_ids, val_ids, vocab, time_budget_s=None, max_steps=args.steps,
                             batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, device=device,
                             sample_prefix=None, eval_chars=10_000, lr_decay_frac=0.3, seed=0,
                             progress=False, log=lambda line: None)
        nats = evaluate_nats_per_char(model, val_ids, device=device)  # all --eval-chars, not the 10,000 of the curve
        seconds = time.perf_counter() - start
        params = sum(p.numel() for p in model.parameters())
        rows.append((layers, params, seconds, nats))
        print(f"{layers} layer(s): {params:9,} parameters, {seconds:7.1f} s, held-out "
              f"{nats:.3f} nats/char", flush=True)
    print("\nlayers  parameters  seconds  held-out nats/char")
    for layers, params, seconds, nats in rows:
        print(f"{layers:6d}  {params:10,}  {seconds:7.1f}  {nats:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
