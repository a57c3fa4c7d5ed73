"""Unit tests of show file loading (lumen.show.load) and its schema (lumen.show.schema)."""

from __future__ import annotations

import doctest
import textwrap
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import lumen.show.load as load_module
import lumen.show.schema as schema_module
from lumen.errors import ConfigError
from lumen.show.load import dump_show, load_show, load_show_text, resolve_path
from lumen.show.schema import (
    AnalysisConfig,
    AudioConfig,
    RenderConfig,
    SacnOutputConfig,
    SceneConfig,
    ShowConfig,
    SignalConfig,
    WallConfig,
)

REPO = Path(__file__).resolve().parents[3]

FULL = """\
version: 1
name: "club night"
audio:
  source: device
  device: "Scarlett"
  file: null
  sr: 44100
  blocksize: 128
  channels: 4
  signal:
    bpm: 128
    swing: 0.25
    seed: 7
    key: 2
    mode: major
analysis:
  analyzers: [levels, onset, tempo, mood]
  tempo_min_bpm: 80.0
  tempo_max_bpm: 160.0
scene:
  shader: shaders/bars.fs
  params:
    brightness: "0.2 + 0.8 * energy"
    hue: bar_phase
    speed: 2
    flash: 'beat_phase < 0.15'
    glow: |
      smoothstep(0.3, 0.9, bass)
        * (1 - beat_phase)
render:
  fps: 50
  width: 320
  height: 160
wall:
  width: 128
  height: 64
  origin: bottom_right
  serpentine: false
  order: columns
  color_order: GRB
  gamma: 2.2
  brightness: 0.8
outputs:
  - type: sacn
    address: 10.0.0.20
    port: 5568
    universe: 3
    priority: 150
    rate_hz: 40
    latency_ms: 12.5
    source_name: "lumen – wall A"
  - type: sacn
    allow_multicast: true
    address: 239.255.0.7
    universe: 7
"""


def where(err: ConfigError) -> list[str]:
    """``file:line:col: key.path`` of every issue (``file:line:col`` when there is no key)."""
    out = []
    for i in err.issues:
        pos = f"{i.path}:{i.line}:{i.col}"
        out.append(f"{pos}: {i.key_path}" if i.key_path else pos)
    return out


# ----------------------------------------------------------------------------- good files


def test_minimal_file_loads_with_defaults() -> None:
    cfg = load_show_text("version: 1\n")
    assert cfg == ShowConfig(version=2)
    assert cfg.name == "untitled"
    assert cfg.audio == AudioConfig()
    assert cfg.audio.source == "signal" and cfg.audio.sr == 48000 and cfg.audio.blocksize == 256
    assert cfg.audio.signal == SignalConfig(bpm=124.0, swing=0.0, seed=1, key=9, mode="minor")
    assert cfg.analysis.analyzers == ("levels", "onset", "beat", "mood", "structure")
    assert (cfg.analysis.tempo_min_bpm, cfg.analysis.tempo_max_bpm) == (70.0, 180.0)
    assert cfg.scene == SceneConfig(shader="pulse.fs", params={})
    assert cfg.render == RenderConfig(fps=60.0, width=None, height=None)
    assert cfg.wall == WallConfig()
    assert (cfg.wall.width, cfg.wall.height, cfg.wall.serpentine) == (64, 32, True)
    assert cfg.outputs == (SacnOutputConfig(type="sacn"),)
    out = cfg.outputs[0]
    assert (out.address, out.port, out.universe, out.priority) == ("127.0.0.1", 5568, 1, 100)
    assert (out.rate_hz, out.latency_ms, out.source_name) == (44.0, 0.0, "lumen")
    assert out.allow_multicast is False


