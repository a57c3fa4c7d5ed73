"""Load show files: YAML with line numbers, strict validation, every error at once.

Layer: show. Threads: any thread except the audio thread (it reads files and allocates); in
practice the main thread at start-up, the control thread on a live reload, and the CLI's
``lumen validate``.

The YAML text is composed with PyYAML (``yaml.compose``), so every node keeps its line and
column. The node tree is turned into plain Python data (checking for duplicate keys on the
way) together with a map from key path to node; the data is validated by `ShowConfig`; and
every problem (YAML, duplicate keys, pydantic) is translated into one `ConfigError` whose
lines read ``file:line:col: key.path: message``. Unknown keys point at the key, bad values at
the value, missing fields at the mapping that lacks them. Lines and columns are 1-based.

Keys are always read as strings (so ``on:`` or ``1:`` are the keys ``"on"`` and ``"1"``);
values follow YAML 1.1 as PyYAML's safe loader reads them. Anchors, aliases and merge keys
(``<<``) work; custom tags do not.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lumen.errors import ConfigError, ConfigIssue, did_you_mean
from lumen.rt.files import stat_key
from lumen.show.migrate import Move, migrate, original_path
from lumen.show.schema import CURRENT_VERSION, RIG_KEYS, SUPPORTED_VERSIONS, ShowConfig

__all__ = ["ShowWatcher", "dump_show", "load_show", "load_show_text", "resolve_path"]

_MERGE_TAG: Final[str] = "tag:yaml.org,2002:merge"
_PLAIN_TAGS: Final[frozenset[str]] = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
#: Most nodes a document may expand to through aliases (guards against "billion laughs").
_MAX_NODES: Final[int] = 100_000
#: Error types raised by lumen's own validators; their messages already say everything.
_CUSTOM_TYPES: Final[frozenset[str]] = frozenset(
    {"binding", "param_name", "ip_address", "too_long", "duplicate", "range", "version", "required", "scene"}
)

_KeyPath = tuple[str | int, ...]


def load_show(path: str | Path) -> ShowConfig:
    """Read and validate a show file.

    Parameters
    ----------
    path : str or Path
        The YAML show file (UTF-8).

    Returns
    -------
    ShowConfig
        The validated show. Relative paths inside it (``audio.file``, ``scene.shader``) are
        kept as written; resolve them with `resolve_path`.

    Raises
    ------
    ConfigError
        When the file cannot be read, is not valid YAML, or does not match the schema; it
        lists every problem found as ``file:line:col: key.path: message``.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(name, 0, 0, "", f"not UTF-8 text: {exc.reason}")]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        issue = ConfigIssue(name, 0, 0, "", f"cannot read show file: {reason}")
        raise ConfigError([issue]) from None
    return load_show_text(text, name, show_dir=Path(path).resolve().parent)


def load_show_text(text: str, path: str = "<string>", *, show_dir: Path | None = None) -> ShowConfig:
    """Validate show file text.

    Parameters
    ----------
    text : str
        The YAML text.
    path : str, optional
        The name used in error messages (the file the text came from).
    show_dir : Path, optional
        Folder relative paths (fixture profiles) resolve against; the current folder if None.

    Returns
    -------
    ShowConfig
        The validated show.

    Raises
    ------
    ConfigError
        Listing every problem, sorted by position.

    Examples
    --------
    >>> load_show_text("version: 1\\nwall: {width: 16}\\n").wall.width
    16
    >>> load_show_text("version: 1\\nwall:\\n  serpentin: false\\n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lumen.errors.ConfigError: <string>:3:3: wall.serpentin: unknown field 'serpentin' (did you ...
    """
    doc = _Document(text, path)
    root = doc.compose()
    data = doc.build(root, ())
    if not isinstance(data, dict):
        kind = "empty" if root is None else f"a {type(data).__name__}, not a mapping"
        doc.issue(
            root, (), f"a show file must be a mapping with at least 'version: 1'; this is {kind}"
        )
        raise ConfigError(doc.issues)
    version = data.get("version")
    if type(version) is int and version not in SUPPORTED_VERSIONS:
        # Another version has another schema: checking the rest against this one is noise.
        doc.issues = [i for i in doc.issues if i.key_path == "version"]
        data = {"version": version}
    elif type(version) is int and version < CURRENT_VERSION:
        data, doc.moves = migrate(data)
    if isinstance(data.get("rig"), str):
        data = _merge_rig(doc, data, show_dir)
    try:
        cfg = ShowConfig.model_validate(data)
    except ValidationError as exc:
        doc.translate(exc.errors())
        raise ConfigError(sorted(doc.issues, key=lambda i: (i.line, i.col))) from None
    if not doc.issues and (cfg.fixtures or cfg.strips is not None or cfg.points is not None):
        # The rig's parts can collide (two things on one DMX slot); a lone wall cannot.
        from lumen.show.rig import build_rig

        for loc, message in build_rig(cfg, show_dir)[2]:
            doc.issue_at(loc, message)
    if doc.issues:
        raise ConfigError(sorted(doc.issues, key=lambda i: (i.line, i.col)))
    return cfg


