"""Training data and the training loop of the mood model (`lumen.analysis.mood`).

Layer: analysis (training tooling; never imported by the live chain). Threads: the caller's
(data generation uses worker processes).

There is no mood data set to download, so every label is known by construction:

* **MIDI clips** (`lumen.analysis.train.compose`, rendered with FluidSynth): valence is the
  piece's mode (major 1, natural minor 0). Arousal is a fixed formula of what was written:
  onset density (note starts per second, drums included), tempo and mean effective velocity
  (note velocity times channel volume). To spread arousal on purpose, some pieces are made
  *soft* (velocities scaled down), *sparse* (drums removed, notes thinned) or *loud*.
* **Dance clips** (`lumen.audio.music`): valence is the song's mode; arousal follows the
  arrangement's known intensity curve (`lumen.audio.music.SECTION_INTENSITY`: intro and break
  calm, outro a little more, verse in the middle, a build rising from verse to drop level, the
  drop at the peak), smoothed causally like the features.
* **Non-music clips**: white and pink noise, speech-like bursts (band-passed noise, or a
  gliding harmonic "voice" with breath noise), single sustained tones (pure or with harmonics, with or without vibrato) and tones over noise. They
  teach the model's third output, music-ness, which gates the confidence; their valence and
  arousal are not trained.

General MIDI programs in `HELD_OUT_PROGRAMS` never sound in training pieces, so `evaluate` can
test on unseen instruments (and unseen seeds).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import signal

from lumen.analysis.base import AnalysisSpec, HopContext
from lumen.analysis.frontend import Frontend
from lumen.analysis.mood import (
    CONFIG_FILE,
    FEATURE_NAMES,
    MODEL_EVERY,
    N_FEATURES,
    SILENCE_POWER,
    STATS_TAU_S,
    WEIGHTS_FILE,
    MoodModelConfig,
    MoodStats,
    build_model,
)
from lumen.analysis.train.beat import augment, find_soundfont
from lumen.analysis.train.compose import compose
from lumen.analysis.train.midi import Track
from lumen.analysis.train.synth import render_midi
from lumen.audio.music import SECTION_INTENSITY

__all__ = ["HELD_OUT_PROGRAMS", "MoodClip", "MoodTrainConfig", "evaluate", "make_clip", "make_dataset", "train_mood"]

F32 = npt.NDArray[np.float32]

#: General MIDI programs reserved for evaluation (never heard in training pieces).
HELD_OUT_PROGRAMS: tuple[int, ...] = (3, 7, 11, 20, 23, 27, 31, 44, 45, 53, 57, 63, 67, 70, 72, 76, 86, 93)
_TRAIN_PROGRAMS: tuple[int, ...] = tuple(p for p in range(96) if p not in HELD_OUT_PROGRAMS and p not in range(112, 128))

_SECTIONS = ("intro", "verse", "build", "drop", "break", "outro")


@dataclass(frozen=True)
class MoodTrainConfig:
    """What `train_mood` builds and how it trains (stored with the weights)."""

    seed: int = 1
    n_midi: int = 450
    n_dance: int = 200
    n_noise: int = 70
    midi_s: float = 24.0
    dance_s: float = 70.0
    noise_s: float = 14.0
    epochs: int = 80
    batch: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    model: MoodModelConfig = field(default_factory=MoodModelConfig)


@dataclass
class MoodClip:
    """Model inputs and labels of one clip.

    Attributes
    ----------
    x : ndarray, shape (n, N_FEATURES), float32
        Model inputs, one per model run (every `MODEL_EVERY` hops after the warm-up).
    y : ndarray, shape (n, 3), float32
        Valence, arousal and music-ness labels (0..1).
    m : ndarray, shape (n, 3), float32
        1 where a label is known.
    kind : str
    info : dict
    """

    x: F32
    y: F32
    m: F32
    kind: str
    info: dict[str, Any]


def stream_features(audio: F32, sr: int) -> tuple[F32, npt.NDArray[np.int64]]:
    """Run `MoodStats` over a mono signal exactly as the live analyzer does.

    Returns
    -------
    x : ndarray, shape (n, N_FEATURES), float32
        The summary at every `MODEL_EVERY`-th hop once two seconds of sound have been heard.
    hops : ndarray, shape (n,), int64
        The hop index (from 0) of each row.
    """
    spec = AnalysisSpec.for_rate(sr)
    ctx = HopContext(spec)
    fe = Frontend(spec)
    st = MoodStats(spec)
    h = spec.hop_length
    warm = int(round(2.0 * spec.frame_rate_hz))
    rows: list[F32] = []
    hops: list[int] = []
    buf = np.zeros(N_FEATURES, dtype=np.float32)
    x = np.ascontiguousarray(audio, dtype=np.float32)
    for i in range(x.shape[0] // h):
        fe.push(ctx, x[i * h : (i + 1) * h])
        s = ctx.samples
        ms = float(np.dot(s, s)) / h
        if ms > SILENCE_POWER:
            st.push(ctx.mag, s, ms)
        if (i + 1) % MODEL_EVERY == 0 and st.n >= warm:
            st.summary(buf)
            rows.append(buf.copy())
            hops.append(i)
    if not rows:
        return np.zeros((0, N_FEATURES), np.float32), np.zeros(0, np.int64)
    return np.stack(rows), np.asarray(hops, dtype=np.int64)


def _remap_programs(tracks: list[Track], rng: np.random.Generator, held_out: bool) -> None:
    pool = HELD_OUT_PROGRAMS if held_out else _TRAIN_PROGRAMS
    for tr in tracks:
        if tr.channel == 9:
            continue
        if held_out or tr.program in HELD_OUT_PROGRAMS:
            tr.program = int(rng.choice(pool))


def _midi_clip(rng: np.random.Generator, clip_s: float, sf2: str, held_out: bool) -> tuple[F32, int, dict[str, Any]]:
    """Render a composed piece; returns audio, rate and the labels' ingredients."""
    piece = compose(rng, clip_s)
    _remap_programs(piece.tracks, rng, held_out)
    variant = str(rng.choice(["plain", "plain", "soft", "sparse", "soft_sparse", "loud"]))
    if variant in ("soft", "soft_sparse"):
        g = rng.uniform(0.3, 0.65)
        for tr in piece.tracks:
            tr.notes = [replace(n, velocity=max(4, int(n.velocity * g))) for n in tr.notes]
    if variant in ("sparse", "soft_sparse"):
        keep = rng.uniform(0.25, 0.6)
        piece.tracks = [t for t in piece.tracks if t.channel != 9]
        for tr in piece.tracks:
            tr.notes = [n for n in tr.notes if rng.random() < keep]
        piece.tracks = [t for t in piece.tracks if t.notes] or piece.tracks[:1]
    if variant == "loud":
        for tr in piece.tracks:
            tr.volume = min(127, tr.volume + 20)
            tr.notes = [replace(n, velocity=min(127, int(n.velocity * rng.uniform(1.15, 1.4)))) for n in tr.notes]
    sr = int(rng.choice([44100, 48000]))
    with tempfile.TemporaryDirectory(prefix="lumen-mood-") as tmp:
        mid = os.path.join(tmp, "piece.mid")
        piece.write(mid)
        audio = render_midi(mid, sr, sf2, max_s=clip_s)
    audio = audio[: int(clip_s * sr)]
    # Labels by construction from the score.
    from lumen.analysis.train.midi import tick_to_seconds

    starts: list[float] = []
    eff_vel: list[float] = []
    for tr in piece.tracks:
        if not tr.notes:
            continue
        t = tick_to_seconds(np.array([n.tick for n in tr.notes]), piece.tempo)
        inside = t < clip_s
        starts.extend(np.round(t[inside], 2).tolist())
        eff_vel.extend((np.array([n.velocity for n in tr.notes])[inside] * tr.volume / 127.0).tolist())
    density = len(set(starts)) / clip_s
    vel = float(np.mean(eff_vel)) if eff_vel else 0.0
    bpm = float(piece.info["bpm"])  # type: ignore[arg-type]
    arousal = (
        0.4 * float(np.clip(math.log(max(density, 0.5) / 1.0) / math.log(16.0), 0.0, 1.0))
        + 0.25 * float(np.clip(math.log(bpm / 50.0) / math.log(200.0 / 50.0), 0.0, 1.0))
        + 0.35 * float(np.clip((vel - 25.0) / 75.0, 0.0, 1.0))
    )
    info = {"minor": bool(piece.info["minor"]), "arousal": arousal, "density": density, "vel": vel, "bpm": bpm,
            "style": piece.style, "variant": variant}  # fmt: skip
    return audio, sr, info


