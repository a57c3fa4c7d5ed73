"""Benchmark: one beat-model training step, GRU against TCN, with one and two torch threads.

A step is what ``lumen train beat`` does per batch: forward over a batch of 15 s excerpts
(1500 hops of the 128-number frontend), the masked, weighted binary cross-entropy, backward,
gradient clipping and an AdamW update, on random inputs (the cost does not depend on the data).
The GRU (``ModelConfig()``, the shipped members' shape) is the baseline, measured in the same
run; the TCN is ``TCN_MODEL``, what ``lumen train beat --arch tcn`` trains (dropout 0.15).
Reported: the fastest of the timed steps after a warm-up step, and µs per hop of audio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table  # noqa: E402


def step_time(arch: str, threads: int, batch: int, hops: int, steps: int) -> tuple[float, int]:
    import torch

    from lumen.analysis.beat.model import ModelConfig, build_model
    from lumen.analysis.train.beat import TCN_MODEL

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(TCN_MODEL if arch == "tcn" else ModelConfig())
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([4.0, 8.0]), reduction="none")
    x = torch.randn(batch, hops, 128)
    y = (torch.rand(batch, hops, 2) < 0.05).float()
    mask = torch.ones(batch, 1, 2)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        logits, _h = model(x)
        loss = (loss_fn(logits, y) * mask).sum() / (mask.sum() * hops)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return min(times[1:]), sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4, help="timed steps per case (after one warm-up step)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--quick", action="store_true", help="smoke pass: 2 steps of a 4-excerpt batch")
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    args = ap.parse_args(argv)
    steps, batch = (2, 4) if args.quick else (args.steps, args.batch)
    hops = 1500
    rows = []
    base: dict[int, float] = {}
    for threads in (1, 2):
        for arch in ("gru", "tcn"):
            s, n = step_time(arch, threads, batch, hops, steps)
            if arch == "gru":
                base[threads] = s
            rows.append([arch, n, threads, batch, s, 1e6 * s / (batch * hops), base[threads] / s])
    body = f"Batch {batch} × {hops} hops, fastest of {steps} steps after a warm-up step:\n\n"
    body += table(["model", "parameters", "torch threads", "batch", "s per step", "µs per hop", "speed-up vs GRU"], rows)
    record("Beat model training step, GRU vs TCN (train_step.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