def rig_file(cfg: ShowConfig, show_dir: Path | None) -> Path | None:
    """The rig file a show names (resolved against its folder), or None."""
    if cfg.rig is None:
        return None
    p = Path(cfg.rig).expanduser()
    return p if p.is_absolute() else (show_dir or Path.cwd()) / p


def _merge_rig(doc: _Document, data: dict[str, Any], show_dir: Path | None) -> dict[str, Any]:
    """Read the rig file a show names and merge its sections into the show's data.

    Problems in the rig file are reported with the rig file's name, line and column.
    """
    rel = str(data["rig"])
    p = Path(rel).expanduser()
    p = p if p.is_absolute() else (show_dir or Path.cwd()) / p
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        doc.issue(doc.values.get(("rig",)), ("rig",), f"cannot read rig file {p}: {reason}")
        return data
    rig = _Document(text, str(p))
    try:
        root = rig.compose()
    except ConfigError as e:
        doc.issues.extend(e.issues)
        return data
    rdata = rig.build(root, ())
    doc.issues.extend(rig.issues)
    rig.issues = []
    if not isinstance(rdata, dict):
        doc.issues.append(ConfigIssue(str(p), 1, 1, "", "a rig file must be a mapping with 'version: 2' and rig sections"))
        return data
    version = rdata.get("version")
    if version is None:
        doc.issues.append(ConfigIssue(str(p), 1, 1, "version", "missing required field 'version'"))
    elif type(version) is not int or version not in SUPPORTED_VERSIONS:
        rig.issue(rig.values.get(("version",)), ("version",), f"unsupported rig file version {version!r} (this lumen reads 2)")
        doc.issues.extend(rig.issues)
        rig.issues = []
    out = dict(data)
    allowed = (*RIG_KEYS, "version", "name")
    for key, value in rdata.items():
        if key in ("version", "name"):
            continue
        if key not in RIG_KEYS:
            hint = did_you_mean(key, allowed)
            where = " (it belongs in the show file)" if key in ShowConfig.model_fields else ""
            rig.issue(rig.keys.get((key,)), (key,), f"unknown rig field {key!r}{hint}{where}; a rig holds: {', '.join(RIG_KEYS)}")
            continue
        if key in data:
            doc.issue(doc.keys.get((key,)), (key,), f"{key!r} is set by the rig file {rel}; remove it here (the rig owns it)")
            continue
        out[key] = value
        doc.sub[key] = rig
    doc.issues.extend(rig.issues)
    rig.issues = []
    return out


def dump_show(cfg: ShowConfig) -> str:
    """Write a show as YAML text that `load_show_text` reads back to an equal `ShowConfig`.

    Parameters
    ----------
    cfg : ShowConfig
        The show.

    Returns
    -------
    str
        YAML text listing every field, defaults included, in schema order.

    Examples
    --------
    >>> cfg = load_show_text("version: 1\\nscene: {params: {hue: bar_phase}}\\n")
    >>> load_show_text(dump_show(cfg)) == cfg
    True
    """
    data = cfg.model_dump(mode="json")
    if cfg.scenes or cfg.version >= 2:
        del data["scene"]  # a show gives 'scene' or 'scenes', not both; version 2 has no 'scene'
    if cfg.rig is not None:
        for key in RIG_KEYS:  # they live in the rig file
            data.pop(key, None)
    body = yaml.dump(
        data,
        Dumper=_ShowDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )
    return f"# lumen show file (version {cfg.version})\n{body}"


