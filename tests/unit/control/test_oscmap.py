"""The OSC address map: every address form, press/release, bad arguments, clamping, hints."""

from __future__ import annotations

import base64
import importlib.util
import math
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from lumen.control.commands import COMMANDS, Command
from lumen.control.oscmap import (
    PING,
    AddressDoc,
    OscMapError,
    address_map,
    feedback,
    markdown,
    parse,
)
from lumen.output.encode.osc import osc_message

REPO = Path(__file__).resolve().parents[3]

# -- valid messages ----------------------------------------------------------------------------

VALID: list[tuple[str, tuple[object, ...], Command]] = [
    # scenes: a button per scene, or the name as the argument
    ("/lumen/scene/drop", (), Command("scene", arg="drop")),
    ("/lumen/scene/drop", (1.0,), Command("scene", arg="drop")),
    ("/lumen/scene/drop", (1,), Command("scene", arg="drop")),
    ("/lumen/scene/drop", (True,), Command("scene", arg="drop")),
    ("/lumen/scene/drop", (127,), Command("scene", arg="drop")),
    ("/lumen/scene/drop", ("1",), Command("scene", arg="drop")),
    ("/lumen/scene/the-end_2.b", (0.5,), Command("scene", arg="the-end_2.b")),
    ("/lumen/scene", ("drop",), Command("scene", arg="drop")),
    ("/lumen/scene", (" drop ",), Command("scene", arg="drop")),
    # cues
    ("/lumen/cue/go", (), Command("cue_go")),
    ("/lumen/cue/go", (1.0,), Command("cue_go")),
    ("/lumen/cue/back", (1,), Command("cue_back")),
    ("/lumen/cue/goto", (3,), Command("cue_goto", arg="3")),
    ("/lumen/cue/goto", (2.5,), Command("cue_goto", arg="2.5")),
    ("/lumen/cue/goto", (2.0999999046325684,), Command("cue_goto", arg="2.1")),  # float32 2.1
    ("/lumen/cue/goto", (4.0,), Command("cue_goto", arg="4")),
    ("/lumen/cue/goto", ("2.5",), Command("cue_goto", arg="2.5")),
    ("/lumen/cue/goto", ("007.50",), Command("cue_goto", arg="7.5")),
    ("/lumen/cue/goto", ("0",), Command("cue_goto", arg="0")),
    ("/lumen/cue/2.5", (), Command("cue_goto", arg="2.5")),
    ("/lumen/cue/12", (1.0,), Command("cue_goto", arg="12")),
    # tempo
    ("/lumen/tap", (), Command("tap")),
    ("/lumen/tap", (1.0,), Command("tap")),
    ("/lumen/tempo", (128.0,), Command("tempo", 128.0)),
    ("/lumen/tempo", (20,), Command("tempo", 20.0)),
    ("/lumen/tempo", (400.0,), Command("tempo", 400.0)),
    ("/lumen/tempo", ("96.5",), Command("tempo", 96.5)),
    ("/lumen/tempo/release", (), Command("tempo_release")),
    # master: clamped
    ("/lumen/master", (0.25,), Command("master", 0.25)),
    ("/lumen/master", (0,), Command("master", 0.0)),
    ("/lumen/master", (1.5,), Command("master", 1.0)),
    ("/lumen/master", (-3,), Command("master", 0.0)),
    ("/lumen/master", (True,), Command("master", 1.0)),
    ("/lumen/master", ("0.75",), Command("master", 0.75)),
    # switches: no argument = on
    ("/lumen/blackout", (), Command("blackout", 1.0)),
    ("/lumen/blackout", (1,), Command("blackout", 1.0)),
    ("/lumen/blackout", (0,), Command("blackout", 0.0)),
    ("/lumen/blackout", (True,), Command("blackout", 1.0)),
    ("/lumen/blackout", (False,), Command("blackout", 0.0)),
    ("/lumen/blackout", (0.49,), Command("blackout", 0.0)),
    ("/lumen/blackout", (0.5,), Command("blackout", 1.0)),
    ("/lumen/strobe", (), Command("strobe", 1.0)),
    ("/lumen/strobe", (1.0,), Command("strobe", 1.0)),
    ("/lumen/strobe", (0.0,), Command("strobe", 0.0)),
    ("/lumen/auto", (1,), Command("auto", 1.0)),
    ("/lumen/auto", (0,), Command("auto", 0.0)),
    ("/lumen/auto", (), Command("auto", 1.0)),
    ("/lumen/release", (), Command("release")),
    # parameters
    ("/lumen/param/drop/tunnel/speed", (0.7,), Command("param", 0.7, arg="drop/tunnel/speed")),
    ("/lumen/param/drop/tunnel/speed", (-2,), Command("param", -2.0, arg="drop/tunnel/speed")),
    ("/lumen/param/drop/tunnel/speed", ("3",), Command("param", 3.0, arg="drop/tunnel/speed")),
    ("/lumen/param/drop/layer0/release", (0.1,), Command("param", 0.1, arg="drop/layer0/release")),  # a param named "release"
]


