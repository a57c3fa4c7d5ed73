"""`lumen train beat`: build labelled audio, compute the frontend, train the beat model.

Layer: analysis (training tooling). Threads: the caller's (data generation uses worker
processes).

Data (all generated here; nothing is downloaded and ``shared/data`` is never read):

* General MIDI pieces from `lumen.analysis.train.compose`, rendered with FluidSynth (in process,
  each soundfont loaded once: `lumen.analysis.train.synth`) and the
  FluidR3 GM soundfont (Debian ``fluidsynth`` + ``fluid-soundfont-gm``), mostly at 22.05 kHz,
  some at 44.1 kHz.
  A member may render a share of them (and of the freedoom excerpts) with another soundfont
  (``alt_soundfonts``: Debian's ``timgm6mb-soundfont`` and ``musescore-general-soundfont-small``
  for the shipped "sf" member), so it hears other instruments playing the same kinds of music.
* lumen's own dance music (`lumen.audio.music.MusicGenerator`) at random tempos, swings,
  meters, arrangements and seeds, at 44.1 or 48 kHz.
* 30 s excerpts of real recorded songs with beat-aligned tempo maps, when Debian's
  ``fretsonfire-songs-*`` packages are installed (`lumen.analysis.train.recorded`; their
  downbeat loss is masked).
* 30 s excerpts, at random offsets, of human-composed General MIDI music from the Doom WADs of
  Debian's ``freedoom`` package (`lumen.analysis.train.wadmidi`), rendered like the generated
  pieces; beats and downbeats come from each file's tempo map and time signatures. Half of
  them play at a random tempo (x0.8..1.25, by scaling the file's tempo map, so the pitch
  stays). The pieces in `lumen.analysis.train.wadmidi.HELD_OUT` are never trained on; a few
  excerpts of them give the validation loss ``loss_val_wad``.
* Excerpts, rendered the same way, of the General MIDI music files of other Debian games
  (``simutrans-data``: pieces in many styles written for the game, swing and blues among
  them; ``freedink-data``), labelled and filtered by the same rules
  (`lumen.analysis.train.wadmidi.find_file_pieces`); excerpts of its `HELD_OUT_FILES` give ``loss_val_files``.
* Chord charts played by the grooves of Musical MIDI Accompaniment (Debian ``mma``;
  `lumen.analysis.train.mmagen`): a band's drums, bass and comping in a hundred styles.

Each clip is augmented at random: gain (-24..+6 dB), a low and a high shelf EQ (±9 dB),
additive white or pink noise (SNR 10..40 dB), a synthetic room reverb (exponentially decaying
noise, RT60 0.2..1.6 s), and occasionally a speed change by resampling (pitch and tempo
together, labels scaled). Targets are per hop: 1 on the hop holding a beat (downbeat), 0.5 on
its two neighbours, 0 elsewhere.

The model is trained on random 15 s excerpts with Adam and binary cross-entropy (positive
weight on beats), seeded, on the CPU. `train_beat` writes ``beat_gru.pt`` (state dict) and
``beat_gru.json`` (model shape, training configuration, data summary, losses) into the output
folder.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import signal

from lumen.analysis.base import AnalysisSpec
from lumen.analysis.beat.model import N_INPUT, BeatFrontend, ModelConfig, build_model, member_file
from lumen.analysis.train.compose import compose
from lumen.analysis.train.midi import crop_midi, seconds_to_tick, tick_to_seconds
from lumen.analysis.train.synth import render_midi

__all__ = [
    "CANDIDATE_CONFIGS", "MEMBER_CONFIGS", "TCN_MODEL", "BeatTrainConfig", "Clip", "SOUNDFONTS", "find_soundfont", "make_clip", "make_dataset", "slowest_first", "train_beat",
    "train_members",
]

#: Where Debian puts the General MIDI soundfont.
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
#: Where Debian puts other soundfonts (`BeatTrainConfig.alt_soundfonts` names files in these).
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3")
#: Debian packages of the other soundfonts a member may render with, by file name.
SOUNDFONT_PACKAGES = {"TimGM6mb.sf2": "timgm6mb-soundfont", "MuseScore_General_Lite.sf3": "musescore-general-soundfont-small"}


@dataclass(frozen=True)
class BeatTrainConfig:
    """Everything that decides the shipped weights (stored beside them)."""

    member: str = "gm"  # which ensemble member (`lumen.analysis.beat.model.MEMBERS`): names the weights file
    seed: int = 1
    n_midi: int = 700
    n_dance: int = 100
    n_recorded: int = 0  # excerpts of recorded songs (needs fretsonfire-songs-*; see recorded.py)
    n_wad: int = 0  # excerpts of freedoom's General MIDI music (needs freedoom; see wadmidi.py)
    n_files: int = 0  # excerpts of other games' General MIDI music files (simutrans-data, freedink-data; see wadmidi.py)
    n_mma: int = 0  # accompaniment charts played by MMA's grooves (needs mma; see mmagen.py)
    clip_s: float = 30.0
    steps: int = 2600
    batch: int = 16
    excerpt_s: float = 15.0
    lr: float = 3e-3
    weight_decay: float = 1e-5
    pos_weight_beat: float = 4.0
    pos_weight_down: float = 8.0
    # Other General MIDI soundfonts (file names in SOUNDFONT_DIRS): this share of the MIDI
    # renders (generated and freedoom) uses one of them, picked at random, instead of FluidR3.
    alt_soundfonts: tuple[str, ...] = ()
    alt_soundfont_share: float = 0.0
    model: ModelConfig = field(default_factory=ModelConfig)


#: The configuration of each member of the shipped ensemble (`lumen train beat --member NAME`).
MEMBER_CONFIGS: dict[str, BeatTrainConfig] = {
    "gm": BeatTrainConfig(),
    "wad": BeatTrainConfig(member="wad", n_midi=600, n_dance=100, n_wad=400),
    "sf": BeatTrainConfig(
        member="sf", seed=2, n_midi=600, n_dance=100, n_wad=400,
        alt_soundfonts=("TimGM6mb.sf2", "MuseScore_General_Lite.sf3"), alt_soundfont_share=0.6,
    ),
}

#: The TCN tried in place of each member's GRU (``lumen train beat --arch tcn``, with the member's
#: data): 48 channels, nine layers, dilations 1 to 256, dropout 0.15 while training. Not shipped
#: yet: see ``benchmarks/RESULTS.md`` (2026-12-07).
TCN_MODEL = ModelConfig(arch="tcn", dropout=0.15)

#: Members trained and measured but not shipped (`lumen train beat --member NAME` trains one into
#: ``--out``; ``benchmarks/beat_accuracy.py --weights DIR`` scores a folder holding it): "band"
#: also heard other games' MIDI music and MMA's band grooves. In place of "sf" it raised beat F on
#: the development set (0.822 to 0.829) and on shared/data (0.677 to 0.687), but lowered downbeat
#: F, tempo Acc2 and the held-out recording (0.734 to 0.697), and its ensemble grew sure of a
#: kickless intro later, so "sf" stays. "gm2" heard generated pieces, dance clips, other games'
#: MIDI music and MMA grooves, no freedoom: in place of "sf" it raised dev beat F (0.822 to 0.839)
#: and tempo Acc2 (0.895 to 0.921), but on shared/data beat F only went from 0.677 to 0.680 while
#: downbeat F (0.338 to 0.309) and the held-out recording (0.734 to 0.689) fell, so "sf" stays.
CANDIDATE_CONFIGS: dict[str, BeatTrainConfig] = {
    "band": BeatTrainConfig(
        member="band", seed=3, n_midi=400, n_dance=80, n_wad=300, n_files=250, n_mma=350,
        alt_soundfonts=("TimGM6mb.sf2",), alt_soundfont_share=0.3,
    ),
    "gm2": BeatTrainConfig(member="gm2", seed=4, n_midi=500, n_dance=100, n_files=150, n_mma=300),
}


@dataclass
class Clip:
    """One training clip: frontend frames and per-hop targets."""

    x: npt.NDArray[np.float16]  # (n, n_input)
    y: npt.NDArray[np.float16]  # (n, 2)
    kind: str
    fps: float
    has_downbeats: bool = True


_SONGS: list[Any] = []


def _recorded_songs() -> list[Any]:
    """The recorded training songs, decoded once per process."""
    if not _SONGS:
        from lumen.analysis.train.recorded import find_songs

        _SONGS.extend(find_songs())
    return _SONGS


#: Excerpts of freedoom's held-out pieces built for the validation loss when ``n_wad > 0``.
N_WAD_VAL = 18
#: Excerpts of the held-out MIDI files built for the validation loss when ``n_files > 0``.
N_FILES_VAL = 12

_PIECES: dict[tuple[str, bool], list[Any]] = {}


def _pieces(source: str, held_out: bool) -> list[Any]:
    """The usable pieces of ``source`` ("wad": freedoom's; "files": other games' MIDI files),
    training or held-out ones, read once per process."""
    if (source, held_out) not in _PIECES:
        from lumen.analysis.train.wadmidi import find_file_pieces, find_pieces

        _PIECES[source, held_out] = (find_pieces if source == "wad" else find_file_pieces)(held_out=held_out)
    return _PIECES[source, held_out]


def _wad_pieces(held_out: bool = False) -> list[Any]:
    """freedoom's usable pieces (training or held-out ones)."""
    return _pieces("wad", held_out)