def test_full_file_loads() -> None:
    cfg = load_show_text(FULL, "full.yaml")
    assert cfg.name == "club night"
    assert cfg.audio.source == "device" and cfg.audio.device == "Scarlett"
    assert (cfg.audio.sr, cfg.audio.blocksize, cfg.audio.channels) == (44100, 128, 4)
    assert cfg.audio.signal.bpm == 128.0 and type(cfg.audio.signal.bpm) is float
    assert cfg.audio.signal.mode == "major"
    assert cfg.analysis.analyzers == ("levels", "onset", "tempo", "mood")
    assert cfg.scenes["main"].layers[0].params == {
        "brightness": "0.2 + 0.8 * energy",
        "hue": "bar_phase",
        "speed": 2.0,
        "flash": "beat_phase < 0.15",
        "glow": "smoothstep(0.3, 0.9, bass)\n  * (1 - beat_phase)\n",
    }
    assert cfg.render == RenderConfig(fps=50.0, width=320, height=160)
    assert cfg.wall.origin == "bottom_right" and cfg.wall.order == "columns"
    assert cfg.wall.color_order == "GRB" and cfg.wall.gamma == 2.2
    assert len(cfg.outputs) == 2
    assert cfg.outputs[0].source_name == "lumen – wall A"
    assert cfg.outputs[0].latency_ms == 12.5
    assert cfg.outputs[1].address == "239.255.0.7" and cfg.outputs[1].allow_multicast


def test_device_by_index() -> None:
    cfg = load_show_text("version: 1\naudio: {source: device, device: 3}\n")
    assert cfg.audio.device == 3


def test_file_source_with_relative_path(tmp_path: Path) -> None:
    show = tmp_path / "show.yaml"
    show.write_text("version: 1\naudio:\n  source: file\n  file: music/set.wav\n", "utf-8")
    cfg = load_show(show)
    assert cfg.audio.file == "music/set.wav"
    assert resolve_path(show, cfg.audio.file) == tmp_path / "music" / "set.wav"
    assert resolve_path(str(show), "/abs/a.wav") == Path("/abs/a.wav")
    assert resolve_path("<string>", "a.wav") == Path("a.wav")


def test_demo_preset_loads() -> None:
    cfg = load_show(REPO / "presets" / "demo.yaml")
    assert cfg.audio.source == "signal" and cfg.audio.signal.bpm == 124.0
    assert (cfg.wall.width, cfg.wall.height, cfg.wall.serpentine) == (64, 32, True)
    assert cfg.scenes["main"].layers[0].shader == "pulse.fs"
    assert set(cfg.scenes["main"].layers[0].params) == {"hue", "brightness", "flash", "bass_boost"}
    assert cfg.scenes["main"].layers[0].params["brightness"] == "0.25 + 0.75 * energy"
    assert cfg.scenes["main"].layers[0].params["hue"] == "bar_phase"
    assert cfg.scenes["main"].layers[0].params["flash"] == "0.5 * pulse(beat_phase, 0.12) * smoothstep(0.3, 0.6, confidence)"
    assert [o.type for o in cfg.outputs] == ["sacn", "artnet"]
    out = cfg.outputs[0]
    assert (out.type, out.address, out.port, out.universe) == ("sacn", "127.0.0.1", 5568, 1)
    assert load_show_text(dump_show(cfg)) == cfg


def test_anchors_and_merge_keys() -> None:
    text = textwrap.dedent("""\
        version: 1
        outputs:
          - &a {type: sacn, address: 10.0.0.1, universe: 1, priority: 120}
          - <<: *a
            universe: 20
        """)
    cfg = load_show_text(text)
    assert [o.universe for o in cfg.outputs] == [1, 20]
    assert [o.priority for o in cfg.outputs] == [120, 120]


def test_keys_are_always_strings() -> None:
    cfg = load_show_text("version: 1\nscene:\n  params:\n    on: 1\n    null: 0.5\n")
    assert cfg.scenes["main"].layers[0].params == {"on": 1.0, "null": 0.5}


