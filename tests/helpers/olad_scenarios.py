"""Scenarios that drive olad with lumen's sACN and Art-Net outputs; run *inside* a private network
namespace.

Usage (from tests/integration/test_olad.py)::

    ip netns exec NS python tests/helpers/olad_scenarios.py NS SCENARIO

Prints one JSON object with what olad reported (``get_dmx`` read with ``curl`` on
127.0.0.1:9090 inside the namespace). Refuses to run unless the process really is in the
namespace NS, because some scenarios send multicast. Every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lumen.output import ArtnetOutput, ArtPollResponder, OutputThread, SacnOutput  # noqa: E402
from lumen.output.encode.artnet import encode_artpoll  # noqa: E402

#: The namespace's "DMX network" address and its broadcast address (ola_netns_up.sh).
NETNS_IP = "10.231.0.1"
NETNS_BROADCAST = "10.231.0.255"
#: OLA universes patched to Art-Net Port-Addresses 0..3.
OLA_ARTNET = {0: 16, 1: 17, 2: 18, 3: 19}

Dmx = npt.NDArray[np.uint8]


def pattern(universe: int, salt: int) -> Dmx:
    """Distinct, known values for every slot of a universe."""
    j = np.arange(512)
    return ((universe * 37 + salt * 101 + j * 11) % 256).astype(np.uint8)


def get_dmx(universe: int) -> list[int]:
    """olad's current 512 values of ``universe`` (an empty universe reads as zeros)."""
    res = subprocess.run(
        ["curl", "-s", "--max-time", "2", f"http://127.0.0.1:9090/get_dmx?u={universe}"],
        capture_output=True,
        text=True,
        timeout=5,
        check=True,
    )
    values = [int(v) for v in json.loads(res.stdout)["dmx"]]
    return values + [0] * (512 - len(values))


def wait_dmx(universe: int, expected: Dmx, timeout_s: float = 3.0) -> list[int]:
    """Poll olad until ``universe`` reads ``expected`` or ``timeout_s`` passes; return the last read."""
    want = expected.tolist()
    deadline = time.perf_counter() + timeout_s
    got = get_dmx(universe)
    while got != want and time.perf_counter() < deadline:
        time.sleep(0.02)
        got = get_dmx(universe)
    return got


class Barrier:
    """Makes sure olad has processed everything sent before: it reads packets in order, so once
    a new marker value on ``universe`` is visible, every earlier packet has been handled."""

    def __init__(self, universe: int) -> None:
        self.universe = universe
        self.out = SacnOutput(start_universe=universe, source_name="lumen-test marker")
        self.value = 0

    def __call__(self) -> bool:
        self.value = self.value % 250 + 1
        marker = np.full(512, self.value, np.uint8)
        self.out.send_frame(marker)
        return wait_dmx(self.universe, marker) == marker.tolist()

    def close(self) -> None:
        self.out.terminate()
        self.out.close()


def scenario_unicast() -> dict[str, Any]:
    """OutputThread + SacnOutput unicast to 127.0.0.1:5568, universes 1..3."""
    out = SacnOutput(start_universe=1, n_universes=3, source_name="lumen-test unicast")
    pacer = OutputThread([out], n_universes=3)
    frame = np.stack([pattern(u, 1) for u in (1, 2, 3)])
    pacer.start()
    try:
        pacer.publish(frame, time.perf_counter(), 0)
        got = {str(u): wait_dmx(u, frame[u - 1]) for u in (1, 2, 3)}
    finally:
        pacer.stop()
        out.close()
    return {"got": got, "expected": {str(u): frame[u - 1].tolist() for u in (1, 2, 3)}, "stats": pacer.stats()}


def scenario_multicast_address() -> dict[str, Any]:
    """Universe 1 to the explicit group 239.255.0.1 (allowed only here)."""
    out = SacnOutput(address="239.255.0.1", start_universe=1, allow_multicast=True, source_name="lumen-test mc1")
    frame = pattern(1, 2)
    try:
        got: list[int] = []
        for _ in range(50):  # bounded: resend until olad shows it (joins can take a moment)
            out.send_frame(frame)
            got = wait_dmx(1, frame, timeout_s=0.1)
            if got == frame.tolist():
                break
        out.terminate()
    finally:
        out.close()
    return {"got": {"1": got}, "expected": {"1": frame.tolist()}, "errors": out.errors}


