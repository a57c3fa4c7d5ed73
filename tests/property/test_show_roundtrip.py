"""Property test: any valid show survives ``dump_show`` -> ``load_show_text`` unchanged."""

from __future__ import annotations

import ipaddress
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from lumen.show.load import dump_show, load_show_text
from lumen.show.schema import (
    AnalysisConfig,
    AudioConfig,
    AutomationConfig,
    ConsoleConfig,
    ControlConfig,
    CueConfig,
    LayerConfig,
    OscConfig,
    RenderConfig,
    RuleConfig,
    SacnOutputConfig,
    SceneConfig,
    SceneGraphConfig,
    ShowConfig,
    SignalConfig,
    WallConfig,
)


def fl(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


# Any text YAML can carry: no surrogates (not encodable).
texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)

signals = st.builds(
    SignalConfig,
    bpm=fl(40, 240),
    swing=fl(0, 0.5),
    seed=st.integers(0, 2**32 - 1),
    key=st.integers(0, 11),
    mode=st.sampled_from(["major", "minor"]),
)


@st.composite
def audios(draw: st.DrawFn) -> AudioConfig:
    Source = Literal["signal", "device", "file"]
    source: Source = draw(st.sampled_from(["signal", "device", "file"]))
    file = draw(texts) if source == "file" else draw(st.none() | texts)
    return AudioConfig(
        source=source,
        device=draw(st.none() | texts | st.integers(0, 64)),
        file=file,
        sr=draw(st.integers(8000, 192000)),
        blocksize=draw(st.integers(16, 4096)),
        channels=draw(st.integers(1, 32)),
        signal=draw(signals),
    )


@st.composite
def analyses(draw: st.DrawFn) -> AnalysisConfig:
    lo = draw(fl(40, 239))
    hi = draw(fl(lo, 240).filter(lambda x: x > lo))
    names = draw(st.lists(texts, min_size=1, max_size=5, unique=True))
    return AnalysisConfig(analyzers=tuple(names), tempo_min_bpm=lo, tempo_max_bpm=hi)


EXPRESSIONS = [
    "0.2 + 0.8 * energy",
    "bar_phase",
    "beat_phase < 0.15",
    "smoothstep(0.3, 0.9, bass) * (1 - beat_phase)",
    "1 if downbeat else 0.5",
    "0.5",
    "  treble\n  * 2\n",
    "-1",
    "pulse(time * bpm / 60, 0.1)",
]
bindings = st.one_of(
    st.sampled_from(EXPRESSIONS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-1000, 1000).map(float),
)
param_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)

scenes = st.builds(
    SceneConfig,
    shader=texts,
    params=st.dictionaries(param_names, bindings, max_size=6),
)
renders = st.builds(
    RenderConfig,
    fps=fl(1, 240),
    width=st.none() | st.integers(1, 16384),
    height=st.none() | st.integers(1, 16384),
)
walls = st.builds(
    WallConfig,
    width=st.integers(1, 4096),
    height=st.integers(1, 4096),
    origin=st.sampled_from(["top_left", "top_right", "bottom_left", "bottom_right"]),
    serpentine=st.booleans(),
    order=st.sampled_from(["rows", "columns"]),
    color_order=st.sampled_from(["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"]),
    gamma=fl(1, 3),
    brightness=fl(0, 1),
)


@st.composite
def sacn_outputs(draw: st.DrawFn) -> SacnOutputConfig:
    allow = draw(st.booleans())
    ip = draw(st.ip_addresses(v=4).filter(lambda a: not a.is_unspecified))
    special = ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255")
    name = draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=15))
    return SacnOutputConfig(
        type="sacn",
        allow_multicast=allow or special,
        address=str(ip),
        port=draw(st.integers(1, 65535)),
        universe=draw(st.integers(1, 63999)),
        priority=draw(st.integers(0, 200)),
        rate_hz=draw(fl(1, 100)),
        latency_ms=draw(fl(0, 1000)),
        source_name=name,
    )