def resolve_path(cfg_path: str | Path, rel: str | Path) -> Path:
    """Resolve a path written in a show file against the show file's directory.

    Parameters
    ----------
    cfg_path : str or Path
        The show file (``"<string>"`` for text without a file: the working directory).
    rel : str or Path
        The path as written; ``~`` is expanded; absolute paths are returned as they are.

    Returns
    -------
    Path
        The resolved path (not checked for existence).

    Examples
    --------
    >>> resolve_path("/shows/club/show.yaml", "audio/set.wav").as_posix()
    '/shows/club/audio/set.wav'
    >>> resolve_path("/shows/club/show.yaml", "/data/a.wav").as_posix()
    '/data/a.wav'
    """
    p = Path(rel).expanduser()
    if p.is_absolute():
        return p
    base = Path(".") if str(cfg_path).startswith("<") else Path(cfg_path).parent
    return base / p


class ShowWatcher:
    """Watches a show file for edits and loads each new version (live reload).

    Use it from one thread (the engine polls it from its main loop a few times a second).
    `poll` is one ``stat`` when nothing changed.

    Parameters
    ----------
    path : str or Path
        The show file; its current version counts as seen.

    Attributes
    ----------
    n_reloads, n_errors : int
        Valid and rejected edits seen so far.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rig_path = self._rig_of(self.path)
        self._stat = self._key()
        self.n_reloads = 0
        self.n_errors = 0

    @staticmethod
    def _rig_of(path: Path) -> Path | None:
        """The rig file the show on disk names (None without one, or when it does not load)."""
        try:
            return rig_file(load_show(path), path.resolve().parent)
        except ConfigError:
            return None

    def _key(self) -> tuple[object, object]:
        return (stat_key(self.path), stat_key(self.rig_path) if self.rig_path is not None else None)

    def poll(self) -> ShowConfig | ConfigError | None:
        """The new show after an edit of it or of its rig file, its `ConfigError` when invalid, or None.

        A file that disappeared (an editor replacing it) gives None until it is back.
        """
        key = self._key()
        if key == self._stat:
            return None
        self._stat = key
        if key[0] is None:
            return None
        try:
            cfg = load_show(self.path)
        except ConfigError as e:
            self.n_errors += 1
            return e
        self.n_reloads += 1
        rig = rig_file(cfg, self.path.resolve().parent)
        if rig != self.rig_path:  # the show now names another rig file: watch that one
            self.rig_path = rig
            self._stat = self._key()
        return cfg


class _ShowDumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
    """PyYAML's safe dumper, with strings that hold YAML line breaks always double-quoted."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML may emit NEL (U+0085) and the Unicode line separators raw in plain or single-quoted
    # scalars, where reading folds them into spaces; double quotes escape them.
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ShowDumper.add_representer(str, _represent_str)


# --------------------------------------------------------------------------- YAML -> data


