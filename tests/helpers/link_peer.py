"""An Ableton Link peer driven through stdin/stdout JSON lines; runs *inside* a private netns.

Usage (from tests/integration/test_link.py)::

    ip netns exec NS python tests/helpers/link_peer.py NS plain|lumen

``plain`` is a bare aalink peer (what a DAW or DJ app would be); ``lumen`` is lumen's
`LinkSession` with a recording `TempoSink`. Each stdin line is one JSON command, each stdout
line one JSON answer (the first line is ``{"ready": true}``). Times are perf_counter seconds:
every process of the machine shares CLOCK_MONOTONIC, so the test compares them directly.

Refuses to run unless the process really is in namespace NS, because Link multicasts on every
interface. Every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def check_netns(name: str) -> None:
    """Exit unless this process runs in network namespace ``name``."""
    res = subprocess.run(["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True, timeout=10)
    if res.stdout.strip() != name:
        sys.stderr.write(f"link_peer: not inside netns {name!r} (got {res.stdout.strip()!r}); refusing to multicast\n")
        sys.exit(3)


def answer(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class RecordingSink:
    """A TempoSink that keeps what Link reported (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: list[tuple[float, float | None, float | None]] = []
        self.n_reports = 0
        self.n_lost = 0
        self.lost_t = math.nan

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        assert source == "link"
        with self.lock:
            self.n_reports += 1
            self.reports.append((bpm, beat_t, t))
            del self.reports[:-200]

    def lost(self, source: str) -> None:
        assert source == "link"
        with self.lock:
            self.n_lost += 1
            self.lost_t = time.perf_counter()


async def plain_peer() -> None:
    import aalink

    link = aalink.Link(120.0)
    link.quantum = 4.0
    link.enabled = True
    loop = asyncio.get_running_loop()
    answer({"ready": True})
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                break
            if op == "peers":
                answer({"n": link.num_peers})
            elif op == "tempo":
                link.tempo = float(cmd["bpm"])
                answer({"ok": True, "t": time.perf_counter()})
            elif op == "sample":
                t0 = time.perf_counter()
                beat = link.beat
                t1 = time.perf_counter()
                answer({"t": 0.5 * (t0 + t1), "beat": beat, "bpm": link.tempo, "width": t1 - t0})
            else:
                answer({"error": f"unknown op {op}"})
    finally:
        link.enabled = False
    answer({"bye": True})


def lumen_peer() -> None:
    from lumen.control.link import LinkSession

    sink = RecordingSink()
    session = LinkSession(sink, mode="follow", quantum=4.0, initial_bpm=100.0)
    session.start()
    answer({"ready": True})
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                break
            if op == "peers":
                answer({"n": session.num_peers})
            elif op == "mode":
                session.mode = cmd["mode"]
                answer({"ok": True})
            elif op == "publish":
                session.publish(float(cmd["bpm"]), float(cmd["beat_t"]), float(cmd["confidence"]),
                                downbeat_t=cmd.get("downbeat_t"))
                answer({"ok": True})
            elif op == "sample":
                t = float(cmd.get("t") or time.perf_counter())
                answer({"t": t, "beat": session.beat_at(t), "phase": session.phase_at(t), "bpm": session.tempo})
            elif op == "reports":
                with sink.lock:
                    last = sink.reports[-1] if sink.reports else None
                    answer({"n": sink.n_reports, "last": last, "n_lost": sink.n_lost, "lost_t": sink.lost_t,
                            "counters": session.counters.snapshot(), "offset": session.clock_offset_s})
            else:
                answer({"error": f"unknown op {op}"})
    finally:
        t0 = time.perf_counter()
        session.stop()
        answer({"bye": True, "stop_s": time.perf_counter() - t0, "alive": session.running,
                "counters": session.counters.snapshot()})


def main() -> None:
    netns, role = sys.argv[1], sys.argv[2]
    check_netns(netns)
    if role == "plain":
        asyncio.run(plain_peer())
    elif role == "lumen":
        lumen_peer()
    else:
        sys.exit(f"unknown role {role}")


if __name__ == "__main__":
    main()
