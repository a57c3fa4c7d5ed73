"""Generate a TouchOSC (mk1) layout for lumen: ``lumen.touchosc``, a zip holding ``index.xml``.

Usage::

    python examples/touchosc/make_layout.py                      # generic scene names
    python examples/touchosc/make_layout.py presets/neon_tunnel.yaml -o my_show.touchosc

With a show file, the scene buttons are the show's first eight scenes (in show order); without
one they are ``scene1`` .. ``scene8``, which only work with a show whose scenes carry those
names. Regenerate the layout whenever the scene names change. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import base64
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

N_SCENES = 8
DEFAULT_SCENES: tuple[str, ...] = tuple(f"scene{i}" for i in range(1, N_SCENES + 1))
#: iPad, portrait: 768 x 1024 points.
WIDTH, HEIGHT = 768, 1024
MARGIN = 16
#: Height of the name label under each button (labels never overlap touch controls).
NAME_H = 40


def b64(text: str) -> str:
    """TouchOSC mk1 (layout version >= 13) stores names, texts and OSC addresses in base64."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Control:
    """One TouchOSC control.

    Attributes
    ----------
    kind : str
        TouchOSC control type: ``push``, ``toggle``, ``faderv``, ``labelh``.
    name : str
        Unique control name.
    x, y, w, h : int
        Position and size, points.
    color : str
        TouchOSC color name (red, green, blue, yellow, purple, gray, orange, brown, pink).
    address : str
        Custom OSC address (``osc_cs``); "" for none.
    text : str
        Label text (labels only).
    attrs : dict
        Further XML attributes of this control type.
    """

    kind: str
    name: str
    x: int
    y: int
    w: int
    h: int
    color: str
    address: str = ""
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)

    def element(self) -> ET.Element:
        """The ``<control>`` element."""
        el = ET.Element("control")
        el.set("name", b64(self.name))
        for attr, number in (("x", self.x), ("y", self.y), ("w", self.w), ("h", self.h)):
            el.set(attr, str(number))
        el.set("color", self.color)
        el.set("type", self.kind)
        if self.kind.startswith("label"):
            el.set("text", b64(self.text))
            el.set("size", self.attrs.get("size", "18"))
            el.set("background", "true")
            el.set("outline", "false")
        else:
            el.set("scalef", "0.0")
            el.set("scalet", "1.0")
        if self.address:
            el.set("osc_cs", b64(self.address))
        for k, v in self.attrs.items():
            if k != "size":
                el.set(k, v)
        return el


def push(name: str, x: int, y: int, w: int, h: int, color: str, address: str, *, release: bool = False) -> Control:
    """A push button: sends 1.0 on press, and 0.0 on release when ``release`` is set."""
    attrs = {"local_off": "false", "sp": "true", "sr": "true" if release else "false"}
    return Control("push", name, x, y, w, h, color, address, attrs=attrs)


def label(name: str, x: int, y: int, w: int, h: int, text: str, *, address: str = "", size: int = 18) -> Control:
    """A text label; with an address, OSC messages sent there replace its text."""
    return Control("labelh", name, x, y, w, h, "gray", address, text=text, attrs={"size": str(size)})


