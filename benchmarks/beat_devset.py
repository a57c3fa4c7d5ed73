"""Development set for beat-tracker decisions: never ``shared/data``, which is for evaluation only.

Builds (once, cached in ``--dir``) 30 s clips with exact beats that no shipped member trained on:
generated General MIDI pieces (``lumen.analysis.train.compose``, seed 90210, all styles, rubato
and ramps included) rendered with FluidR3, excerpts of freedoom's and the other games' *held-out*
pieces (by the composers of training pieces), and excerpts of "foreign" pieces by other hands
than any training piece (``FOREIGN_MIDI_GLOBS``: lesson pieces and other games' music), and generated
pieces that anticipate their bar lines (``compose(push=1)``: the chord change, bass and crash an
eighth before beat one), which no training piece does, and "openings": the first 30 s of every
held-out and foreign piece, as the evaluation's files are the openings of their pieces. For each
clip it runs the live chain once and caches the ensemble's activations; each tracker variant then
replays those activations through the tracker (the frontend and model are not re-run), so a
variant costs about 30 s. Scores: beat F, downbeat F and tempo Acc2, per group, exactly as
``beat_accuracy.py`` computes them.

Variants are JSON: ``--variant 'name={"hmm": {...BeatHMM kwargs}, "bar": {...BarTracker
kwargs}, "tracker": {...NeuralBeatTracker class attributes}}'``. The shipped tracker is always
the first row ("shipped tracker"). ``--weights DIR`` scores another ensemble (a folder as ``beat_accuracy.py --weights``
takes it, e.g. from ``lumen train beat --out DIR``) in place of the shipped one: its activations are
computed once per clip and cached beside the clip. Choose on this set; evaluate the choice
once with ``beat_accuracy.py``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table, weights_line  # noqa: E402
from beat_accuracy import add_weights_option, gt_tempo, run_lumen, use_weights  # noqa: E402
from beat_accuracy import score as score_file  # noqa: E402

import lumen.analysis.beat.model as beat_model  # noqa: E402
import lumen.analysis.beat.neural as neural  # noqa: E402
from lumen.analysis.beat.hmm import BarTracker, BeatHMM  # noqa: E402
from lumen.analysis.offline import analyze_signal  # noqa: E402

SEED = 90210
CLIP_S = 30.0
CHAIN = ("levels", "onset", "beat")


def _build_one(job: tuple[str, str, int, int, int, str]) -> str:
    """Clip ``k`` of ``group`` (built, its activations computed, cached); returns its path."""
    from lumen.analysis.train.beat import _excerpt, _file_pieces, _wad_excerpt, find_soundfont
    from lumen.analysis.train.compose import compose
    from lumen.analysis.train.synth import render_midi

    out_dir, group, k, n_gen, n_wad, key = job
    # The first three groups keep their original numbering (clip i of the set, named with the sizes before it).
    i = {"generated": k, "wad": n_gen + k, "files": n_gen + n_wad + k}.get(group, -1)
    path = os.path.join(out_dir, f"{i:03d}-{n_gen}-{n_wad}.npz" if i >= 0 else f"{group}-{k:03d}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            if "key" in z.files and str(z["key"]) == key:
                return path
            if "key" in z.files and "act" in z.files:
                # A clip built for other weights (the shipped ones, or another --weights folder):
                # keep its audio and keep these weights' activations beside it.
                side = _acts_path(path, key)
                if not os.path.exists(side):
                    np.save(side, analyze_signal(z["audio"], int(z["sr"]), CHAIN).activations)
                return path
    sf2 = find_soundfont()
    if group in ("generated", "pushed"):
        pushed = group == "pushed"
        piece = compose(np.random.default_rng([SEED, 0x9054, k] if pushed else [SEED, k]), CLIP_S, push=float(pushed))
        with tempfile.TemporaryDirectory(prefix="lumen-dev-") as tmp:
            mid = os.path.join(tmp, "piece.mid")
            piece.write(mid)
            audio = render_midi(mid, 22050, sf2, max_s=CLIP_S)
        sr, beats, downs, kind = 22050, piece.beats_s, piece.downbeats_s, f"{group}:{piece.style}"
    elif group == "wad":
        audio, sr, beats, downs, kind = _wad_excerpt(np.random.default_rng([SEED, 0x5AD, i]), k, CLIP_S, sf2, True)
    elif group == "files":
        pieces = _file_pieces(held_out=True)
        piece = pieces[k % len(pieces)]
        audio, sr, beats, downs, kind = _excerpt(np.random.default_rng([SEED, 0xF11E, i]), piece, CLIP_S, sf2, f"files-held-out:{piece.name}")
    elif group == "foreign":
        pieces = foreign_pieces()
        piece = pieces[k % len(pieces)]
        audio, sr, beats, downs, kind = _excerpt(np.random.default_rng([SEED, 0xF0E1, k]), piece, CLIP_S, sf2, f"foreign:{piece.name}")
    else:  # openings: the first 30 s of the held-out and foreign pieces, as the evaluation's files are
        pieces = opening_pieces()
        piece = pieces[k % len(pieces)]
        audio, sr, beats, downs, kind = _excerpt(
            np.random.default_rng([SEED, 0x0BE, k]), piece, CLIP_S, sf2, f"openings:{piece.name}", opening=True
        )
    audio = audio[: int(CLIP_S * sr)]
    act = analyze_signal(audio, sr, CHAIN).activations
    np.savez(path, audio=audio, sr=sr, beats=beats[beats < CLIP_S], downs=downs[downs < CLIP_S], kind=kind, act=act, key=key)
    return path


def _acts_path(path: str, key: str) -> str:
    """Where the activations of the weights named by ``key`` live for the clip at ``path`` when they are not its own."""
    return f"{path[:-4]}.act-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npy"


@functools.cache
def foreign_pieces() -> list[Any]:
    """The usable pieces of `FOREIGN_MIDI_GLOBS` (empty when their Debian packages are not installed), read once per process."""
    from lumen.analysis.train.wadmidi import FOREIGN_MIDI_GLOBS, find_file_pieces

    return find_file_pieces(FOREIGN_MIDI_GLOBS, held_out_names=())


def opening_pieces() -> list[Any]:
    """Every held-out and foreign piece, each once (the "openings" group cycles through them)."""
    from lumen.analysis.train.beat import _file_pieces, _wad_pieces

    return [*_wad_pieces(held_out=True), *_file_pieces(held_out=True), *foreign_pieces()]


def build(
    out_dir: str, n_gen: int, n_wad: int, n_files: int = 0, n_foreign: int = 0, n_pushed: int = 0, n_openings: int = 0
) -> list[dict[str, Any]]:
    """The clips (built and cached on first use), with the activations of the ensemble in `beat_model.WEIGHTS_DIR`.

    A clip's audio is built once; the activations of each set of weights (and version of the
    model code) are computed once and cached beside it, so scoring another ensemble
    (``--weights``) re-runs only the frontend and the model.
    """
    os.makedirs(out_dir, exist_ok=True)
    if n_foreign and not foreign_pieces():
        print("(no foreign pieces: install pianobooster, liquidwar-data, crimson and pinball-table-hurd-data)")
        n_foreign = 0
    if n_openings and not opening_pieces():
        n_openings = 0
    # The cached activations belong to these weights and this version of the model code.
    key = weights_line(*beat_model.member_files()).strip() + " " + hashlib.sha256(Path(beat_model.__file__).read_bytes()).hexdigest()[:12]
    sizes = {"generated": n_gen, "wad": n_wad, "files": n_files, "foreign": n_foreign, "pushed": n_pushed, "openings": n_openings}
    jobs = [(out_dir, g, k, n_gen, n_wad, key) for g, n in sizes.items() for k in range(n)]
    with ProcessPoolExecutor(2) as pool:
        paths = list(pool.map(_build_one, jobs))
    clips = []
    for p in paths:
        z = np.load(p, allow_pickle=False)
        clip = {k: z[k] for k in z.files}
        if str(clip["key"]) != key:
            clip["act"], clip["key"] = np.load(_acts_path(p, key)), np.array(key)
        clips.append(clip)
    return clips


@contextmanager
def _replay(act: np.ndarray, hmm_kw: dict[str, Any], bar_kw: dict[str, Any], tracker_kw: dict[str, Any]) -> Iterator[None]:
    """The tracker reads ``act`` instead of running the model, with the given HMM, bar and tracker settings."""
    hop = [0]
    real_step = beat_model.StreamingBeatModel.step

    def step(self: beat_model.StreamingBeatModel, _x: np.ndarray) -> np.ndarray:
        k = hop[0]
        hop[0] += 1
        self.act[:] = act[k] if k < act.shape[0] else 0.0
        return self.act

    beat_model.StreamingBeatModel.step = step  # type: ignore[method-assign]
    neural.BeatHMM = functools.partial(BeatHMM, **hmm_kw)  # type: ignore[misc]
    neural.BarTracker = functools.partial(BarTracker, **bar_kw)  # type: ignore[misc]
    saved = {k: getattr(neural.NeuralBeatTracker, k) for k in tracker_kw}
    for k, v in tracker_kw.items():
        setattr(neural.NeuralBeatTracker, k, v)
    try:
        yield
    finally:
        beat_model.StreamingBeatModel.step = real_step  # type: ignore[method-assign]
        neural.BeatHMM, neural.BarTracker = BeatHMM, BarTracker  # type: ignore[misc]
        for k, v in saved.items():
            setattr(neural.NeuralBeatTracker, k, v)


METRICS = ("F", "dF", "Acc2")


def score(
    clips: list[dict[str, Any]], hmm_kw: dict[str, Any], bar_kw: dict[str, Any], tracker_kw: dict[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """Mean beat F, downbeat F and tempo Acc2 per group and overall (as `beat_accuracy.py` scores them)."""
    per: dict[str, list[dict[str, float]]] = {}
    for c in clips:
        with _replay(c["act"], hmm_kw, bar_kw, tracker_kw or {}):
            beats, downs, tempo, _cpu = run_lumen(c["audio"], int(c["sr"]), CHAIN)
        s = score_file(c["beats"], beats, c["downs"], downs, tempo, gt_tempo(c["beats"]))
        group = str(c["kind"]).split(":")[0]
        for g in (group, "all"):
            per.setdefault(g, []).append(s)
    return {g: {m: float(np.nanmean([s[m] for s in ss])) for m in METRICS} for g, ss in per.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "lumen-beat-devset"), help="cache of the built clips")
    ap.add_argument("--generated", type=int, default=60, help="generated pieces")
    ap.add_argument("--wad", type=int, default=30, help="excerpts of freedoom's held-out pieces")
    ap.add_argument("--files", type=int, default=24, help="excerpts of the other games' held-out MIDI files")
    ap.add_argument("--foreign", type=int, default=24, help="excerpts of pieces by other hands than any training piece")
    ap.add_argument("--pushed", type=int, default=30, help="generated pieces that anticipate their bar lines (compose(push=1))")
    ap.add_argument("--openings", type=int, default=24, help="the first 30 s of the held-out and foreign pieces")
    ap.add_argument("--variant", action="append", default=[], help='name={"hmm": {...}, "bar": {...}, "tracker": {...}}')
    ap.add_argument("--quick", action="store_true", help="smoke pass: 6 generated pieces, 3 + 3 + 3 excerpts, 3 pushed pieces, 3 openings")
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    add_weights_option(ap)
    args = ap.parse_args(argv)
    use_weights(ap, args.weights)
    sizes = (6, 3, 3, 3, 3, 3) if args.quick else (args.generated, args.wad, args.files, args.foreign, args.pushed, args.openings)
    clips = build(args.dir, *sizes)
    # What was built (a group whose Debian packages are missing is left out).
    n_gen, n_wad, n_files, n_foreign, n_pushed, n_openings = (
        sum(str(c["kind"]).startswith(f"{g}:") for c in clips) for g in ("generated", "wad-held-out", "files-held-out", "foreign", "pushed", "openings")
    )
    variants: list[tuple[str, dict[str, Any]]] = [("shipped tracker", {})]
    for v in args.variant:
        name, _, spec = v.partition("=")
        variants.append((name, json.loads(spec)))
    groups = ["all", "generated", "wad-held-out", "files-held-out", "foreign", "pushed", "openings"]
    rows = []
    for name, spec in variants:
        s = score(clips, spec.get("hmm", {}), spec.get("bar", {}), spec.get("tracker", {}))
        rows.append([name, json.dumps(spec) if spec else "-"] + [s[g][m] if g in s else float("nan") for g in groups for m in METRICS])
    names = {"F": "F", "dF": "downbeat F", "Acc2": "Acc2"}
    headers = ["variant", "settings"] + [f"{g} {names[m]}" for g in groups for m in METRICS]
    body = (
        f"{weights_line(*beat_model.member_files()).strip()}\n\n"
        f"Development set: {n_gen} generated pieces (seed {SEED}), {n_wad} excerpts of freedoom's held-out music and "
        f"{n_files} of the other games' held-out MIDI files, {n_foreign} of pieces by other hands than any training piece "
        f"(`FOREIGN_MIDI_GLOBS`), {n_pushed} generated pieces that anticipate their bar lines (seed {SEED}, `compose(push=1)`), "
        f"{n_openings} openings (the first 30 s of the held-out and foreign pieces), "
        f"{CLIP_S:.0f} s each, the ensemble's cached activations replayed through each tracker variant:\n\n"
        + table(headers, rows)
    )
    record("Beat tracker development set (beat_devset.py)", body, argv, dry=args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