def test_load_show_reads_utf8(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("version: 1\nname: Ünïcødé\n", encoding="utf-8")
    assert load_show(p).name == "Ünïcødé"


def test_dump_round_trips_the_full_file() -> None:
    cfg = load_show_text(FULL)
    text = dump_show(cfg)
    assert load_show_text(text) == cfg
    assert dump_show(load_show_text(text)) == text


def test_models_are_frozen() -> None:
    cfg = load_show_text("version: 1\n")
    with pytest.raises(ValidationError):
        setattr(cfg.wall, "width", 3)


def _models() -> list[type[BaseModel]]:
    return [ShowConfig, AudioConfig, SignalConfig, AnalysisConfig, SceneConfig, RenderConfig,
            WallConfig, SacnOutputConfig]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_is_described_and_models_are_strict(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True
    assert model.__doc__
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"


def test_every_section_has_defaults() -> None:
    required = [n for n, f in ShowConfig.model_fields.items() if f.is_required()]
    assert required == ["version"]


def test_output_union_is_discriminated_on_type() -> None:
    ann = ShowConfig.model_fields["outputs"].annotation
    (item,) = {a for a in typing.get_args(ann) if a is not Ellipsis}
    assert any(getattr(m, "discriminator", None) == "type" for m in typing.get_args(item)[1:])


# ----------------------------------------------------------------------------- bad files

# (id, text, expected "file:line:col: key.path" of every issue, in order, words in each message)
BROKEN: list[tuple[str, str, list[str], list[str]]] = [
    (
        "typo key",
        "version: 1\nwall:\n  width: 64\n  serpentin: false\n",
        ["show.yaml:4:3: wall.serpentin"],
        ["unknown field 'serpentin' (did you mean 'serpentine'?)"],
    ),
    (
        "typo section",
        "version: 1\nwal:\n  width: 64\n",
        ["show.yaml:2:1: wal"],
        ["unknown field 'wal' (did you mean 'wall'?)"],
    ),
    (
        "wrong type",
        "version: 1\nwall:\n  width: wide\n",
        ["show.yaml:3:10: wall.width"],
        ["input should be a valid integer, got 'wide'"],
    ),
    (
        "quoted number is a string",
        "version: 1\noutputs:\n  - type: sacn\n    port: '5568'\n",
        ["show.yaml:4:11: outputs.0.port"],
        ["valid integer, got '5568'"],
    ),
    (
        "bool is not an int",
        "version: 1\nwall: {width: true}\n",
        ["show.yaml:2:15: wall.width"],
        ["valid integer, got true"],
    ),
    (
        "float is not an int",
        "version: 1\naudio:\n  sr: 44100.5\n",
        ["show.yaml:3:7: audio.sr"],
        ["valid integer, got 44100.5"],
    ),
    (
        "out of range",
        "version: 1\noutputs:\n  - type: sacn\n    port: 70000\n",
        ["show.yaml:4:11: outputs.0.port"],
        ["less than or equal to 65535, got 70000"],
    ),
    (
        "out of range below",
        "version: 1\naudio:\n  signal:\n    bpm: 20\n",
        ["show.yaml:4:10: audio.signal.bpm"],
        ["greater than or equal to 40"],
    ),
    (
        "nan",
        "version: 1\nwall:\n  gamma: .nan\n",
        ["show.yaml:3:10: wall.gamma"],
        ["input should be a finite number, got .nan"],
    ),
    (
        "literal typo",
        "version: 1\nwall:\n  order: row\n",
        ["show.yaml:3:10: wall.order"],
        ["input should be 'rows' or 'columns', got 'row' (did you mean 'rows'?)"],
    ),
    (
        "bad expression: unknown feature (plain scalar)",
        "version: 1\nscene:\n  params:\n    brightness: 0.2 + 0.8 * enrgy\n",
        ["show.yaml:4:29: scene.params.brightness"],  # column of 'enrgy' in the file
        ["bad binding: unknown name 'enrgy' (did you mean 'energy'?)"],
    ),
    (
        "bad expression: unknown feature (quoted)",
        'version: 1\nscene:\n  params:\n    brightness: "0.2 + 0.8 * enrgy"\n',
        ["show.yaml:4:30: scene.params.brightness"],
        ["unknown name 'enrgy'"],
    ),
    (
        "bad expression: escaped scalar points at the value",
        'version: 1\nscene:\n  params:\n    hue: "\\x62ar + enrgy"\n',
        ["show.yaml:4:10: scene.params.hue"],
        ["unknown name 'bar'"],
    ),
    (
        "bad expression: attribute access",
        "version: 1\nscene:\n  params:\n    hue: __import__('os').system('ls')\n",
        ["show.yaml:4:10: scene.params.hue"],
        ["attribute access"],
    ),
    (
        "bad expression: syntax",
        "version: 1\nscene:\n  params:\n    hue: sin(bar_phase\n",
        ["show.yaml:4:13: scene.params.hue"],
        ["syntax error: '(' was never closed"],
    ),
    (
        "binding of the wrong type",
        "version: 1\nscene:\n  params:\n    flash: true\n",
        ["show.yaml:4:12: scene.params.flash"],
        ["input should be a valid string or a valid number, got true"],
    ),
    (
        "param name not an identifier",
        "version: 1\nscene:\n  params:\n    1x: 1\n",
        ["show.yaml:4:5: scene.params.1x"],
        ["param name '1x' is not an identifier"],
    ),
    (
        "multicast address",
        "version: 1\noutputs:\n  - type: sacn\n    address: 239.255.0.1\n",
        ["show.yaml:4:14: outputs.0.address"],
        ["239.255.0.1 is a multicast address; set allow_multicast: true"],
    ),
    (
        "broadcast address",
        "version: 1\noutputs:\n  - {type: sacn, address: 255.255.255.255}\n",
        ["show.yaml:3:27: outputs.0.address"],
        ["broadcast address"],
    ),
    (
        "not an address",
        "version: 1\noutputs:\n  - type: sacn\n    address: wall.local\n",
        ["show.yaml:4:14: outputs.0.address"],
        ["'wall.local' is not an IPv4 address"],
    ),
    (
        "source name too long",
        "version: 1\noutputs:\n  - type: sacn\n    source_name: " + "é" * 32 + "\n",
        ["show.yaml:4:18: outputs.0.source_name"],
        ["64 UTF-8 bytes; at most 63 fit"],
    ),
    (
        "unknown output type",
        "version: 1\noutputs:\n  - type: sacnn\n",
        ["show.yaml:3:11: outputs.0.type"],
        ["unknown type 'sacnn' (did you mean 'sacn'?); expected one of 'sacn'"],
    ),
    (
        "output without type",
        "version: 1\noutputs:\n  - port: 5568\n",
        ["show.yaml:3:5: outputs.0.type"],
        ["missing required field 'type'"],
    ),
    (
        "no outputs",
        "version: 1\noutputs: []\n",
        ["show.yaml:2:10: outputs"],
        ["needs at least 1 item"],
    ),
    (
        "version 3",
        "version: 3\nwall:\n  serpentin: 3\n",
        ["show.yaml:1:10: version"],
        ["unsupported show file version 3 (this lumen reads 1, 2)"],
    ),
    (
        "version missing",
        "name: demo\n",
        ["show.yaml:1:1: version"],
        ["missing required field 'version'"],
    ),
    (
        "version as a string",
        "version: '1'\n",
        ["show.yaml:1:10: version"],
        ["valid integer, got '1'"],
    ),
    (
        "yaml syntax error",
        "version: 1\nwall:\n  width: 64\n   height: 32\n",
        ["show.yaml:4:10"],
        ["invalid YAML: mapping values are not allowed here"],
    ),
    (
        "yaml unclosed flow",
        "version: 1\nwall: {width: 64\n",
        ["show.yaml:3:1"],
        ["invalid YAML: while parsing a flow mapping (line 2)"],
    ),
    (
        "yaml tab indentation",
        "version: 1\nwall:\n\twidth: 64\n",
        ["show.yaml:3:1"],
        ["invalid YAML"],
    ),
    (
        "two documents",
        "version: 1\n---\nversion: 1\n",
        ["show.yaml:2:1"],
        ["invalid YAML: expected a single document"],
    ),
    (
        "duplicate key",
        "version: 1\nwall:\n  width: 64\n  height: 32\n  width: 32\n",
        ["show.yaml:5:3: wall.width"],
        ["duplicate key 'width' (first defined at line 3)"],
    ),
    (
        "file source without file",
        "version: 1\naudio:\n  source: file\n",
        ["show.yaml:2:1: audio.file"],
        ["required when source is 'file'"],
    ),
    (
        "file source with null file",
        "version: 1\naudio:\n  source: file\n  file: null\n",
        ["show.yaml:4:9: audio.file"],
        ["required when source is 'file'"],
    ),
    (
        "negative device index",
        "version: 1\naudio: {source: device, device: -1}\n",
        ["show.yaml:2:33: audio.device"],
        ["valid string or greater than or equal to 0, got -1"],
    ),
    (
        "tempo range upside down",
        "version: 1\nanalysis:\n  tempo_min_bpm: 150\n  tempo_max_bpm: 120\n",
        ["show.yaml:4:18: analysis.tempo_max_bpm"],
        ["must be above tempo_min_bpm (150.0)"],
    ),
    (
        "tempo default below a new minimum",
        "version: 1\nanalysis:\n  tempo_min_bpm: 200\n",
        ["show.yaml:2:1: analysis.tempo_max_bpm"],
        ["must be above tempo_min_bpm (200.0)"],
    ),
    (
        "duplicate analyzer",
        "version: 1\nanalysis:\n  analyzers: [levels, onset, levels]\n",
        ["show.yaml:3:14: analysis.analyzers"],
        ["analyzer 'levels' is listed twice"],
    ),
    (
        "empty analyzer name and no analyzers",
        "version: 1\nanalysis:\n  analyzers: ['']\n",
        ["show.yaml:3:15: analysis.analyzers.0"],
        ["at least 1 character"],
    ),
    (
        "section of the wrong shape",
        "version: 1\nwall: 64\naudio: [signal]\n",
        ["show.yaml:2:7: wall", "show.yaml:3:8: audio"],
        ["expected a mapping, got 64", "expected a mapping, got a list"],
    ),
    (
        "unsafe tag",
        "version: 1\nname: !!python/object/apply:os.system ['ls']\n",
        ["show.yaml:2:7: name"],
        ["cannot read this value"],
    ),
    (
        "root is a list",
        "- version: 1\n",
        ["show.yaml:1:1"],
        ["must be a mapping"],
    ),
    (
        "empty file",
        "",
        ["show.yaml:1:1"],
        ["this is empty"],
    ),
    (
        "several errors at once",
        textwrap.dedent("""\
            version: 1
            audio:
              sr: 1000
              signal: {bpm: 124, mode: minr}
            wall:
              width: 64
              serpentin: true
              width: 32
            scene:
              params:
                hue: bar_phse
            outputs:
              - type: sacn
                address: 224.0.0.1
                port: 0
              - type: sacn
                universe: 64000
            """),
        [
            "show.yaml:3:7: audio.sr",
            "show.yaml:4:28: audio.signal.mode",
            "show.yaml:7:3: wall.serpentin",
            "show.yaml:8:3: wall.width",
            "show.yaml:11:10: scene.params.hue",
            "show.yaml:14:14: outputs.0.address",
            "show.yaml:15:11: outputs.0.port",
            "show.yaml:17:15: outputs.1.universe",
        ],
        [
            "greater than or equal to 8000, got 1000",
            "(did you mean 'minor'?)",
            "unknown field 'serpentin' (did you mean 'serpentine'?)",
            "duplicate key 'width' (first defined at line 6)",
            "unknown name 'bar_phse' (did you mean 'bar_phase'?)",
            "multicast",
            "greater than or equal to 1, got 0",
            "less than or equal to 63999, got 64000",
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected", "words"), [b[1:] for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_files(text: str, expected: list[str], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_show_text(text, "show.yaml")
    err = info.value
    assert where(err) == expected, str(err)
    assert len(words) == len(err.issues)
    for issue, word in zip(err.issues, words):
        assert word in issue.message, str(issue)
    # str(): one ``file:line:col: key.path: message`` line per issue
    lines = str(err).splitlines()
    assert len(lines) == len(expected)
    for line, prefix in zip(lines, expected):
        assert line.startswith(prefix + ":")
    first = err.issues[0]
    assert (err.path, err.line, err.col, err.key_path) == (
        "show.yaml", first.line, first.col, first.key_path)


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_show(p)
    assert info.value.issues[0].path == str(p)
    assert "cannot read show file" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes("version: 1\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_show(p)


def test_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "show.yaml"
    p.write_text("version: 1\nwall:\n  serpentin: true\n", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_show(p)
    assert str(info.value) == (
        f"{p}:3:3: wall.serpentin: unknown field 'serpentin' (did you mean 'serpentine'?)"
    )


def test_recursive_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        load_show_text("version: 1\nname: &a [*a]\n")


def test_recursive_merge_is_an_error() -> None:
    with pytest.raises(ConfigError, match="recursive alias in a merge key"):
        load_show_text("version: 1\nwall: &a {<<: *a}\n")


def test_alias_bomb_is_bounded() -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(ConfigError, match="document too large"):
        load_show_text("\n".join(lines) + "\n")


def test_allow_multicast_accepts_multicast() -> None:
    cfg = load_show_text(
        "version: 1\noutputs:\n  - {type: sacn, allow_multicast: true, address: 239.255.0.1}\n"
    )
    assert cfg.outputs[0].address == "239.255.0.1"


def test_schema_validates_bindings_outside_the_loader() -> None:
    with pytest.raises(ValidationError) as info:
        SceneConfig.model_validate({"params": {"hue": "bar_phse"}})
    (e,) = info.value.errors()
    assert e["loc"] == ("params", "hue") and e["type"] == "binding"


def test_doctests() -> None:
    for module in (load_module, schema_module):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
