"""Benchmark: song structure (and mood, when its analyzer is registered) on music with known answers.

Runs the full causal chain (levels, onset, beat, "mood" if registered, "structure") through
`lumen.analysis.offline.analyze_signal` over held-out generated songs (`SignalSource`'s
generator with seeds, arrangements, tempos, keys and modes never used while developing the
analyzer) and scores:

* **sections**: boundary F-measure, precision and recall (a ``section_change`` within ±1 bar
  of a true section start counts; the song's start and the none → first-section change are
  not boundaries);
* **drops**: share of true drops with a ``drop`` event on the right beat (within half a beat),
  the timing error in ms, false drops, and how many bars ahead ``build_start`` came;
* **mood** (if registered): valence accuracy (mean valence > 0.5 ⇔ major) and the Spearman
  correlation of per-section mean arousal with the known intensity (intro/break/outro low,
  verse mid, build rising, drop high);
* **bad input**: silence, white noise, speech-like bursts and a sustained tone must give no
  drop, section none, no NaN;
* **cost**: the time per hop (p50/p99 µs) of each analyzer after the beat tracker (mood,
  structure), their sum (what this layer adds on top of the beat tracker) and the whole chain,
  as shares of one core (a 10 ms hop budget).

It also runs the chain over the real recordings of ``shared/data/beats`` (game music and
piano, 30 s each: no ground truth for sections, so it reports what it found) and writes one
plot per file (novelty, section ribbon, mood if available) to ``--out`` (default: a folder in
the system temp directory, since ``benchmarks/out`` is not git-ignored).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record, table, weights_line  # noqa: E402

import lumen.analysis.structure  # noqa: E402,F401  (registers "structure")
from lumen.analysis.analyzer import Analyzer  # noqa: E402
from lumen.analysis.base import AnalysisSpec, analyzers  # noqa: E402
from lumen.analysis.offline import analyze_signal, load_audio  # noqa: E402
from lumen.audio.music import SECTION_INTENSITY, MusicGenerator, MusicParams, Section  # noqa: E402
from lumen.features import IDX, SECTIONS  # noqa: E402

try:  # the mood analyzer is written in parallel; use it when it is there
    import lumen.analysis.mood  # noqa: F401
except ImportError:
    pass

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "beats"
SR = 22050


def _mood_ready() -> tuple[bool, str]:
    """Whether the "mood" analyzer is registered and prepares (its weights may not exist yet)."""
    if "mood" not in analyzers.names():
        return False, "mood analyzer not registered"
    try:  # prepare it and run it over 3 s of music, as the benchmark will
        gen = MusicGenerator(MusicParams(bpm=124.0, seed=99), sr=SR)
        analyze_signal(gen.render_seconds(3.0), SR, ("levels", "onset", "beat", "mood"))
    except Exception as e:  # noqa: BLE001  (report any failure, run without mood)
        return False, f"mood analyzer registered but not usable: {type(e).__name__}: {e}"
    return True, ""


HAS_MOOD, MOOD_NOTE = _mood_ready()
CHAIN: tuple[str, ...] = ("levels", "onset", "beat", *(("mood",) if HAS_MOOD else ()), "structure")


def _s(label: str, bars: int) -> Section:
    return Section(label, bars)


# Held-out arrangements, seeds, tempos, keys and modes: none was used while developing the
# analyzer (an earlier held-out set, seeds 101-110, was looked at during development and
# retired; this one was run once, for the reported figures).
ARRANGEMENTS: tuple[tuple[Section, ...], ...] = (
    (_s("intro", 8), _s("verse", 8), _s("build", 8), _s("drop", 16), _s("break", 8), _s("build", 4), _s("drop", 8), _s("outro", 8)),
    (_s("intro", 4), _s("build", 4), _s("drop", 8), _s("verse", 4), _s("build", 4), _s("drop", 8), _s("outro", 4)),
    (_s("intro", 16), _s("build", 8), _s("drop", 8), _s("break", 4), _s("build", 8), _s("drop", 16)),
    (_s("intro", 8), _s("verse", 8), _s("break", 8), _s("build", 4), _s("drop", 8), _s("break", 4), _s("drop", 8)),
    (_s("intro", 4), _s("verse", 4), _s("build", 4), _s("drop", 4), _s("verse", 4), _s("build", 4), _s("drop", 4), _s("outro", 4)),
)
#: (arrangement index, seed, bpm, key, mode, swing).
SONGS: tuple[tuple[int, int, float, int, str, float], ...] = (
    (0, 301, 125.0, 6, "minor", 0.0),
    (1, 302, 131.0, 10, "major", 0.0),
    (2, 303, 121.0, 1, "minor", 0.1),
    (3, 304, 127.0, 8, "major", 0.0),
    (4, 305, 136.0, 3, "minor", 0.0),
    (0, 306, 117.0, 0, "major", 0.05),
    (1, 307, 140.0, 5, "minor", 0.0),
    (2, 308, 123.0, 11, "major", 0.0),
    (3, 309, 129.0, 4, "minor", 0.1),
    (4, 310, 114.0, 7, "major", 0.0),
)
#: Known intensity of each section (for the arousal correlation): intro/break 1, outro 1.5,
#: verse 2, build 2.5 (its mean: it rises from 2 to 3), drop 3.
INTENSITY = SECTION_INTENSITY


def f_measure(est: list[float], ref: list[float], tol: float) -> tuple[float, float, float]:
    """Boundary F-measure, precision, recall with one-to-one matching within ``tol`` seconds."""
    used: set[int] = set()
    hit = 0
    for r in ref:
        cands = [i for i, e in enumerate(est) if abs(e - r) <= tol and i not in used]
        if cands:
            used.add(min(cands, key=lambda i: abs(est[i] - r)))
            hit += 1
    p = hit / len(est) if est else 0.0
    rc = hit / len(ref) if ref else 0.0
    return (2 * p * rc / (p + rc) if p + rc else 0.0), p, rc


def boundaries(times: np.ndarray, feats: np.ndarray) -> tuple[list[float], list[str]]:
    """Section-change times (leaving out changes from or to none) and their new labels."""
    idx = np.nonzero(feats[:, IDX["section_change"]] >= 0.5)[0]
    labels = [SECTIONS[int(feats[i, IDX["section"]])] for i in idx]
    prev = ["none", *labels[:-1]]
    keep = [(float(times[i]), lab) for i, lab, p in zip(idx, labels, prev) if lab != "none" and p != "none"]
    return [t for t, _ in keep], [lab for _, lab in keep]


def eval_song(k: int) -> dict[str, Any]:
    arr_i, seed, bpm, key, mode, swing = SONGS[k]
    params = MusicParams(bpm=bpm, seed=seed, key=key, mode=mode, swing=swing, arrangement=ARRANGEMENTS[arr_i], loop=False)
    gen = MusicGenerator(params, sr=SR)
    x = gen.render_seconds(gen.song_duration_s + 0.5)
    res = analyze_signal(x, SR, CHAIN)
    f, t = res.features, res.times
    bar_s = 4 * 60.0 / bpm
    beat_s = 60.0 / bpm
    secs = gen.sections(1e9)
    ref = [s for s, _ in secs[1:]]
    est, _labels = boundaries(t, f)
    fm, p, r = f_measure(est, ref, bar_s)
    drops = t[f[:, IDX["drop"]] >= 0.5]
    builds = t[f[:, IDX["build_start"]] >= 0.5]
    true_drops = [s for s, lab in secs if lab == "drop"]
    errs, right, ahead = [], 0, []
    matched: set[int] = set()
    for d in true_drops:
        if drops.size:
            j = int(np.argmin(np.abs(drops - d)))
            e = float(drops[j] - d)
            if abs(e) < beat_s / 2:
                right += 1
                errs.append(e)
                matched.add(j)
        prior = builds[(builds < d) & (builds > d - 16 * bar_s)]
        ahead.append((d - float(prior[-1])) / bar_s if prior.size else 0.0)
    out: dict[str, Any] = {
        "name": f"seed {seed} {bpm:g} bpm {mode}" + (f" swing {swing:g}" if swing else ""), "f": fm, "p": p, "r": r, "n_drops": len(true_drops),
        "right": right, "false": int(drops.size - len(matched)), "errs_ms": [1000 * e for e in errs], "ahead": ahead,
        "mode": mode,
    }
    if HAS_MOOD:
        val = f[:, IDX["valence"]]
        aro = f[:, IDX["arousal"]]
        conf = f[:, IDX["mood_confidence"]]
        w = t > 10.0
        out["valence"] = float(np.mean(val[w]))
        pairs = []
        bounds = [s for s, _ in secs] + [gen.song_duration_s]
        for (s0, lab), s1 in zip(secs, bounds[1:]):
            m = (t >= s0 + bar_s) & (t < s1) & (conf >= 0.0)
            if np.any(m):
                pairs.append((INTENSITY[lab], float(np.mean(aro[m]))))
        out["arousal_pairs"] = pairs
    return out


def bad_inputs(seconds: float) -> list[list[object]]:
    """Silence, noise, speech-like bursts, a sustained tone: drops, share of non-none hops, NaN."""
    rng = np.random.default_rng(7)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.zeros(n)
    pos = 0
    while pos < n:  # syllable-like bursts: 80-300 ms on, 50-600 ms off, random
        on = int(rng.uniform(0.08, 0.3) * SR)
        env[pos : pos + on] = np.hanning(min(on, n - pos) * 2)[: min(on, n - pos)] if on > 1 else 0
        pos += on + int(rng.uniform(0.05, 0.6) * SR)
    voiced = np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.7 * t)) * t) + 0.3 * rng.standard_normal(n)
    cases = {
        "silence": np.zeros(n),
        "white noise": 0.3 * rng.standard_normal(n),
        "speech-like bursts": 0.4 * env * voiced,
        "sustained tone 220 Hz": 0.3 * np.sin(2 * np.pi * 220 * t),
    }
    rows: list[list[object]] = []
    for name, sig in cases.items():
        res = analyze_signal(sig.astype(np.float32), SR, CHAIN)
        f = res.features
        rows.append([name, int(np.sum(f[:, IDX["drop"]] >= 0.5)), float(np.mean(f[:, IDX["section"]] != 0)), bool(np.all(np.isfinite(f)))])
    return rows


def cost(seconds: float) -> list[list[object]]:
    """Per-hop µs (p50, p99) of each analyzer after the beat tracker, their sum, and the whole chain."""
    gen = MusicGenerator(MusicParams(bpm=126.0, seed=111, arrangement=ARRANGEMENTS[0]), sr=48000)
    x = gen.render_seconds(seconds)
    an = Analyzer(AnalysisSpec.for_rate(48000), CHAIN)
    h = an.spec.hop_length
    n = x.shape[0] // h
    first = CHAIN.index("beat") + 1
    extra = list(zip(CHAIN[first:], an.chain[first:], strict=True))
    us = np.zeros((len(extra), n))
    all_us = np.zeros(n)
    last = np.zeros(len(extra))

    def wrap(j: int, orig: Any) -> Any:
        def timed(ctx: Any, vec: Any) -> None:
            c0 = time.perf_counter()
            orig(ctx, vec)
            last[j] = time.perf_counter() - c0

        return timed

    for j, (_, a) in enumerate(extra):
        a.process = wrap(j, a.process)  # type: ignore[method-assign]
    for i in range(n):
        c0 = time.perf_counter()
        an.process(x[i * h : (i + 1) * h], (i + 1) * h / 48000)
        all_us[i] = 1e6 * (time.perf_counter() - c0)
        us[:, i] = 1e6 * last
    rows: list[list[object]] = []

    def row(what: str, v: np.ndarray) -> None:
        p50 = float(np.percentile(v, 50))
        rows.append([what, p50, float(np.percentile(v, 99)), f"{100 * p50 / 10000:.2f} %"])

    for j, (name, _) in enumerate(extra):
        row(f"{name} analyzer", us[j])
    row(" + ".join(name for name, _ in extra) + " (on top of the beat tracker)", us.sum(axis=0))
    row("whole chain (" + ", ".join(CHAIN) + ")", all_us)
    return rows


def real_files(limit: int, out_dir: Path) -> list[list[object]]:
    """Run the chain over real recordings; report sections and drops; write plots."""
    files = sorted((DATA / "openmsx" / "audio").glob("*.flac"))[:limit] + sorted((DATA / "asap_piano" / "audio").glob("*.flac"))[: max(1, limit // 3)]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[list[object]] = []
    for path in files:
        x, sr = load_audio(path)
        res = analyze_signal(x, sr, CHAIN)
        f = res.features
        est, labels = boundaries(res.times, f)
        code = f[:, IDX["section"]].astype(int)
        shares = {SECTIONS[c]: float(np.mean(code == c)) for c in np.unique(code)}
        main = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])[:3])
        n_drops = int(np.sum(f[:, IDX["drop"]] >= 0.5))
        rows.append([f"{path.parent.parent.name}/{path.stem}", len(est), n_drops, main, bool(np.all(np.isfinite(f)))])
        plot(res.times, f, out_dir / f"{path.parent.parent.name}_{path.stem}.png", path.stem)
    return rows


def plot(times: np.ndarray, f: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if HAS_MOOD else 2
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.6 * rows + 1), sharex=True)
    axes[0].plot(times, f[:, IDX["novelty"]], lw=0.8, color="k", label="novelty")
    axes[0].plot(times, f[:, IDX["energy"]], lw=0.5, color="0.6", label="energy")
    for name, color in (("drop", "tab:red"), ("build_start", "tab:orange"), ("break_start", "tab:blue")):
        for tt in times[f[:, IDX[name]] >= 0.5]:
            axes[0].axvline(tt, color=color, lw=1.2)
    axes[0].set_ylim(0, 1.05)
    axes[0].legend(loc="upper right", fontsize=7)
    cmap = plt.get_cmap("tab10")
    code = f[:, IDX["section"]].astype(int)
    axes[1].imshow(code[None, :], aspect="auto", cmap=cmap, vmin=0, vmax=9, extent=(float(times[0]), float(times[-1]), 0, 1), interpolation="nearest")
    axes[1].set_yticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(SECTIONS))]
    axes[1].legend(handles, SECTIONS, ncol=len(SECTIONS), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    axes[1].set_ylabel("section")
    if HAS_MOOD:
        axes[2].plot(times, f[:, IDX["valence"]], lw=0.8, label="valence")
        axes[2].plot(times, f[:, IDX["arousal"]], lw=0.8, label="arousal")
        axes[2].set_ylim(0, 1)
        axes[2].legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("time, s")
    fig.suptitle(f"lumen structure: {title}")
    fig.tight_layout()
    fig.savefig(str(path), dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 songs, 3 real files, short cost run")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "lumen-bench" / "mood_structure", help="plot folder")
    args = ap.parse_args(argv)
    songs = [eval_song(k) for k in range(4 if args.quick else len(SONGS))]
    rows = []
    for s in songs:
        errs = np.abs(s["errs_ms"])
        rows.append([s["name"], s["f"], s["p"], s["r"], f"{s['right']}/{s['n_drops']}", s["false"], f"{np.median(errs):.0f}" if errs.size else "-", f"{np.mean(s['ahead']):.1f}"])
    all_errs = np.abs(np.concatenate([s["errs_ms"] for s in songs])) if any(s["errs_ms"] for s in songs) else np.zeros(0)
    n_true = sum(s["n_drops"] for s in songs)
    n_right = sum(s["right"] for s in songs)
    rows.append([
        f"**all {len(songs)} songs**", float(np.mean([s["f"] for s in songs])), float(np.mean([s["p"] for s in songs])),
        float(np.mean([s["r"] for s in songs])), f"{n_right}/{n_true} ({100 * n_right / max(n_true, 1):.0f} %)",
        sum(s["false"] for s in songs), f"{np.median(all_errs):.0f} (p90 {np.percentile(all_errs, 90):.0f})" if all_errs.size else "-",
        f"{np.mean([a for s in songs for a in s['ahead']]):.1f}",
    ])
    import lumen.analysis.beat.model as bm

    wfiles = bm.member_files()
    if HAS_MOOD:
        import lumen.analysis.mood as mm

        wfiles.append(mm.WEIGHTS_DIR / mm.WEIGHTS_FILE)
    body = weights_line(*wfiles) + "Held-out generated songs, full causal chain `" + ", ".join(CHAIN) + "` (22.05 kHz):\n\n"
    body += table(["song", "boundary F (±1 bar)", "P", "R", "drops on the right beat", "false drops", "drop |error| ms, median", "build_start, bars ahead of drop"], rows)
    if HAS_MOOD:
        from scipy.stats import spearmanr

        acc = np.mean([(s["valence"] > 0.5) == (s["mode"] == "major") for s in songs])
        pairs = [p for s in songs for p in s["arousal_pairs"]]
        rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic if len(pairs) > 2 else float("nan")
        body += "\n\n" + table(["mood metric", "value"], [["valence accuracy (mean > 0.5 ⇔ major)", float(acc)], ["Spearman(arousal, section intensity)", float(rho)], ["sections", len(pairs)]])
    else:
        body += f"\n\n(no mood metrics: {MOOD_NOTE})"
    body += "\n\nBad input (20 s each):\n\n" + table(["input", "drops", "share of hops not 'none'", "all finite"], bad_inputs(10.0 if args.quick else 20.0))
    c = cost(20.0 if args.quick else 60.0)
    body += "\n\nCost per 10 ms hop at 48 kHz:\n\n" + table(["what", "p50 µs", "p99 µs", "p50 share of a core"], c)
    real = real_files(3 if args.quick else 8, args.out)
    body += f"\n\nReal recordings (`shared/data/beats`, no section ground truth; plots in `{args.out}`):\n\n" + table(
        ["file", "section changes", "drops", "sections (share of time)", "all finite"], real
    )
    record("mood_structure: song structure" + (" and mood" if HAS_MOOD else "") + " on held-out generated music", body, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