@pytest.mark.parametrize(("address", "args", "expected"), VALID, ids=[f"{a} {b}" for a, b, _ in VALID])
def test_valid_messages(address: str, args: tuple[object, ...], expected: Command) -> None:
    got = parse(address, args)
    assert got == expected
    assert got is not None and got.name in COMMANDS


def test_param_release_is_nan() -> None:
    got = parse("/lumen/param/drop/tunnel/speed/release")
    assert got is not None and got.name == "param" and got.arg == "drop/tunnel/speed"
    assert math.isnan(got.value)
    assert parse("/lumen/param/drop/tunnel/speed/release", (0.0,)) is None


# -- button releases and ping: valid, no command ------------------------------------------------

RELEASES: list[tuple[str, tuple[object, ...]]] = [
    ("/lumen/scene/drop", (0.0,)),
    ("/lumen/scene/drop", (0,)),
    ("/lumen/scene/drop", (False,)),
    ("/lumen/scene/drop", (0.49,)),
    ("/lumen/cue/go", (0.0,)),
    ("/lumen/cue/back", (0,)),
    ("/lumen/cue/3", (0.0,)),
    ("/lumen/tap", (0.0,)),
    ("/lumen/tempo/release", (0.0,)),
    ("/lumen/release", (0,)),
    ("/lumen/param/a/b/c/release", (False,)),
    (PING, ()),
    (PING, ("token", 3)),
]


@pytest.mark.parametrize(("address", "args"), RELEASES)
def test_release_and_ping_give_no_command(address: str, args: tuple[object, ...]) -> None:
    assert parse(address, args) is None


# -- errors ---------------------------------------------------------------------------------------

BAD_ARGS: list[tuple[str, tuple[object, ...], str]] = [
    ("/lumen/master", (), "needs one argument"),
    ("/lumen/master", (0.5, 0.5), "takes at most 1 argument, got 2"),
    ("/lumen/master", (math.nan,), "finite"),
    ("/lumen/master", (math.inf,), "finite"),
    ("/lumen/master", ("nan",), "finite"),
    ("/lumen/master", ("loud",), "expected a number"),
    ("/lumen/master", (None,), "expected a number"),
    ("/lumen/master", (b"\x01",), "expected a number"),
    ("/lumen/master", ([1, 2],), "expected a number"),
    ("/lumen/master", (10**400,), "out of range"),
    ("/lumen/tempo", (), "needs one argument"),
    ("/lumen/tempo", (19.9,), "outside 20..400"),
    ("/lumen/tempo", (400.5,), "outside 20..400"),
    ("/lumen/tempo", (-120,), "outside 20..400"),
    ("/lumen/tempo", (math.inf,), "finite"),
    ("/lumen/tempo/release", ("x",), "expected a number"),
    ("/lumen/blackout", ("on",), "expected a number"),
    ("/lumen/blackout", (1, 1), "at most 1"),
    ("/lumen/strobe", (math.nan,), "finite"),
    ("/lumen/scene", (), "needs one argument"),
    ("/lumen/scene", (3,), "expected s scene name"),
    ("/lumen/scene", ("two words",), "not a name"),
    ("/lumen/scene", ("",), "not a name"),
    ("/lumen/scene/drop", ("x",), "expected a number"),
    ("/lumen/scene/drop", (1.0, 0.0), "at most 1"),
    ("/lumen/cue/goto", (), "needs one argument"),
    ("/lumen/cue/goto", ("next",), "cue number"),
    ("/lumen/cue/goto", ("-1",), "cue number"),
    ("/lumen/cue/goto", (-1,), "not negative"),
    ("/lumen/cue/goto", (True,), "cue number"),
    ("/lumen/cue/goto", (math.nan,), "finite"),
    ("/lumen/cue/go", (math.inf,), "finite"),
    ("/lumen/tap", (1, 2), "at most 1"),
    ("/lumen/param/drop/tunnel/speed", (), "needs one argument"),
    ("/lumen/param/drop/tunnel/speed", (math.nan,), "finite"),
    ("/lumen/param/drop/tunnel/speed", ("inf",), "finite"),
    ("/lumen/param/drop/tun nel/speed", (1.0,), "not a name"),
]


@pytest.mark.parametrize(("address", "args", "fragment"), BAD_ARGS, ids=[f"{a} {b!r}" for a, b, _ in BAD_ARGS])
def test_bad_arguments_raise_with_a_clear_message(address: str, args: tuple[object, ...], fragment: str) -> None:
    with pytest.raises(OscMapError) as info:
        parse(address, args)
    assert info.value.unknown is False
    assert str(info.value).startswith(f"{address}: ")
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