def scenario_multicast_groups() -> dict[str, Any]:
    """Universes 1..3 each to its own group 239.255.0.u (``multicast=True``)."""
    out = SacnOutput(
        start_universe=1, n_universes=3, multicast=True, allow_multicast=True, source_name="lumen-test mc"
    )
    frame = np.stack([pattern(u, 3) for u in (1, 2, 3)])
    got: dict[str, list[int]] = {}
    try:
        for _ in range(50):
            out.send_frame(frame)
            got = {str(u): wait_dmx(u, frame[u - 1], timeout_s=0.1) for u in (1, 2, 3)}
            if all(got[str(u)] == frame[u - 1].tolist() for u in (1, 2, 3)):
                break
        out.terminate()
    finally:
        out.close()
    return {
        "got": got,
        "expected": {str(u): frame[u - 1].tolist() for u in (1, 2, 3)},
        "destinations": [list(d) for d in out.destinations],
    }


def scenario_priority() -> dict[str, Any]:
    """Universe 4: a priority-150 source beats a priority-50 one until it sends Stream_Terminated."""
    low = SacnOutput(start_universe=4, priority=50, source_name="lumen-test low")
    high = SacnOutput(start_universe=4, priority=150, source_name="lumen-test high")
    barrier = Barrier(5)
    lo_v, hi_v = pattern(4, 4), pattern(4, 5)
    steps: dict[str, Any] = {}
    try:
        low.send_frame(lo_v)
        steps["low_alone"] = wait_dmx(4, lo_v)
        high.send_frame(hi_v)
        low.send_frame(lo_v)
        steps["both"] = wait_dmx(4, hi_v)
        # High goes quiet without terminating: olad keeps it for 2.5 s, so low still loses.
        low.send_frame(lo_v)
        steps["barrier_1"] = barrier()
        steps["high_silent"] = get_dmx(4)
        # Stream_Terminated: olad drops high at once; low's next packet takes over.
        steps["terminate_ok"] = high.terminate()
        low.send_frame(lo_v)
        steps["barrier_2"] = barrier()
        steps["high_terminated"] = get_dmx(4)
        low.terminate()
    finally:
        barrier.close()
        low.close()
        high.close()
    steps["low"] = lo_v.tolist()
    steps["high"] = hi_v.tolist()
    return steps


def scenario_keepalive() -> dict[str, Any]:
    """A static look held by OutputThread keep-alives outlives olad's 2.5 s source timeout.

    Universe 4: priority 150 through OutputThread (one publish, keep-alives every 0.5 s).
    Universe 5: priority 150 sent once by hand, then silent. After 3.5 s a priority-50 source
    sends on both: it must lose on 4 (the kept-alive source is still there) and win on 5.
    """
    kept = SacnOutput(start_universe=4, priority=150, source_name="lumen-test kept")
    pacer = OutputThread([kept], n_universes=1, keepalive_s=0.5)
    once = SacnOutput(start_universe=5, priority=150, source_name="lumen-test once")
    low = SacnOutput(start_universe=4, n_universes=2, priority=50, source_name="lumen-test low")
    barrier = Barrier(3)
    hi4, hi5 = pattern(4, 6), pattern(5, 6)
    lo = np.stack([pattern(4, 7), pattern(5, 7)])
    steps: dict[str, Any] = {}
    pacer.start()
    try:
        pacer.publish(hi4[None, :], time.perf_counter(), 0)
        once.send_frame(hi5)
        steps["hi4_seen"] = wait_dmx(4, hi4) == hi4.tolist()
        steps["hi5_seen"] = wait_dmx(5, hi5) == hi5.tolist()
        time.sleep(3.5)
        low.send_frame(lo)
        steps["barrier"] = barrier()
        steps["u4"] = get_dmx(4)
        steps["u5"] = get_dmx(5)
    finally:
        pacer.stop()
        low.terminate()
        barrier.close()
        for o in (kept, once, low):
            o.close()
    steps["stats"] = pacer.stats()
    steps["hi4"], steps["lo4"], steps["lo5"] = hi4.tolist(), lo[0].tolist(), lo[1].tolist()
    return steps


def scenario_artnet_unicast() -> dict[str, Any]:
    """OutputThread + ArtnetOutput unicast to 127.0.0.1:6454, Port-Addresses 0..1 (OLA 16..17).

    Port-Addresses 2..3 are left to the broadcast scenario: olad merges two Art-Net sources of
    one universe HTP (for 10 s after the last packet), so each scenario owns its universes.
    """
    out = ArtnetOutput(start_universe=0, n_universes=2)
    pacer = OutputThread([out], n_universes=2)
    frame = np.stack([pattern(u, 8) for u in (0, 1)])
    pacer.start()
    try:
        pacer.publish(frame, time.perf_counter(), 0)
        got = {str(pa): wait_dmx(OLA_ARTNET[pa], frame[pa]) for pa in (0, 1)}
    finally:
        pacer.stop()
        out.close()
    return {"got": got, "expected": {str(pa): frame[pa].tolist() for pa in (0, 1)}, "stats": pacer.stats()}


