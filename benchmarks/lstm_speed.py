"""Training-step speed of the from-equations LSTM (utils.models.cells) against torch.nn.LSTM.

    .venv/bin/python benchmarks/lstm_speed.py                  # the default sizes, CPU
    .venv/bin/python benchmarks/lstm_speed.py --threads 1 --repeats 40
    .venv/bin/python benchmarks/lstm_speed.py --device cuda

One training step = forward over a (B, T, D) batch, a loss on every output, backward, Adam
update. Both layers get the same sizes and the same weights (copied). The two are timed in
alternation, after a warm-up, and the median of each is reported with their ratio
(from-equations time / nn.LSTM time; 1.0 means equally fast). Several sizes are measured:
the main one (a character-level language model) and a tiny one where the cost of launching
~10 small operations per time step from Python dominates.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.models.cells import GRUFromEquations, LSTMFromEquations, copy_gru_from_torch, copy_lstm_from_torch  # noqa: E402

SIZES = {  # name: (D, H, B, T)
    "char-LM size (main)": (64, 256, 64, 64),
    "medium": (64, 128, 32, 64),
    "adding-problem size (tiny)": (2, 32, 32, 100),
}


def make_step(module, x, device):
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)

    def step():
        out, _ = module(x)
        loss = out.square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    return step


def time_pair(step_a, step_b, repeats, warmup=5):
    for _ in range(warmup):
        step_a()
        step_b()
    times_a, times_b = [], []
    for _ in range(repeats):  # alternate so that load from other processes hits both alike
        t0 = time.perf_counter()
        step_a()
        times_a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        step_b()
        times_b.append(time.perf_counter() - t0)
    return statistics.median(times_a), statistics.median(times_b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on a loaded machine two threads wait for each "
                             "other at every small operation and the timings become noise)")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per layer and size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gru", action="store_true", help="also compare GRUFromEquations with nn.GRU")
    parser.add_argument("--json", action="store_true",
                        help="print only one JSON line {size: {from_equations_ms, torch_ms, ratio}} "
                             "for the LSTM (what utils.tools.report reads)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be positive")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if not args.json:
        print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} CPU threads, "
              f"median of {args.repeats} training steps (forward + backward + Adam)")
    measured = {}
    pairs = [("LSTM", nn.LSTM, LSTMFromEquations, copy_lstm_from_torch)]
    if args.gru:
        pairs.append(("GRU", nn.GRU, GRUFromEquations, copy_gru_from_torch))
    for kind, TorchCls, OursCls, copy in pairs:
        for name, (D, H, B, T) in SIZES.items():
            reference = TorchCls(D, H, batch_first=True).to(device)
            ours = copy(OursCls(D, H).to(device), reference)
            x = torch.randn(B, T, D, device=device)
            t_ours, t_ref = time_pair(make_step(ours, x, device), make_step(reference, x, device), args.repeats)
            if kind == "LSTM":
                measured[name] = {"from_equations_ms": round(1000 * t_ours, 2),
                                  "torch_ms": round(1000 * t_ref, 2), "ratio": round(t_ours / t_ref, 3)}
            if not args.json:
                print(f"{kind} {name:28s} D={D:3d} H={H:3d} B={B:3d} T={T:3d}: "
                      f"from equations {1000 * t_ours:7.1f} ms, nn.{kind} {1000 * t_ref:7.1f} ms, "
                      f"ratio {t_ours / t_ref:.2f}x")
    if args.json:
        print(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
