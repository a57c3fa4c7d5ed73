"""LED matrix patching: wiring order, universe packing, color order, gamma."""

from __future__ import annotations

import numpy as np
import pytest

from lumen.patch.pixelmap import MatrixMap, wiring_order


def test_serpentine_rows_from_top_left() -> None:
    assert wiring_order(3, 2).tolist() == [[0, 0], [0, 1], [0, 2], [1, 2], [1, 1], [1, 0]]


@pytest.mark.parametrize("origin", ["top_left", "top_right", "bottom_left", "bottom_right"])
@pytest.mark.parametrize("order", ["rows", "columns"])
@pytest.mark.parametrize("serpentine", [True, False])
def test_every_wiring_visits_every_led_once_with_unit_steps(origin: str, order: str, serpentine: bool) -> None:
    c = wiring_order(5, 4, origin=origin, serpentine=serpentine, order=order)  # type: ignore[arg-type]
    assert len({tuple(x) for x in c.tolist()}) == 20
    if serpentine:  # a serpentine chain moves to a neighbour at every step
        steps = np.abs(np.diff(c, axis=0)).sum(axis=1)
        assert np.all(steps == 1)


def test_no_pixel_straddles_universes_and_170_fit_in_one() -> None:
    m = MatrixMap(64, 32)
    assert m.n_universes == 13  # 2048 pixels / 170
    idx = m.dmx_index
    universe_of = idx // 512
    assert np.all(universe_of.min(axis=1) == universe_of.max(axis=1))
    assert idx[:170].max() == 509 and idx[170].min() == 512
    assert len(np.unique(idx)) == idx.size


def test_frame_pixels_land_in_the_right_slots() -> None:
    m = MatrixMap(4, 2, serpentine=True)
    frame = np.zeros((2, 4, 3), np.float32)
    frame[0, 0] = (1.0, 0.0, 0.0)  # first LED: red
    frame[1, 0] = (0.0, 0.0, 1.0)  # bottom-left is the last LED of a serpentine 4x2
    dmx = m.new_dmx()
    m.apply(frame, dmx)
    assert dmx[0, 0:3].tolist() == [255, 0, 0]
    assert dmx[0, 21:24].tolist() == [0, 0, 255]
    assert dmx[0, 3:21].sum() == 0


def test_color_order_gamma_and_brightness() -> None:
    m = MatrixMap(1, 1, color_order="GRB")
    frame = np.array([[[0.2, 0.5, 1.0]]], np.float32)
    dmx = m.new_dmx()
    m.apply(frame, dmx)
    assert dmx[0, :3].tolist() == [128, 51, 255]
    m.apply(frame, dmx, gamma=2.0, brightness=0.5)
    assert dmx[0, :3].tolist() == [16, 3, 64]


def test_any_render_size_maps_onto_the_wall(rng: np.random.Generator) -> None:
    m = MatrixMap(8, 4, serpentine=False)
    big = np.repeat(np.repeat(rng.uniform(0, 1, (4, 8, 3)).astype(np.float32), 10, axis=0), 10, axis=1)
    small = big[::10, ::10]
    a, b = m.new_dmx(), m.new_dmx()
    m.apply(big, a)
    m.apply(small, b)
    np.testing.assert_array_equal(a, b)


def test_out_of_range_values_are_clipped() -> None:
    m = MatrixMap(2, 1)
    dmx = m.new_dmx()
    m.apply(np.array([[[-1.0, 2.0, np.float32(0.5)], [0, 0, 0]]], np.float32), dmx)
    assert dmx[0, :3].tolist() == [0, 255, 128]
