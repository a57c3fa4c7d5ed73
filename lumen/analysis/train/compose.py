"""Generated General MIDI pieces with exact beat and downbeat labels, for training.

Layer: analysis (training tooling). Threads: any (pure functions of a seeded generator).

`compose` writes a random short piece: a style (rock, four-on-the-floor, shuffle, waltz,
breakbeat, half-time, latin, jazz, boogie, no-drums band, solo piano, strings), a meter of 2 to
6 quarter notes, a tempo map (steady, ramp, step or rubato), a chord progression in a random key
and mode, bass, comping, melody and drums with fills, crashes, breakdowns without drums and
human micro-timing. The labels are the quarter-note grid of the tempo map (the beat level of
the MIDI files lumen is evaluated on) and the first beat of each bar.

The pieces are random, not good: what matters is that the timbres, densities, syncopations and
timing deviations cover what a beat tracker meets, and that the labels are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lumen.analysis.train.midi import Note, Track, tick_to_seconds, write_midi

__all__ = ["Piece", "STYLES", "compose"]

PPQ = 480

STYLES: tuple[str, ...] = (
    "rock", "four", "shuffle", "waltz", "breakbeat", "halftime", "latin", "jazz", "boogie",
    "band_nodrums", "piano", "strings", "reggae", "polka", "chip", "funk", "ballad", "swing_band",
)  # fmt: skip

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Chord loops as scale degrees, each starting on the tonic so the piece states its mode (the
# mood model learns major/minor from these; vi-IV-I-V would be i-VI-III-VII of the relative minor).
_PROGS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (0, 3, 0, 4), (0, 4, 3, 4), (0, 1, 4, 0), (0, 5, 1, 4), (0, 6, 3, 4))

# General MIDI drum keys.
KICK, RIM, SNARE, CLAP, HAT, PEDAL, OPEN, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51
TOM_L, TOM_M, TOM_H, TAMB, COWBELL, SHAKER, CONGA_H, CONGA_L, CLAVES = 45, 47, 50, 54, 56, 70, 63, 64, 75

_BASS_PROGS = (32, 33, 34, 35, 36, 37, 38, 39, 43, 58, 87)
_COMP_PROGS = (0, 1, 2, 4, 5, 6, 16, 17, 18, 19, 24, 25, 26, 27, 28, 29, 30, 46, 48, 49, 50, 52, 61, 62, 88, 89, 90, 91, 94, 11, 12)
_LEAD_PROGS = (40, 41, 56, 57, 59, 60, 64, 65, 66, 68, 71, 73, 74, 75, 78, 79, 80, 81, 82, 83, 84, 85, 11, 13, 8, 9, 10, 105, 21, 22)


@dataclass
class Piece:
    """A generated piece and its labels.

    Attributes
    ----------
    style : str
    meter : int
        Quarter notes per bar.
    tracks : list of Track
    tempo : list of (tick, bpm)
    beats_s, downbeats_s : ndarray, float64, seconds
        Every quarter note, and the first quarter of every bar, up to `duration_s`.
    duration_s : float
    """

    style: str
    meter: int
    tracks: list[Track]
    tempo: list[tuple[int, float]]
    beats_s: npt.NDArray[np.float64]
    downbeats_s: npt.NDArray[np.float64]
    duration_s: float
    info: dict[str, object] = field(default_factory=dict)

    def write(self, path: str) -> None:
        """Write the piece as a MIDI file."""
        write_midi(path, self.tracks, self.tempo, ppq=PPQ, time_signature=(self.meter, 4))


def _tempo_map(rng: np.random.Generator, bpm: float, n_beats: int, kind: str, meter: int) -> list[tuple[int, float]]:
    """Tempo changes at quarter-note (or eighth-note) ticks."""
    if kind == "steady":
        return [(0, bpm)]
    if kind == "step":
        bar = int(rng.integers(3, max(4, n_beats // meter - 2)))
        return [(0, bpm), (bar * meter * PPQ, float(np.clip(bpm * rng.choice([0.8, 0.87, 0.93, 1.07, 1.15, 1.25]), 50, 220)))]
    if kind == "ramp":
        end = float(np.clip(bpm * rng.uniform(0.75, 1.3), 50, 220))
        a, b = sorted(rng.integers(0, n_beats, 2))
        b = max(b, a + 4)
        out = []
        for k in range(n_beats + 1):
            x = float(np.clip((k - a) / (b - a), 0.0, 1.0))
            out.append((k * PPQ, bpm * (end / bpm) ** x))
        return out
    # rubato: a smooth random tempo curve per eighth note, plus slowing at phrase ends
    depth = rng.uniform(0.05, 0.22)
    n = 2 * n_beats + 2
    noise = np.convolve(rng.standard_normal(n + 16), np.hanning(16) / np.hanning(16).sum() * 4.0, mode="same")[8 : 8 + n]
    phrase = 4 * meter * 2
    out = []
    for k in range(n):
        pos = (k % phrase) / phrase
        rit = 1.0 - 0.25 * max(0.0, pos - 0.85) / 0.15 * rng.uniform(0.3, 1.0) if pos > 0.85 else 1.0
        out.append((k * PPQ // 2, float(np.clip(bpm * np.exp(depth * noise[k]) * rit, 35, 240))))
    return out


def _scale_pitch(scale: tuple[int, ...], root: int, degree: int) -> int:
    octave, d = divmod(degree, 7)
    return root + 12 * octave + scale[d]


class _Writer:
    """Collects notes with humanized timing (ticks) and velocity."""

    def __init__(self, rng: np.random.Generator, jitter_ticks: float, vel_jitter: float) -> None:
        self.rng = rng
        self.jitter = jitter_ticks
        self.vel_jitter = vel_jitter

    def note(self, tr: Track, beat: float, length_beats: float, key: int, vel: float) -> None:
        j = self.rng.normal(0.0, self.jitter) if self.jitter > 0 else 0.0
        tick = int(round(beat * PPQ + j))
        v = int(np.clip(vel + self.rng.normal(0.0, self.vel_jitter), 8, 127))
        tr.notes.append(Note(max(0, tick), max(10, int(length_beats * PPQ)), key, v))


def _drums(style: str, rng: np.random.Generator, meter: int, swing: float) -> list[list[tuple[float, int, float]]]:
    """One bar of drums per variation: lists of (beat position, key, velocity)."""
    sw = 0.5 + swing * (2.0 / 3.0 - 0.5) / 0.5  # position of the swung 8th within a beat
    bars = []
    for _variant in range(2):
        hits: list[tuple[float, int, float]] = []
        hat = int(rng.choice([HAT, HAT, PEDAL, RIDE, SHAKER, TAMB]))
        sixteenth_hats = rng.random() < 0.3
        for b in range(meter):
            last = b == meter - 1
            if style in ("rock", "boogie", "halftime", "breakbeat"):
                if style == "halftime":
                    if b == 0:
                        hits.append((b, KICK, 110))
                    if b == meter // 2 and meter >= 2:
                        hits.append((b, SNARE, 115))
                elif style == "breakbeat":
                    if b % 2 == 0:
                        hits.append((b, KICK, 110))
                    else:
                        hits.append((b, SNARE, 112))
                    if rng.random() < 0.5:
                        hits.append((b + 0.75 if b % 2 else b + 0.5, KICK, 85))
                    if rng.random() < 0.3:
                        hits.append((b + 0.25, SNARE, 45))
                else:
                    hits.append((b, KICK if b % 2 == 0 else SNARE, 110 if b % 2 == 0 else 108))
                    if style == "rock" and rng.random() < 0.3:
                        hits.append((b + 0.5, KICK, 80))
                for s in (0.0, sw) if not sixteenth_hats else (0.0, 0.25, 0.5, 0.75):
                    hits.append((b + s, hat, 80 if s == 0.0 else 60))
            elif style == "four":
                hits.append((b, KICK, 118))
                if b % 2 == 1:
                    hits.append((b, int(rng.choice([CLAP, SNARE])), 100))
                hits.append((b + 0.5, OPEN if rng.random() < 0.5 else HAT, 80))
                if sixteenth_hats:
                    hits += [(b + 0.25, HAT, 45), (b + 0.75, HAT, 45)]
            elif style == "shuffle":
                hits.append((b, KICK if b % 2 == 0 else SNARE, 108))
                hits += [(b, hat, 85), (b + 2.0 / 3.0, hat, 60)]
            elif style == "waltz":
                hits.append((b, KICK if b == 0 else SNARE, 105 if b == 0 else 70))
                hits.append((b, hat, 75))
                if rng.random() < 0.4:
                    hits.append((b + 0.5, hat, 50))
            elif style == "latin":
                if b % 2 == 0:
                    hits += [(b, KICK, 100), (b + 0.75, KICK, 80)]
                hits += [(b, CONGA_L if b % 2 else CONGA_H, 80), (b + 0.5, CONGA_H, 70), (b, SHAKER, 60), (b + 0.5, SHAKER, 50)]
                if b % 2 == 0:
                    hits += [(b, CLAVES, 90), (b + 0.75, CLAVES, 85)]
                else:
                    hits.append((b + 0.5, CLAVES, 85))
            elif style == "reggae":  # one drop: kick and rim on beat 3 of 4, hats on 8ths
                if b == meter // 2:
                    hits += [(b, KICK, 105), (b, RIM, 95)]
                hits += [(b, hat, 60), (b + sw, hat, 75)]
            elif style == "polka":  # oom-pah: kick on the beats, snare on the "pah"
                hits.append((b, KICK if b % 2 == 0 else SNARE, 100 if b % 2 == 0 else 85))
                if rng.random() < 0.5:
                    hits.append((b + 0.5, hat, 55))
            elif style == "chip":  # game music: noise hats on 16ths, kick/snare on beats
                hits.append((b, KICK if b % 2 == 0 else SNARE, 100))
                for s16 in (0.25, 0.5, 0.75):
                    if rng.random() < 0.7:
                        hits.append((b + s16, int(rng.choice([HAT, SHAKER, TAMB])), 50))
            elif style == "funk":  # 16th syncopation and ghost notes
                if b % 2 == 0:
                    hits.append((b, KICK, 110))
                else:
                    hits.append((b, SNARE, 110))
                for s16 in (0.25, 0.5, 0.75):
                    r = rng.random()
                    if r < 0.25:
                        hits.append((b + s16, KICK, 85))
                    elif r < 0.45:
                        hits.append((b + s16, SNARE, 40))
                for s16 in (0.0, 0.25, 0.5, 0.75):
                    hits.append((b + s16, hat, 70 if s16 == 0.0 else 45))
            elif style == "swing_band":
                hits += [(b, RIDE, 80), (b + sw, RIDE, 60)]
                if b % 2 == 1:
                    hits.append((b, PEDAL, 70))
                if rng.random() < 0.25:
                    hits.append((b + sw, SNARE, 60))
                if b == 0 or rng.random() < 0.15:
                    hits.append((b, KICK, 70))
            elif style == "jazz":
                hits += [(b, RIDE, 85), ]
                if b % 2 == 1:
                    hits += [(b + sw, RIDE, 65), (b, PEDAL, 70)]
                if rng.random() < 0.2:
                    hits.append((b + sw, SNARE, 45))
                if rng.random() < 0.15:
                    hits.append((b, KICK, 55))
            if last and rng.random() < 0.25:
                hits.append((b + 0.5, SNARE, 70))
            if style in ("rock", "four", "breakbeat", "halftime") and rng.random() < 0.2:  # pushed kicks
                hits.append((b + float(rng.choice([0.5, 0.75])), KICK, 80))
        bars.append(hits)
    return bars


def _fill(rng: np.random.Generator, meter: int) -> list[tuple[float, int, float]]:
    """A fill over the last beat or two of a bar."""
    n = int(rng.choice([1, 2])) if meter > 2 else 1
    start = meter - n
    toms = [SNARE, TOM_H, TOM_M, TOM_L]
    hits = []
    for k in range(4 * n):
        hits.append((start + k * 0.25, toms[min(3, k * 4 // (4 * n))], 70 + 30 * k / (4 * n)))
    return hits


def compose(rng: np.random.Generator, duration_s: float = 30.0, *, style: str | None = None, push: float = 0.0) -> Piece:
    """A random piece of about ``duration_s`` seconds, with its beat labels.

    Parameters
    ----------
    rng : numpy.random.Generator
    duration_s : float, s
    style : str, optional
        One of `STYLES`; random when None.
    push : float, 0..1
        Probability that the piece anticipates its bar lines: where a chord changes on a bar
        line, bass, comping, pad and crash come an eighth early (on the "and" of the last beat,
        swung when the piece swings), as blues, boogie, swing and pop arrangements often do.
        The labels stay on the bar line. 0 (the default) draws nothing, so pieces without it
        are the same as before it existed.
    """
    st = style or str(rng.choice(STYLES, p=_STYLE_P))
    meter_p = {
        "waltz": ((3,), (1.0,)), "piano": ((2, 3, 4, 6), (0.2, 0.3, 0.4, 0.1)), "strings": ((3, 4), (0.4, 0.6)),
        "polka": ((2, 4), (0.5, 0.5)), "reggae": ((4,), (1.0,)), "ballad": ((3, 4, 6), (0.3, 0.6, 0.1)),
    }  # fmt: skip
    metres, mp = meter_p.get(st, ((2, 3, 4, 5, 6), (0.06, 0.12, 0.7, 0.05, 0.07)))
    meter = int(rng.choice(metres, p=mp))
    lo, hi = {
        "four": (95, 180), "jazz": (80, 220), "halftime": (60, 110), "piano": (45, 170), "strings": (50, 150),
        "waltz": (70, 200), "reggae": (60, 100), "polka": (90, 200), "chip": (100, 210), "funk": (80, 120),
        "ballad": (50, 90), "swing_band": (100, 220),
    }.get(st, (60, 210))  # fmt: skip
    bpm = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    if st in ("piano", "strings", "ballad"):
        tk = str(rng.choice(["steady", "rubato", "rubato", "ramp"]))
    else:
        tk = str(rng.choice(["steady"] * 7 + ["ramp", "step", "rubato"]))
    n_beats = int(duration_s * bpm / 60.0 * 1.4) + 8
    tempo = _tempo_map(rng, bpm, n_beats, tk, meter)
    human = st in ("piano", "strings", "jazz", "ballad", "swing_band") or (st != "chip" and rng.random() < 0.5)
    jitter_ms = rng.uniform(4, 22) if st in ("piano", "strings", "ballad") else (rng.uniform(2, 12) if human else 0.0)
    wr = _Writer(rng, jitter_ms * PPQ * bpm / 60000.0, 10.0 if human else 4.0)
    swing = float(rng.choice([0.0, 0.0, 0.5, 1.0])) if st in ("rock", "boogie", "jazz", "halftime", "reggae") else 0.0
    if st in ("jazz", "shuffle", "swing_band"):
        swing = 1.0
    sw = 0.5 + swing * (2.0 / 3.0 - 0.5)

    key = int(rng.integers(0, 12))
    minor = rng.random() < 0.45
    scale = _MINOR if minor else _MAJOR
    prog = _PROGS[int(rng.integers(len(_PROGS)))]
    chord_beats = meter * int(rng.choice([1, 1, 2])) if rng.random() < 0.85 else max(1, meter // 2)
    n_bars = n_beats // meter + 1
    pickup = int(rng.integers(0, meter)) if rng.random() < 0.2 else 0  # beats of an anacrusis

    tracks: list[Track] = []
    drums_on = st not in ("band_nodrums", "piano", "strings", "ballad")
    bass = Track(1, int(rng.choice(_BASS_PROGS)), volume=int(rng.integers(80, 120)))
    comp_prog = int(rng.choice((0, 1, 2))) if st == "piano" else (int(rng.choice((48, 49, 50, 52, 40, 42))) if st == "strings" else int(rng.choice(_COMP_PROGS)))
    comp = Track(2, comp_prog, volume=int(rng.integers(70, 115)))
    lead = Track(3, comp_prog if st == "piano" else int(rng.choice(_LEAD_PROGS)), volume=int(rng.integers(70, 120)))
    drums = Track(9, 0, volume=int(rng.integers(80, 127)))
    has_bass = st not in ("piano",) and rng.random() < 0.92
    has_lead = rng.random() < (0.9 if st in ("piano", "strings") else 0.7)
    comp_pattern = str(rng.choice(["alberti", "broken", "stride", "block", "arp"])) if st in ("piano", "ballad") else str(
        rng.choice(["block", "beats", "offbeat", "arp", "arp16", "sustain", "syncop"])
    )
    comp_pattern = {"reggae": "offbeat", "polka": "stride", "chip": str(rng.choice(["arp16", "arp"])), "swing_band": "offbeat"}.get(
        st, comp_pattern
    )
    if st == "chip":
        comp.program = int(rng.choice([80, 81, 82, 62, 63]))
        lead.program = int(rng.choice([80, 81, 84, 87]))
    if st == "funk":
        comp_pattern = str(rng.choice(["syncop", "offbeat", "beats"]))
    # A counter-line and a pad, sometimes: denser, more realistic arrangements.
    counter = Track(4, int(rng.choice(_LEAD_PROGS)), volume=int(rng.integers(55, 95)))
    pad = Track(5, int(rng.choice((48, 49, 50, 52, 88, 89, 90, 91, 92, 94, 19, 16))), volume=int(rng.integers(50, 90)))
    has_counter = st not in ("piano",) and rng.random() < 0.35
    has_pad = st not in ("piano", "chip") and rng.random() < 0.4
    counter_div = float(rng.choice([0.25, 0.5, 0.5, 1.0]))
    counter_deg = int(rng.integers(3, 9))
    bass_pattern = str(rng.choice(["roots", "root5", "eighths", "walking", "syncop", "whole"]))
    if st == "jazz":
        bass_pattern = "walking"
    if st == "boogie":
        bass_pattern = str(rng.choice(["boogie", "eighths"]))
    if st in ("reggae", "funk"):
        bass_pattern = "syncop"
    if st in ("polka",):
        bass_pattern = "root5"
    if st == "chip":
        bass_pattern = str(rng.choice(["eighths", "roots"]))
    if st == "swing_band":
        bass_pattern = "walking"
    drum_bars = _drums(st, rng, meter, swing) if drums_on else []
    breakdown = set()
    if drums_on and rng.random() < 0.4:
        b0 = int(rng.integers(2, max(3, n_bars - 4)))
        breakdown = set(range(b0, b0 + int(rng.integers(2, 5))))
    intro_bars = int(rng.choice([0, 0, 0, 1, 2])) if drums_on else 0

    base_vel = rng.uniform(60, 100)
    lead_deg = int(rng.integers(7, 12))
    pushes = push > 0.0 and rng.random() < push
    for bar in range(n_bars):
        b0 = bar * meter - pickup
        # How early this bar line's notes come: an eighth (swung when the piece swings) where a
        # pushing piece changes chord on it, else not at all.
        early = 1.0 - sw if pushes and b0 > 0 and b0 % chord_beats == 0 else 0.0
        phrase_pos = bar % 8
        dyn = base_vel * (1.0 + 0.2 * np.sin(2 * np.pi * bar / rng.uniform(6, 16)))
        for beat_in_bar in range(meter):
            beat = b0 + beat_in_bar
            if beat < 0:
                continue
            ci = (beat // chord_beats) % len(prog)
            deg = prog[ci]
            root = 36 + key + scale[deg % 7] if key + scale[deg % 7] < 8 else 24 + key + scale[deg % 7]
            triad = [_scale_pitch(scale, 48 + key, deg + k) for k in (0, 2, 4)]
            acc = 1.15 if beat_in_bar == 0 else (1.0 if beat_in_bar % 2 == 0 else 0.9)
            # The first note of this beat, early on an anticipated bar line.
            extra = early if beat_in_bar == 0 else 0.0
            on = beat - extra
            # bass
            if has_bass:
                v = dyn * acc
                if bass_pattern == "roots":
                    wr.note(bass, on, 0.9 + extra, root, v)
                elif bass_pattern == "root5":
                    wr.note(bass, on, 0.9 + extra, root if beat_in_bar % 2 == 0 else root + 7, v)
                elif bass_pattern == "eighths":
                    wr.note(bass, on, 0.45 + extra, root, v)
                    wr.note(bass, beat + sw, 0.4, root + (12 if rng.random() < 0.3 else 0), v * 0.8)
                elif bass_pattern == "walking":
                    wr.note(bass, on, 0.9 + extra, root + int(rng.choice([0, 2, 4, 5, 7, -1, -2])) if beat_in_bar else root, v)
                elif bass_pattern == "boogie":
                    step = (0, 4, 7, 9, 10, 9, 7, 4)[(beat_in_bar * 2) % 8]
                    wr.note(bass, beat, 0.45, root + step, v)
                    wr.note(bass, beat + sw, 0.4, root + (0, 4, 7, 9, 10, 9, 7, 4)[(beat_in_bar * 2 + 1) % 8], v * 0.85)
                elif bass_pattern == "syncop":
                    if beat_in_bar % 2 == 0:
                        wr.note(bass, beat, 0.7, root, v)
                        wr.note(bass, beat + 0.75, 0.5, root, v * 0.8)
                    elif rng.random() < 0.5:
                        wr.note(bass, beat + 0.5, 0.4, root + 7, v * 0.75)
                elif beat_in_bar == 0:
                    wr.note(bass, on, meter * 0.95 + extra, root, v)
            # comping
            cv = dyn * acc * 0.85
            if comp_pattern in ("block", "sustain"):
                if beat % chord_beats == 0:
                    for p in triad:
                        wr.note(comp, on, (chord_beats * 0.95 if comp_pattern == "sustain" else 1.5) + extra, p, cv)
            elif comp_pattern == "beats":
                for p in triad:
                    wr.note(comp, on, 0.5 + extra, p, cv)
            elif comp_pattern == "offbeat":
                for p in triad:
                    wr.note(comp, beat + sw, 0.3, p, cv * 0.9)
            elif comp_pattern in ("arp", "arp16", "broken"):
                steps = 4 if comp_pattern == "arp16" else 2
                seq = triad + [triad[0] + 12]
                for s in range(steps):
                    pos = s / steps if steps == 4 else (0.0, sw)[s]
                    wr.note(comp, beat + pos, 0.45, seq[(beat_in_bar * steps + s) % len(seq)] - (12 if comp_pattern == "broken" else 0), cv * (1.0 if s == 0 else 0.75))
            elif comp_pattern == "alberti":
                alberti = (triad[0] - 12, triad[2] - 12, triad[1] - 12, triad[2] - 12)
                for s in range(4 if rng.random() < 0.5 else 2):
                    wr.note(comp, beat + s * 0.25, 0.3, alberti[s], cv * (1.0 if s == 0 else 0.7))
            elif comp_pattern == "stride":
                if beat_in_bar % 2 == 0:
                    wr.note(comp, beat, 0.8, root, cv)
                else:
                    for p in triad:
                        wr.note(comp, beat, 0.6, p, cv * 0.8)
            elif comp_pattern == "syncop":
                if beat_in_bar % 2 == 0:
                    for p in triad:
                        wr.note(comp, beat + 0.5 * (beat_in_bar > 0), 0.8, p, cv)
        # counter-line: a steady figure (scale runs or repeated chord tones), and a pad
        if has_counter and bar >= intro_bars:
            pos = 0.0
            while pos < meter - 1e-9:
                counter_deg = int(np.clip(counter_deg + rng.choice([-1, 1, 1, -2, 2, 0]), 0, 11))
                if rng.random() < 0.8:
                    wr.note(counter, b0 + pos, counter_div * 0.8, _scale_pitch(scale, 48 + key, counter_deg), dyn * 0.7)
                pos += counter_div
        if has_pad and (bar * meter) % chord_beats == 0:
            deg0 = prog[((bar * meter - pickup) // chord_beats) % len(prog)]
            for k in (0, 2, 4):
                wr.note(pad, b0 + 0.02 - early, chord_beats * 0.98 + early, _scale_pitch(scale, 60 + key, deg0 + k), dyn * 0.6)
        # melody: phrases of cells, with rests
        if has_lead and bar >= intro_bars and rng.random() < 0.8:
            pos = 0.0
            while pos < meter:
                cells = [
                    [1.0], [0.5, 0.5], [0.75, 0.25], [2.0], [0.5, 0.25, 0.25], [1.5, 0.5], [0.25, 0.25, 0.25, 0.25],
                    [0.5, 1.0, 0.5], [0.75, 0.75, 0.5], [0.25, 0.5, 0.25], [1.0 / 3, 1.0 / 3, 1.0 / 3],
                ]  # fmt: skip
                durs = cells[int(rng.integers(0, len(cells)))]
                if st == "jazz" or swing > 0:
                    durs = [sw if d == 0.5 else d for d in durs]
                for d in durs:
                    if pos >= meter:
                        break
                    lead_deg = int(np.clip(lead_deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 5, 16))
                    if rng.random() < 0.85:
                        wr.note(lead, b0 + pos, d * 0.9, _scale_pitch(scale, 48 + key, lead_deg), dyn * (1.1 if pos == 0 else 0.9))
                    pos += d
        # drums
        if drums_on and bar >= intro_bars and bar not in breakdown:
            hits = drum_bars[int(phrase_pos >= 4)]
            is_fill = phrase_pos == 7 and rng.random() < 0.6
            if is_fill:
                f = _fill(rng, meter)
                start = f[0][0]
                hits = [h for h in hits if h[0] < start] + f
            for pos, key_, vel in hits:
                wr.note(drums, b0 + pos, 0.1, key_, vel * dyn / 80.0)
            if phrase_pos == 0 and (bar == intro_bars or rng.random() < 0.4):
                wr.note(drums, b0 - early, 1.0, CRASH, 100)
    parts = ((bass, has_bass), (comp, True), (lead, has_lead), (counter, has_counter), (pad, has_pad), (drums, drums_on))
    tracks = [t for t, on in parts if on and t.notes]
    # Labels: every quarter tick, bars counted from the pickup.
    beat_ticks = np.arange(n_beats) * PPQ
    beats_s = tick_to_seconds(beat_ticks, tempo, ppq=PPQ)
    keep = beats_s < duration_s
    beats_s = beats_s[keep]
    is_down = ((np.arange(n_beats) + pickup) % meter == 0)[keep]
    return Piece(
        style=st, meter=meter, tracks=tracks, tempo=tempo, beats_s=beats_s, downbeats_s=beats_s[is_down], duration_s=duration_s,
        info={"bpm": bpm, "tempo_kind": tk, "swing": swing, "jitter_ms": jitter_ms, "minor": minor, "key": key, "push": pushes},
    )


_STYLE_P = np.array([1.2, 0.8, 0.8, 0.8, 0.8, 0.6, 0.6, 0.8, 0.7, 1.0, 1.4, 0.6, 0.6, 0.6, 0.9, 0.7, 0.6, 0.6])
_STYLE_P = _STYLE_P / _STYLE_P.sum()
