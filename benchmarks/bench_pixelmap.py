"""Pixel mapping per frame: ``PixelMap.apply`` on walls of 1k, 10k and 100k pixels.

Layer: benchmarks. Threads: the main thread only.

For each wall size and sampling mode the map, the frame and the DMX buffer are built and one
frame is applied untimed (that precomputes the indices and the gamma table); then several
repeats each time a batch of ``apply`` calls (gamma 2.2, brightness 0.8, as a show runs).
Reported per frame: min/median/max over repeats in ms, the fraction of lumen's mapping target
(1 ms for 100k pixels, i.e. 10 ns per pixel, scaled to the wall size) and of the 60 fps frame
budget (16.7 ms).

Cells:

- ``nearest``: nearest texel, frame the size of the wall (render size = wall size);
- ``nearest 2x``: nearest texel on a frame twice the wall's size each way;
- ``area r=1``: mean of a 3x3 texel box (``area_method="auto"``), frame the size of the wall;
- ``area r=1 2x``: the same on a 2x frame;
- ``area r=1 taps`` / ``area r=1 blur``: the two area methods forced, on the 2x frame;
- ``RGBW nearest``: GRBW pixels (white extraction, 128 pixels per universe);
- ``current limit``: nearest with a current budget the frame exceeds (estimate + scale-down);
- ``naive`` (baseline, same run): the straightforward NumPy version (gather, clip, multiply,
  ``**gamma``, round, cast, one fancy-index scatter), which lumen's pre-table MatrixMap was.

Usage::

    python benchmarks/bench_pixelmap.py [--quick] [--repeats N] [--no-record]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from _common import record, table  # noqa: E402

from lumen.patch.pixelmap import MatrixMap  # noqa: E402

#: (width, height) of the walls: ~1k, 10k and 100k pixels.
WALLS: tuple[tuple[int, int], ...] = ((40, 25), (125, 80), (400, 250))
TARGET_NS_PER_PIXEL = 10.0  # 1 ms for 100k pixels
BUDGET_60FPS_MS = 1000.0 / 60.0
GAMMA = 2.2
BRIGHTNESS = 0.8


class NaiveMap:
    """Baseline: the direct NumPy mapping (float power, fancy-index scatter), nearest only."""

    def __init__(self, m: MatrixMap, fh: int, fw: int) -> None:
        pos = m.positions
        rows = np.clip((pos[:, 1] * fh).astype(np.int64), 0, fh - 1)
        cols = np.clip((pos[:, 0] * fw).astype(np.int64), 0, fw - 1)
        self.src = rows * fw + cols
        self.index = m.dmx_index.reshape(-1)
        self.vals = np.zeros((m.n_pixels, 3), np.float32)
        self.bytes = np.zeros((m.n_pixels, 3), np.uint8)

    def apply(self, frame: npt.NDArray[np.float32], dmx: npt.NDArray[np.uint8]) -> None:
        v = self.vals
        np.take(frame.reshape(-1, 3), self.src, axis=0, out=v)
        np.clip(v, 0.0, 1.0, out=v)
        np.multiply(v, BRIGHTNESS, out=v)
        np.power(v, GAMMA, out=v)
        np.multiply(v, 255.0, out=v)
        np.rint(v, out=v)
        np.copyto(self.bytes, v, casting="unsafe")
        dmx.reshape(-1)[self.index] = self.bytes.reshape(-1)


def _per_frame_ms(step: Callable[[], object], target_s: float) -> tuple[int, float]:
    """Frames in one batch and ms per frame of ``step`` over about ``target_s`` seconds."""
    n = 1
    while True:  # size the batch so it lasts about target_s
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        dt = time.perf_counter() - t0
        if dt >= target_s / 4 or n >= 1 << 16:
            break
        n *= 2
    n = max(1, int(n * target_s / max(dt, 1e-9)))
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n, (time.perf_counter() - t0) * 1000.0 / n


def bench_cell(step: Callable[[], object], repeats: int, target_s: float) -> tuple[int, list[float]]:
    """``repeats`` measurements of ``step`` (ms per frame), GC off while timing."""
    step()  # warm-up (untimed)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        out = [_per_frame_ms(step, target_s) for _ in range(repeats)]
    finally:
        if gc_was:
            gc.enable()
    return out[0][0], [ms for _, ms in out]


def cells(w: int, h: int, rng: np.random.Generator) -> list[tuple[str, Callable[[], object], int]]:
    """(name, step, pixels) for one wall size; setup happens here, untimed."""
    out: list[tuple[str, Callable[[], object], int]] = []
    f1 = rng.uniform(0.0, 1.0, (h, w, 3)).astype(np.float32)
    f2 = rng.uniform(0.0, 1.0, (2 * h, 2 * w, 3)).astype(np.float32)

    def make(name: str, m: MatrixMap, frame: npt.NDArray[np.float32]) -> None:
        dmx = m.new_dmx()
        m.prepare(frame.shape[0], frame.shape[1])
        out.append((name, lambda: m.apply(frame, dmx, brightness=BRIGHTNESS, gamma=GAMMA), m.n_pixels))

    make("nearest", MatrixMap(w, h), f1)
    make("nearest 2x", MatrixMap(w, h), f2)
    make("area r=1", MatrixMap(w, h, sampling="area", area_radius_px=1), f1)
    make("area r=1 2x (auto)", MatrixMap(w, h, sampling="area", area_radius_px=1), f2)
    make("area r=1 2x taps", MatrixMap(w, h, sampling="area", area_radius_px=1, area_method="taps"), f2)
    make("area r=1 2x blur", MatrixMap(w, h, sampling="area", area_radius_px=1, area_method="blur"), f2)
    make("RGBW nearest", MatrixMap(w, h, color_order="GRBW"), f1)
    budget = 0.2 * w * h * 3 * 0.02  # 20 % of full white: a random frame always exceeds it
    make("current limit", MatrixMap(w, h, current_budget_a=budget), f1)
    m = MatrixMap(w, h)
    naive = NaiveMap(m, h, w)
    dmx = m.new_dmx()
    out.append(("naive (baseline)", lambda: naive.apply(f1, dmx), m.n_pixels))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid, print the table and append it to RESULTS.md (unless ``--no-record``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="short batches (a smoke run)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats per cell (default 5)")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args(argv)
    target_s = 0.05 if args.quick else 0.3
    repeats = 2 if args.quick else args.repeats
    rng = np.random.default_rng(7)
    rows: list[list[object]] = []
    for w, h in WALLS:
        naive_med = None
        results = []
        for name, step, n_px in cells(w, h, rng):
            n, ms = bench_cell(step, repeats, target_s)
            med = float(np.median(ms))
            results.append((name, n_px, n, ms, med))
            if name.startswith("naive"):
                naive_med = med
            print(f"  {w}x{h} {name:20s} median {med * 1000:9.1f} us", file=sys.stderr)
        for name, n_px, n, ms, med in results:
            target_ms = n_px * TARGET_NS_PER_PIXEL * 1e-6
            rows.append(
                [
                    f"{w}x{h}", n_px, name, f"{n}x{repeats}", min(ms) * 1000, med * 1000, max(ms) * 1000,
                    med / target_ms, med / BUDGET_60FPS_MS, (naive_med or med) / med,
                ]
            )
    headers = [
        "wall", "pixels", "cell", "frames x repeats", "min us", "median us", "max us",
        "of target (10 ns/px)", "of 60 fps budget", "speed-up vs naive",
    ]
    body = (
        f"Per frame: `MatrixMap.apply` (gamma {GAMMA}, brightness {BRIGHTNESS}) into a preallocated "
        "(n_universes, 512) uint8 buffer, RGB 170 pixels/universe unless noted. `2x`: the frame is twice "
        "the wall's size each way. `of target`: median / (10 ns x pixels), the 1 ms-per-100k-pixels goal. "
        "`naive`: direct NumPy (float power + fancy scatter), same run.\n\n" + table(headers, rows)
    )
    record("pixel mapping per frame (bench_pixelmap.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
