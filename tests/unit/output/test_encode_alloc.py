"""The `@realtime` encode paths of the Art-Net, DDP and sACN encoders allocate nothing that
stays or grows, and no packet- or frame-sized buffer (tracemalloc over many frames)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from lumen.output.encode.artnet import ArtnetEncoder
from lumen.output.encode.ddp import DdpEncoder
from lumen.output.encode.sacn import SacnEncoder


def _cases() -> list[tuple[str, Callable[[], object]]]:
    dmx = np.full((8, 512), 3, np.uint8)
    art = ArtnetEncoder(8)
    sacn = SacnEncoder(8, cid=bytes(16))
    rgb = np.full((1000, 3), 5, np.uint8)
    ddp = DdpEncoder(1000)
    flat = rgb.reshape(-1)
    return [
        ("artnet encode_frame", lambda: art.encode_frame(dmx)),
        ("artnet encode", lambda: art.encode(3, dmx[3])),
        ("artnet sync_packet", art.sync_packet),
        ("sacn encode_frame", lambda: sacn.encode_frame(dmx)),
        ("ddp encode", lambda: ddp.encode(rgb)),
        ("ddp encode_bytes", lambda: ddp.encode_bytes(flat)),
    ]


@pytest.mark.parametrize("case", range(len(_cases())), ids=[c[0] for c in _cases()])
def test_encode_allocates_nothing_that_stays_or_grows(case: int) -> None:
    _, fn = _cases()[case]
    for _ in range(200):  # warm up caches
        fn()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(5000):
        fn()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - base < 512
    assert peak - base < 512  # far below one 512-slot universe or one 1440-byte DDP payload