UNKNOWN: list[tuple[str, str]] = [
    ("/lumen/mastr", "did you mean '/lumen/master'"),
    ("/lumen/blackot", "did you mean '/lumen/blackout'"),
    ("/lumen/cue/next", "unknown address"),
    ("/lumen/cue/2.5.1", "unknown address"),
    ("/lumen/scene/drop/now", "unknown address"),
    ("/lumen/tempo/up", "unknown address"),
    ("/lumen/param/a/b", "unknown address"),
    ("/lumen/param/a/b/c/d", "unknown address"),
    ("/lumen/tap/", "unknown address"),
    ("/lumen", "lumen listens under /lumen/"),
    ("/other/master", "lumen listens under /lumen/"),
    ("master", "lumen listens under /lumen/"),
    ("", "lumen listens under /lumen/"),
    ("/lumen/scene/*", "wildcards"),
    ("/lumen/{master,blackout}", "wildcards"),
]


@pytest.mark.parametrize(("address", "fragment"), UNKNOWN)
def test_unknown_addresses(address: str, fragment: str) -> None:
    with pytest.raises(OscMapError) as info:
        parse(address, (1.0,))
    assert info.value.unknown is True
    assert fragment in str(info.value)


def test_known_scenes_are_enforced_with_a_hint() -> None:
    scenes = ["intro", "drop", "break"]
    assert parse("/lumen/scene/drop", scenes=scenes) == Command("scene", arg="drop")
    assert parse("/lumen/scene", ("intro",), scenes=scenes) == Command("scene", arg="intro")
    with pytest.raises(OscMapError, match=r"no scene named 'drp' \(did you mean 'drop'\?\); known: break, drop, intro"):
        parse("/lumen/scene/drp", scenes=scenes)
    with pytest.raises(OscMapError, match="did you mean 'intro'"):
        parse("/lumen/scene", ("intr",), scenes=scenes)
    # without a show every well-formed name passes (the engine checks it when applying)
    assert parse("/lumen/scene/drp") == Command("scene", arg="drp")


def test_known_params_are_enforced() -> None:
    params = {"drop": ["tunnel/speed", "tunnel/hue", "glow"], "intro": ["bg/level"]}
    assert parse("/lumen/param/drop/tunnel/hue", (0.5,), params=params) == Command("param", 0.5, arg="drop/tunnel/hue")
    # a bare node name allows any of its parameters (the engine knows them)
    assert parse("/lumen/param/drop/glow/radius", (2,), params=params) == Command("param", 2.0, arg="drop/glow/radius")
    with pytest.raises(OscMapError, match=r"node 'tunnel' of scene 'drop' has no parameter 'sped' \(did you mean 'speed'\?\); known: hue, speed"):
        parse("/lumen/param/drop/tunnel/sped", (0.5,), params=params)
    with pytest.raises(OscMapError, match=r"scene 'drop' has no node 'tunel' \(did you mean 'tunnel'\?\); nodes: glow, tunnel"):
        parse("/lumen/param/drop/tunel/speed", (0.5,), params=params)
    with pytest.raises(OscMapError, match="no scene named 'drip'"):
        parse("/lumen/param/drip/tunnel/speed", (0.5,), params=params)
    with pytest.raises(OscMapError, match="did you mean 'level'"):
        parse("/lumen/param/intro/bg/levl/release", params=params)


def test_address_map_with_node_names_and_paths() -> None:
    rows = address_map(["drop"], {"drop": ["layer0", "layer0.fx0/mix"]})
    addresses = [r.address for r in rows]
    assert "/lumen/param/drop/layer0/<param>" in addresses
    assert "/lumen/param/drop/layer0/<param>/release" in addresses
    assert "/lumen/param/drop/layer0.fx0/mix" in addresses


def test_unknown_scene_address_hint_uses_scene_names() -> None:
    with pytest.raises(OscMapError, match="did you mean '/lumen/scene/intro'") as info:
        parse("/lumen/scen/intro", scenes=["intro"])
    assert info.value.unknown


# -- feedback ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (Command("master", 0.25), ("/lumen/master", (0.25,))),
        (Command("tempo", 128.0), ("/lumen/tempo", (128.0,))),
        (Command("blackout", 1.0), ("/lumen/blackout", (1,))),
        (Command("blackout", 0.0), ("/lumen/blackout", (0,))),
        (Command("strobe", 1.0), ("/lumen/strobe", (1,))),
        (Command("auto", 0.0), ("/lumen/auto", (0,))),
        (Command("scene", arg="drop"), ("/lumen/scene", ("drop",))),
        (Command("param", 0.5, arg="a/b/c"), ("/lumen/param/a/b/c", (0.5,))),
        (Command("param", math.nan, arg="a/b/c"), None),
        (Command("cue_go"), None),
        (Command("tap"), None),
        (Command("tempo_release"), None),
        (Command("release"), None),
    ],
)
def test_feedback(cmd: Command, expected: tuple[str, tuple[object, ...]] | None) -> None:
    got = feedback(cmd)
    assert got == expected
    if got is not None:
        osc_message(*got)  # encodable
        assert type(got[1][0]) is type(expected[1][0])  # type: ignore[index]  # i vs f matters on the wire