@dataclass
class _Document:
    """One YAML text: its plain data, where each key path came from, and the issues found."""

    text: str
    path: str
    values: dict[_KeyPath, Node] = field(default_factory=dict)
    keys: dict[_KeyPath, Node] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    unreadable: set[_KeyPath] = field(default_factory=set)  # values already reported
    n_nodes: int = 0
    constructor: SafeConstructor = field(default_factory=SafeConstructor)
    moves: list[Move] = field(default_factory=list)  # key paths a migration moved
    sub: dict[str, _Document] = field(default_factory=dict)  # top-level key -> the rig file it came from

    def issue(self, node: Node | None, loc: _KeyPath, message: str) -> None:
        line, col = _pos(node)
        self.issues.append(ConfigIssue(self.path, line, col, _dotted(loc), message))

    def source(self, path: _KeyPath) -> _Document:
        """The document a (migrated-back) key path was written in: this one or its rig file."""
        return self.sub.get(str(path[0]), self) if path else self

    def issue_at(self, loc: _KeyPath, message: str) -> None:
        """Report ``message`` at key path ``loc`` of the validated data, in the file it came from."""
        loc = original_path(loc, self.moves)
        src = self.source(loc)
        node = src.values.get(loc) or src.values.get(loc[:-1])
        line, col = _pos(node)
        self.issues.append(ConfigIssue(src.path, line, col, _dotted(loc), message))

    def compose(self) -> Node | None:
        """Parse the text into a node tree; a syntax error becomes a `ConfigError`."""
        try:
            return yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = exc.problem or exc.context or "syntax error"
            if exc.problem and exc.context and exc.context_mark is not None:
                message = f"{exc.context} (line {exc.context_mark.line + 1}): {exc.problem}"
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
            issue = ConfigIssue(self.path, line, col, "", f"invalid YAML: {message}")
        except yaml.reader.ReaderError as exc:
            line = self.text.count("\n", 0, exc.position) + 1
            col = exc.position - (self.text.rfind("\n", 0, exc.position) + 1) + 1
            char = exc.character
            char = f"#x{char:04x}" if isinstance(char, int) else repr(char)
            message = f"invalid YAML: unacceptable character {char}: {exc.reason}"
            issue = ConfigIssue(self.path, line, col, "", message)
        except yaml.YAMLError as exc:
            issue = ConfigIssue(self.path, 0, 0, "", f"invalid YAML: {exc}")
        raise ConfigError([issue]) from None

    def build(self, node: Node | None, loc: _KeyPath, stack: frozenset[int] = frozenset()) -> Any:
        """Turn ``node`` into plain data, recording where every key path came from."""
        if node is None:
            return None
        self.values.setdefault(loc, node)
        self.n_nodes += 1
        if self.n_nodes > _MAX_NODES:
            if self.n_nodes == _MAX_NODES + 1:
                too_many = f"document too large (more than {_MAX_NODES} nodes after aliases)"
                self.issue(node, loc, too_many)
            return None
        if id(node) in stack:
            self.issue(node, loc, "recursive alias")
            return None
        inner = stack | {id(node)}
        if isinstance(node, (MappingNode, SequenceNode)) and node.tag not in _PLAIN_TAGS:
            self.issue(node, loc, f"cannot read this value: unsupported tag {node.tag!r}")
            self.unreadable.add(loc)
            return None
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in self._pairs(node, loc):
                key = str(key_node.value)
                sub = (*loc, key)
                if key in out:
                    first_line = self.keys[sub].start_mark.line + 1
                    self.issue(
                        key_node, sub, f"duplicate key {key!r} (first defined at line {first_line})"
                    )
                    continue
                self.keys[sub] = key_node
                out[key] = self.build(value_node, sub, inner)
            return out
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i), inner) for i, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ConstructorError, ValueError, TypeError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.issue(node, loc, f"cannot read this value: {problem}")
            self.unreadable.add(loc)
            return None

    def _pairs(
        self, node: MappingNode, loc: _KeyPath, via: frozenset[int] = frozenset()
    ) -> Iterator[tuple[ScalarNode, Node]]:
        """The key/value pairs of a mapping, merge keys (``<<``) expanded, explicit first."""
        via = via | {id(node)}
        merged: list[tuple[ScalarNode, Node]] = []
        explicit: list[tuple[ScalarNode, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, MappingNode):
                        self.issue(
                            src, loc, "a merge key ('<<') needs a mapping or a list of mappings"
                        )
                    elif id(src) in via:
                        self.issue(src, loc, "recursive alias in a merge key ('<<')")
                    else:
                        merged.extend(self._pairs(src, loc, via))
            elif not isinstance(key_node, ScalarNode):
                self.issue(key_node, loc, "mapping keys must be plain names, not collections")
            else:
                explicit.append((key_node, value_node))
        yield from explicit
        seen = {str(k.value) for k, _ in explicit}
        for key_node, value_node in merged:
            name = str(key_node.value)
            if name not in seen:  # explicit keys win; the first merge source wins over later ones
                seen.add(name)
                yield key_node, value_node

    # ----------------------------------------------------------------------- pydantic errors

    def translate(self, errors: list[ErrorDetails]) -> None:
        """Add one issue per validation problem (union alternatives merged into one)."""
        locs = [e["loc"] for e in errors]
        groups: dict[tuple[_KeyPath, bool], list[tuple[ErrorDetails, _Walk]]] = {}
        for err in errors:
            loc = err["loc"]
            if err["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
                continue  # the items that failed made it short; they are reported themselves
            walk = _walk(loc)
            if any(walk.path[: len(bad)] == bad for bad in self.unreadable):
                continue  # the YAML value could not be read; that is reported already
            groups.setdefault((walk.path, walk.is_key), []).append((err, walk))
        for (path, is_key), items in groups.items():
            err, walk = items[0]
            if len(items) > 1 and all(w.in_union for _, w in items):
                parts = [_message(e, w, input_hint=False) for e, w in items]
                tail = [p.removeprefix("input should be ") for p in parts[1:]]
                message = " or ".join([parts[0], *tail]) + _got(err)
                self._add(path, is_key, err, message)
            else:
                for err, walk in items:
                    self._add(path, is_key, err, _message(err, walk, input_hint=True))

    def _add(self, path: _KeyPath, is_key: bool, err: ErrorDetails, message: str) -> None:
        kind = err["type"]
        at_key = (err.get("ctx") or {}).get("at_key")
        if isinstance(at_key, tuple):  # a cross-field check naming the key it is about
            path, is_key = (*path, *at_key), True
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "type")  # the problem is the item's ``type`` key
        path = original_path(path, self.moves)
        src = self.source(path)
        if is_key or kind == "extra_forbidden":
            line, col = _pos(src.keys[path]) if path in src.keys else src._anchor(path)
        elif path in src.values:
            line, col = src._value_pos(path, err)
        else:  # missing, or a default that failed a cross-field check: point at the parent
            line, col = src._anchor(path[:-1])
        self.issues.append(ConfigIssue(src.path, line, col, _dotted(path), message))

    def _anchor(self, path: _KeyPath) -> tuple[int, int]:
        """Position of the closest existing node at or above ``path``: its key, else its value."""
        for n in range(len(path), -1, -1):
            p = path[:n]
            if p in self.keys:
                return _pos(self.keys[p])
            if p in self.values:
                return _pos(self.values[p])
        return (1, 1)

    def _value_pos(self, path: _KeyPath, err: ErrorDetails) -> tuple[int, int]:
        node = self.values[path]
        line, col = _pos(node)
        ctx: dict[str, Any] = dict(err.get("ctx") or {})
        expr_col = ctx.get("expr_col")
        if err["type"] == "binding" and isinstance(expr_col, int) and expr_col > 0:
            # Point into the expression when the scalar is written on one line, unescaped.
            start, end = node.start_mark, node.end_mark
            raw = self.text[start.index : end.index]
            quote = 1 if node.style in ("'", '"') else 0
            if start.line == end.line and node.style in (None, "'", '"'):
                inner = raw[quote : len(raw) - quote]
                if inner == node.value:
                    col += quote + expr_col - 1
        return line, col


# --------------------------------------------------------------------------- schema walk


@dataclass(frozen=True)
class _Walk:
    """A pydantic error location mapped onto the show file's key paths."""

    path: _KeyPath  # loc without union member labels and discriminator tags
    is_key: bool  # the error is about a mapping key, not its value
    model: type[BaseModel] | None  # model owning the last key of ``path``
    annotation: Any  # type expected at ``path`` (None when unknown)
    in_union: bool  # the error came from one alternative of a union


def _walk(loc: tuple[str | int, ...]) -> _Walk:
    """Strip pydantic's union labels and tags from ``loc`` by walking the `ShowConfig` types."""
    tp: Any = ShowConfig
    out: list[str | int] = []
    model: type[BaseModel] | None = None
    is_key = in_union = False
    i = 0
    while i < len(loc):
        el = loc[i]
        tp, discriminated = _unwrap(tp)
        if discriminated:
            i += 1  # the discriminator's tag (e.g. "sacn")
            tp = _member(tp, el)
            continue
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out.append(el)
            model = tp
            info: FieldInfo | None = tp.model_fields.get(str(el))
            tp = _field_type(info) if info is not None else None
        elif origin in (list, tuple):
            out.append(el)
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            out.append(el)
            key_tp, value_tp = typing.get_args(tp)
            if i + 1 < len(loc) and loc[i + 1] == "[key]":
                is_key = True
                i += 1
                tp = key_tp
            else:
                tp = value_tp
        elif _is_union(tp):
            in_union = True
            tp = None  # ``el`` labels the alternative; nothing below it is a key path
        else:
            out.append(el)
            tp = None
        i += 1
    return _Walk(tuple(out), is_key, model, _unwrap(tp)[0], in_union)


def _field_type(info: FieldInfo) -> Any:
    if info.discriminator is not None:
        return typing.Annotated[info.annotation, info]
    return info.annotation


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """Strip ``Annotated`` and ``None`` alternatives; report a discriminator on the way."""
    discriminated = False
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            args = typing.get_args(tp)
            if any(isinstance(m, FieldInfo) and m.discriminator is not None for m in args[1:]):
                discriminated = True
            tp = args[0]
            continue
        if _is_union(tp):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        return tp, discriminated


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _members(tp: Any) -> list[Any]:
    return [_unwrap(a)[0] for a in typing.get_args(tp)] if _is_union(tp) else [tp]


def _tags(tp: Any) -> list[str]:
    """The ``type`` tags of a discriminated union's members."""
    tags: list[str] = []
    for m in _members(tp):
        if isinstance(m, type) and issubclass(m, BaseModel) and "type" in m.model_fields:
            tags.extend(str(a) for a in typing.get_args(m.model_fields["type"].annotation))
    return tags


def _member(tp: Any, tag: str | int) -> Any:
    for m in _members(tp):
        if isinstance(m, type) and issubclass(m, BaseModel) and "type" in m.model_fields:
            if tag in typing.get_args(m.model_fields["type"].annotation):
                return m
    return None


# --------------------------------------------------------------------------- messages


def _message(err: ErrorDetails, walk: _Walk, *, input_hint: bool) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    if kind == "extra_forbidden":
        name = str(walk.path[-1])
        known = list(walk.model.model_fields) if walk.model is not None else []
        return f"unknown field {name!r}{did_you_mean(name, known)}"
    if kind == "missing":
        return f"missing required field {walk.path[-1]!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = _tags(_unwrap_discriminated(walk.path))
        listing = ", ".join(repr(t) for t in tags)
        if kind == "union_tag_not_found":
            return f"missing required field 'type' (one of {listing})"
        tag = str(ctx.get("tag", value))
        return f"unknown type {tag!r}{did_you_mean(tag, tags)}; expected one of {listing}"
    if kind in _CUSTOM_TYPES:
        return str(ctx.get("message", err["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping" + _got(err)
    if kind in ("list_type", "tuple_type"):
        return "expected a list" + _got(err)
    if kind == "too_short":
        n = int(ctx.get("min_length", 1))
        return f"needs at least {n} item{'s' if n != 1 else ''}"
    msg = err["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if input_hint:
        msg += _got(err)
    if kind == "literal_error" and isinstance(value, str):
        msg += did_you_mean(value, [str(a) for a in typing.get_args(walk.annotation)])
    return msg


def _unwrap_discriminated(path: _KeyPath) -> Any:
    """The union type of the list items at ``path`` (e.g. ``outputs.0``)."""
    tp: Any = ShowConfig
    for el in path:
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(el))
            tp = info.annotation if info is not None else None
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)[0]


def _got(err: ErrorDetails) -> str:
    if err["type"] in _CUSTOM_TYPES:
        return ""
    value = err.get("input")
    if value is None or isinstance(value, (bool, int, float, str)):
        return f", got {_yaml_repr(value)}"
    return f", got a {_yaml_kind(value)}"


def _yaml_repr(value: None | bool | int | float | str) -> str:
    """``value`` as it would be spelled in YAML (shortened)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def _yaml_kind(value: object) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _pos(node: Node | None) -> tuple[int, int]:
    if node is None:
        return (1, 1)
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _dotted(path: _KeyPath) -> str:
    return ".".join(str(p) for p in path)