def scenario_artnet_broadcast() -> dict[str, Any]:
    """ArtDmx + ArtSync broadcast to the namespace's 10.231.0.255 (allowed only here), Port-Addresses
    2..3 (OLA 18..19)."""
    out = ArtnetOutput(address=NETNS_BROADCAST, start_universe=2, n_universes=2, sync=True, allow_broadcast=True)
    frame = np.stack([pattern(u, 9) for u in (2, 3)])
    got: dict[str, list[int]] = {}
    try:
        for _ in range(20):  # bounded: resend until olad shows it
            out.send_frame(frame)
            got = {str(pa): wait_dmx(OLA_ARTNET[pa], frame[pa - 2], timeout_s=0.2) for pa in (2, 3)}
            if all(got[str(pa)] == frame[pa - 2].tolist() for pa in (2, 3)):
                break
    finally:
        out.close()
    return {
        "got": got,
        "expected": {str(pa): frame[pa - 2].tolist() for pa in (2, 3)},
        "errors": out.errors,
        "packets": out.packets,
    }


def _collect(sock: socket.socket, n: int, timeout_s: float) -> list[tuple[bytes, tuple[str, int]]]:
    """Up to ``n`` datagrams within ``timeout_s`` (bounded)."""
    got: list[tuple[bytes, tuple[str, int]]] = []
    deadline = time.perf_counter() + timeout_s
    while len(got) < n:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, source = sock.recvfrom(2048)
        except TimeoutError:
            break
        got.append((data, (str(source[0]), int(source[1]))))
    return got


def scenario_artpoll_olad() -> dict[str, Any]:
    """A controller broadcasts ArtPoll in the namespace; olad's ArtPollReply (to port 6454) is kept."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # olad holds 0.0.0.0:6454 too
    listener.bind(("0.0.0.0", 6454))
    poller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    poller.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    poller.bind(("", 0))
    try:
        poller.sendto(encode_artpoll(), (NETNS_BROADCAST, 6454))
        got = _collect(listener, 8, 3.0)
    finally:
        listener.close()
        poller.close()
    return {"packets": [data.hex() for data, _ in got]}


def scenario_artpoll_lumen() -> dict[str, Any]:
    """lumen's ArtPollResponder on 0.0.0.0:6454 (sharing the port with olad) answers a broadcast
    ArtPoll by unicast to the poller's ephemeral port."""
    responder = ArtPollResponder(
        [0, 1, 2, 3, 16], bind_address="0.0.0.0", port=6454, reply_ip=NETNS_IP, reuse_address=True,
        short_name="lumen-netns", long_name="lumen in a private namespace",
    )
    poller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    poller.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    poller.bind(("", 0))
    responder.start()
    try:
        poller.sendto(encode_artpoll(), (NETNS_BROADCAST, 6454))
        got = _collect(poller, 2, 3.0)
    finally:
        poller.close()
        responder.stop()
    return {
        "packets": [data.hex() for data, _ in got],
        "sources": [list(src) for _, src in got],
        "polls": responder.polls,
        "replies": responder.replies,
        "send_errors": responder.send_errors,
    }


SCENARIOS = {
    "unicast": scenario_unicast,
    "multicast_address": scenario_multicast_address,
    "multicast_groups": scenario_multicast_groups,
    "priority": scenario_priority,
    "keepalive": scenario_keepalive,
    "artnet_unicast": scenario_artnet_unicast,
    "artnet_broadcast": scenario_artnet_broadcast,
    "artpoll_olad": scenario_artpoll_olad,
    "artpoll_lumen": scenario_artpoll_lumen,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in SCENARIOS:
        print(f"usage: olad_scenarios.py NETNS {{{','.join(SCENARIOS)}}}", file=sys.stderr)
        return 2
    netns, name = argv
    here = subprocess.run(
        ["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True, timeout=5
    ).stdout.strip()
    if here != netns or not netns.startswith("lumen-t"):
        print(f"refusing to run: this process is in netns {here!r}, not the test namespace {netns!r}", file=sys.stderr)
        return 3
    print(json.dumps(SCENARIOS[name]()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