def _file_pieces(held_out: bool = False) -> list[Any]:
    """The usable General MIDI music files of other games (training or held-out ones)."""
    return _pieces("files", held_out)


def _wad_excerpt(
    rng: np.random.Generator, piece_index: int, clip_s: float, sf2: str, held_out: bool
) -> tuple[npt.NDArray[np.float32], int, npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    """A rendered excerpt of a freedoom piece: ``(audio, sr, beats_s, downbeats_s, kind)``."""
    pieces = _wad_pieces(held_out)
    piece = pieces[piece_index % len(pieces)]
    return _excerpt(rng, piece, clip_s, sf2, f"{'wad-held-out' if held_out else 'wad'}:{piece.name}")


def _excerpt(
    rng: np.random.Generator, piece: Any, clip_s: float, sf2: str, kind: str, *, opening: bool = False
) -> tuple[npt.NDArray[np.float32], int, npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    """A rendered excerpt of a labelled MIDI piece (`lumen.analysis.train.wadmidi.WadPiece`), half
    of them at a random tempo: ``(audio, sr, beats_s, downbeats_s, kind)``. ``opening``: always
    the piece's first ``clip_s``."""
    t = piece.timing
    scale = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))) if rng.random() < 0.5 else 1.0
    tempo = [(tick, bpm * scale) for tick, bpm in t.tempo]
    dur_s = piece.duration_s / scale
    # Some excerpts open the piece (intros, pickups); the rest start anywhere.
    start_s = 0.0 if opening or rng.random() < 0.15 else float(rng.uniform(0.0, max(0.0, dur_s - clip_s)))
    t0 = seconds_to_tick(start_s, tempo, ppq=t.ppq)
    t1 = seconds_to_tick(start_s + clip_s, tempo, ppq=t.ppq) + 1
    start_s = float(tick_to_seconds([t0], tempo, ppq=t.ppq)[0])
    midi = crop_midi(piece.midi, t0, t1, tempo_scale=scale)
    sr = int(rng.choice([22050, 22050, 22050, 44100]))
    with tempfile.TemporaryDirectory(prefix="lumen-train-") as tmp:
        path = os.path.join(tmp, "piece.mid")
        with open(path, "wb") as f:
            f.write(midi)
        audio = render_midi(path, sr, sf2, max_s=clip_s)
    beats = piece.beats_s / scale
    downs = piece.downbeats_s / scale
    end_s = start_s + clip_s
    beats = beats[(beats >= start_s) & (beats < end_s)] - start_s
    downs = downs[(downs >= start_s) & (downs < end_s)] - start_s
    return audio, sr, beats, downs, kind


