"""The `lumen` command.

Layer: cli (top; the only module that parses arguments). Threads: the main thread.

Exit codes: 0 OK, 2 configuration error, 3 device error, 4 runtime abort.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from lumen import __version__
from lumen.errors import ConfigError, DeviceError, LumenError, OutputError, ShaderError

EXIT_OK, EXIT_CONFIG, EXIT_DEVICE, EXIT_RUNTIME = 0, 2, 3, 4
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOW = REPO_ROOT / "presets" / "demo.yaml"
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus", ".m4a"})

log = logging.getLogger("lumen")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lumen", description="lumen: audio-reactive lighting and visuals engine")
    p.add_argument("--version", action="version", version=f"lumen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("demo", help="run the whole chain with no hardware: generated music → analysis → GL → sACN to 127.0.0.1")
    d.add_argument("--seconds", type=float, default=20.0, help="how long to run (default 20)")
    d.add_argument("--out", type=Path, default=Path("demo-out"), help="folder for summary.json and the preview (default demo-out)")
    d.add_argument("--show", type=Path, default=DEMO_SHOW, help="show file (default presets/demo.yaml)")
    d.add_argument("--gl", choices=["auto", "egl", "window"], default="egl", help="GL backend (default egl: headless)")
    d.add_argument("--osc-port", type=int, default=None, help="OSC control port (default: the show's control.osc.port, 9000)")

    r = sub.add_parser("run", help="run a show file on a live audio input")
    r.add_argument("show", type=Path, help="show file (YAML)")
    r.add_argument("--input", default=None, help="audio device (index or name substring) or an audio file path")
    r.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    r.add_argument("--gl", choices=["auto", "egl", "window"], default="auto", help="GL backend (default auto)")
    r.add_argument("--osc-port", type=int, default=None, help="OSC control port (default: the show's control.osc.port, 9000)")

    rn = sub.add_parser("render", help="render a show over an audio file, deterministically, to MP4 (audio muxed in), GIF or PNG frames")
    rn.add_argument("--offline", type=Path, required=True, metavar="AUDIO", help="the audio file that drives the show (time comes from it)")
    rn.add_argument("--show", type=Path, default=DEMO_SHOW, help="show file (default presets/demo.yaml)")
    rn.add_argument("--out", type=Path, required=True, help="FILE.mp4, FILE.gif, or FOLDER(.png) for PNG frames")
    rn.add_argument("--fps", type=float, default=None, help="frames per second (default: the show's render.fps)")
    rn.add_argument("--width", type=int, default=None, help="frame width, px (default: the show's render size, else the wall's)")
    rn.add_argument("--height", type=int, default=None, help="frame height, px")
    rn.add_argument("--seconds", type=float, default=None, help="render only the first SECONDS of the track")

    sub.add_parser("devices", help="list audio devices and network interfaces")

    v = sub.add_parser("validate", help="check show files; errors as file:line:col: key: message, exit 2")
    v.add_argument("files", nargs="+", type=Path)

    mg = sub.add_parser("migrate", help="upgrade show files to the current version (rewrites them; a .bak copy is kept)")
    mg.add_argument("files", nargs="+", type=Path)
    mg.add_argument("--stdout", action="store_true", help="print the upgraded show instead of rewriting the file")

    om = sub.add_parser("osc-map", help="print the OSC address map (markdown), with a show's scenes and nodes")
    om.add_argument("show", type=Path, nargs="?", default=None, help="show file (optional)")

    md = sub.add_parser("midi", help="MIDI tools")
    md_sub = md.add_subparsers(dest="midi_cmd", required=True)
    ml = md_sub.add_parser("list", help="list MIDI input ports")
    ml.add_argument("--api", choices=["default", "jack", "alsa"], default="default")
    mlearn = md_sub.add_parser("learn", help="wait for a note/CC/program change and print a show-file binding for it")
    mlearn.add_argument("--api", choices=["default", "jack", "alsa"], default="default")
    mlearn.add_argument("--port", default=None, help="input port (part of its name; default: the first)")
    mlearn.add_argument("--timeout", type=float, default=30.0, help="give up after this long, s (default 30)")
    mlearn.add_argument("--virtual", action="store_true", help="open a virtual port (lumen:midi_in) for the controller to connect to")
    mlearn.add_argument("--command", default=None, help="command for the binding (default: master for a CC, scene for a note)")
    mlearn.add_argument("--arg", default="", help="the command's argument (scene name, cue number, 'scene/node/param')")
    mlearn.add_argument("--mode", choices=["press", "hold", "toggle"], default="press", help="how a note acts (default press)")

    sub.add_parser("plugins", help="list registered analyzers and outputs")

    fx = sub.add_parser("fixtures", help="Open Fixture Library fixture tools")
    fx_sub = fx.add_subparsers(dest="fixtures_cmd", required=True)
    fc = fx_sub.add_parser("check", help="load OFL fixture files or folders; one line per failure, exit 2 if any failed")
    fc.add_argument("paths", nargs="+", type=Path)

    an = sub.add_parser("analyze", help="run the live (causal) analysis chain over an audio file as fast as possible")
    an.add_argument("audio", type=Path, help="audio file (any format libsndfile reads, any sample rate)")
    an.add_argument("--json", type=Path, required=True, help="write beats, downbeats, tempo, confidence, energy, bands here")
    an.add_argument("--plot", type=Path, default=None, help="also write a PNG: waveform, activations, beat grid, tempo")
    an.add_argument("--analyzers", default=None, help="comma-separated chain (default levels,onset,beat)")

    tr = sub.add_parser("train", help="train lumen's models from generated, labelled audio")
    tr_sub = tr.add_subparsers(dest="model", required=True)
    tb = tr_sub.add_parser("beat", help="the beat/downbeat ensemble (the defaults are the shipped weights' settings; see README)")
    tb.add_argument(
        "--member", choices=("all", "gm", "wad", "sf", "band", "gm2"), default="all",
        help="which ensemble member to train: gm (generated music), wad (also freedoom's music; needs the Debian package "
             "freedoom), sf (like wad, with other soundfonts too), or all of them, --jobs at a time (default); or a "
             "candidate, band (also other games' music and MMA's band grooves) or gm2 (generated, other games' music and "
             "MMA, no freedoom): not shipped, needs --out",
    )
    tb.add_argument("--out", type=Path, default=None, help="output folder (default: the package's weights folder)")
    tb.add_argument("--seed", type=int, default=None, help="random seed (default: each member's shipped seed)")
    tb.add_argument("--steps", type=int, default=None, help="training steps (default: as shipped)")
    tb.add_argument(
        "--clips", type=int, default=None,
        help="generated MIDI clips (default: as shipped); the clips of the other kinds scale with it",
    )
    tb.add_argument("--workers", type=int, default=2, help="processes for data generation (default 2)")
    tb.add_argument(
        "--jobs", type=int, default=2,
        help="members trained at once, each in its own process with one torch thread (default 2: one per core here)",
    )
    tb.add_argument(
        "--recorded", type=int, default=None,
        help="also train on N excerpts of recorded songs (Debian fretsonfire-songs-*; default: as shipped, 0)",
    )
    tb.add_argument(
        "--wad", type=int, default=None,
        help="30 s excerpts of the General MIDI music in Debian's freedoom WADs (default: as shipped)",
    )
    tb.add_argument("--dance", type=int, default=None, help="clips of lumen's generated dance music (default: as shipped)")
    tb.add_argument(
        "--arch", choices=("gru", "tcn"), default=None,
        help="model architecture: gru, or tcn (causal dilated convolutions, a training step 2-3x faster; "
             "lumen.analysis.train.beat.TCN_MODEL) (default: as shipped, gru)",
    )
    tb.add_argument("--dropout", type=float, default=None, help="dropout while training a TCN (default: TCN_MODEL's, 0.15)")

    tm = tr_sub.add_parser("mood", help="the mood model (reproduces the shipped weights with the defaults)")
    tm.add_argument("--out", type=Path, default=None, help="output folder (default: the package's weights folder)")
    tm.add_argument("--seed", type=int, default=1, help="random seed (default: the shipped weights' seed, 1)")
    tm.add_argument("--workers", type=int, default=2, help="processes for data generation (default 2)")

    b = sub.add_parser("bench", help="run benchmarks (tables printed, figures appended to benchmarks/RESULTS.md)")
    b.add_argument("names", nargs="*", help="benchmark names (default: all); see benchmarks/")
    b.add_argument("--quick", action="store_true", help="a short smoke pass")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lumen` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="lumen: %(levelname)s: %(message)s")
    try:
        cmd = {
            "demo": cmd_demo, "run": cmd_run, "devices": cmd_devices, "validate": cmd_validate,
            "plugins": cmd_plugins, "bench": cmd_bench, "fixtures": cmd_fixtures,
            "analyze": cmd_analyze, "train": cmd_train, "render": cmd_render,
            "migrate": cmd_migrate, "osc-map": cmd_osc_map, "midi": cmd_midi,
        }[args.cmd]
        return int(cmd(args))
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return EXIT_CONFIG
    except ShaderError as e:
        print(f"lumen: shader error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except DeviceError as e:
        print(f"lumen: device error: {e}", file=sys.stderr)
        return EXIT_DEVICE
    except OutputError as e:
        print(f"lumen: output error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except LumenError as e:
        print(f"lumen: error: {e}", file=sys.stderr)
        return EXIT_RUNTIME


def _load(path: Path) -> Any:
    from lumen.show.load import load_show

    return load_show(path)


def _run_engine(engine: Any, seconds: float | None, title: str) -> None:
    from lumen.dashboard import Dashboard

    engine.start()
    try:
        with Dashboard(title) as dash:
            engine.run(seconds, on_tick=dash.update)
    finally:
        engine.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    """`lumen demo`: the whole chain on generated music, headless, sACN to 127.0.0.1."""
    from lumen.engine import Engine, EngineOptions

    cfg = _load(args.show)
    if cfg.audio.source != "signal":
        cfg = cfg.model_copy(update={"audio": cfg.audio.model_copy(update={"source": "signal"})})
    opts = EngineOptions(seconds=args.seconds + 5.0, gl_backend=args.gl, preview_fps=10.0, preview_max=int(args.seconds * 10) + 10)
    engine = Engine(cfg, args.show, opts)
    engine.osc_port = args.osc_port
    _run_engine(engine, args.seconds, "lumen demo")
    summary = demo_summary(engine, cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _write_preview(engine, args.out, cfg)
    sent = ", ".join(f"{o['packets']} {o['type']} packets to {o['destination']}" for o in summary["outputs"])
    print(f"lumen demo: {summary['frames']} frames, {sent}, {summary['callbacks']} audio blocks, {summary['xruns']} xruns, "
          f"latency p50 {summary['latency_ms']['p50']:.1f} ms p99 {summary['latency_ms']['p99']:.1f} ms; "
          f"wrote {args.out}/summary.json and {args.out}/preview.gif")
    return EXIT_OK


def demo_summary(engine: Any, cfg: Any) -> dict[str, Any]:
    """The figures `lumen demo` writes to summary.json."""
    snap = engine.snapshot()
    ls, sh, out = snap["listen"], snap["show"], snap["output"]
    lat = snap["latency_ms"]
    f = snap["features"]
    o = cfg.outputs[0]
    return {
        "seconds": round(snap["elapsed_s"], 3),
        "frames": sh["frames"],
        "packets": out.get("packets", 0),
        "callbacks": ls.get("callbacks", 0),
        "xruns": ls.get("xruns", 0),
        "late_frames": sh["late_frames"],
        "latency_ms": {"p50": lat.get("p50", float("nan")), "p90": lat.get("p90", float("nan")), "p99": lat.get("p99", float("nan"))},
        "send_errors": out.get("send_errors", 0),
        "outputs": [
            {"type": c.type, "destination": f"{c.address}:{c.port}", "packets": o.packets, "errors": o.errors}
            for c, o in zip(cfg.outputs, engine.outputs)
        ],
        "universes": engine.rig.n_rows,
        "destination": f"{o.address}:{o.port}",
        "wall": [cfg.wall.width, cfg.wall.height],
        "fps_target": cfg.render.fps,
        "hops": ls.get("hops", 0),
        "analysis_us_per_hop": round(snap["analysis_us_mean"], 2),
        "render_ms_per_frame": round(snap["render_ms_mean"], 3),
        "shader_errors": sh["shader_errors"],
        "tempo": {"true_bpm": cfg.audio.signal.bpm, "estimated_bpm": round(f.bpm, 2), "confidence": round(f.confidence, 3)},
        "source": snap["source"],
    }


def _write_preview(engine: Any, out: Path, cfg: Any) -> None:
    from PIL import Image

    frames = engine.frame.previews if engine.frame is not None else []
    if not frames:
        return
    scale = max(1, 512 // max(frames[0].shape[1], 1))
    imgs = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST) for f in frames]
    imgs[-1].save(out / "preview.png")
    imgs[0].save(out / "preview.gif", save_all=True, append_images=imgs[1:], duration=100, loop=0)


def cmd_run(args: argparse.Namespace) -> int:
    """`lumen run SHOW`: a show on a live input (or a file given with --input)."""
    from lumen.engine import Engine, EngineOptions

    cfg = _load(args.show)
    source: dict[str, Any] | None = None
    if args.input is not None:
        looks_like_file = Path(args.input).is_file() or "/" in args.input or Path(args.input).suffix.lower() in AUDIO_SUFFIXES
        if looks_like_file:
            source = {"source": "file", "file": str(Path(args.input).resolve()), "loop_file": False}
        else:
            dev: str | int = int(args.input) if args.input.isdigit() else args.input
            source = {"source": "device", "device": dev}
    engine = Engine(cfg, args.show, EngineOptions(source=source, seconds=args.seconds, gl_backend=args.gl))
    engine.osc_port = args.osc_port
    _run_engine(engine, args.seconds, f"lumen run {args.show.name}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    """`lumen render --offline AUDIO --show SHOW --out FILE`: a deterministic offline render."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from lumen.engine import render_offline

    cfg = _load(args.show)
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=True) as prog:
        task = prog.add_task("render", total=None)

        def progress(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        res = render_offline(cfg, args.show, args.offline, args.out, fps=args.fps, width=args.width, height=args.height,
                             seconds=args.seconds, progress=progress)
    for msg in res.problems.values():
        print(f"lumen: shader problem: {msg}", file=sys.stderr)
    print(f"lumen render: {res.frames} frames {res.width}x{res.height} at {res.fps:g} fps ({res.seconds:.1f} s of audio) "
          f"in {res.render_s:.1f} s (+{res.analysis_s:.1f} s analysis); wrote {res.out}")
    return EXIT_OK


def cmd_devices(args: argparse.Namespace) -> int:
    """`lumen devices`: audio devices (PortAudio) and network interfaces."""
    print("audio devices:")
    try:
        from lumen.audio.portaudio import import_sounddevice

        sd = import_sounddevice()
        hostapis = sd.query_hostapis()
        devices = sd.query_devices()
        if len(devices) == 0:
            print("  (none)")
        for i, d in enumerate(devices):
            print(f"  {i:3d}  in {d['max_input_channels']:2d}  out {d['max_output_channels']:2d}  "
                  f"{d['default_samplerate']:7.0f} Hz  {d['name']}  [{hostapis[d['hostapi']]['name']}]")
    except DeviceError as e:
        print(f"  unavailable: {e}")
    print("network interfaces:")
    for idx, name in socket.if_nameindex():
        print(f"  {idx:3d}  {name}  {_ipv4_of(name)}")
    return EXIT_OK


def _ipv4_of(ifname: str) -> str:
    import fcntl
    import struct

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", ifname[:15].encode()))  # SIOCGIFADDR
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return "(no IPv4)"
    finally:
        s.close()


def cmd_validate(args: argparse.Namespace) -> int:
    """`lumen validate FILE...`: every error of every file, exit 2 if any."""
    from lumen.show.load import load_show

    bad = 0
    for path in args.files:
        try:
            load_show(path)
            print(f"{path}: ok")
        except ConfigError as e:
            bad += 1
            print(str(e), file=sys.stderr)
    return EXIT_CONFIG if bad else EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """`lumen migrate FILE...`: rewrite show files in the current version (comments are not kept)."""
    import shutil

    from lumen.show.load import dump_show, load_show
    from lumen.show.schema import CURRENT_VERSION

    bad = 0
    for path in args.files:
        try:
            cfg = load_show(path)
        except ConfigError as e:
            bad += 1
            print(str(e), file=sys.stderr)
            continue
        text = dump_show(cfg)
        if args.stdout:
            print(text, end="")
            continue
        old_version = _file_version(path)
        if old_version == CURRENT_VERSION:
            print(f"{path}: already version {CURRENT_VERSION}")
            continue
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        path.write_text(text, encoding="utf-8")
        print(f"{path}: version {old_version} -> {CURRENT_VERSION} (the old file is {path.name}.bak)")
    return EXIT_CONFIG if bad else EXIT_OK


def _file_version(path: Path) -> object:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("version") if isinstance(data, dict) else None


def cmd_osc_map(args: argparse.Namespace) -> int:
    """`lumen osc-map [SHOW]`: the OSC address map as a markdown table."""
    from lumen.control.oscmap import address_map, markdown

    scenes: tuple[str, ...] = ()
    params: dict[str, list[str]] = {}
    if args.show is not None:
        from lumen.show.scenes import build_scene_set

        cfg = _load(args.show)
        ss = build_scene_set(cfg)
        scenes = ss.names
        params = {name: list(ss.nodes(name)) for name in scenes}
    print(markdown(address_map(scenes, params)), end="")
    return EXIT_OK


def cmd_midi(args: argparse.Namespace) -> int:
    """`lumen midi list` / `lumen midi learn`."""
    from lumen.control.midi import learn, list_ports

    api = {"default": None, "jack": "UNIX_JACK", "alsa": "LINUX_ALSA"}[args.api]
    if args.midi_cmd == "list":
        ports = list_ports(api)
        print("\n".join(ports) if ports else "no MIDI input ports")
        return EXIT_OK
    print(f"lumen midi learn: move a control or press a key (waiting up to {args.timeout:g} s) ...", file=sys.stderr)
    snippet = learn(api, args.port, args.timeout, command=args.command, arg=args.arg, mode=args.mode, virtual=args.virtual)
    if snippet is None:
        print("lumen midi learn: nothing received", file=sys.stderr)
        return EXIT_RUNTIME
    print(snippet)
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """`lumen plugins`: registered analyzers and outputs."""
    import lumen.analysis.analyzer  # noqa: F401 - registers the analyzers
    from lumen.analysis.base import analyzers
    from lumen.output import outputs

    print("analyzers: " + ", ".join(analyzers.names()))
    print("outputs:   " + ", ".join(outputs.names()))
    return EXIT_OK


def cmd_fixtures(args: argparse.Namespace) -> int:
    """`lumen fixtures check PATH...`: load OFL files; one line per failing file, a summary."""
    from lumen.patch.fixtures import check_paths

    problems, n_ok, n_bad = check_paths(args.paths)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{n_ok} fixture files ok, {n_bad} failed")
    return EXIT_CONFIG if n_bad else EXIT_OK


def cmd_analyze(args: argparse.Namespace) -> int:
    """`lumen analyze AUDIO --json OUT [--plot PNG]`: the causal live chain over a file."""
    from lumen.analysis.offline import OFFLINE_ANALYZERS, analyze_signal, load_audio, plot, write_json

    names = tuple(n.strip() for n in args.analyzers.split(",")) if args.analyzers else OFFLINE_ANALYZERS
    audio, sr = load_audio(args.audio)
    result = analyze_signal(audio, sr, names)
    write_json(result, args.json)
    bpm = result.tempo_curve()
    last = bpm[-1][1] if bpm else 0.0
    print(
        f"{args.audio}: {result.duration_s:.1f} s, {len(result.beats)} beats, {len(result.downbeats)} downbeats, "
        f"tempo {last:.1f} bpm at the end; {1000.0 * result.cpu_s / max(result.duration_s, 1e-9):.1f} ms CPU per s of audio"
    )
    if args.plot is not None:
        plot(result, audio, args.plot, title=f"lumen analyze: {args.audio.name}")
        print(f"plot: {args.plot}")
    print(f"json: {args.json}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    """`lumen train beat|mood`: build the data set, train, write weights and their configuration."""
    import dataclasses

    if args.model == "mood":
        from lumen.analysis.mood import WEIGHTS_DIR as MOOD_DIR
        from lumen.analysis.train.mood import train_mood

        out = args.out or MOOD_DIR
        meta = train_mood(out, args.seed, workers=args.workers, progress=True)
        print(f"lumen train mood: wrote {out}; validation loss {meta['loss_val']}, {meta['n_params']} parameters, "
              f"{meta['seconds_total']:.0f} s")
        return EXIT_OK

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from lumen.analysis.beat.model import MEMBERS, WEIGHTS_DIR, ModelConfig, member_file
    from lumen.analysis.train.beat import CANDIDATE_CONFIGS, MEMBER_CONFIGS, TCN_MODEL, train_members

    if args.member in CANDIDATE_CONFIGS and args.out is None:
        raise LumenError(f"--member {args.member} is a candidate, not a shipped member: give --out DIR (then score DIR with "
                         "benchmarks/beat_accuracy.py --weights DIR)")
    out = args.out or WEIGHTS_DIR
    cfgs = []
    for name in MEMBERS if args.member == "all" else (args.member,):
        cfg = MEMBER_CONFIGS.get(name) or CANDIDATE_CONFIGS[name]
        changes: dict[str, Any] = {}
        if args.seed is not None:
            changes["seed"] = args.seed
        if args.steps is not None:
            changes["steps"] = args.steps
        if args.recorded is not None:
            changes["n_recorded"] = args.recorded
        if args.clips is not None:
            changes["n_midi"] = args.clips
            changes["n_dance"] = max(1, round(args.clips * cfg.n_dance / cfg.n_midi))
            changes["n_wad"] = round(args.clips * cfg.n_wad / cfg.n_midi)
            changes["n_files"] = round(args.clips * cfg.n_files / cfg.n_midi)
            changes["n_mma"] = round(args.clips * cfg.n_mma / cfg.n_midi)
        if args.wad is not None:
            changes["n_wad"] = args.wad
        if args.dance is not None:
            changes["n_dance"] = args.dance
        model = cfg.model
        if args.arch is not None and args.arch != model.arch:
            model = TCN_MODEL if args.arch == "tcn" else ModelConfig()
        if args.dropout is not None:
            if model.arch != "tcn":
                raise LumenError("--dropout applies to a TCN only: add --arch tcn")
            model = dataclasses.replace(model, dropout=args.dropout)
        changes["model"] = model
        cfgs.append(dataclasses.replace(cfg, **changes))
    if args.jobs < 1:
        raise LumenError(f"--jobs must be at least 1, got {args.jobs}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} {task.fields[info]}"),
                  TimeElapsedColumn(), TimeRemainingColumn()) as prog:
        tasks = {}
        for cfg in cfgs:
            n_data = cfg.n_midi + cfg.n_dance + cfg.n_recorded + cfg.n_wad + cfg.n_files + cfg.n_mma
            tasks[cfg.member, "data"] = prog.add_task(f"{cfg.member}: generating audio", total=n_data, info="")
            tasks[cfg.member, "train"] = prog.add_task(f"{cfg.member}: training", total=cfg.steps, info="")

        def progress(member: str, stage: str, done: int, total: int, info: dict[str, float]) -> None:
            text = " ".join(f"{k} {v:.4f}" for k, v in info.items())
            prog.update(tasks[member, stage], completed=done, total=total, info=text)

        metas = train_members(cfgs, out, jobs=args.jobs, workers=args.workers, progress=progress)
    for cfg, meta in zip(cfgs, metas):
        print(f"member {cfg.member}: {out / member_file(cfg.member)}; validation loss {meta['loss_val']}, "
              f"{meta['n_params']} parameters, {meta['seconds_total']:.0f} s")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """`lumen bench [NAME...]`: run the scripts in benchmarks/."""
    import importlib.util

    bench_dir = REPO_ROOT / "benchmarks"
    scripts = sorted(p for p in bench_dir.glob("*.py") if not p.name.startswith("_"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names or s.stem in args.names]
        if not scripts:
            raise LumenError(f"no benchmark named {', '.join(args.names)}; see {bench_dir}")
    rc = 0
    for s in scripts:
        spec = importlib.util.spec_from_file_location(s.stem, s)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"== {s.stem}")
        rc |= int(mod.main(["--quick"] if args.quick else []))
    return rc


if __name__ == "__main__":
    sys.exit(main())