def _dance_song(rng: np.random.Generator, held_out: bool) -> tuple[Any, int]:
    from lumen.audio.music import MusicGenerator, MusicParams, Section

    arr: tuple[Section, ...]
    if held_out:  # a typical arrangement: every section, realistic lengths
        arr = (Section("intro", 8), Section("verse", 8), Section("build", 4), Section("drop", 8), Section("break", 8),
               Section("build", 4), Section("drop", 8), Section("outro", 8))  # fmt: skip
    else:
        arr = tuple(Section(str(rng.choice(_SECTIONS)), int(rng.choice([4, 8, 8, 16]))) for _ in range(7))
    params = MusicParams(
        bpm=float(np.exp(rng.uniform(np.log(90), np.log(175)))), swing=float(rng.choice([0.0, 0.0, 0.2])),
        key=int(rng.integers(0, 12)), mode=str(rng.choice(["major", "minor"])), seed=int(rng.integers(0, 1 << 30)),
        arrangement=arr, loop=False, gain_db=float(rng.uniform(-12.0, -3.0)),
    )  # fmt: skip
    sr = int(rng.choice([44100, 48000]))
    return MusicGenerator(params, sr=sr), sr


def _dance_clip(rng: np.random.Generator, clip_s: float, held_out: bool) -> tuple[F32, int, Any]:
    gen, sr = _dance_song(rng, held_out)
    dur = min(clip_s, gen.song_duration_s) if not held_out else gen.song_duration_s
    audio = gen.render_seconds(dur).mean(axis=1).astype(np.float32)
    return audio, sr, gen


