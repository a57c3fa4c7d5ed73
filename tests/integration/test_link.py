"""lumen's `LinkSession` against a plain aalink peer, two processes in a private network namespace.

Link discovers peers by multicast on every interface, so both peers run inside a namespace the
module fixture creates (loopback only, multicast routed to it) and deletes afterwards, even on
failure. The peers are tests/helpers/link_peer.py, driven by JSON lines over pipes. Both run on
this machine, so their perf_counter (CLOCK_MONOTONIC) times are directly comparable: phase
agreement is checked by evaluating both peers' session beat at one shared instant.
"""

from __future__ import annotations

import json
import math
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.network]

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "link_peer.py"
QUANTUM = 4.0
#: Link sends the tempo as whole microseconds per beat: 97.25 bpm arrives as 97.24993 bpm.
BPM_TOL = 1e-3


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    """A fresh namespace whose loopback carries multicast; deleted afterwards."""
    if shutil.which("ip") is None:
        pytest.fail("`ip` (iproute2) is not installed: Link tests need a private network namespace")
    name = f"lumen-link{os.getpid()}{secrets.token_hex(2)}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.fail(f"cannot create network namespace {name} (`ip netns add`, needs root): {made.stderr.strip()}")
    try:
        for cmd in (("link", "set", "lo", "up"), ("link", "set", "lo", "multicast", "on"),
                    ("route", "add", "224.0.0.0/4", "dev", "lo")):
            r = _ip("netns", "exec", name, "ip", *cmd)
            if r.returncode != 0:
                pytest.fail(f"setting up netns {name}: ip {' '.join(cmd)}: {r.stderr.strip()}")
        yield name
    finally:
        r = _ip("netns", "del", name)
        assert r.returncode == 0, f"could not delete netns {name}: {r.stderr}"


