"""Benchmark: the audio callback per block and the analysis chain per hop.

Each figure is also given as a fraction of its real-time budget (a 256-frame block at 48 kHz
is 5.33 ms; a hop is 10 ms). Baseline for the callback, measured in the same run: the naive
design many tools use, ``queue.put(indata.copy())``.
"""

from __future__ import annotations

import argparse
import queue
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, repeat, table, time_per_call  # noqa: E402

from lumen.analysis.analyzer import Analyzer  # noqa: E402
from lumen.analysis.base import AnalysisSpec  # noqa: E402
from lumen.audio.music import MusicGenerator, MusicParams  # noqa: E402
from lumen.audio.sources import AUDIO_COUNTERS, DeviceSource  # noqa: E402
from lumen.rt.counters import Counters  # noqa: E402
from lumen.rt.ring import AudioRing  # noqa: E402


class _Flags:
    __slots__ = ("_flags",)

    def __init__(self) -> None:
        self._flags = 0


def bench_callback(n: int, repeats: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for bs in (64, 256, 1024):
        src = DeviceSource.__new__(DeviceSource)
        src.sr, src.blocksize, src.n_channels = 48000, bs, 2
        ring = AudioRing(2, bs, 48000, n_blocks=64)
        src._attach(ring, Counters(AUDIO_COUNTERS))
        block = np.random.default_rng(0).standard_normal((bs, 2)).astype(np.float32)
        tinfo = SimpleNamespace(currentTime=1.0, inputBufferAdcTime=0.99)
        flags = _Flags()
        mn, med, mx = repeat(lambda: time_per_call(lambda: src._callback(block, bs, tinfo, flags), n), repeats)
        q: queue.Queue[np.ndarray] = queue.Queue()

        def naive() -> None:
            q.put(block.copy())
            if q.qsize() > 64:
                q.get_nowait()

        bmn, bmed, bmx = repeat(lambda: time_per_call(naive, n), repeats)
        budget = bs / 48000
        rows.append([bs, mn * 1e6, med * 1e6, mx * 1e6, bmed * 1e6, f"{bmed / med:.2f}x", f"{med / budget:.5f}"])
    return rows


def bench_analysis(seconds: float, repeats: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for sr in (22050, 44100, 48000):
        audio = MusicGenerator(MusicParams(seed=3), sr=sr, n_channels=2).render_seconds(seconds)
        spec = AnalysisSpec.for_rate(sr)
        h = spec.hop_length
        n_hops = audio.shape[0] // h

        def run() -> float:
            an = Analyzer(spec)
            import time

            t0 = time.perf_counter()
            for i in range(n_hops):
                an.process(audio[i * h : (i + 1) * h], i * 0.01)
            return (time.perf_counter() - t0) / n_hops

        mn, med, mx = repeat(run, repeats)
        rows.append([sr, h, spec.n_fft, mn * 1e6, med * 1e6, mx * 1e6, f"{med / spec.hop_s:.4f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repetitions (smoke pass)")
    args = p.parse_args(argv)
    n, repeats, seconds = (2000, 3, 10.0) if args.quick else (20000, 7, 30.0)
    cb = bench_callback(n, repeats)
    an = bench_analysis(seconds, repeats)
    body = (
        "Audio callback (DeviceSource._callback: ring copy + stamp + counters), µs per block; "
        "baseline = `queue.put(indata.copy())` in the same run:\n\n"
        + table(["block", "min µs", "median µs", "max µs", "baseline µs", "baseline/lumen", "fraction of block budget"], cb)
        + f"\n\nAnalysis chain (levels + onset + tempo) per 10 ms hop over {seconds:.0f} s of generated music:\n\n"
        + table(["sr Hz", "hop", "n_fft", "min µs", "median µs", "max µs", "fraction of hop budget"], an)
    )
    record("audio callback and analysis per hop (bench_audio.py)", body, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