def _noise_clip(rng: np.random.Generator, clip_s: float) -> tuple[F32, int, str]:
    """Audio that is not music: noise, speech-like bursts, sustained tones."""
    sr = int(rng.choice([44100, 48000]))
    n = int(clip_s * sr)
    t = np.arange(n) / sr
    kind = str(rng.choice(["white", "pink", "speech", "voiced", "voiced", "tone", "tone", "tone_noise", "hum"]))
    white = rng.standard_normal(n)
    if kind == "white":
        x = white
    elif kind == "pink":
        x = signal.lfilter([0.05], [1, -0.95], white)
    elif kind == "voiced":  # voiced syllables: a gliding harmonic tone plus breath, in bursts
        f0_t = rng.uniform(90, 260) * (1.0 + rng.uniform(0.05, 0.25) * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 6.3)))
        phase = 2 * np.pi * np.cumsum(f0_t) / sr
        voiced = np.sum([np.sin(k * phase) / k for k in range(1, int(rng.integers(2, 8)))], axis=0)
        voiced = voiced + rng.uniform(0.1, 0.5) * white
        env = np.zeros(n)
        pos = 0
        while pos < n:
            on = int(rng.uniform(0.08, 0.3) * sr)
            m = min(on, n - pos)
            env[pos : pos + m] = np.hanning(2 * on)[:m]
            pos += on + int(rng.uniform(0.05, 0.6) * sr)
        x = env * voiced
    elif kind == "speech":  # syllables: band-passed noise bursts at 3-7 Hz with pauses
        x = np.zeros(n)
        pos = 0
        while pos < n:
            dur = int(rng.uniform(0.08, 0.3) * sr)
            lo = rng.uniform(150, 700)
            b, a = signal.butter(2, [lo, lo * rng.uniform(2.5, 6.0)], btype="band", fs=sr)
            seg = signal.lfilter(b, a, rng.standard_normal(dur)) * np.hanning(dur)
            x[pos : pos + dur] += seg[: n - pos]
            pos += dur + int(rng.uniform(0.02, 0.25 if rng.random() < 0.8 else 0.8) * sr)
    else:
        f0 = float(np.exp(rng.uniform(np.log(70), np.log(1200))))
        vib = rng.uniform(0, 0.01) * np.sin(2 * np.pi * rng.uniform(4, 7) * t) if rng.random() < 0.4 else 0.0
        phase = 2 * np.pi * f0 * np.cumsum(np.ones(n) + vib) / sr
        n_h = 1 if kind == "hum" else int(rng.integers(1, 9))
        x = np.sum([(rng.uniform(0.2, 1.0) / k) * np.sin(k * phase) for k in range(1, n_h + 1)], axis=0)
        if kind == "tone_noise":
            x = x + white * rng.uniform(0.05, 0.5) * np.std(x)
    x = np.asarray(x, dtype=np.float64)
    x = x / (np.max(np.abs(x)) + 1e-12) * 10 ** (rng.uniform(-40, -1) / 20)
    return x.astype(np.float32), sr, kind