class Peer:
    """One helper process: send a JSON command, get the JSON answer (bounded waits)."""

    def __init__(self, netns: str, role: str) -> None:
        self.role = role
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(HELPER), netns, role],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        ready = self._next(10.0)
        assert ready.get("ready"), ready

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            err = ""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            raise AssertionError(f"{self.role} peer did not answer within {timeout_s} s {err}") from None
        obj: dict[str, Any] = json.loads(line)
        return obj

    def ask(self, op: str, timeout_s: float = 5.0, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._next(timeout_s)

    def quit(self) -> dict[str, Any]:
        bye = self.ask("quit")
        self.proc.wait(timeout=5)
        return bye

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def peers(netns: str) -> Iterator[Callable[[str], Peer]]:
    made: list[Peer] = []

    def make(role: str) -> Peer:
        made.append(Peer(netns, role))
        return made[-1]

    yield make
    for p in made:
        p.kill()


def wait_for(pred: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> float:
    """Poll ``pred`` until true; return the seconds it took (raise after ``timeout_s``)."""
    t0 = time.perf_counter()
    while not pred():
        if time.perf_counter() - t0 > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(step_s)
    return time.perf_counter() - t0


def phase_diff_ms(lumen: Peer, plain: Peer) -> tuple[float, float]:
    """lumen's session beat minus the plain peer's at one shared instant, in ms (mod the
    quantum), and the tempo. Evaluated at the plain peer's sample time, best of a few tries."""
    best = math.inf
    bpm = math.nan
    for _ in range(5):
        ref = plain.ask("sample")
        mine = lumen.ask("sample", t=ref["t"])
        bpm = ref["bpm"]
        d = math.fmod(mine["beat"] - ref["beat"], QUANTUM) % QUANTUM
        if d >= QUANTUM / 2:
            d -= QUANTUM
        ms = d * 60.0 / bpm * 1000.0
        if abs(ms) < abs(best):
            best = ms
    return best, bpm


def test_follow_then_lead(peers: Callable[[str], Peer]) -> None:
    figures: dict[str, float] = {}
    plain = peers("plain")
    lumen = peers("lumen")

    # They find each other.
    figures["discovery_s"] = wait_for(lambda: lumen.ask("peers")["n"] >= 1 and plain.ask("peers")["n"] >= 1, 3.0)

    # Follow: lumen adopts the session and reports it.
    wait_for(lambda: lumen.ask("reports")["n"] > 0, 1.0)
    d_ms, _ = phase_diff_ms(lumen, plain)
    figures["follow_phase_ms"] = d_ms
    assert abs(d_ms) < 2.0, f"lumen's beat differs from the peer's by {d_ms:.3f} ms"

    # The plain peer changes tempo: lumen reports the new one within 1 s.
    t_set = plain.ask("tempo", bpm=97.25)["t"]

    def reported_97() -> bool:
        last = lumen.ask("reports")["last"]
        return last is not None and abs(last[0] - 97.25) < BPM_TOL

    figures["tempo_follow_s"] = wait_for(reported_97, 1.0)
    rep = lumen.ask("reports")
    bpm, beat_t, t_rep = rep["last"]
    assert t_rep > t_set
    # The reported beat_t is a beat boundary of the session, as the plain peer sees it.
    ref = plain.ask("sample")
    beat_at_beat_t = ref["beat"] + (beat_t - ref["t"]) * ref["bpm"] / 60.0
    off = beat_at_beat_t - round(beat_at_beat_t)
    figures["report_beat_t_ms"] = off * 60.0 / ref["bpm"] * 1000.0
    assert abs(figures["report_beat_t_ms"]) < 2.0
    d_ms, bpm_now = phase_diff_ms(lumen, plain)
    figures["follow_phase_after_tempo_ms"] = d_ms
    assert bpm_now == pytest.approx(97.25, abs=BPM_TOL)
    assert abs(d_ms) < 2.0
    assert rep["counters"]["link_errors"] == 0

    # Lead: lumen's tracker says 131.5 bpm with a beat at beat_t; the peer follows.
    assert lumen.ask("mode", mode="lead")["ok"]
    grid_t = time.perf_counter() + 0.1234
    t_pub = time.perf_counter()
    lumen.ask("publish", bpm=131.5, beat_t=grid_t, confidence=0.9)
    figures["tempo_lead_s"] = wait_for(lambda: abs(plain.ask("sample")["bpm"] - 131.5) < BPM_TOL, 1.0)
    assert time.perf_counter() - t_pub < 1.5
    d_ms, bpm_now = phase_diff_ms(lumen, plain)
    figures["lead_phase_ms"] = d_ms
    assert bpm_now == pytest.approx(131.5, abs=BPM_TOL)
    assert abs(d_ms) < 2.0
    # The session's beats now fall on lumen's grid (beat_t + k * 60 / bpm), as the peer sees them.
    ref = plain.ask("sample")
    at_grid = ref["beat"] + (grid_t - ref["t"]) * ref["bpm"] / 60.0
    figures["lead_grid_ms"] = (at_grid - round(at_grid)) * 60.0 / 131.5 * 1000.0
    assert abs(figures["lead_grid_ms"]) < 2.0
    rep = lumen.ask("reports")
    assert rep["counters"]["link_tempo_sets"] >= 1
    assert rep["counters"]["link_beat_forces"] >= 1
    assert rep["n_lost"] == 1, "switching to lead must withdraw Link as a tempo source"
    n_follow_reports = rep["n"]

    # A small change below the dead band is not published; a low-confidence one is ignored.
    lumen.ask("publish", bpm=131.52, beat_t=grid_t, confidence=0.9)
    lumen.ask("publish", bpm=90.0, beat_t=grid_t, confidence=0.1)
    time.sleep(0.2)
    assert plain.ask("sample")["bpm"] == pytest.approx(131.5, abs=BPM_TOL)
    assert lumen.ask("reports")["n"] == n_follow_reports, "lead mode must not report to the sink"

    # Back to follow, then the plain peer leaves: lumen reports it lost.
    lumen.ask("mode", mode="follow")
    wait_for(lambda: lumen.ask("reports")["n"] > n_follow_reports, 1.0)
    t_quit = time.perf_counter()
    plain.quit()
    wait_for(lambda: lumen.ask("reports")["n_lost"] == 2, 3.0)
    figures["lost_s"] = lumen.ask("reports")["lost_t"] - t_quit
    assert lumen.ask("peers")["n"] == 0

    bye = lumen.quit()
    assert bye["stop_s"] < 1.0 and not bye["alive"]
    figures["stop_s"] = bye["stop_s"]
    assert bye["counters"]["link_errors"] == 0
    print("\nLink figures:", json.dumps({k: round(v, 4) for k, v in figures.items()}))