def test_feedback_of_a_parsed_command_round_trips() -> None:
    for address, args in [("/lumen/master", (0.3,)), ("/lumen/blackout", (1,)), ("/lumen/tempo", (140.0,))]:
        cmd = parse(address, args)
        assert cmd is not None
        fb = feedback(cmd)
        assert fb is not None and fb[0] == address
        assert parse(*fb) == cmd  # the echo, sent back, means the same


# -- documentation --------------------------------------------------------------------------------


def test_address_map_rows_cover_every_command_and_parse() -> None:
    rows = address_map(["intro", "drop"], {"drop": ["tunnel/speed"]})
    assert all(isinstance(r, AddressDoc) for r in rows)
    assert {r.command for r in rows} - {""} == set(COMMANDS)
    addresses = [r.address for r in rows]
    assert addresses[:3] == ["/lumen/scene/intro", "/lumen/scene/drop", "/lumen/scene"]
    assert "/lumen/param/drop/tunnel/speed" in addresses
    assert "/lumen/param/drop/tunnel/speed/release" in addresses
    assert addresses[-1] == PING
    assert len(set(addresses)) == len(addresses)
    for r in rows:
        assert r.meaning
        if r.command:
            assert COMMANDS[r.command] in r.meaning or r.address.endswith("/release")
        if "<" in r.address:
            continue
        # every concrete documented address is one parse knows
        args: tuple[object, ...] = {"s name": ("drop",), "i, f or s number": (3,)}.get(r.args, (1.0,) if r.args != "any" else ())
        if r.address == "/lumen/tempo":
            args = (120.0,)
        got = parse(r.address, args)
        assert (got is None) == (r.address == PING)
        if got is not None:
            assert got.name == r.command


def test_generic_rows_without_a_show() -> None:
    addresses = [r.address for r in address_map()]
    assert "/lumen/scene/<name>" in addresses
    assert "/lumen/param/<scene>/<node>/<param>" in addresses


def test_markdown_table() -> None:
    text = markdown(address_map(["drop"]))
    lines = text.splitlines()
    assert lines[0] == "| address | arguments | command | meaning |"
    assert lines[1] == "|---|---|---|---|"
    assert lines[2].startswith("| `/lumen/scene/drop` | [press] | `scene` | go to the scene named by arg")
    assert all(line.count("|") - line.count("\\|") == 5 for line in lines)
    assert len(lines) == 2 + len(address_map(["drop"]))


# -- the TouchOSC example speaks this map ------------------------------------------------------------


def test_touchosc_layout_addresses_all_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "lumen_example_touchosc_make_layout"
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "touchosc" / "make_layout.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, mod)  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    out = tmp_path / "t.touchosc"
    assert mod.main(["-o", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["index.xml"]
        root = ET.fromstring(zf.read("index.xml"))
    assert root.tag == "layout" and root.get("version") == "15"
    sends: dict[str, str] = {}
    for c in root.iter("control"):
        if c.get("osc_cs"):
            sends[base64.b64decode(c.get("osc_cs", "")).decode()] = c.get("type", "")
    scene_buttons = sorted(a for a in sends if a.startswith("/lumen/scene/"))
    assert scene_buttons == sorted(f"/lumen/scene/scene{i}" for i in range(1, 9))
    for address, kind in sends.items():
        if kind.startswith("label"):  # labels only receive feedback
            assert address in ("/lumen/scene", "/lumen/tempo")
            continue
        pressed = parse(address, (1.0,))
        assert pressed is not None, address
        released = parse(address, (0.0,))
        if kind == "push" and address != "/lumen/strobe":
            assert released is None, address
    assert parse("/lumen/strobe", (0.0,)) == Command("strobe", 0.0)
    assert parse("/lumen/master", (0.3,)) == Command("master", 0.3)
    # a show file gives the buttons its scene names, in show order
    show = tmp_path / "show.yaml"
    show.write_text(
        "version: 1\nscenes:\n"
        "  intro: {layers: [{shader: solid.fs}]}\n"
        "  drop: {layers: [{shader: solid.fs}]}\n"
    )
    assert mod.scene_names_from_show(show) == ("intro", "drop")
    xml = mod.layout_xml(("intro", "drop")).decode()
    assert base64.b64encode(b"/lumen/scene/drop").decode() in xml