def make_clip(kind: str, index: int, seed: int, clip_s: float, sf2: str, held_out: bool = False) -> MoodClip:
    """Clip ``index`` of ``kind`` ("midi", "dance", "noise") for ``seed``: a pure function of its arguments."""
    rng = np.random.default_rng([seed, {"midi": 0, "dance": 1, "noise": 2}[kind], index, int(held_out)])
    if kind == "midi":
        audio, sr, info = _midi_clip(rng, clip_s, sf2, held_out)
        if not held_out and rng.random() < 0.5:
            audio = augment(audio, sr, rng)
        x, _hops = stream_features(audio, sr)
        y = np.tile(np.array([0.0 if info["minor"] else 1.0, info["arousal"], 1.0], np.float32), (x.shape[0], 1))
        m = np.ones_like(y)
        return MoodClip(x, y, m, f"midi:{info['style']}", info)
    if kind == "dance":
        audio, sr, gen = _dance_clip(rng, clip_s, held_out)
        if not held_out and rng.random() < 0.4:
            audio = augment(audio, sr, rng)
        x, hops = stream_features(audio, sr)
        hop_s = AnalysisSpec.for_rate(sr).hop_s
        n_hops = audio.shape[0] // AnalysisSpec.for_rate(sr).hop_length
        t = (np.arange(n_hops) + 1) * hop_s
        inten = (gen.intensity_at(t) - 1.0) / 2.0  # the known intensity curve, 0..1
        # causal smoothing with the features' time constant
        a = 1.0 - math.exp(-hop_s / STATS_TAU_S)
        sm = signal.lfilter([a], [1.0, a - 1.0], inten, zi=[inten[0] * (1 - a)])[0]
        aro = (0.1 + 0.8 * sm[hops]).astype(np.float32)
        val = 1.0 if gen.params.mode == "major" else 0.0
        y = np.stack([np.full(x.shape[0], val, np.float32), aro, np.ones(x.shape[0], np.float32)], axis=1)
        info = {"mode": gen.params.mode, "sections": [(s.label, s.bars) for s in gen.params.arrangement]}
        return MoodClip(x, y, np.ones_like(y), "dance", info)
    audio, sr, nk = _noise_clip(rng, clip_s)
    x, _hops = stream_features(audio, sr)
    y = np.full((x.shape[0], 3), 0.5, np.float32)
    y[:, 2] = 0.0
    m = np.zeros_like(y)
    m[:, 2] = 1.0
    return MoodClip(x, y, m, f"noise:{nk}", {})


def _make_clip_star(args: tuple[str, int, int, float, str, bool]) -> MoodClip:
    return make_clip(*args)


def _jobs(cfg: MoodTrainConfig, sf2: str) -> list[tuple[str, int, int, float, str, bool]]:
    jobs = [("midi", i, cfg.seed, cfg.midi_s, sf2, False) for i in range(cfg.n_midi)]
    jobs += [("dance", i, cfg.seed, cfg.dance_s, sf2, False) for i in range(cfg.n_dance)]
    jobs += [("noise", i, cfg.seed, cfg.noise_s, sf2, False) for i in range(cfg.n_noise)]
    return jobs


def make_dataset(cfg: MoodTrainConfig, *, workers: int = 2) -> list[MoodClip]:
    """Every clip of the data set for ``cfg`` (MIDI, then dance, then non-music)."""
    return list(_run_jobs(_jobs(cfg, find_soundfont()), workers))


def _run_jobs(jobs: list[tuple[str, int, int, float, str, bool]], workers: int) -> Iterator[MoodClip]:
    if workers <= 1:
        for j in jobs:
            yield _make_clip_star(j)
        return
    with ProcessPoolExecutor(max_workers=workers) as ex:
        yield from ex.map(_make_clip_star, jobs, chunksize=2)


