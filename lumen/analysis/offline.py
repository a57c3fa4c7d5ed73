"""Offline use of the live chain: run exactly the causal per-hop analysis over a file.

Layer: analysis. Threads: the caller's.

`analyze_signal` feeds a signal hop by hop through the same `Analyzer` the listen process
runs (same frontend, same model, same tracker, same order), as fast as the CPU allows, and
collects what a show would have seen: the beats and downbeats the tracker emitted (at their
predicted times), the tempo curve, confidence, energy, bands and the model's activations.
Nothing looks ahead: each output at time t depends only on audio before t.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lumen.analysis.analyzer import Analyzer
from lumen.analysis.base import AnalysisSpec
from lumen.analysis.beat.neural import NeuralBeatTracker
from lumen.features import BANDS, IDX, SECTIONS

__all__ = ["OFFLINE_ANALYZERS", "AnalysisResult", "analyze_file", "analyze_signal", "load_audio"]

#: The chain `lumen analyze` runs.
OFFLINE_ANALYZERS: tuple[str, ...] = ("levels", "onset", "beat", "mood", "structure")
#: Tempo range of offline analysis, BPM.
TEMPO_RANGE_BPM: tuple[float, float] = (55.0, 215.0)


@dataclass
class AnalysisResult:
    """What the live chain saw over a file.

    Attributes
    ----------
    sr : int, Hz
    duration_s : float, s
    hop_s : float, s
    times : ndarray, shape (n_hops,)
        End time of each hop, s from the start of the file.
    beats, downbeats : list of float, s
        Beats (downbeats) as emitted live, at their predicted times.
    features : ndarray, shape (n_hops, N_FIELDS)
        Every hop's feature vector.
    activations : ndarray, shape (n_hops, 2)
        Beat and downbeat activations of the model (empty if the chain has no "beat").
    cpu_s : float, s
        Process CPU time spent analysing.
    """

    sr: int
    duration_s: float
    hop_s: float
    times: npt.NDArray[np.float64]
    beats: list[float]
    downbeats: list[float]
    features: npt.NDArray[np.float64]
    activations: npt.NDArray[np.float32]
    cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """One feature over time (a name of `lumen.features.FIELDS`)."""
        return self.features[:, IDX[name]]

    def tempo_curve(self, every_s: float = 0.5) -> list[list[float]]:
        """``[t, bpm]`` every ``every_s`` seconds (bpm 0 while unknown)."""
        step = max(1, int(round(every_s / self.hop_s)))
        bpm = self.column("bpm")
        return [[round(float(self.times[k]), 3), round(float(bpm[k]), 2)] for k in range(step - 1, len(self.times), step)]

    def to_json(self) -> dict[str, Any]:
        """The document `lumen analyze --json` writes."""
        step = max(1, int(round(0.1 / self.hop_s)))
        idx = range(step - 1, len(self.times), step)
        conf = self.column("confidence")
        energy = self.column("energy")
        bands = np.stack([self.column(b) for b in BANDS], axis=1)
        return {
            "version": 1,
            "sr": self.sr,
            "duration_s": round(self.duration_s, 4),
            "analyzers": list(self.extra.get("analyzers", [])),
            "beats": [round(t, 4) for t in self.beats],
            "downbeats": [round(t, 4) for t in self.downbeats],
            "tempo": self.tempo_curve(),
            "confidence": [[round(float(self.times[k]), 3), round(float(conf[k]), 3)] for k in idx],
            "energy": [[round(float(self.times[k]), 3), round(float(energy[k]), 3)] for k in idx],
            "bands": {"names": list(BANDS), "values": [[round(float(self.times[k]), 3), *(round(float(v), 3) for v in bands[k])] for k in idx]},
            "mood": self.mood_curve(),
            "sections": self.sections(),
            "events": self.events(),
            "cpu_ms_per_s": round(1000.0 * self.cpu_s / max(self.duration_s, 1e-9), 3),
        }

    def mood_curve(self, every_s: float = 0.25) -> list[list[float]]:
        """``[t, valence, arousal]`` every ``every_s`` seconds (0.5, 0.5 without a mood analyzer)."""
        step = max(1, int(round(every_s / self.hop_s)))
        v, a = self.column("valence"), self.column("arousal")
        return [[round(float(self.times[k]), 3), round(float(v[k]), 3), round(float(a[k]), 3)] for k in range(step - 1, len(self.times), step)]

    def sections(self) -> list[list[Any]]:
        """``[t, label]`` at the start and at every change of the section label."""
        codes = self.column("section").astype(int)
        out: list[list[Any]] = []
        last = -1
        for k, c in enumerate(codes):
            if c != last:
                out.append([round(float(self.times[k]), 3), SECTIONS[c] if 0 <= c < len(SECTIONS) else "none"])
                last = c
        return out

    def events(self) -> list[list[Any]]:
        """``[t, name]`` of every structure event (section_change, build_start, drop, break), in time order."""
        out: list[list[Any]] = []
        names = (("section_change", "section_change"), ("build_start", "build_start"), ("drop", "drop"), ("break_start", "break"))
        cols = [(label, self.column(field)) for field, label in names]
        for k in range(len(self.times)):
            for label, col in cols:
                if col[k] >= 0.5:
                    out.append([round(float(self.times[k]), 3), label])
        return out


def load_audio(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Read an audio file as float32 ``(n_frames, n_channels)`` with libsndfile.

    Raises
    ------
    lumen.errors.DeviceError
        The file is missing or not a format libsndfile reads.
    """
    import soundfile as sf

    from lumen.errors import DeviceError

    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as e:
        raise DeviceError(f"{path}: cannot read audio: {e}") from e
    return np.ascontiguousarray(x), int(sr)


