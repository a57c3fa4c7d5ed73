"""OFL fixture profiles, compiled modes and the fixture patch.

Expected channel values below were worked out by hand from the fixture JSON files (quoted
next to each test), not by running the mapper.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lumen.errors import LumenError
from lumen.patch.fixtures import (
    FixtureError,
    FixtureProfile,
    FixtureState,
    Patch,
    check_paths,
    load_ofl,
)

OFL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "ofl"
FIXTURES = OFL / "fixtures"


def profile(key: str) -> FixtureProfile:
    return load_ofl(FIXTURES / f"{key}.json")


def render(key: str, mode: str, state: FixtureState) -> list[int]:
    m = profile(key).mode(mode)
    out = np.full(m.n_channels, 77, dtype=np.uint8)  # garbage: every slot must be written
    m.render(state, out)
    return out.tolist()


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*/*.json"))


# -- loading ---------------------------------------------------------------------------------


def test_shared_library_is_present() -> None:
    assert FIXTURES.is_dir(), f"OFL fixtures not found at {FIXTURES}"
    assert len(fixture_files()) > 100


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shared_fixture_loads_and_compiles(path: Path) -> None:
    prof = load_ofl(path)
    assert prof.name and prof.mode_names
    for name in prof.mode_names:
        m = prof.mode(name)
        out = np.zeros(m.n_channels, dtype=np.uint8)
        m.render(FixtureState(rgb=(1.0, 0.5, 0.25), intensity=0.7, strobe_hz=4.0, pan=0.3, tilt=0.6, zoom=0.5), out)
        m.render(FixtureState(rgb=(0.0, 0.0, 0.0), intensity=0.0), out)


def test_check_paths_over_the_whole_library_skips_schemas_and_index() -> None:
    problems, n_ok, n_failed = check_paths([OFL])
    assert problems == [] and n_failed == 0
    # manufacturers.json and schemas/*.json are not fixtures and are not counted.
    assert n_ok == len(fixture_files())


def test_profile_metadata_and_fine_channels() -> None:
    prof = profile("5star-systems/spica-250m")
    assert prof.name == "Spica 250M"
    assert prof.manufacturer == "5Star Systems"  # from manufacturers.json
    assert prof.key == "5star-systems/spica-250m"
    pan = prof.channels["Pan"]
    assert pan.fine_aliases == ("Pan fine",) and pan.resolution == 2 and pan.default_value == 32639
    assert prof.channels["Dimmer"].highlight_value == 255
    assert prof.resolve("Tilt fine") == ("Tilt", 1)
    assert [s.name for s in prof.wheels["Color Wheel"].slots][:4] == ["", "Yellow", "Orange", "Red"]
    m = prof.mode("16bit")
    assert m.n_channels == 16 and m.channel_keys[7] is None
    assert m.roles["Pan"] == "pan" and m.roles["Color Wheel"] == "color-wheel"
    assert m.pan_range_deg == (0.0, 530.0) and m.tilt_range_deg == (0.0, 280.0)
    assert "Prism" not in m.roles  # unsupported: stays at its default


def test_redirect_is_followed() -> None:
    prof = load_ofl(FIXTURES / "kino-flo" / "celeb-led-450-dmx.json")
    assert prof.key == "kino-flo/celeb-450-led-dmx"


def test_matrix_template_channels_are_expanded() -> None:
    # showtec/dim-4lc: pixelCount [4, 1, 1], groups Master/"1/2"/"3/4", template "Dimmer $pixelKey".
    prof = profile("showtec/dim-4lc")
    for k in ("Dimmer 1", "Dimmer 4", "Dimmer Master", "Dimmer 1/2", "Switch 3/4"):
        assert k in prof.channels
    assert prof.channels["Dimmer 3"].pixel_key == "3"
    m = prof.mode("4ch")
    assert m.channel_keys == ("Dimmer 1", "Dimmer 2", "Dimmer 3", "Dimmer 4")
    # Dimmer-only fixture: luminance x intensity on every dimmer; 0.4 * 255 = 102.
    out = np.zeros(4, dtype=np.uint8)
    m.render(FixtureState(rgb=(1.0, 1.0, 1.0), intensity=0.4), out)
    assert out.tolist() == [102, 102, 102, 102]
    # "Switch $pixelKey": 0..127 off, 128..255 bright.
    sw = prof.mode("2ch-switch")
    out2 = np.zeros(2, dtype=np.uint8)
    sw.render(FixtureState(intensity=1.0), out2)
    assert out2.tolist() == [128, 128]
    sw.render(FixtureState(intensity=0.2), out2)
    assert out2.tolist() == [0, 0]


def test_matrix_insert_blocks_follow_repeat_order(tmp_path: Path) -> None:
    data = _minimal_fixture()
    data.pop("availableChannels")
    data["matrix"] = {"pixelCount": [2, 2, 1]}
    data["templateChannels"] = {"Red $pixelKey": {"capability": {"type": "ColorIntensity", "color": "Red"}}}
    data["modes"] = [
        {"name": "XY", "channels": [{"insert": "matrixChannels", "repeatFor": "eachPixelXYZ",
                                     "channelOrder": "perPixel", "templateChannels": ["Red $pixelKey"]}]},
        {"name": "YX", "channels": [{"insert": "matrixChannels", "repeatFor": "eachPixelYXZ",
                                     "channelOrder": "perPixel", "templateChannels": ["Red $pixelKey", None]}]},
    ]  # fmt: skip
    prof = load_ofl(_write(tmp_path / "acme" / "grid.json", data))
    assert prof.mode("XY").channel_keys == ("Red (1, 1)", "Red (2, 1)", "Red (1, 2)", "Red (2, 2)")
    yx = prof.mode("YX").channel_keys
    assert yx == ("Red (1, 1)", None, "Red (1, 2)", None, "Red (2, 1)", None, "Red (2, 2)", None)


# -- exact channel values, one fixture of each kind --------------------------------------------


def test_rgb_par_8_and_16_bit() -> None:
    # generic/rgb-fader: Red/Green/Blue ColorIntensity over the whole range, fine aliases.
    st = FixtureState(rgb=(1.0, 0.2, 0.0), intensity=1.0)
    assert render("generic/rgb-fader", "8 bit", st) == [255, 51, 0]
    # 0.2 * 65535 = 13107 = 0x3333; no dimmer channel, so intensity scales the colors.
    assert render("generic/rgb-fader", "16bit", st) == [255, 255, 0x33, 0x33, 0, 0]
    assert render("generic/rgb-fader", "8bit", FixtureState(rgb=(1.0, 0.2, 0.0), intensity=0.5)) == [128, 26, 0]


def test_rgbw_par_extracts_white() -> None:
    # generic/rgbw-fader 16 bit: W = min(r, g, b) = 0.2, then R 0.8, G 0.4, B 0.
    # 0.8 * 65535 = 52428 = 0xCCCC, 0.4 -> 26214 = 0x6666, 0.2 -> 13107 = 0x3333.
    out = render("generic/rgbw-fader", "16 bit", FixtureState(rgb=(1.0, 0.6, 0.2)))
    assert out == [0xCC, 0xCC, 0x66, 0x66, 0, 0, 0x33, 0x33]


def test_rgba_par_with_dimmer_strobe_and_macros() -> None:
    # chauvet-dj/slimpar-pro-rgba, 10-channel: Dimmer, Red, Green, Blue, Amber, Color Macros,
    # Strobe (0-9 Open, 10-255 Strobe 1Hz..20Hz), Auto Programs, Auto Program Speed, Dimmer Curve.
    # rgb (0.8, 0.6, 0.2): amber = min(r, 2g) = 0.8 -> R 0, G 0.6 - 0.4 = 0.2, B 0.2, A 0.8.
    st = FixtureState(rgb=(0.8, 0.6, 0.2), intensity=0.4)
    assert render("chauvet-dj/slimpar-pro-rgba", "10ch", st) == [102, 0, 51, 51, 204, 0, 4, 0, 0, 0]
    # 10 Hz: 10 + (10 - 1) / (20 - 1) * 245 = 126.05 -> 126.
    st = FixtureState(rgb=(0.8, 0.6, 0.2), intensity=0.4, strobe_hz=10.0)
    assert render("chauvet-dj/slimpar-pro-rgba", "10-channel", st)[6] == 126
    # 4-channel mode has no dimmer: the intensity scales the emitters:
    # G, B 0.2 * 0.25 = 0.05 -> 12.75 -> 13; A 0.8 * 0.25 = 0.2 -> 51.
    st = FixtureState(rgb=(0.8, 0.6, 0.2), intensity=0.25)
    assert render("chauvet-dj/slimpar-pro-rgba", "4ch", st) == [0, 13, 13, 51]


def test_rgbw_par_with_16_bit_dimmer_shutter_and_zoom() -> None:
    # martin/rush-par-2-rgbw-zoom, 9-channel: Dimmer, Dimmer fine, Shutter / Strobe (8-15 Open,
    # 16-131 Strobe slow..fast), Red, Green, Blue, White, Color Presets (default 0), Zoom
    # (angle 60deg at 0 .. 10deg at 255).
    # Dimmer 0.25 * 65535 = 16383.75 -> 16384 = (64, 0); shutter open = middle of 8..15 = 11;
    # W = 0.4 -> 102, R 0.2 -> 51, G 0, B 0.6 -> 153; zoom 0.2 (narrow=0, wide=1) is
    # 20deg: (60 - 20) / 50 * 255 = 204.
    st = FixtureState(rgb=(0.6, 0.4, 1.0), intensity=0.25, zoom=0.2)
    assert render("martin/rush-par-2-rgbw-zoom", "9ch", st) == [64, 0, 11, 51, 0, 153, 102, 0, 204]
    # Zoom unset -> defaultValue 128; 20 Hz is "fast" -> end of the Strobe range, 131.
    out = render("martin/rush-par-2-rgbw-zoom", "9ch", FixtureState(strobe_hz=20.0))
    assert out[2] == 131 and out[8] == 128


def test_dimmer_only_fixture() -> None:
    # generic/desk-channel: one Intensity channel, fine aliases. Luminance x intensity.
    assert render("generic/desk-channel", "8 bit", FixtureState(rgb=(1.0, 1.0, 1.0), intensity=0.6)) == [153]
    # Pure red: Rec. 709 luminance 0.2126 -> 54.2 -> 54.
    assert render("generic/desk-channel", "8 bit", FixtureState(rgb=(1.0, 0.0, 0.0))) == [54]
    # 16 bit: 0.5 * 65535 = 32767.5 -> 32768 = (128, 0).
    assert render("generic/desk-channel", "16 bit", FixtureState(intensity=0.5)) == [128, 0]


def test_pan_tilt_fine_channels() -> None:
    # generic/pan-tilt: Pan 0..540deg, Tilt 0..180deg, defaultValue 50%.
    # pan_deg 90 from the middle -> 0.5 + 90/540 = 2/3 -> 43690 = 0xAAAA;
    # tilt_deg -45 -> 0.25 -> 16383.75 -> 16384 = (64, 0).
    st = FixtureState(pan_deg=90.0, tilt_deg=-45.0)
    assert render("generic/pan-tilt", "16 bit", st) == [0xAA, 0xAA, 64, 0]
    assert render("generic/pan-tilt", "16bit-alt", st) == [0xAA, 64, 0xAA, 0]
    # Unset -> defaultValue "50%": round(0.5 * 65535) = 32768 = (128, 0).
    assert render("generic/pan-tilt", "16 bit", FixtureState()) == [128, 0, 128, 0]
    # 0..1 positions: pan 1.0 -> 65535, tilt 0 -> 0.
    assert render("generic/pan-tilt", "16 bit", FixtureState(pan=1.0, tilt=0.0)) == [255, 255, 0, 0]


def test_moving_head_with_color_wheel() -> None:
    # 5star-systems/spica-250m, mode 16bit: Pan, Pan fine (0..530deg), Tilt, Tilt fine
    # (0..280deg), Pan/Tilt Speed, Reset (default 170), Color Wheel, null, Prism, Prism rotation,
    # Gobo Wheel, Gobo rotation, null, Focus, Shutter / Strobe, Dimmer.
    # pan_deg 0 -> 32767.5 -> 32768 = (128, 0); tilt_deg 70 -> 0.75 -> 49151.25 -> 49151 = (191, 255).
    # Red is slot 4 of the Color Wheel -> capability slotNumber 4 = 42..48 -> middle 45.
    # Shutter: first Open range 32..63 -> 47. Dimmer: intensity x max(rgb) = 0.6 -> 153.
    st = FixtureState(rgb=(1.0, 0.0, 0.0), intensity=0.6, pan_deg=0.0, tilt_deg=70.0)
    assert render("5star-systems/spica-250m", "16bit", st) == [
        128, 0, 191, 255, 0, 170, 45, 0, 0, 0, 0, 0, 0, 0, 47, 153,
    ]  # fmt: skip
    # Strobe at 10 Hz: non-random Strobe range 64..95, slow (1 Hz) .. fast (20 Hz):
    # 64 + 9/19 * 31 = 78.7 -> 79.
    out = render("5star-systems/spica-250m", "8bit", FixtureState(strobe_hz=10.0))
    assert out[12] == 79
    # White -> the Open slot (slot 1, range 0..6 -> 3); a dim turquoise-ish color picks
    # Turquoise (#40e0d0, slot 8: 98..104 -> 101), at its peak level 0.5 -> 128.
    assert out[4] == 3
    out = render("5star-systems/spica-250m", "8bit", FixtureState(rgb=(0.1, 0.5, 0.45)))
    assert out[4] == 101 and out[13] == 128


def test_cmy_moving_head_with_switching_channels_and_8bit_fine() -> None:
    # martin/mac-250-wash, 16Bt: Shutter / Strobe (20..49 Open), Dimmer, Cyan, Magenta, Yellow
    # (switching aliases of "Color Wheel": its default 0 selects "Cyan Intensity" etc.),
    # Color Wheel, Frost, Pan + Pan fine (dmxValueResolution 8bit, 0..540deg), Tilt + Tilt fine
    # (default 128), Pan/Tilt Speed, Effect Speed.
    prof = profile("martin/mac-250-wash")
    assert prof.resolve("Magenta") == ("Magenta Intensity", 0)
    # CMY = 1 - rgb / max(rgb) = (0, 0.5, 0.75) -> 0, 127.5 -> 128, 191.25 -> 191; dimmer
    # 0.8 x max(rgb) -> 204; shutter open -> 34; pan -90deg -> 1/3 of 0..65535 = 0x5555;
    # tilt default 128 at 8 bit -> 128 << 8 = (128, 0).
    st = FixtureState(rgb=(1.0, 0.5, 0.25), intensity=0.8, pan_deg=-90.0)
    assert render("martin/mac-250-wash", "16Bt", st) == [34, 204, 0, 128, 191, 0, 0, 85, 85, 128, 0, 0, 0]


def test_strobe_fixture() -> None:
    # generic/strobe "Frequency + Dimmer": Frequency is ShutterStrobe Strobe slow..fast over
    # 0..255 (no Open range, default 0); Dimmer Intensity.
    assert render("generic/strobe", "Frequency + Dimmer", FixtureState(intensity=1.0)) == [0, 255]
    assert render("generic/strobe", "Frequency + Dimmer", FixtureState(strobe_hz=20.0)) == [255, 255]
    # 5 Hz: (5 - 1) / 19 * 255 = 53.7 -> 54. Above "fast" clamps to the end.
    assert render("generic/strobe", "Dimmer + Frequency", FixtureState(strobe_hz=5.0)) == [255, 54]
    assert render("generic/strobe", "Dimmer + Frequency", FixtureState(strobe_hz=50.0)) == [255, 255]


def test_render_many_matches_render() -> None:
    m = profile("martin/rush-par-2-rgbw-zoom").mode("9ch")
    states = [
        FixtureState(rgb=(0.6, 0.4, 1.0), intensity=0.25, zoom=0.2),
        FixtureState(strobe_hz=20.0),
        FixtureState(rgb=(0.0, 1.0, 0.0), intensity=0.9, zoom=1.0),
    ]
    rows = np.zeros((3, 10))
    for r, s in zip(rows, states, strict=True):
        s.write_row(r)
    many = np.zeros((3, m.n_channels), dtype=np.uint8)
    m.render_many(rows, many)
    for k, s in enumerate(states):
        one = np.zeros(m.n_channels, dtype=np.uint8)
        m.render(s, one)
        assert many[k].tolist() == one.tolist()


# -- patch -----------------------------------------------------------------------------------


def test_patch_samples_the_frame_and_writes_universes() -> None:
    rgb = profile("generic/rgb-fader")
    pt = profile("generic/pan-tilt")
    patch = Patch()
    patch.add(rgb, "8 bit", 1, 1, "left", position=(0.0, 0.0))
    patch.add(rgb, "8 bit", 1, 4, "right", position=(0.99, 0.99))
    patch.add(rgb, "16 bit", 2, 507, "wide", position=(0.5, 0.5), area=1.0)
    patch.add(pt, "8 bit", 2, 1, "head", position=None, state=FixtureState(pan=1.0, tilt=0.0))
    assert patch.universes == (1, 2)
    frame = np.zeros((4, 4, 3), dtype=np.float32)
    frame[0, 0] = (1.0, 0.0, 0.0)
    frame[3, 3] = (0.0, 0.0, 1.0)
    dmx = patch.new_dmx()
    patch.apply(frame, None, dmx)
    assert dmx[1][0:6].tolist() == [255, 0, 0, 0, 0, 255]
    # Whole-frame average: red 1/16 -> 4095.9 -> 4096 = (16, 0); blue the same.
    assert dmx[2][506:512].tolist() == [16, 0, 0, 0, 16, 0]
    assert dmx[2][0:2].tolist() == [255, 0]
    # States given to apply persist and are used for the fixture's intensity.
    patch.apply(frame, {"left": FixtureState(intensity=0.5)}, dmx)
    assert dmx[1][0:3].tolist() == [128, 0, 0]
    # The same patch into a (n_universes, 512) array starting at universe 1.
    arr = np.zeros((2, 512), dtype=np.uint8)
    patch.apply(frame, None, arr, first_universe=1)
    assert arr[0, 0:6].tolist() == [128, 0, 0, 0, 0, 255] and arr[1, 0:2].tolist() == [255, 0]


def test_overlapping_addresses_name_both_fixtures() -> None:
    prof = profile("chauvet-dj/slimpar-pro-rgba")
    patch = Patch()
    patch.add(prof, "10ch", 3, 1, "par-a")
    patch.add(prof, "10ch", 3, 11, "par-b")  # 11..20: adjacent, fine
    patch.add(prof, "10ch", 4, 5, "par-c")  # other universe, fine
    with pytest.raises(FixtureError) as e:
        patch.add(prof, "5ch", 3, 18, "par-d")
    assert "'par-d'" in str(e.value) and "'par-b'" in str(e.value)
    assert isinstance(e.value, LumenError)
    with pytest.raises(FixtureError, match="already patched"):
        patch.add(prof, "4ch", 5, 1, "par-a")


@pytest.mark.parametrize(
    ("universe", "address", "match"),
    [
        (0, 1, r"universe 0 is outside 1\.\.63999"),
        (64000, 1, r"universe 64000 is outside"),
        (1, 0, r"address 0 is outside 1\.\.512"),
        (1, 513, r"address 513 is outside"),
        (1, 505, r"10 channels from address 505 end at 514, past slot 512"),
    ],
)
def test_universe_and_address_out_of_range(universe: int, address: int, match: str) -> None:
    prof = profile("chauvet-dj/slimpar-pro-rgba")
    with pytest.raises(FixtureError, match=match):
        Patch().add(prof, "10ch", universe, address, "par")


def test_last_fitting_address_is_accepted() -> None:
    prof = profile("chauvet-dj/slimpar-pro-rgba")
    pf = Patch().add(prof, "10ch", 63999, 503, "par")
    assert pf.last_address == 512


def test_wrong_mode_name_suggests_the_closest() -> None:
    prof = profile("chauvet-dj/slimpar-pro-rgba")
    with pytest.raises(FixtureError, match=r"no mode '10-chanel' \(did you mean '10-channel'\?\)"):
        prof.mode("10-chanel")
    with pytest.raises(FixtureError, match="did you mean"):
        Patch().add(prof, "5-chanel", 1, 1, "par")


# -- bad files -------------------------------------------------------------------------------


def _minimal_fixture() -> dict[str, Any]:
    return {
        "$schema": "https://raw.githubusercontent.com/OpenLightingProject/open-fixture-library/master/"
        "schemas/fixture.json",
        "name": "Test Par",
        "categories": ["Color Changer"],
        "meta": {"authors": ["lumen"], "createDate": "2026-01-01", "lastModifyDate": "2026-01-01"},
        "availableChannels": {
            "Red": {"capability": {"type": "ColorIntensity", "color": "Red"}},
            "Effects": {
                "capabilities": [
                    {"dmxRange": [0, 127], "type": "NoFunction"},
                    {"dmxRange": [128, 255], "type": "Effect", "effectName": "Chase"},
                ]
            },
        },
        "modes": [{"name": "2-channel", "shortName": "2ch", "channels": ["Red", "Effects"]}],
    }


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_unknown_capability_type_is_named_and_the_folder_still_loads(tmp_path: Path) -> None:
    lib = tmp_path / "fixtures"
    good = _write(lib / "acme" / "good-par.json", _minimal_fixture())
    bad_data = _minimal_fixture()
    bad_data["availableChannels"]["Effects"]["capabilities"][1]["type"] = "Efect"
    bad = _write(lib / "acme" / "bad-par.json", bad_data)
    _write(lib / "manufacturers.json", {"$schema": "x", "acme": {"name": "ACME Lights"}})
    (lib / "acme" / "broken.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(FixtureError) as e:
        load_ofl(bad)
    msg = str(e.value)
    assert str(bad) in msg and "'Effects'" in msg and "'Efect'" in msg and "did you mean 'Effect'" in msg
    assert e.value.channel == "Effects" and e.value.path == str(bad)

    problems, n_ok, n_failed = check_paths([lib])
    assert (n_ok, n_failed) == (1, 2)
    assert problems[0].startswith(f"{bad}: ") and "unknown capability type 'Efect'" in problems[0]
    assert problems[1].startswith(f"{lib / 'acme' / 'broken.json'}: not JSON")
    assert load_ofl(good).manufacturer == "ACME Lights"
    # Unsupported but valid types load and keep their default value.
    m = load_ofl(good).mode("2ch")
    out = np.zeros(2, dtype=np.uint8)
    m.render(FixtureState(rgb=(1.0, 1.0, 1.0)), out)
    assert out.tolist() == [255, 0]


def test_other_invalid_files(tmp_path: Path) -> None:
    data = _minimal_fixture()
    data["modes"][0]["channels"] = ["Red", "Efects"]
    match = r"mode '2-channel': mode channel 'Efects' is not defined \(did you mean"
    with pytest.raises(FixtureError, match=match):
        load_ofl(_write(tmp_path / "a" / "x.json", data))
    data = _minimal_fixture()
    data["availableChannels"]["Red"]["capability"]["color"] = "Ultraviolet"
    with pytest.raises(FixtureError, match="unknown ColorIntensity color 'Ultraviolet'"):
        load_ofl(_write(tmp_path / "a" / "y.json", data))
    with pytest.raises(FixtureError, match="cannot read"):
        load_ofl(tmp_path / "missing.json")
    problems, n_ok, n_failed = check_paths([tmp_path / "missing.json"])
    assert n_failed == 1 and n_ok == 0 and "cannot read" in problems[0]
