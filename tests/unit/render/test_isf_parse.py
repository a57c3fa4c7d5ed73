"""Unit tests of ISF header parsing and GLSL generation (``lumen.render.program``): no GL.

Layer: tests. Threads: any.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lumen.errors import ShaderError
from lumen.render.program import (
    VERTEX_SHADER,
    build_fragment_source,
    build_vertex_source,
    parse_shader,
)

REPO = Path(__file__).resolve().parents[3]
ISF_DIR = REPO / "tests" / "golden" / "isf"

MULTIPASS = """/*{
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "fft", "TYPE": "audioFFT"},
        {"NAME": "wave", "TYPE": "audio"},
        {"NAME": "amount", "TYPE": "float", "DEFAULT": 0.5}
    ],
    "PASSES": [
        {
            "TARGET": "bufferA",
            "PERSISTENT": true,
            "WIDTH": "$WIDTH/2",
            "HEIGHT": "floor($HEIGHT*0.5)"
        },
        {"TARGET": "bufferB", "FLOAT": "true", "WIDTH": 64, "HEIGHT": "$amount * 100"},
        {"TARGET": "bufferA"},
        {}
    ],
    "IMPORTED": {
        "noise": {"PATH": "tex/noise.png"}
    }
}*/
void main() {
    gl_FragColor = IMG_THIS_PIXEL(bufferA) + IMG_PIXEL(noise, vec2(1.0)) * IMG_SIZE(fft).x;
}
"""


def test_passes_targets_and_lines() -> None:
    p = parse_shader(MULTIPASS, "/shows/a/multi.fs")
    assert [s.target for s in p.passes] == ["bufferA", "bufferB", "bufferA", None]
    a, b, a2, out = p.passes
    assert (a.persistent, a.float, a.line) == (True, False, 9)  # the line the entry starts on
    assert a.width is not None and a.height is not None
    assert (a.width.size({"WIDTH": 100, "HEIGHT": 51}), a.height.size({"WIDTH": 100, "HEIGHT": 51})) == (50, 25)
    assert (b.persistent, b.float, b.line) == (False, True, 15)
    assert b.width is not None and b.width.value({}) == 64.0
    assert b.height is not None and b.height.variables == {"amount"}
    assert (a2.persistent, a2.line) == (True, 16)  # the same target keeps its flags
    assert (out.target, out.line) == (None, 17)
    assert p.targets == ("bufferA", "bufferB")
    assert p.image_names == ("inputImage", "fft", "wave", "bufferA", "bufferB", "noise")
    assert not p.is_simple
    assert [i.glsl_type for i in p.inputs] == ["sampler2D"] * 3 + ["float"]
    assert [i.is_image for i in p.inputs] == [True, True, True, False]
    (noise,) = p.imported
    assert (noise.name, noise.path, noise.line) == ("noise", str(Path("/shows/a/tex/noise.png")), 20)


def test_no_passes_is_one_default_pass() -> None:
    p = parse_shader("void main() { gl_FragColor = vec4(1.0); }")
    assert len(p.passes) == 1 and p.passes[0].target is None and p.is_simple
    p = parse_shader('/*{"PASSES": []}*/\nvoid main() {}\n')
    assert len(p.passes) == 1 and p.passes[0].target is None


def test_isf1_persistent_buffers_and_imported_list() -> None:
    src = """/*{
  "PERSISTENT_BUFFERS": ["accum"],
  "PASSES": [{"TARGET": "accum"}, {}],
  "IMPORTED": [
    {"NAME": "logo", "PATH": "logo.png"}
  ]
}*/
"""
    p = parse_shader(src, "x/old.fs")
    assert p.passes[0].persistent and not p.passes[0].float
    assert p.imported[0].path == str(Path("x/logo.png")) and p.imported[0].line == 5


@pytest.mark.parametrize(
    ("header", "line", "match"),
    [
        ('{\n "PASSES": [\n  {"TARGET": "inputImage"}\n ],\n "INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]\n}', 3, "declared twice"),
        ('{\n "PASSES": [\n  {"TARGET": "TIME"}\n ]\n}', 3, "clashes"),
        ('{\n "PASSES": [\n  {"TARGET": "a b"}\n ]\n}', 3, "GLSL identifier"),
        ('{\n "PASSES": [\n  {"TARGET": "buf"},\n  {"TARGET": "out",\n   "HEIGHT": "$HEIGHT/$nope"}\n ]\n}', 5, "unknown variable"),
        ('{\n "PASSES": [\n  {"TARGET": "buf"},\n  {"TARGET": "buf", "PERSISTENT": true}\n ]\n}', 4, "differ"),
        ('{\n "PASSES": [\n  {"TARGET": 3}\n ]\n}', 3, "must be a string"),
        ('{\n "PASSES": {"TARGET": "buf"}\n}', 2, "must be a list"),
        ('{\n "PASSES": [\n  "buf"\n ]\n}', 3, "must be a JSON object"),
        ('{\n "IMPORTED": {\n  "pic": {"PATH": ""}\n }\n}', 3, "no PATH"),
        ('{\n "IMPORTED": {\n  "bass": {"PATH": "a.png"}\n }\n}', 3, "clashes"),
        ('{\n "IMPORTED": "a.png"\n}', 2, "IMPORTED must be"),
        ('{\n "INPUTS": [\n  {"NAME": "img", "TYPE": "cubemap"}\n ]\n}', 3, "unknown TYPE"),
        ('{\n "INPUTS": [\n  {"NAME": "a", "TYPE": "float"}\n  {"NAME": "b", "TYPE": "float"}\n ]\n}', 4, "invalid ISF JSON"),
        ('{\n "DESCRIPTION": "x",\n}', 3, "invalid ISF JSON"),
    ],
)
def test_header_errors_name_the_line(header: str, line: int, match: str) -> None:
    with pytest.raises(ShaderError, match=match) as info:
        parse_shader("/*" + header + "*/\nvoid main() {}\n", "bad.fs")
    assert (info.value.path, info.value.line) == ("bad.fs", line)


def test_fragment_source_declares_images_and_macros() -> None:
    parsed = parse_shader(MULTIPASS, "m.fs")
    src = build_fragment_source(parsed)
    for decl in (
        "uniform sampler2D inputImage;",
        "uniform sampler2D fft;",
        "uniform sampler2D bufferA;",
        "uniform sampler2D bufferB;",
        "uniform sampler2D noise;",
        "uniform vec2 _inputImage_imgSize;",
        "uniform vec2 _noise_imgSize;",
        "uniform int PASSINDEX;",
        "#define IMG_THIS_PIXEL(img) texture(img, isf_FragNormCoord)",
    ):
        assert decl in src
    assert "uniform sampler2D spectrum;" not in src and "uniform float bass;" not in src
    assert parsed.body_line == 22 and "\n#line 22 0\n" in src  # the body starts right after the header


def test_lumen_extras_only_when_mentioned_and_not_twice() -> None:
    body = "uniform float bass;\nvoid main() { gl_FragColor = vec4(bass, treble, texture(spectrum, vec2(0.5)).r, texture(waveform, vec2(0.5)).r); }\n"
    src = build_fragment_source(parse_shader(body))
    assert src.count("uniform float bass;") == 1  # the body declares it itself
    assert "uniform float treble;" in src
    assert "uniform sampler2D spectrum;" in src and "uniform sampler2D waveform;" in src
    # An ISF input named like an extra wins over lumen's texture.
    src = build_fragment_source(parse_shader('/*{"INPUTS": [{"NAME": "spectrum", "TYPE": "audioFFT"}]}*/\nvoid main() { texture(spectrum, vec2(0.0)); }\n'))
    assert src.count("uniform sampler2D spectrum;") == 1


def test_glsl1_mapping_keeps_line_numbers() -> None:
    text = (ISF_DIR / "legacy_gain.fs").read_text(encoding="utf-8")
    parsed = parse_shader(text, "legacy_gain.fs")
    src = build_fragment_source(parsed)
    for define in ("#define texture2D texture", "#define varying in", "#define gl_FragColor lumen_FragColor"):
        assert define in src
    assert "#define texture2DLod" not in src  # only what the code uses
    user = src.split(f"#line {parsed.body_line} 0\n", 1)[1]
    assert len(user.splitlines()) == len(parsed.body.splitlines())
    assert "#version 120" not in user and "// #version is set by lumen" in user
    assert "varying vec2 vv_FragNormCoord;" not in user and "varying vec2 leftCoord;" in user
    assert src.count("uniform float gain;") == 1  # declared by the body, not again by lumen


def test_vertex_source_writes_extra_varyings() -> None:
    assert build_vertex_source(parse_shader("void main() {}")) == VERTEX_SHADER
    body = "varying vec2 leftCoord;\nflat in int mode;\nin highp vec4 taps[3];\nvarying vec2 isf_FragNormCoord;\nvoid main() {}\n"
    vs = build_vertex_source(parse_shader(body))
    assert "out vec2 leftCoord;" in vs and "leftCoord = vec2(0.0);" in vs
    assert "flat out int mode;" in vs and "mode = int(0);" in vs
    assert "out vec4 taps[3];" in vs and "taps[i] = vec4(0)" in vs
    assert vs.count("isf_FragNormCoord;") == 1  # lumen's own output, not a second one


def test_community_fixtures_parse() -> None:
    for path in sorted(ISF_DIR.glob("*.fs")):
        parsed = parse_shader(path.read_text(encoding="utf-8"), str(path))
        assert parsed.description and parsed.passes
        build_fragment_source(parsed)
