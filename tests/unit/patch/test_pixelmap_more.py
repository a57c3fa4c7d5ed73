"""Pixel maps: rotations, flips, tiles, strips, CSV point maps, packing, color and current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lumen.errors import ConfigError
from lumen.patch.pixelmap import MatrixMap, PixelMap, PointMap, Strip, StripMap


def coded_frame(rows: int, cols: int) -> np.ndarray:
    """Texel (r, c) has red byte r * cols + c + 1 (so byte k - 1 names the texel sampled)."""
    f = np.zeros((rows, cols, 3), np.float32)
    f[..., 0] = (np.arange(rows * cols).reshape(rows, cols) + 1) / 255.0
    return f


def sampled_texels(m: PixelMap, frame: np.ndarray) -> list[int]:
    """Code of the texel each LED sampled, in wiring order (reads the red bytes from DMX)."""
    dmx = m.new_dmx()
    m.apply(frame, dmx)
    codes: list[int] = (dmx.reshape(-1)[m.dmx_index[:, 0]].astype(int) - 1).tolist()
    return codes


# Frame codes are r * cols + c of the frame as seen (after rotation).
MATRIX_CASES: list[tuple[str, int, int, dict[str, Any], tuple[int, int], list[int]]] = [
    ("plain serpentine", 3, 2, {}, (2, 3), [0, 1, 2, 5, 4, 3]),
    ("not serpentine", 3, 2, {"serpentine": False}, (2, 3), [0, 1, 2, 3, 4, 5]),
    ("columns from bottom right", 3, 2, {"order": "columns", "origin": "bottom_right"}, (2, 3), [5, 2, 1, 4, 3, 0]),
    ("rotate 90", 3, 2, {"rotation": 90}, (3, 2), [1, 3, 5, 4, 2, 0]),
    ("rotate 180", 3, 2, {"rotation": 180}, (2, 3), [5, 4, 3, 0, 1, 2]),
    ("rotate 270", 3, 2, {"rotation": 270}, (3, 2), [4, 2, 0, 1, 3, 5]),
    ("flip h", 3, 2, {"flip_h": True}, (2, 3), [2, 1, 0, 3, 4, 5]),
    ("flip v", 3, 2, {"flip_v": True}, (2, 3), [3, 4, 5, 2, 1, 0]),
    ("flip h+v = rotate 180", 3, 2, {"flip_h": True, "flip_v": True}, (2, 3), [5, 4, 3, 0, 1, 2]),
    ("two 2x2 panels side by side", 4, 2, {"tiles": (2, 1)}, (2, 4), [0, 1, 5, 4, 2, 3, 7, 6]),
    ("2x2 panels of 2x1, serpentine chain", 4, 2, {"tiles": (2, 2), "tile_serpentine": True}, (2, 4), [0, 1, 2, 3, 6, 7, 4, 5]),
    (
        "panels chained in columns from the top right",
        4, 2, {"tiles": (2, 2), "tile_order": "columns", "tile_origin": "top_right"}, (2, 4), [2, 3, 6, 7, 0, 1, 4, 5],
    ),
    ("2 panels, rotated 90", 4, 2, {"tiles": (2, 1), "rotation": 90}, (4, 2), [1, 3, 2, 0, 5, 7, 6, 4]),
]


@pytest.mark.parametrize(("name", "w", "h", "kw", "shape", "expected"), MATRIX_CASES, ids=[c[0] for c in MATRIX_CASES])
def test_matrix_leds_sample_the_right_texels(
    name: str, w: int, h: int, kw: dict[str, Any], shape: tuple[int, int], expected: list[int]
) -> None:
    m = MatrixMap(w, h, **kw)
    assert m.scene_size == (shape[1], shape[0])
    assert sampled_texels(m, coded_frame(*shape)) == expected


def test_from_panels_is_the_tiled_constructor() -> None:
    a = MatrixMap.from_panels(8, 4, 3, 2, tile_serpentine=True, origin="bottom_left")
    b = MatrixMap(24, 8, tiles=(3, 2), tile_serpentine=True, origin="bottom_left")
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.dmx_index, b.dmx_index)
    assert a.panel_size == (8, 4)


def test_tiles_must_divide_the_wall() -> None:
    with pytest.raises(ValueError, match="whole panels"):
        MatrixMap(10, 4, tiles=(3, 1))


def test_every_panel_is_wired_the_same_way() -> None:
    m = MatrixMap(6, 4, tiles=(2, 2), origin="bottom_left", order="columns")
    n = 3 * 2
    per_panel = m.coords.reshape(4, n, 2)
    rel = per_panel - per_panel.min(axis=1, keepdims=True)
    for p in range(1, 4):
        np.testing.assert_array_equal(rel[p], rel[0])


# ---------------------------------------------------------------- packing

PACKING_CASES: list[tuple[str, dict[str, Any], int, list[int], tuple[int, ...]]] = [
    # name, options, pixel, its (R, G, B[, W]) flat slots, universes of a 200-pixel strip
    ("170 RGB per universe", {}, 170, [512, 513, 514], (1, 2)),
    ("last pixel of universe 1", {}, 169, [507, 508, 509], (1, 2)),
    ("split: pixel 170 straddles", {"split_pixels": True}, 170, [510, 511, 512], (1, 2)),
    ("split at 510 slots", {"split_pixels": True, "slots_per_universe": 510}, 170, [512, 513, 514], (1, 2)),
    ("start address 10", {"start_address": 10}, 0, [9, 10, 11], (1, 2)),
    ("start address 10: 167 fit", {"start_address": 10}, 167, [512, 513, 514], (1, 2)),
    ("start universe 7", {"start_universe": 7}, 170, [512, 513, 514], (7, 8)),
    ("pixels_per_universe 100", {"pixels_per_universe": 100}, 100, [512, 513, 514], (1, 2)),
    ("GRB order", {"color_order": "GRB"}, 1, [4, 3, 5], (1, 2)),
    ("BRG order", {"color_order": "BRG"}, 0, [1, 2, 0], (1, 2)),
    ("RGBW: 128 per universe", {"color_order": "RGBW"}, 128, [512, 513, 514, 515], (1, 2)),
    ("GRBW", {"color_order": "GRBW"}, 127, [509, 508, 510, 511], (1, 2)),
    ("WRGB", {"color_order": "WRGB"}, 0, [1, 2, 3, 0], (1, 2)),
    ("RGBW split at 510", {"color_order": "RGBW", "split_pixels": True, "slots_per_universe": 510}, 127, [508, 509, 512, 513], (1, 2)),
]


@pytest.mark.parametrize(("name", "kw", "pixel", "slots", "universes"), PACKING_CASES, ids=[c[0] for c in PACKING_CASES])
def test_packing(name: str, kw: dict[str, Any], pixel: int, slots: list[int], universes: tuple[int, ...]) -> None:
    m = MatrixMap(200, 1, serpentine=False, **kw)
    assert m.dmx_index[pixel].tolist() == slots
    assert m.universes == universes
    assert m.n_universes == len(universes)
    assert m.new_dmx().shape == (len(universes), 512)


def test_rgbw_packs_128_per_universe_and_never_straddles() -> None:
    m = MatrixMap(16, 16, color_order="RGBW")
    assert m.n_channels == 4 and m.n_universes == 2 and m.pixels_per_universe == 128
    u = m.dmx_index // 512
    assert np.all(u.min(axis=1) == u.max(axis=1))
    assert m.dmx_index[:128].max() == 511


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("subtract", [102, 0, 204, 51]), ("add", [153, 51, 255, 51]), ("off", [153, 51, 255, 0])],
)
def test_rgbw_white_extraction(mode: str, expected: list[int]) -> None:
    m = MatrixMap(1, 1, color_order="GRBW", white_mode=mode)  # type: ignore[arg-type]
    dmx = m.new_dmx()
    m.apply(np.array([[[0.2, 0.6, 1.0]]], np.float32), dmx)
    assert dmx[0, :4].tolist() == expected  # wire order G, R, B, W


def test_start_address_and_unused_slots_are_left_alone() -> None:
    m = MatrixMap(2, 1, start_address=500, start_universe=3)
    assert m.universes == (3,)
    dmx = np.full((1, 512), 7, np.uint8)
    m.apply(np.ones((1, 2, 3), np.float32), dmx)
    assert np.all(dmx[0, 499:505] == 255)
    assert np.all(dmx[0, :499] == 7) and np.all(dmx[0, 505:] == 7)


def test_a_start_address_too_late_for_one_pixel_moves_to_the_next_universe() -> None:
    m = MatrixMap(2, 1, start_address=510)  # 510 + 2 > 510 slots: universe 1 holds no pixel
    assert m.universes == (2,)
    assert m.dmx_index.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert MatrixMap(2, 1, start_address=510, slots_per_universe=512).dmx_index[0].tolist() == [509, 510, 511]


def test_white_balance_and_brightness_cap() -> None:
    white = np.ones((1, 1, 3), np.float32)
    m = MatrixMap(1, 1, white_balance=(1.0, 0.5, 0.25))
    dmx = m.new_dmx()
    m.apply(white, dmx)
    assert dmx[0, :3].tolist() == [255, 128, 64]
    m = MatrixMap(1, 1, brightness_cap=0.5, color_order="GRB", white_balance=(1.0, 0.5, 1.0))
    m.apply(white, dmx, brightness=0.5)
    assert dmx[0, :3].tolist() == [32, 64, 64]  # G 0.125, R 0.25, B 0.25


def test_gamma_matches_the_exact_formula(rng: np.random.Generator) -> None:
    m = MatrixMap(50, 20, serpentine=False)
    frame = rng.uniform(-0.1, 1.1, (20, 50, 3)).astype(np.float32)
    dmx = m.new_dmx()
    m.apply(frame, dmx, gamma=2.2, brightness=0.7)
    exact = np.rint(255.0 * np.clip(frame.reshape(-1, 3).astype(np.float64) * 0.7, 0, 1) ** 2.2)
    got = dmx.reshape(-1)[m.dmx_index].astype(float)
    assert np.abs(got - exact).max() <= 1.0
    assert np.mean(got == exact) > 0.99


@pytest.mark.parametrize(
    ("budget_a", "ma", "color", "current_a", "scale", "byte"),
    [
        (None, 20.0, (1.0, 1.0, 1.0), 0.0, 1.0, 255),  # no budget: not measured
        (1.0, 20.0, (1.0, 1.0, 1.0), 0.6, 1.0, 255),  # 10 px * 3 ch * 20 mA = 0.6 A < 1 A
        (0.3, 20.0, (1.0, 1.0, 1.0), 0.6, 0.5, 127),  # half the budget: bytes halved, rounded down
        (0.1, (20.0, 10.0, 5.0), (1.0, 0.0, 0.0), 0.2, 0.5, 127),  # red only: 10 * 20 mA
        (0.1, (20.0, 10.0, 5.0), (0.0, 0.0, 1.0), 0.05, 1.0, 255),  # blue only: 10 * 5 mA
    ],
)
def test_current_limit(budget_a: float | None, ma: Any, color: tuple[float, ...], current_a: float, scale: float, byte: int) -> None:
    m = MatrixMap(10, 1, current_budget_a=budget_a, current_ma_per_channel=ma)
    frame = np.zeros((1, 10, 3), np.float32)
    frame[...] = color
    dmx = m.new_dmx()
    m.apply(frame, dmx)
    assert m.current_a == pytest.approx(current_a)
    assert m.current_scale == pytest.approx(scale)
    lit = int(np.argmax(color))
    assert np.all(dmx.reshape(-1)[m.dmx_index[:, lit]] == byte)
    if budget_a is not None:
        assert m.estimated_current_a(dmx) <= budget_a + 1e-9


def test_current_limit_scales_uniformly(rng: np.random.Generator) -> None:
    free = MatrixMap(20, 10)
    lim = MatrixMap(20, 10, current_budget_a=1.0)
    frame = rng.uniform(0.5, 1.0, (10, 20, 3)).astype(np.float32)
    a, b = free.new_dmx(), lim.new_dmx()
    free.apply(frame, a)
    lim.apply(frame, b)
    s = lim.current_scale
    assert 0.0 < s < 1.0 and lim.current_a > 1.0
    assert lim.estimated_current_a(b) <= 1.0
    np.testing.assert_allclose(b[0, :510].astype(float), np.floor(a[0, :510] * s), atol=1.0)


# ---------------------------------------------------------------- sampling


def reference_area(m: PixelMap, frame: np.ndarray, r: int) -> np.ndarray:
    h, w = frame.shape[:2]
    rows = np.clip(np.floor(m.positions[:, 1] * h + 1e-6).astype(int), 0, h - 1)
    cols = np.clip(np.floor(m.positions[:, 0] * w + 1e-6).astype(int), 0, w - 1)
    acc = np.zeros((m.n_pixels, 3))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            acc += frame[np.clip(rows + dy, 0, h - 1), np.clip(cols + dx, 0, w - 1)]
    return np.rint(np.clip(acc / (2 * r + 1) ** 2, 0, 1) * 255)


@pytest.mark.parametrize("method", ["taps", "blur", "auto"])
@pytest.mark.parametrize(("fh", "fw", "r"), [(20, 30, 1), (20, 30, 2), (7, 3, 3), (1, 5, 1), (40, 60, 4)])
def test_area_sampling_is_the_clamped_box_mean(method: str, fh: int, fw: int, r: int, rng: np.random.Generator) -> None:
    m = MatrixMap(6, 4, sampling="area", area_radius_px=r, area_method=method)  # type: ignore[arg-type]
    frame = rng.uniform(0, 1, (fh, fw, 3)).astype(np.float32)
    dmx = m.new_dmx()
    m.apply(frame, dmx)
    got = dmx.reshape(-1)[m.dmx_index].astype(float)
    assert np.abs(got - reference_area(m, frame, r)).max() <= 1.0


def test_area_of_a_flat_frame_is_the_flat_value() -> None:
    for method in ("taps", "blur"):
        m = MatrixMap(8, 8, sampling="area", area_radius_px=2, area_method=method, color_order="RGBW")
        dmx = m.new_dmx()
        m.apply(np.full((16, 16, 3), 0.5, np.float32), dmx)
        assert np.all(dmx.reshape(-1)[m.dmx_index[:, 3]] == 128)  # all in W
        assert np.all(dmx.reshape(-1)[m.dmx_index[:, :3]] == 0)


def test_nan_and_inf_become_black_and_full() -> None:
    m = MatrixMap(3, 1)
    dmx = m.new_dmx()
    m.apply(np.array([[[np.nan, np.inf, -np.inf], [0.5, 0.5, 0.5], [1, 1, 1]]], np.float32), dmx)
    assert dmx[0, :3].tolist() == [0, 255, 0]


def test_wrong_dmx_shape_raises() -> None:
    m = MatrixMap(200, 1)
    with pytest.raises(ValueError, match="dmx must have shape"):
        m.apply(np.zeros((1, 200, 3), np.float32), np.zeros((1, 512), np.uint8))


@pytest.mark.parametrize(
    "kw",
    [
        {"color_order": "RGX"},
        {"start_address": 0},
        {"start_address": 513},
        {"start_universe": 64000},
        {"pixels_per_universe": 171},
        {"split_pixels": True, "pixels_per_universe": 100},
        {"white_balance": (1.0, 1.0)},
        {"brightness_cap": 1.5},
        {"current_budget_a": 0.0},
        {"sampling": "bilinear"},
        {"rotation": 45},
    ],
)
def test_bad_options_raise(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MatrixMap(4, 4, **kw)


# ---------------------------------------------------------------- strips

STRIP_CASES: list[tuple[str, Strip, list[list[float]]]] = [
    ("horizontal line, 4 px", Strip(((0.0, 0.5), (1.0, 0.5)), 4), [[0.125, 0.5], [0.375, 0.5], [0.625, 0.5], [0.875, 0.5]]),
    ("L shape, even along the length", Strip(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)), 4), [[0.25, 0.0], [0.75, 0.0], [1.0, 0.25], [1.0, 0.75]]),
    ("per segment counts", Strip(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)), (1, 2)), [[0.5, 0.0], [1.0, 0.25], [1.0, 0.75]]),
    ("upward, one px", Strip(((0.5, 1.0), (0.5, 0.0)), 1), [[0.5, 0.5]]),
    ("a zero-length segment is skipped", Strip(((0.0, 0.0), (0.0, 0.0), (1.0, 0.0)), 2), [[0.25, 0.0], [0.75, 0.0]]),
]


@pytest.mark.parametrize(("name", "strip", "expected"), STRIP_CASES, ids=[c[0] for c in STRIP_CASES])
def test_strip_positions(name: str, strip: Strip, expected: list[list[float]]) -> None:
    np.testing.assert_allclose(StripMap([strip]).positions, expected, atol=1e-12)


def test_strips_chain_and_restart_at_their_own_universe() -> None:
    a = Strip(((0.0, 0.0), (1.0, 0.0)), 4)
    b = Strip(((0.0, 1.0), (1.0, 1.0)), 2)
    c = Strip(((0.0, 0.5), (1.0, 0.5)), 3, universe=4, address=7)
    m = StripMap([a, b, c])
    assert m.dmx_index[:, 0].tolist() == [0, 3, 6, 9, 12, 15, 3 * 512 + 6, 3 * 512 + 9, 3 * 512 + 12]
    assert m.universes == (1, 2, 3, 4)
    assert m.strip_slices == (slice(0, 4), slice(4, 6), slice(6, 9))


def test_a_strip_row_samples_like_a_matrix_row(rng: np.random.Generator) -> None:
    frame = rng.uniform(0, 1, (1, 37, 3)).astype(np.float32)
    s = StripMap([Strip(((0.0, 0.5), (1.0, 0.5)), 12)])
    m = MatrixMap(12, 1)
    a, b = s.new_dmx(), m.new_dmx()
    s.apply(frame, a)
    m.apply(frame, b)
    np.testing.assert_array_equal(a, b)


def test_overlapping_strips_raise() -> None:
    with pytest.raises(ValueError, match="share DMX slots"):
        StripMap([Strip(((0.0, 0.0), (1.0, 0.0)), 4), Strip(((0.0, 1.0), (1.0, 1.0)), 4, universe=1, address=4)])


def test_strip_points_outside_the_scene_raise() -> None:
    with pytest.raises(ValueError, match="0..1"):
        StripMap([Strip(((0.0, 0.0), (1.5, 0.0)), 4)])


# ---------------------------------------------------------------- CSV point maps


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "points.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "positions", "first_slots"),
    [
        ("0.1,0.2\n0.9,0.8\n", [[0.1, 0.2], [0.9, 0.8]], [0, 3]),
        ("x,y\n0.1,0.2\n\n# a comment\n0.9, 0.8\n", [[0.1, 0.2], [0.9, 0.8]], [0, 3]),
        ("y,x\n0.2,0.1\n", [[0.1, 0.2]], [0]),
        ("0.1,0.2,5,1\n0.9,0.8,3,100\n", [[0.1, 0.2], [0.9, 0.8]], [2 * 512, 99]),
        ("x,y,universe,address\n0.5,0.5,2,508\n", [[0.5, 0.5]], [507]),
    ],
)
def test_csv_point_maps(tmp_path: Path, text: str, positions: list[list[float]], first_slots: list[int]) -> None:
    m = PointMap.from_csv(write(tmp_path, text))
    np.testing.assert_allclose(m.positions, positions)
    assert m.dmx_index[:, 0].tolist() == first_slots


def test_csv_universes_span_the_rows_used(tmp_path: Path) -> None:
    m = PointMap.from_csv(write(tmp_path, "0.1,0.2,5,1\n0.9,0.8,3,100\n"))
    assert m.universes == (3, 4, 5)


def test_csv_normalize_fits_other_units(tmp_path: Path) -> None:
    m = PointMap.from_csv(write(tmp_path, "0,0\n2000,500\n1000,1000\n"), normalize=True)
    np.testing.assert_allclose(m.positions, [[0.0, 0.0], [1.0, 0.5], [0.5, 1.0]])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("0.1,0.2\n0.3,zz\n", ":2:5: y:", "'zz' is not a number"),
        ("0.1,0.2\n1.5,0.2\n", ":2:1: x:", "outside 0..1"),
        ("0.1,0.2\n0.3\n", ":2:1:", "expected 2 fields"),
        ("x,y,universe,address\n0.1,0.2,1,511\n", ":2:11: address:", "must start at 1..510"),
        ("x,y,universe,address\n0.1,0.2,1.5,1\n", ":2:9: universe:", "not an integer"),
        ("x,z\n0.1,0.2\n", ":1:1:", "bad header"),
        ("0.1,0.2,3\n", ":1:1:", "expected 2 (x,y) or 4"),
        ("# only a comment\n", ": ", "no points"),
    ],
)
def test_csv_errors_name_file_line_and_column(tmp_path: Path, text: str, where: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        PointMap.from_csv(p)
    first = str(e.value).splitlines()[0]
    assert first.startswith(str(p) + where)
    assert message in first


def test_csv_reports_every_bad_row(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        PointMap.from_csv(write(tmp_path, "a_header_is_fine_only_if_named\n"))
    assert len(e.value.issues) == 1
    with pytest.raises(ConfigError) as e:
        PointMap.from_csv(write(tmp_path, "0.1,0.2\nx,0.2\n0.3,y\n2,2\n"))
    assert [i.line for i in e.value.issues] == [2, 3, 4, 4]


def test_csv_overlapping_addresses_raise_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="share DMX slots"):
        PointMap.from_csv(write(tmp_path, "0.1,0.2,1,1\n0.3,0.4,1,2\n"))


def test_point_map_samples_its_points() -> None:
    m = PointMap([[0.0, 0.0], [0.99, 0.99], [0.5, 0.0]])
    assert sampled_texels(m, coded_frame(2, 3)) == [0, 5, 1]
