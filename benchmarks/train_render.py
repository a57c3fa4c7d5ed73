"""Rendering training MIDI: the ``fluidsynth`` command per file vs lumen's in-process renderer.

Layer: benchmarks. Threads: the main thread only.

`lumen train beat` renders every generated piece and game-music excerpt with FluidSynth. The
baseline (same run) is what training did before: one ``fluidsynth -ni -F`` command per file,
which loads the soundfont each time. lumen's renderer (`lumen.analysis.train.synth`) keeps each
soundfont loaded in the process and plays every file on a fresh synth that borrows it. For each
soundfont the training uses, the same generated pieces (about 50 s of audio each at 22.05 kHz)
are rendered both ways; the table gives the mean wall time per file, the ratio, and the
correlation of the two outputs (the command writes dithered 16-bit samples).

Usage::

    python benchmarks/train_render.py [--pieces N] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table  # noqa: E402

from lumen.analysis.train.beat import SOUNDFONT_PACKAGES, find_alt_soundfont, find_soundfont  # noqa: E402
from lumen.analysis.train.compose import compose  # noqa: E402
from lumen.analysis.train.synth import render_midi  # noqa: E402

SR = 22050


def soundfonts() -> list[str]:
    """FluidR3 and the other soundfonts training may use, those installed."""
    fonts = [find_soundfont()]
    for name in SOUNDFONT_PACKAGES:
        try:
            fonts.append(find_alt_soundfont(name))
        except FileNotFoundError as e:
            print(f"skipped: {e}")
    return fonts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=8, help="generated pieces per soundfont (at most 50)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    args = ap.parse_args(argv)
    n = max(1, min(args.pieces, 50))
    fonts = soundfonts()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lumen-bench-render-") as tmp:
        paths = []
        for k in range(n):
            p = os.path.join(tmp, f"{k}.mid")
            compose(np.random.default_rng([4242, k]), 30.0).write(p)
            paths.append(p)
        for font in fonts:
            render_midi(paths[0], SR, font)  # loads the soundfont (once per process, as in training)
            t_cmd, t_ours, corr, audio_s = 0.0, 0.0, [], 0.0
            for p in paths:
                t0 = time.perf_counter()
                ref = render_midi(p, SR, font, in_process=False)
                t1 = time.perf_counter()
                ours = render_midi(p, SR, font)
                t2 = time.perf_counter()
                t_cmd += t1 - t0
                t_ours += t2 - t1
                audio_s += ref.size / SR
                corr.append(float(np.corrcoef(ours[: ref.size], ref)[0, 1]))
            rows.append([os.path.basename(font), n, round(audio_s / n, 1), 1e3 * t_cmd / n, 1e3 * t_ours / n, t_cmd / t_ours, min(corr)])
    headers = ["soundfont", "files", "audio s per file", "command ms per file (baseline)", "in-process ms per file", "speed-up", "min correlation"]
    body = f"{n} generated pieces rendered at {SR} Hz with each soundfont, both ways in the same run:\n\n" + table(headers, rows)
    record("Rendering training MIDI (train_render.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