class _Replay:
    """Stands in for `StreamingBeatModel`: gives recorded activations, one row per hop."""

    def __init__(self, activations: npt.NDArray[np.floating[Any]]) -> None:
        a = np.asarray(activations, dtype=np.float32)
        if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
            raise ValueError(f"activations must have shape (hops, 2), got {a.shape}")
        self.rows = np.clip(np.nan_to_num(a), 0.0, 1.0)
        self.act = np.zeros(2, np.float32)
        self.k = 0

    def reset(self) -> None:
        self.k = 0
        self.act[:] = 0.0

    def step(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        self.act[:] = self.rows[min(self.k, self.rows.shape[0] - 1)]
        self.k += 1
        return self.act


def analyze_signal(
    audio: npt.NDArray[np.floating[Any]],
    sr: int,
    names: Sequence[str] = OFFLINE_ANALYZERS,
    *,
    tempo_min_bpm: float = TEMPO_RANGE_BPM[0],
    tempo_max_bpm: float = TEMPO_RANGE_BPM[1],
    activations: npt.NDArray[np.floating[Any]] | None = None,
) -> AnalysisResult:
    """Run the live chain over ``audio`` (``(n,)`` or ``(n, channels)``, any sample rate).

    The tempo range defaults to `TEMPO_RANGE_BPM` (wider than a show's default, since a file
    may be anything from a ballad to drum and bass).

    ``activations`` (shape ``(hops, 2)``: beat, downbeat per 10 ms hop), if given, replace the
    beat model's: the tracker runs on them (a diagnostic: whose tracker does better with the same
    evidence; ``benchmarks/beat_swap.py``). Hops past their end repeat the last row.

    Non-finite samples are replaced by 0 and the signal is clipped to ±1, as a sound card
    would deliver it. Files shorter than one hop give an empty result.
    """
    if sr < 1000:
        raise ValueError(f"sample rate {sr} Hz is too low to analyse")
    x = np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(x, -1.0, 1.0, out=x)
    spec = AnalysisSpec.for_rate(sr, tempo_min_bpm, tempo_max_bpm)
    an = Analyzer(spec, names)
    tracker = next((a for a in an.chain if isinstance(a, NeuralBeatTracker)), None)
    if activations is not None:
        if tracker is None:
            raise ValueError("activations given but the chain has no beat tracker")
        tracker.model = _Replay(activations)  # type: ignore[assignment]
        tracker.act = tracker.model.act
    h = spec.hop_length
    n = x.shape[0] // h
    feats = np.zeros((n, an.vec.size))
    acts = np.zeros((n, 2), np.float32) if tracker is not None else np.zeros((0, 2), np.float32)
    times = (np.arange(n) + 1) * h / sr
    beats: list[float] = []
    downs: list[float] = []
    c0 = time.process_time()
    for k in range(n):
        v = an.process(x[k * h : (k + 1) * h], float(times[k]))
        feats[k] = v
        if tracker is not None:
            acts[k] = tracker.act
            ev = tracker.event
            if ev is not None:
                beats.append(ev.t)
                if ev.downbeat:
                    downs.append(ev.t)
        elif v[IDX["beat"]] >= 0.5:
            beats.append(float(times[k]))
            if v[IDX["downbeat"]] >= 0.5:
                downs.append(float(times[k]))
    cpu = time.process_time() - c0
    return AnalysisResult(
        sr=sr, duration_s=x.shape[0] / sr, hop_s=h / sr, times=times, beats=beats, downbeats=downs, features=feats,
        activations=acts, cpu_s=cpu, extra={"analyzers": list(names)},
    )


def analyze_file(path: str | Path, names: Sequence[str] = OFFLINE_ANALYZERS) -> AnalysisResult:
    """`analyze_signal` over an audio file."""
    x, sr = load_audio(path)
    return analyze_signal(x, sr, names)


def write_json(result: AnalysisResult, path: str | Path) -> None:
    """Write `AnalysisResult.to_json` to ``path``."""
    Path(path).write_text(json.dumps(result.to_json(), indent=1) + "\n")


def plot(result: AnalysisResult, audio: npt.NDArray[np.float32], path: str | Path, title: str = "") -> None:
    """Waveform, activations, beat grid and tempo, as a PNG (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    fig, axes = plt.subplots(4, 1, figsize=(12, 8.5), sharex=True, gridspec_kw={"height_ratios": [1.2, 1.2, 1, 1]})
    step = max(1, mono.size // 20000)
    tw = np.arange(0, mono.size, step) / result.sr
    axes[0].plot(tw, mono[::step], lw=0.4, color="0.3")
    axes[0].set_ylabel("waveform")
    if result.activations.size:
        axes[1].plot(result.times, result.activations[:, 0], lw=0.8, label="beat activation")
        axes[1].plot(result.times, result.activations[:, 1], lw=0.8, label="downbeat activation")
    axes[1].plot(result.times, result.column("confidence"), lw=1.0, color="k", alpha=0.6, label="confidence")
    axes[1].set_ylim(0, 1.05)
    axes[1].legend(loc="upper right", fontsize=7)
    for ax in axes[:2]:
        for b in result.beats:
            ax.axvline(b, color="tab:green", lw=0.6, alpha=0.6)
        for b in result.downbeats:
            ax.axvline(b, color="tab:red", lw=1.2, alpha=0.8)
    bpm = result.column("bpm")
    axes[2].plot(result.times, np.where(bpm > 0, bpm, np.nan), color="tab:purple")
    axes[2].set_ylabel("tempo, bpm")
    # Mood trajectory over a ribbon of the sections the structure analyzer reported.
    ax = axes[3]
    colors = {"none": "0.92", "intro": "#c6dbef", "verse": "#c7e9c0", "build": "#fdd0a2", "drop": "#fc9272", "break": "#dadaeb", "outro": "#d9d9d9"}
    secs = result.sections()
    for i, (t0, label) in enumerate(secs):
        t1 = secs[i + 1][0] if i + 1 < len(secs) else result.duration_s
        ax.axvspan(t0, t1, ymin=0.0, ymax=0.12, color=colors.get(label, "0.9"), lw=0)
        if label != "none":
            ax.text(t0, 0.02, label, fontsize=7, va="bottom")
    ax.plot(result.times, result.column("valence"), lw=1.0, color="tab:blue", label="valence")
    ax.plot(result.times, result.column("arousal"), lw=1.0, color="tab:red", label="arousal")
    ax.plot(result.times, result.column("novelty"), lw=0.7, color="0.4", alpha=0.7, label="novelty")
    for t, name in result.events():
        if name == "drop":
            ax.axvline(t, color="tab:red", lw=1.5, ls="--")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mood, sections")
    ax.legend(loc="upper right", fontsize=7)
    axes[3].set_xlabel("time, s")
    fig.suptitle(title or "lumen analyze: beats (green), downbeats (red); mood and sections")
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