def find_soundfont() -> str:
    """Path of an installed General MIDI soundfont; raises FileNotFoundError if none."""
    for p in SOUNDFONTS:
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no General MIDI soundfont found: install the Debian package fluid-soundfont-gm")


def find_alt_soundfont(name: str) -> str:
    """Path of the soundfont file ``name`` in `SOUNDFONT_DIRS`; raises FileNotFoundError if absent."""
    for d in SOUNDFONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    pkg = SOUNDFONT_PACKAGES.get(name, "that provides it")
    raise FileNotFoundError(f"soundfont {name} not found in {', '.join(SOUNDFONT_DIRS)}: install the Debian package {pkg}")


def _shelf(x: npt.NDArray[np.float32], sr: int, f0: float, gain_db: float, high: bool) -> npt.NDArray[np.float32]:
    """RBJ shelving biquad."""
    a = 10 ** (gain_db / 40.0)
    w0 = 2 * math.pi * f0 / sr
    alpha = math.sin(w0) / 2 * math.sqrt(2.0)
    c = math.cos(w0)
    s = 2 * math.sqrt(a) * alpha
    if high:
        b = [a * ((a + 1) + (a - 1) * c + s), -2 * a * ((a - 1) + (a + 1) * c), a * ((a + 1) + (a - 1) * c - s)]
        den = [(a + 1) - (a - 1) * c + s, 2 * ((a - 1) - (a + 1) * c), (a + 1) - (a - 1) * c - s]
    else:
        b = [a * ((a + 1) - (a - 1) * c + s), 2 * a * ((a - 1) - (a + 1) * c), a * ((a + 1) - (a - 1) * c - s)]
        den = [(a + 1) + (a - 1) * c + s, -2 * ((a - 1) + (a + 1) * c), (a + 1) + (a - 1) * c - s]
    return np.asarray(signal.lfilter(b, den, x), dtype=np.float32)


