"""Hypothesis properties of pixel maps: slot bounds, no overlaps, no straddling, no stray writes."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lumen.patch.pixelmap import MatrixMap, PixelMap, PointMap, Strip, StripMap

ORDERS = st.sampled_from(["RGB", "GRB", "BGR", "RGBW", "GRBW", "WRGB"])


@st.composite
def options(draw: st.DrawFn) -> dict[str, Any]:
    split = draw(st.booleans())
    kw: dict[str, Any] = {
        "color_order": draw(ORDERS),
        "start_universe": draw(st.integers(0, 5)),
        "start_address": draw(st.integers(1, 512)),
        "split_pixels": split,
        "sampling": draw(st.sampled_from(["nearest", "area"])),
        "area_radius_px": draw(st.integers(0, 3)),
        "area_method": draw(st.sampled_from(["auto", "taps", "blur"])),
    }
    if split:
        kw["slots_per_universe"] = draw(st.sampled_from([None, 510, 512, 300]))
    elif draw(st.booleans()):
        kw["pixels_per_universe"] = draw(st.integers(1, 100))
    if draw(st.booleans()):
        kw["current_budget_a"] = draw(st.floats(0.01, 10.0))
    return kw


@st.composite
def maps(draw: st.DrawFn) -> PixelMap:
    kw = draw(options())
    kind = draw(st.sampled_from(["matrix", "strip", "points"]))
    if kind == "matrix":
        tx, ty = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        pw, ph = draw(st.integers(1, 12)), draw(st.integers(1, 12))
        return MatrixMap(
            pw * tx, ph * ty, tiles=(tx, ty),
            origin=draw(st.sampled_from(["top_left", "top_right", "bottom_left", "bottom_right"])),
            order=draw(st.sampled_from(["rows", "columns"])),
            serpentine=draw(st.booleans()), tile_serpentine=draw(st.booleans()),
            rotation=draw(st.sampled_from([0, 90, 180, 270])), flip_h=draw(st.booleans()), flip_v=draw(st.booleans()),
            **kw,
        )
    coord = st.floats(0.0, 1.0, allow_nan=False)
    if kind == "strip":
        strips = []
        for i in range(draw(st.integers(1, 3))):
            line = tuple(draw(st.lists(st.tuples(coord, coord), min_size=2, max_size=4, unique=True)))
            n = draw(st.integers(1, 200))
            # Later strips continue the stream, or start in their own universe well after it.
            # (explicit universes sit past anything the stream can reach: <= 200 px a strip, >= 1 px a universe)
            univ = None if i == 0 or draw(st.booleans()) else kw.get("start_universe", 1) + 1000 * i
            strips.append(Strip(line, n, universe=univ))
        return StripMap(strips, **kw)
    pts = draw(st.lists(st.tuples(coord, coord), min_size=1, max_size=300))
    return PointMap(pts, **kw)


def slots_of(m: PixelMap) -> np.ndarray:
    return m.dmx_index.reshape(-1)


@settings(max_examples=150, deadline=None)
@given(maps())
def test_every_pixel_maps_to_distinct_slots_inside_its_universe(m: PixelMap) -> None:
    idx = m.dmx_index
    assert idx.shape == (m.n_pixels, m.n_channels)
    flat = slots_of(m)
    assert np.unique(flat).size == flat.size  # no two bytes share a slot
    assert flat.min() >= 0 and flat.max() < m.n_universes * 512
    slot = flat % 512
    assert slot.min() >= 0 and slot.max() <= 511
    assert m.universes == tuple(range(m.universes[0], m.universes[0] + m.n_universes))
    assert (flat // 512 == 0).any() and (flat // 512 == m.n_universes - 1).any()  # no empty end rows
    assert slot.max() < m.slots_per_universe or m.slots_per_universe == 512


@settings(max_examples=150, deadline=None)
@given(maps())
def test_without_split_no_pixel_straddles_universes(m: PixelMap) -> None:
    universe = m.dmx_index // 512
    if not m.split_pixels:
        assert np.all(universe.min(axis=1) == universe.max(axis=1))
        per_universe = np.bincount(universe[:, 0])
        assert per_universe.max() <= m.pixels_per_universe
    # Within a pixel, bytes are consecutive in wire order (across a universe edge when split).
    wire = np.sort(m.dmx_index, axis=1)
    gaps = np.diff(wire, axis=1)
    if not m.split_pixels:
        assert np.all(gaps == 1)


@settings(max_examples=100, deadline=None)
@given(maps(), st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(1.0, 3.0), st.floats(0.0, 1.0))
def test_apply_writes_only_the_maps_slots(m: PixelMap, fh: int, fw: int, seed: int, gamma: float, brightness: float) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.uniform(-0.2, 1.2, (fh, fw, 3)).astype(np.float32)
    dmx = rng.integers(0, 256, (m.n_universes, 512), dtype=np.uint8)
    before = dmx.copy()
    m.apply(frame, dmx, gamma=gamma, brightness=brightness)
    outside = np.ones(dmx.size, bool)
    outside[slots_of(m)] = False
    np.testing.assert_array_equal(dmx.reshape(-1)[outside], before.reshape(-1)[outside])
    if m.current_budget_a is not None:
        assert m.estimated_current_a(dmx) <= m.current_budget_a + 1e-9
        assert 0.0 < m.current_scale <= 1.0
    # Applying twice gives the same bytes (no state leaks between frames).
    again = dmx.copy()
    m.apply(frame, again, gamma=gamma, brightness=brightness)
    np.testing.assert_array_equal(again, dmx)