def train_mood(
    out_dir: Path,
    seed: int = 1,
    *,
    config: MoodTrainConfig | None = None,
    workers: int = 2,
    progress: bool = True,
    clips: list[MoodClip] | None = None,
) -> dict[str, Any]:
    """Build the data, train, and write ``mood_mlp.pt`` and ``mood_mlp.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
    seed : int
        Seeds the data and the training (overrides ``config.seed``).
    config : MoodTrainConfig, optional
    workers : int
        Processes for data generation.
    progress : bool
        Show a `rich` progress bar (data, then training epochs).
    clips : list of MoodClip, optional
        A data set built before (`make_dataset`) with the same configuration; skips building.

    Returns
    -------
    dict
        The metadata written to the JSON file.
    """
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cfg = replace(config or MoodTrainConfig(), seed=seed)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 11)
    sf2 = find_soundfont()
    jobs = _jobs(cfg, sf2)
    prog = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} {task.fields[info]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), disable=not progress)  # fmt: skip
    given = clips is not None
    clips = list(clips) if clips is not None else []
    with prog:
        t_data = prog.add_task("mood: generating audio", total=len(jobs), info="")
        t_train = prog.add_task("mood: training", total=cfg.epochs, info="")
        if not given:
            for c in _run_jobs(jobs, workers):
                clips.append(c)
                prog.update(t_data, advance=1)
        else:
            prog.update(t_data, completed=len(jobs))
        seconds_data = time.perf_counter() - t0
        # Hold out every 10th clip for validation (generated data only).
        tr = [c for i, c in enumerate(clips) if i % 10 != 9 and c.x.shape[0]]
        va = [c for i, c in enumerate(clips) if i % 10 == 9 and c.x.shape[0]]
        xtr = np.concatenate([c.x for c in tr])
        ytr = np.concatenate([c.y for c in tr])
        mtr = np.concatenate([c.m for c in tr])
        xva = torch.from_numpy(np.concatenate([c.x for c in va]))
        yva = torch.from_numpy(np.concatenate([c.y for c in va]))
        mva = torch.from_numpy(np.concatenate([c.m for c in va]))
        # Balance: clips contribute equally however long they are.
        wtr = np.concatenate([np.full(c.x.shape[0], 1.0 / c.x.shape[0], np.float32) for c in tr])
        wtr *= wtr.size / wtr.sum()
        model = build_model(cfg.model)
        sd = model.state_dict()
        sd["mean"].copy_(torch.from_numpy(xtr.mean(axis=0)))
        sd["std"].copy_(torch.from_numpy(xtr.std(axis=0) + 1e-3))
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, xtr.shape[0] // cfg.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.1)
        bce = torch.nn.BCEWithLogitsLoss(reduction="none")
        X, Y, M, W = (torch.from_numpy(a) for a in (xtr, ytr, mtr, wtr))
        noise_std = torch.from_numpy(0.02 * (xtr.std(axis=0) + 1e-3))

        def loss_of(xb: torch.Tensor, yb: torch.Tensor, mb: torch.Tensor, wb: torch.Tensor) -> Any:
            el = bce(model(xb), yb) * mb * wb[:, None]
            return el.sum() / (mb * wb[:, None]).sum().clamp_min(1.0)

        loss_val = float("nan")
        for ep in range(cfg.epochs):
            model.train()
            perm = torch.from_numpy(rng.permutation(X.shape[0]))
            tot = 0.0
            for k in range(steps_per_epoch):
                idx = perm[k * cfg.batch : (k + 1) * cfg.batch]
                xb = X[idx] + torch.randn(idx.shape[0], X.shape[1]) * noise_std  # small input noise
                loss = loss_of(xb, Y[idx], M[idx], W[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                tot += float(loss.detach())
            model.eval()
            with torch.no_grad():
                loss_val = float(loss_of(xva, yva, mva, torch.ones(xva.shape[0])))
            prog.update(t_train, advance=1, info=f"loss {tot / steps_per_epoch:.4f} val {loss_val:.4f}")
    model.eval()
    with torch.no_grad():
        pv = torch.sigmoid(model(xva)).numpy()
    yv, mv = yva.numpy(), mva.numpy()
    music = mv[:, 0] > 0
    val_acc = float(np.mean((pv[music, 0] > 0.5) == (yv[music, 0] > 0.5))) if music.any() else float("nan")
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out_dir / WEIGHTS_FILE)
    kinds: dict[str, int] = {}
    for c in clips:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    meta: dict[str, Any] = {
        "model": asdict(cfg.model),
        "features": list(FEATURE_NAMES),
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "train": {k: v for k, v in asdict(cfg).items() if k != "model"},
        "data": {
            "clips": len(clips), "examples": int(xtr.shape[0] + xva.shape[0]),
            "hours": round((cfg.n_midi * cfg.midi_s + cfg.n_dance * cfg.dance_s + cfg.n_noise * cfg.noise_s) / 3600.0, 3),
            "kinds": dict(sorted(kinds.items())), "held_out_programs": list(HELD_OUT_PROGRAMS),
        },  # fmt: skip
        "loss_val": round(loss_val, 5),
        "valence_acc_val_windows": round(val_acc, 4),
        "seconds_data": round(seconds_data, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    from scipy.stats import spearmanr

    r = spearmanr(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return float(r.statistic)


def evaluate(seed: int = 1000, n_midi: int = 40, n_dance: int = 8, *, workers: int = 2,
             held_out_instruments: bool = True) -> dict[str, Any]:  # fmt: skip
    """Score the shipped model through the live analyzer on held-out generated music.

    MIDI pieces use unseen seeds and only `HELD_OUT_PROGRAMS` (or, with
    ``held_out_instruments=False``, the training instruments); dance songs use unseen seeds
    and a full intro/verse/build/drop/break/build/drop/outro arrangement.

    Returns
    -------
    dict
        ``valence_acc`` (major/minor, per clip, mean valence over the clip's second half);
        ``arousal_spearman_dance`` (section-mean arousal vs `SECTION_INTENSITY`, pooled);
        ``arousal_spearman_dance_per_song`` (median over songs); ``arousal_spearman_midi``
        (clip-mean arousal vs the construction formula); and the raw numbers.
    """
    jobs: list[tuple[str, int, int, float, bool]] = [("midi", i, seed, 24.0, held_out_instruments) for i in range(n_midi)]
    jobs += [("dance", i, seed, 0.0, True) for i in range(n_dance)]
    if workers <= 1:
        res = [_eval_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            res = list(ex.map(_eval_one, jobs))
    midi = [r for r in res if r["kind"] == "midi"]
    dance = [r for r in res if r["kind"] == "dance"]
    correct = [r["correct"] for r in res]
    sec_a = [a for r in dance for a in r["section_arousal"]]
    sec_i = [i for r in dance for i in r["section_intensity"]]
    per_song = [_spearman(r["section_arousal"], r["section_intensity"]) for r in dance]
    out = {
        "valence_acc": float(np.mean(correct)),
        "valence_acc_midi": float(np.mean([r["correct"] for r in midi])) if midi else float("nan"),
        "valence_acc_dance": float(np.mean([r["correct"] for r in dance])) if dance else float("nan"),
        "arousal_spearman_dance": _spearman(sec_a, sec_i) if dance else float("nan"),
        "arousal_spearman_dance_per_song": float(np.median(per_song)) if dance else float("nan"),
        "arousal_spearman_midi": _spearman([r["arousal"] for r in midi], [r["label_arousal"] for r in midi]) if midi else float("nan"),
        "mean_confidence_music": float(np.mean([r["confidence"] for r in res])),
        "clips": res,
    }
    return out


def _eval_one(job: tuple[str, int, int, float, bool]) -> dict[str, Any]:
    from lumen.analysis.analyzer import analyze_array
    from lumen.features import IDX

    kind, i, seed, clip_s, held_out = job
    rng = np.random.default_rng([seed, 7, i])
    if kind == "midi":
        audio, sr, info = _midi_clip(rng, clip_s, find_soundfont(), held_out=held_out)
        v = analyze_array(audio, sr, ("mood",))
        half = v[v.shape[0] // 2 :]
        val = float(half[:, IDX["valence"]].mean())
        return {"kind": "midi", "minor": info["minor"], "valence": val, "correct": (val > 0.5) == (not info["minor"]),
                "arousal": float(half[:, IDX["arousal"]].mean()), "label_arousal": info["arousal"],
                "confidence": float(half[:, IDX["mood_confidence"]].mean()), "style": info["style"], "variant": info["variant"]}  # fmt: skip
    audio, sr, gen = _dance_clip(rng, clip_s, held_out=True)
    v = analyze_array(audio, sr, ("mood",))
    hop_s = AnalysisSpec.for_rate(sr).hop_s
    t = (np.arange(v.shape[0]) + 1) * hop_s
    secs = gen.sections(gen.song_duration_s)
    sa: list[float] = []
    si: list[float] = []
    for k, (t0, label) in enumerate(secs):
        t1 = secs[k + 1][0] if k + 1 < len(secs) else gen.song_duration_s
        sel = (t >= t0 + 3.0) & (t < t1)  # skip the first 3 s: the statistics need time
        if sel.sum() > 10:
            sa.append(float(v[sel, IDX["arousal"]].mean()))
            si.append(SECTION_INTENSITY[label])
    half = v[v.shape[0] // 4 :]
    val = float(half[:, IDX["valence"]].mean())
    major = gen.params.mode == "major"
    return {"kind": "dance", "major": major, "valence": val, "correct": (val > 0.5) == major,
            "section_arousal": sa, "section_intensity": si, "sections": [lab for _, lab in secs],
            "confidence": float(half[:, IDX["mood_confidence"]].mean())}  # fmt: skip