def controls(scene_names: Sequence[str]) -> list[Control]:
    """Every control of the layout, for up to `N_SCENES` scenes."""
    out: list[Control] = []
    full = WIDTH - 2 * MARGIN
    # Status row: the current scene and the tempo, both fed back by lumen.
    out.append(label("title", MARGIN, MARGIN, 160, 50, "lumen", size=28))
    out.append(label("scene_label", MARGIN + 176, MARGIN, 340, 50, "scene", address="/lumen/scene"))
    out.append(label("tempo_label", WIDTH - MARGIN - 220, MARGIN, 220, 50, "bpm", address="/lumen/tempo"))

    # Scenes: two rows of four buttons, each with its name on a label.
    top = 90
    cols, gap = 4, 12
    bw = (full - (cols - 1) * gap) // cols
    bh = 130
    for i, name in enumerate(scene_names[:N_SCENES]):
        row, col = divmod(i, cols)
        x = MARGIN + col * (bw + gap)
        y = top + row * (bh + gap)
        out.append(push(f"scene_{i + 1}", x, y, bw, bh - NAME_H, "blue", f"/lumen/scene/{name}"))
        out.append(label(f"scene_{i + 1}_name", x, y + bh - NAME_H + 2, bw, NAME_H - 4, name, size=16))

    # Cues and tap.
    top = 90 + 2 * (bh + gap) + 16
    third = (full - 2 * gap) // 3
    for k, (name, color, address, text) in enumerate(
        (
            ("cue_back", "orange", "/lumen/cue/back", "cue back"),
            ("cue_go", "green", "/lumen/cue/go", "GO"),
            ("tap", "yellow", "/lumen/tap", "tap"),
        )
    ):
        x = MARGIN + k * (third + gap)
        out.append(push(name, x, top, third, 120 - NAME_H, color, address))
        out.append(label(f"{name}_name", x, top + 120 - NAME_H + 2, third, NAME_H - 4, text, size=16))

    # Blackout (toggle), strobe (momentary) and the master fader.
    top += 120 + 24
    fader_w = 140
    left_w = full - fader_w - gap
    bottom = HEIGHT - MARGIN
    half = (bottom - top - gap) // 2
    out.append(
        Control("toggle", "blackout", MARGIN, top, left_w, half - NAME_H, "red", "/lumen/blackout", attrs={"local_off": "false"})
    )
    out.append(label("blackout_name", MARGIN, top + half - NAME_H + 2, left_w, NAME_H - 4, "blackout", size=16))
    y = top + half + gap
    out.append(push("strobe", MARGIN, y, left_w, half - NAME_H, "purple", "/lumen/strobe", release=True))
    out.append(label("strobe_name", MARGIN, y + half - NAME_H + 2, left_w, NAME_H - 4, "strobe (hold)", size=16))
    fx = MARGIN + left_w + gap
    out.append(
        Control(
            "faderv",
            "master",
            fx,
            top,
            fader_w,
            bottom - top - 40,
            "yellow",
            "/lumen/master",
            attrs={"response": "absolute", "inverted": "false", "centered": "false"},
        )
    )
    out.append(label("master_name", fx, bottom - 34, fader_w, 34, "master", size=16))
    return out


def layout_xml(scene_names: Sequence[str]) -> bytes:
    """``index.xml`` of the layout (TouchOSC mk1, layout version 15, iPad portrait)."""
    root = ET.Element("layout", {"version": "15", "mode": "1", "orientation": "vertical"})
    page = ET.SubElement(
        root,
        "tabpage",
        {
            "name": b64("lumen"),
            "scalef": "0.0",
            "scalet": "1.0",
            "li_t": b64("lumen"),
            "li_c": "gray",
            "li_s": "14",
            "li_o": "false",
            "li_b": "false",
            "la_t": b64("lumen"),
            "la_c": "gray",
            "la_s": "14",
            "la_o": "false",
            "la_b": "false",
        },
    )
    for c in controls(scene_names):
        page.append(c.element())
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body


def write_touchosc(path: Path, index_xml: bytes) -> None:
    """Write a ``.touchosc`` file: a zip with ``index.xml``, byte-identical for the same input."""
    info = zipfile.ZipInfo("index.xml", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, index_xml)


def scene_names_from_show(path: Path) -> tuple[str, ...]:
    """The show's scene names in show order (validated with lumen's own loader)."""
    from lumen.show.load import load_show  # only needed with a show file

    return load_show(path).scene_names()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description="Generate lumen's TouchOSC (mk1) layout.")
    parser.add_argument("show", nargs="?", type=Path, help="show file to take the scene names from")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).with_name("lumen.touchosc"), help="output .touchosc file"
    )
    args = parser.parse_args(argv)
    show: Path | None = args.show
    output: Path = args.output
    names = scene_names_from_show(show) if show is not None else DEFAULT_SCENES
    if len(names) > N_SCENES:
        print(f"note: the layout has {N_SCENES} scene buttons; scenes after {names[N_SCENES - 1]!r} are left out", file=sys.stderr)
    write_touchosc(output, layout_xml(names))
    print(f"wrote {output} (scenes: {', '.join(names[:N_SCENES])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