def augment(x: npt.NDArray[np.float32], sr: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Random EQ, reverb, noise and gain (see the module docstring)."""
    peak = float(np.max(np.abs(x))) or 1.0
    x = x / peak * 0.9
    if rng.random() < 0.6:
        x = _shelf(x, sr, rng.uniform(80, 300), rng.uniform(-9, 9), high=False)
        x = _shelf(x, sr, rng.uniform(2000, 8000), rng.uniform(-9, 9), high=True)
    if rng.random() < 0.35:
        rt60 = rng.uniform(0.2, 1.6)
        n = int(rt60 * sr)
        ir = rng.standard_normal(n).astype(np.float32) * np.exp(-6.9 * np.arange(n) / n).astype(np.float32)
        ir[0] = 0.0
        wet = signal.fftconvolve(x, ir)[: x.size].astype(np.float32)
        wet *= np.sqrt(np.mean(x**2) / (np.mean(wet**2) + 1e-12))
        mix = rng.uniform(0.1, 0.5)
        x = (1 - mix) * x + mix * wet
    if rng.random() < 0.35:
        snr_db = rng.uniform(10, 40)
        noise = rng.standard_normal(x.size).astype(np.float32)
        if rng.random() < 0.5:  # pink-ish: one-pole lowpass of white noise
            noise = np.asarray(signal.lfilter([0.05], [1, -0.95], noise), dtype=np.float32)
        noise *= np.sqrt(np.mean(x**2) / (np.mean(noise**2) + 1e-12)) * 10 ** (-snr_db / 20)
        x = x + noise
    x = x / (float(np.max(np.abs(x))) or 1.0) * 10 ** (rng.uniform(-24, 0) / 20)
    if rng.random() < 0.15:
        x = np.clip(x * 10 ** (rng.uniform(0, 6) / 20), -1, 1)
    return np.asarray(x, dtype=np.float32)


def _targets(n: int, fps: float, beats: npt.NDArray[np.float64], downbeats: npt.NDArray[np.float64]) -> npt.NDArray[np.float16]:
    y = np.zeros((n, 2), dtype=np.float32)
    for col, times in ((0, beats), (1, downbeats)):
        # hop i covers audio up to (i + 1) / fps: a beat at t belongs to hop floor(t * fps)
        idx = np.floor(np.asarray(times) * fps).astype(np.int64)
        for d, v in ((-1, 0.5), (1, 0.5), (0, 1.0)):
            j = idx + d
            j = j[(j >= 0) & (j < n)]
            y[j, col] = np.maximum(y[j, col], v)
    return y.astype(np.float16)


def make_clip(
    index: int,
    seed: int,
    n_midi: int,
    clip_s: float,
    sf2: str,
    n_mels: int = N_INPUT // 2,
    n_dance: int | None = None,
    n_recorded: int | None = None,
    held_out: bool = False,
    alt_sf2: tuple[str, ...] = (),
    alt_share: float = 0.0,
    source: str = "",
) -> Clip:
    """Clip number ``index`` of the data set for ``seed`` (a pure function of its arguments).

    Indices ``0 .. n_midi-1`` are General MIDI pieces, the next ``n_dance`` lumen's dance
    music, the next ``n_recorded`` (all the rest when it is None) excerpts of the recorded
    songs (`lumen.analysis.train.recorded`), and any after that excerpts of freedoom's music
    (`lumen.analysis.train.wadmidi`; of its held-out pieces when ``held_out``). Dance clips
    and freedoom excerpts draw from their own random streams, numbered from the first clip of
    their kind, so their content does not depend on how many clips of other kinds come before
    them (a data set with fewer MIDI clips is a subset of one with more). A MIDI render uses one
    of the soundfonts ``alt_sf2`` instead of ``sf2`` with probability ``alt_share``, drawn from a
    stream of its own (so the rest of the clip is the same whichever soundfont plays it).

    ``source`` "files" makes clip ``index`` an excerpt of the other games' MIDI files (of the
    held-out ones when ``held_out``) and "mma" an MMA accompaniment chart
    (`lumen.analysis.train.mmagen`), each numbered from 0 in a random stream of its own.
    """
    if alt_sf2 and alt_share > 0.0:
        pick = np.random.default_rng([seed, 0x5F2, int(held_out), index])
        if pick.random() < alt_share:
            sf2 = alt_sf2[int(pick.integers(0, len(alt_sf2)))]
    rng = np.random.default_rng([seed, index])
    has_down = True
    n_before_wad = n_midi + (n_dance or 0) + (n_recorded or 0)
    if source == "files":
        rng = np.random.default_rng([seed, 0xF11E, int(held_out), index])
        pieces = _file_pieces(held_out)
        piece = pieces[index % len(pieces)]
        audio, sr, beats, downs, kind = _excerpt(rng, piece, clip_s, sf2, f"{'files-held-out' if held_out else 'files'}:{piece.name}")
    elif source == "mma":
        from lumen.analysis.train.mmagen import mma_piece

        rng = np.random.default_rng([seed, 0x3AA, index])
        piece, style = mma_piece(rng, clip_s + 4.0)
        audio, sr, beats, downs, kind = _excerpt(rng, piece, clip_s, sf2, f"mma:{style}")
    elif source:
        raise ValueError(f"unknown clip source {source!r}")
    elif n_dance is not None and n_recorded is not None and index >= n_before_wad:
        k = index - n_before_wad
        rng = np.random.default_rng([seed, 0x5AD, int(held_out), k])
        audio, sr, beats, downs, kind = _wad_excerpt(rng, k, clip_s, sf2, held_out)
    elif n_dance is not None and index >= n_midi + n_dance and _recorded_songs():
        songs = _recorded_songs()
        song = songs[(index - n_midi - n_dance) % len(songs)]
        sr = song.sr
        start = float(rng.uniform(0.0, max(0.0, song.audio.size / sr - clip_s)))
        audio = song.audio[int(start * sr) : int((start + clip_s) * sr)].copy()
        beats = song.beats[(song.beats >= start) & (song.beats < start + clip_s)] - start
        downs = np.zeros(0)
        kind = f"recorded:{song.name}"
        has_down = False
    elif index < n_midi:
        piece = compose(rng, clip_s)
        sr = int(rng.choice([22050, 22050, 22050, 44100]))
        with tempfile.TemporaryDirectory(prefix="lumen-train-") as tmp:
            mid = os.path.join(tmp, "piece.mid")
            piece.write(mid)
            audio = render_midi(mid, sr, sf2, max_s=clip_s)  # the clip is the piece's first clip_s
        beats, downs, kind = piece.beats_s, piece.downbeats_s, f"midi:{piece.style}"
    else:
        from lumen.audio.music import MusicGenerator, MusicParams, Section

        rng = np.random.default_rng([seed, 0xDA, index - n_midi])
        labels = ("intro", "verse", "build", "drop", "break", "outro")
        arr = tuple(Section(str(rng.choice(labels, p=[0.1, 0.25, 0.15, 0.35, 0.1, 0.05])), int(rng.choice([2, 4, 8]))) for _ in range(6))
        bpb = int(rng.choice([4, 4, 4, 4, 3]))
        bpm = float(np.exp(rng.uniform(np.log(75), np.log(185))))
        changes: tuple[tuple[int, float], ...] = ()
        if rng.random() < 0.2:
            changes = ((int(rng.integers(2, 8)), float(np.clip(bpm * rng.uniform(0.8, 1.2), 70, 190))),)
        params = MusicParams(
            bpm=bpm, swing=float(rng.choice([0.0, 0.0, 0.2, 0.4])), beats_per_bar=bpb, key=int(rng.integers(0, 12)),
            mode=str(rng.choice(["major", "minor"])), seed=int(rng.integers(0, 1 << 30)), arrangement=arr, tempo_changes=changes,
            loop=False, gain_db=-6.0,
        )
        sr = int(rng.choice([44100, 48000]))
        gen = MusicGenerator(params, sr=sr)
        audio = gen.render_seconds(clip_s).mean(axis=1).astype(np.float32)
        beats, downs, kind = gen.beat_times(clip_s), gen.downbeat_times(clip_s), "dance"
    audio = audio[: int(clip_s * sr)]
    if rng.random() < 0.15:  # speed change by resampling: pitch and tempo together
        up, down = (int(rng.choice([9, 10, 11, 12])), 10)
        audio = np.asarray(signal.resample_poly(audio, down, up), dtype=np.float32)  # plays faster when up > down
        factor = down / up
        beats, downs = beats * factor, downs * factor
    audio = augment(audio, sr, rng)
    spec = AnalysisSpec.for_rate(sr)
    fe = BeatFrontend(spec, n_mels)
    x = fe.frames(audio)
    fps = spec.frame_rate_hz
    y = _targets(x.shape[0], fps, beats, downs)
    return Clip(x=x.astype(np.float16), y=y, kind=kind, fps=fps, has_downbeats=has_down)


def _make_clip_star(args: tuple[int, int, int, float, str, int, int, int, bool, tuple[str, ...], float, str]) -> Clip:
    return make_clip(*args)


def make_dataset(
    cfg: BeatTrainConfig, *, workers: int = 2, progress: Callable[[int, int], None] | None = None
) -> list[Clip]:
    """Every clip of ``cfg``'s data set, built in ``workers`` processes (deterministic).

    When ``cfg.n_wad > 0``, `N_WAD_VAL` excerpts of freedoom's held-out pieces follow the
    training clips (kind ``wad-held-out:<piece>``), for validation only. Then come ``cfg.n_files``
    excerpts of other games' MIDI files and `N_FILES_VAL` of their held-out pieces (kind
    ``files-held-out:<piece>``, validation only), then ``cfg.n_mma`` MMA charts.
    """
    sf2 = find_soundfont() if cfg.n_midi or cfg.n_wad or cfg.n_files or cfg.n_mma else ""
    alt = tuple(find_alt_soundfont(name) for name in cfg.alt_soundfonts) if cfg.alt_soundfont_share > 0.0 else ()
    n_rec = cfg.n_recorded if _recorded_songs() else 0
    if cfg.n_wad and not _wad_pieces():
        raise FileNotFoundError("n_wad > 0 but no freedoom music found: install the Debian package freedoom")
    if cfg.n_files and not (_file_pieces() and _file_pieces(True)):
        raise FileNotFoundError("n_files > 0 but no game MIDI music found: install the Debian packages simutrans-data and freedink-data")
    if cfg.n_mma and shutil.which("mma") is None:
        raise FileNotFoundError("n_mma > 0 but mma is not installed: install the Debian package mma")
    n_before_wad = cfg.n_midi + cfg.n_dance + n_rec
    n_wad = cfg.n_wad + (N_WAD_VAL if cfg.n_wad else 0)
    n = n_before_wad + n_wad
    jobs = [
        (
            i if i < n_before_wad + cfg.n_wad else n_before_wad + (i - n_before_wad - cfg.n_wad),
            cfg.seed, cfg.n_midi, cfg.clip_s, sf2, cfg.model.n_input // 2, cfg.n_dance, n_rec, i >= n_before_wad + cfg.n_wad,
            alt, cfg.alt_soundfont_share, "",
        )
        for i in range(n)
    ]
    common = (cfg.seed, cfg.n_midi, cfg.clip_s, sf2, cfg.model.n_input // 2, cfg.n_dance, n_rec)
    if cfg.n_files:
        jobs += [(k, *common, False, alt, cfg.alt_soundfont_share, "files") for k in range(cfg.n_files)]
        jobs += [(k, *common, True, alt, cfg.alt_soundfont_share, "files") for k in range(N_FILES_VAL)]
    jobs += [(k, *common, False, alt, cfg.alt_soundfont_share, "mma") for k in range(cfg.n_mma)]
    n = len(jobs)
    clips: list[Clip] = []
    if workers <= 1:
        for k, j in enumerate(jobs):
            clips.append(_make_clip_star(j))
            if progress:
                progress(k + 1, n)
        return clips
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for k, clip in enumerate(pool.map(_make_clip_star, jobs, chunksize=4)):
            clips.append(clip)
            if progress:
                progress(k + 1, n)
    return clips


def _sources(cfg: BeatTrainConfig) -> str:
    """What the training audio was, for the config stored beside the weights."""
    parts = [
        (cfg.n_midi, "generated General MIDI pieces (lumen.analysis.train.compose) rendered by FluidSynth with FluidR3_GM"
         + (f" ({1 - cfg.alt_soundfont_share:.0%}) or {' or '.join(cfg.alt_soundfonts)}" if cfg.alt_soundfont_share > 0.0 else "")),
        (cfg.n_dance, "lumen.audio.music dance tracks"),
        (cfg.n_recorded, "excerpts of recorded songs from Debian's fretsonfire-songs-* packages"),
        (cfg.n_wad, "excerpts of the General MIDI music in Debian's freedoom WADs (lumen.analysis.train.wadmidi)"),
        (cfg.n_files, "excerpts of the General MIDI music of Debian's simutrans-data and freedink-data (lumen.analysis.train.wadmidi)"),
        (cfg.n_mma, "chord charts played by the grooves of Debian's mma (lumen.analysis.train.mmagen)"),
    ]
    return "; ".join(text for n, text in parts if n)


def train_beat(
    cfg: BeatTrainConfig,
    out_dir: Path,
    *,
    workers: int = 2,
    progress: Callable[[str, int, int, dict[str, float]], None] | None = None,
    torch_threads: int = 1,
) -> dict[str, Any]:
    """Build the data, train, and write the member's weights and configuration into ``out_dir``.

    The files are named after ``cfg.member`` (`lumen.analysis.beat.model.member_file`): member
    "gm" writes ``beat_gru.pt`` and ``beat_gru.json``, "wad" ``beat_gru_wad.pt`` and ``.json``,
    and so on.

    Parameters
    ----------
    cfg : BeatTrainConfig
    out_dir : Path
    workers : int
        Processes for data generation.
    progress : callable(stage, done, total, info), optional
        Called as data is built ("data") and per training step ("train").
    torch_threads : int
        Threads torch may use while training (restored after). A GRU's steps are sequential,
        so a second thread costs more in hand-offs than it brings: on the 2-core dev machine a
        training step took 1.15 s with two threads and 0.96 s with one (and two members
        trained side by side, one thread each, took 1.03 and 1.12 s per step).

    Returns
    -------
    dict
        The metadata written to the JSON file.
    """
    import torch

    threads_before = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        return _train(cfg, out_dir, workers, progress, torch_threads)
    finally:
        torch.set_num_threads(threads_before)


def _train(
    cfg: BeatTrainConfig, out_dir: Path, workers: int, progress: Callable[[str, int, int, dict[str, float]], None] | None, torch_threads: int
) -> dict[str, Any]:
    import torch

    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 7)
    clips = make_dataset(cfg, workers=workers, progress=(lambda d, n: progress("data", d, n, {})) if progress else None)
    t_data = time.perf_counter() - t0
    val_wad = [c for c in clips if c.kind.startswith("wad-held-out:")]
    val_files = [c for c in clips if c.kind.startswith("files-held-out:")]
    clips = [c for c in clips if not c.kind.startswith(("wad-held-out:", "files-held-out:"))]
    # Hold out every 20th clip to watch for overfitting (generated data, never shared/data).
    val = [c for i, c in enumerate(clips) if i % 20 == 19] or clips[-1:]
    train = [c for i, c in enumerate(clips) if i % 20 != 19]
    allx = np.concatenate([c.x for c in train]).astype(np.float32)
    mean = allx.mean(axis=0)
    std = allx.std(axis=0) + 1e-3
    del allx
    model = build_model(cfg.model)
    sd = model.state_dict()
    sd["mean"].copy_(torch.from_numpy(mean))
    sd["std"].copy_(torch.from_numpy(std))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    pos_w = torch.tensor([cfg.pos_weight_beat, cfg.pos_weight_down])
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_w)
    elem_loss = torch.nn.BCEWithLogitsLoss(pos_weight=pos_w, reduction="none")
    mb = np.ones((cfg.batch, 1, 2), np.float32)  # 0 masks a clip's downbeat loss
    fps = 100.0
    n_ex = int(cfg.excerpt_s * fps)
    lengths = np.array([c.x.shape[0] for c in train])
    p = lengths / lengths.sum()
    xb = np.zeros((cfg.batch, n_ex, cfg.model.n_input), np.float32)
    yb = np.zeros((cfg.batch, n_ex, 2), np.float32)
    losses: list[float] = []
    model.train()
    for step in range(cfg.steps):
        for b in range(cfg.batch):
            c = train[int(rng.choice(len(train), p=p))]
            n = c.x.shape[0]
            # Excerpts start anywhere, including the very beginning (the model must lock from cold).
            s = 0 if rng.random() < 0.2 or n <= n_ex else int(rng.integers(0, n - n_ex))
            m = min(n_ex, n - s)
            mb[b, 0, 1] = 1.0 if c.has_downbeats else 0.0
            xb[b, :m] = c.x[s : s + m]
            yb[b, :m] = c.y[s : s + m]
            xb[b, m:] = 0.0
            yb[b, m:] = 0.0
        logits, _ = model(torch.from_numpy(xb))
        mask = torch.from_numpy(mb)
        loss = (elem_loss(logits, torch.from_numpy(yb)) * mask).sum() / (mask.sum() * n_ex)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress:
            progress("train", step + 1, cfg.steps, {"loss": float(np.mean(losses[-50:]))})
    model.eval()
    with torch.inference_mode():

        def val_loss(cs: list[Clip]) -> float:
            return float(np.mean([
                float(loss_fn(model(torch.from_numpy(c.x.astype(np.float32))[None])[0], torch.from_numpy(c.y.astype(np.float32))[None]))
                for c in cs
            ])) if cs else float("nan")

        vl = val_loss(val)
        vl_kind = {k: val_loss([c for c in val if c.kind.split(":")[0] == k]) for k in sorted({c.kind.split(":")[0] for c in val})}
        vl_wad = val_loss(val_wad)
        vl_files = val_loss(val_files)
    out_dir.mkdir(parents=True, exist_ok=True)
    wfile = out_dir / member_file(cfg.member)
    torch.save(model.state_dict(), wfile)
    n_params = sum(int(t.numel()) for t in model.parameters())
    kinds: dict[str, int] = {}
    for c in clips:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    meta: dict[str, Any] = {
        "model": asdict(cfg.model),
        "n_params": n_params,
        "train": {k: v for k, v in asdict(cfg).items() if k != "model"},
        "data": {
            "clips": len(clips),
            "hours": round(sum(c.x.shape[0] for c in clips) / fps / 3600.0, 3),
            "kinds": dict(sorted(kinds.items())),
            "sources": _sources(cfg),
            "wad_held_out": sorted({c.kind.split(":", 1)[1] for c in val_wad}),
            **({"files_held_out": sorted({c.kind.split(":", 1)[1] for c in val_files})} if val_files else {}),
        },
        "loss_train_last100": round(float(np.mean(losses[-100:])), 5),
        "loss_val": round(vl, 5),
        "loss_val_by_kind": {k: round(v, 5) for k, v in vl_kind.items()},
        "loss_val_wad": round(vl_wad, 5) if val_wad else None,
        **({"loss_val_files": round(vl_files, 5)} if val_files else {}),
        "seconds_data": round(t_data, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
        "torch_threads": torch_threads,
    }
    wfile.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


#: What a member's training reports to `train_members`' caller: (member, stage, done, total, info).
MemberProgress = Callable[[str, str, int, int, dict[str, float]], None]


def _train_member(cfg: BeatTrainConfig, out_dir: Path, workers: int, events: Any) -> dict[str, Any]:
    """One member, in a worker process of `train_members`; progress goes to the ``events`` queue."""

    def progress(stage: str, done: int, total: int, info: dict[str, float]) -> None:
        if stage == "data" or done % 5 == 0 or done == total:  # a few events per second at most
            events.put((cfg.member, stage, done, total, info))

    return train_beat(cfg, out_dir, workers=workers, progress=progress)


def slowest_first(cfgs: Sequence[BeatTrainConfig]) -> list[int]:
    """Indices of ``cfgs``, the most work first: rendering (a render with the compressed .sf3
    soundfont costs several times one with FluidR3, so renders with other soundfonts count
    triple) plus training steps (a step costs about as much as rendering one clip).

    Examples
    --------
    >>> slowest_first([MEMBER_CONFIGS["gm"], MEMBER_CONFIGS["wad"], MEMBER_CONFIGS["sf"]])
    [2, 1, 0]
    """

    def work(cfg: BeatTrainConfig) -> float:
        renders = cfg.n_midi + cfg.n_wad + cfg.n_files + cfg.n_mma
        return renders * (1.0 + 2.0 * cfg.alt_soundfont_share) + cfg.n_dance + cfg.n_recorded + cfg.steps

    return sorted(range(len(cfgs)), key=lambda k: -work(cfgs[k]))


def train_members(
    cfgs: Sequence[BeatTrainConfig], out_dir: Path, *, jobs: int = 2, workers: int = 2, progress: MemberProgress | None = None
) -> list[dict[str, Any]]:
    """Train several members, ``jobs`` at a time, each in its own process with one torch thread.

    With ``jobs`` equal to the number of cores, the ensemble trains in about ``1 / jobs`` of the
    time it takes one member after another (see `train_beat`'s ``torch_threads``). The
    ``workers`` data-generation processes are shared out between the jobs. Results are in the
    order of ``cfgs``; a member that fails raises here once the others are done.
    """
    if jobs <= 1 or len(cfgs) <= 1:
        out = []
        for cfg in cfgs:
            report = (lambda stage, done, total, info, m=cfg.member: progress(m, stage, done, total, info)) if progress else None
            out.append(train_beat(cfg, out_dir, workers=workers, progress=report))
        return out
    ctx = multiprocessing.get_context("spawn")  # no inherited torch or OpenMP state in the workers
    with ctx.Manager() as manager:
        events = manager.Queue()
        per_job = max(1, workers // jobs)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            # The slowest member starts first, so it is not the one left running alone at the end.
            futures = {k: pool.submit(_train_member, cfgs[k], out_dir, per_job, events) for k in slowest_first(cfgs)}
            pending = set(futures.values())
            while True:
                while True:
                    try:
                        event = events.get_nowait()
                    except queue.Empty:
                        break
                    if progress:
                        progress(*event)
                if not pending:
                    break
                _done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        return [futures[k].result() for k in range(len(cfgs))]
