"""The live terminal dashboard of `lumen demo` and `lumen run`.

Layer: cli (presentation only; nothing imports it but `lumen.cli`). Threads: the main thread.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from lumen.features import BANDS, Features


def _bar(x: float, width: int = 20) -> str:
    n = int(round(max(0.0, min(1.0, x)) * width))
    return "█" * n + "·" * (width - n)


def plain_line(snap: dict[str, Any]) -> str:
    """One line of figures for logs and non-TTY output."""
    f: Features = snap["features"]
    lat = snap.get("latency_ms", {})
    ls, sh, out = snap["listen"], snap["show"], snap["output"]
    return (
        f"t={snap['elapsed_s']:5.1f}s bpm={f.bpm:6.1f} conf={f.confidence:.2f} energy={f.energy:.2f} "
        f"callbacks={ls.get('callbacks', 0)} xruns={ls.get('xruns', 0)} hops={ls.get('hops', 0)} "
        f"frames={sh.get('frames', 0)} late={sh.get('late_frames', 0)} packets={out.get('packets', 0)} "
        f"send_errors={out.get('send_errors', 0)} latency_p50={lat.get('p50', float('nan')):.1f}ms "
        f"scene={snap.get('scene', '')} tempo_source={f.tempo_source} osc_msgs={snap.get('control', {}).get('osc_messages', 0)}"
    )


class Dashboard:
    """A `rich` live view when stdout is a terminal, else a plain line every few seconds.

    Parameters
    ----------
    title : str
    stream : TextIO
    plain_every_s : float
        Seconds between plain lines when not on a terminal.
    """

    def __init__(self, title: str, stream: TextIO | None = None, plain_every_s: float = 2.0) -> None:
        self.title = title
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.plain_every_s = plain_every_s
        self._last_plain = -1e9
        self._live: Any = None

    def __enter__(self) -> Dashboard:
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.stream), refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, snap: dict[str, Any]) -> None:
        """Show the latest snapshot."""
        if self._live is not None:
            self._live.update(self._table(snap))
            return
        if snap["elapsed_s"] - self._last_plain >= self.plain_every_s:
            self._last_plain = snap["elapsed_s"]
            print(plain_line(snap), file=self.stream, flush=True)

    def _table(self, snap: dict[str, Any]) -> Any:
        from rich.table import Table

        f: Features = snap["features"]
        ls, sh, out, lat = snap["listen"], snap["show"], snap["output"], snap.get("latency_ms", {})
        t = Table(title=f"{self.title} — {snap['elapsed_s']:.1f} s — {snap.get('source', '')}", show_header=False, expand=False)
        t.add_column("what", style="bold")
        t.add_column("value")
        beat = "●" if f.beat_phase < 0.2 else "○"
        t.add_row("tempo", f"{f.bpm:6.1f} bpm  conf {f.confidence:.2f}  {beat}  beat {_bar(f.beat_phase, 8)} bar {_bar(f.bar_phase, 16)}  from {f.tempo_source}")
        t.add_row("energy", f"{_bar(f.energy)} {f.energy:.2f}  ({f.rms_db:6.1f} dBFS)")
        for name, v in zip(BANDS, f.bands):
            t.add_row(name, f"{_bar(v)} {v:.2f}")
        t.add_row("onset", f"{_bar(f.onset)} {'ONSET' if f.is_onset else ''}")
        t.add_row("audio", f"callbacks {ls.get('callbacks', 0)}  xruns {ls.get('xruns', 0)}  overflows {ls.get('input_overflows', 0)}  analysis {snap['analysis_us_mean']:.0f} µs/hop")
        t.add_row("render", f"frames {sh.get('frames', 0)}  late {sh.get('late_frames', 0)}  {snap['render_ms_mean']:.2f} ms/frame  shader errors {sh.get('shader_errors', 0)}")
        t.add_row("output", f"packets {out.get('packets', 0)}  errors {out.get('send_errors', 0)}  keep-alives {out.get('keepalives', 0)}")
        t.add_row("latency", f"audio→wire p50 {lat.get('p50', float('nan')):.1f} ms  p99 {lat.get('p99', float('nan')):.1f} ms")
        ctl = snap.get("control", {})
        if ctl or snap.get("scene"):
            osc = f"OSC :{ctl['osc_port']} msgs {ctl.get('osc_messages', 0)} bad {ctl.get('osc_bad', 0) + ctl.get('osc_unknown', 0)}" if "osc_port" in ctl else "OSC off"
            t.add_row("show", f"scene {snap.get('scene', '')}  automation {snap.get('automation', '')}  {osc}  cues out {ctl.get('osc_out_sent', 0)}")
        if snap.get("last_shader_error"):
            t.add_row("error", f"[red]{snap['last_shader_error']}[/red]")
        return t
