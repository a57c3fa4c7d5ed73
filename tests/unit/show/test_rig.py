"""The rig section: pixel maps and fixtures share one DMX space, each slot claimed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumen.errors import ConfigError
from lumen.show.load import load_show_text

OFL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ofl" / "fixtures"


def test_a_full_rig_validates() -> None:
    cfg = load_show_text(
        "version: 1\n"
        "wall: {width: 32, height: 8, tiles: [2, 1], color_order: GRBW, rotation: 90}\n"
        "strips: {universe: 10, strips: [{points: [[0, 0], [1, 0]], n_pixels: 60}]}\n"
        f"fixture_library: {OFL}\n"
        "fixtures:\n"
        "  - {name: head, profile: generic/pan-tilt, mode: 8 bit, universe: 20, address: 1, pan_deg: '90 * sin(bar_phase * 6.283)'}\n"
    )
    assert cfg.wall.tiles == (2, 1) and cfg.fixtures[0].name == "head"


@pytest.mark.parametrize(
    ("rig", "where"),
    [
        ("strips: {universe: 1, strips: [{points: [[0, 0], [1, 0]], n_pixels: 5}]}\n", "<string>:2:9: strips: the strips map overlaps the wall map at universe 1 address 1"),
        ("wall: {width: 10, height: 4, tiles: [3, 1]}\n", "<string>:2:37: wall.tiles: a 10x4 wall does not divide into 3x1 equal panels"),
        ("wall: {color_order: RGBX}\n", "<string>:2:21: wall.color_order:"),
    ],
)
def test_rig_errors_name_line_and_key(rig: str, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_show_text("version: 1\n" + rig)
    assert str(e.value).startswith(where), str(e.value)


def test_missing_point_csv_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="points.csv"):
        load_show_text("version: 1\npoints: {csv: nope.csv}\n", show_dir=tmp_path)


def test_point_csv_loads_next_to_the_show(tmp_path: Path) -> None:
    (tmp_path / "pts.csv").write_text("x,y\n0.1,0.1\n0.5,0.5\n0.9,0.9\n")
    cfg = load_show_text("version: 1\npoints: {csv: pts.csv, universe: 50}\n", show_dir=tmp_path)
    assert cfg.points is not None and cfg.points.universe == 50