scene_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)
layers = st.builds(
    LayerConfig,
    name=st.none() | param_names,
    shader=texts,
    params=st.dictionaries(param_names, bindings, max_size=4),
    opacity=bindings,
    blend=st.sampled_from(["normal", "add", "screen", "multiply", "difference", "lighten"]),
)
graphs = st.builds(SceneGraphConfig, layers=st.lists(layers, min_size=1, max_size=3).map(tuple))


@st.composite
def programming(draw: st.DrawFn) -> dict[str, object]:
    """Scenes with a cue list, automation rules and control settings that refer to them."""
    names = draw(st.lists(scene_names, min_size=1, max_size=4, unique=True))
    scenes_ = {n: draw(graphs) for n in names}
    steps = draw(st.lists(st.integers(1, 20), max_size=5))
    cues = []
    number = 0.0
    for step in steps:
        number += step / 4.0
        cues.append(CueConfig(number=number, scene=draw(st.sampled_from(names)), label=draw(texts),
                              quantize=draw(st.none() | st.sampled_from(["none", "beat", "bar", "phrase"])),
                              follow_bars=draw(st.none() | st.integers(1, 64))))
    rules = draw(st.lists(st.one_of(
        st.builds(RuleConfig, on=st.sampled_from(["drop", "break", "build"]), go=st.sampled_from(names),
                  when=st.none() | bindings),
        st.builds(RuleConfig, every_bars=st.integers(1, 64), rotate=st.lists(st.sampled_from(names), min_size=1, max_size=3).map(tuple)),
    ), max_size=3))
    osc = OscConfig(port=draw(st.integers(1, 65535)), allow=tuple(draw(st.lists(st.ip_addresses(v=4).map(str), max_size=2))))
    consoles = tuple(
        ConsoleConfig(name=f"c{i}", type=draw(st.sampled_from(["eos", "qlab", "qlcplus", "generic", "features"])),
                      port=draw(st.integers(1, 65535)), rate_limit_hz=draw(fl(0.5, 100)))
        for i in range(draw(st.integers(0, 2)))
    )
    return {
        "scenes": scenes_,
        "start_scene": draw(st.none() | st.sampled_from(names)),
        "cues": tuple(cues),
        "automation": AutomationConfig(enabled=draw(st.booleans()), min_bars=draw(st.integers(0, 32)), rules=tuple(rules)),
        "control": ControlConfig(osc=osc),
        "consoles": consoles,
    }


@st.composite
def shows(draw: st.DrawFn) -> ShowConfig:
    extra = draw(st.none() | programming())
    kw: dict[str, object] = dict(
        version=2,
        name=draw(texts),
        audio=draw(audios()),
        analysis=draw(analyses()),
        render=draw(renders),
        wall=draw(walls),
        outputs=tuple(draw(st.lists(sacn_outputs(), min_size=1, max_size=3))),
    )
    return ShowConfig(**kw, **(extra or {}))


def test_version_1_single_scene_dumps_as_version_2() -> None:
    v1 = load_show_text("version: 1\nscene: {shader: a.fs, params: {hue: bar_phase}}\n")
    text = dump_show(v1)
    assert text.startswith("# lumen show file (version 2)\n")
    back = load_show_text(text)
    assert back == v1 and back.scenes["main"].layers[0].shader == "a.fs"


@settings(max_examples=300, deadline=None)
@given(shows())
def test_dump_then_load_gives_an_equal_show(cfg: ShowConfig) -> None:
    text = dump_show(cfg)
    back = load_show_text(text, "roundtrip.yaml")
    assert back == cfg, text
    assert dump_show(back) == text


@settings(max_examples=50, deadline=None)
@given(shows())
def test_dump_is_plain_yaml_without_tags(cfg: ShowConfig) -> None:
    text = dump_show(cfg)
    assert "!!" not in text
    assert text.startswith("# lumen show file (version 2)\n")
