"""Send lumen's qlcplus-type scene cue to QLC+ and read what olad then receives; runs *inside* the
private network namespace of tests/integration/test_qlcplus.py.

Usage::

    ip netns exec NS python tests/helpers/qlcplus/send_cue.py NS SCENE QLC_IP SOURCE_IP

Prints one JSON object: olad's universe 1 before and after the cue and the sender's counters. Besides QLC+, the sender has a target with no route
(10.99.0.1), whose sends must be counted as errors, never raised. Refuses to run outside the
namespace NS. Every wait is bounded in time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from lumen.output.osc import ConsoleTarget, OscCueSender  # noqa: E402

#: A destination the namespace has no route to.
UNROUTABLE = "10.99.0.1"


def get_dmx(universe: int) -> list[int]:
    """olad's current values of ``universe`` (``[]`` before any source sent it)."""
    res = subprocess.run(
        ["curl", "-s", "--max-time", "2", f"http://127.0.0.1:9090/get_dmx?u={universe}"],
        capture_output=True, text=True, timeout=10,
    )
    dmx: list[int] = json.loads(res.stdout)["dmx"] if res.stdout else []
    return dmx


def main() -> int:
    netns, scene, qlc_ip, source_ip = sys.argv[1:5]
    here = subprocess.run(["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True)
    if here.stdout.strip() != netns:
        print(f"refusing to run outside network namespace {netns!r}", file=sys.stderr)
        return 2
    before = get_dmx(1)[:8]
    qlc = ConsoleTarget(name="qlc", type="qlcplus", address=qlc_ip, port=7700, bind=source_ip, events={"scene"})
    nowhere = ConsoleTarget(name="nowhere", type="qlcplus", address=UNROUTABLE, port=7700, events={"scene"})
    sender = OscCueSender([qlc, nowhere])
    sender.start()
    t0 = time.perf_counter()
    sender.post("scene", t0, scene=scene)
    deadline = time.monotonic() + 5.0
    while sender.stats()["osc_out_sent"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # press and release
    sent_after = sender.stats()
    after: list[int] = []
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        after = get_dmx(1)[:8]
        if after and after != before:
            break
        time.sleep(0.05)
    sender.stop()
    print(json.dumps({
        "before": before,
        "after": after,
        "stats": sent_after,
        "last_error": sender.last_error,
        "cue_to_dmx_s": round(time.perf_counter() - t0, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
