"""Show file migrations: older versions are upgraded, in memory, before validation.

Layer: show. Threads: wherever show files are read (not the audio thread).

Each step takes the plain data of version ``n`` and returns version ``n + 1``, together with
the key paths it moved, so an error in a migrated file still points at the line the user
wrote and names the key as written. ``lumen migrate FILE`` writes the upgraded file.

Version history
---------------
1 → 2
    The one-layer ``scene: {shader, params}`` section became a scene named ``main`` in
    ``scenes`` (``scenes: {main: {layers: [{shader, params}]}}``). Version 2 also added the
    ``rig`` file, ``cues``, ``automation``, ``control`` and ``consoles`` sections; a
    version 1 file may already use them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lumen.show.schema import CURRENT_VERSION, MAIN_SCENE

__all__ = ["Move", "migrate"]

KeyPath = tuple[str | int, ...]
#: A key path prefix a migration moved: (new prefix, old prefix).
Move = tuple[KeyPath, KeyPath]
#: The shader a version 1 ``scene`` section without one used.
_V1_DEFAULT_SHADER: Final[str] = "pulse.fs"


def _v1_to_v2(data: dict[str, Any]) -> tuple[dict[str, Any], list[Move]]:
    out = dict(data)
    out["version"] = 2
    moves: list[Move] = []
    if "scene" in out and "scenes" not in out:
        scene = out.pop("scene")
        layer = dict(scene) if isinstance(scene, dict) else scene
        if isinstance(layer, dict):
            layer.setdefault("shader", _V1_DEFAULT_SHADER)
        out["scenes"] = {MAIN_SCENE: {"layers": [layer]}}
        moves.append((("scenes", MAIN_SCENE, "layers", 0), ("scene",)))
    return out, moves


#: Version -> the step that upgrades it to the next version.
STEPS: Final[dict[int, Callable[[dict[str, Any]], tuple[dict[str, Any], list[Move]]]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any]) -> tuple[dict[str, Any], list[Move]]:
    """Upgrade show data to `CURRENT_VERSION`.

    Parameters
    ----------
    data : dict
        Plain data of a show file whose ``version`` is a supported integer.

    Returns
    -------
    data : dict
        The upgraded data (the input is not changed).
    moves : list of (new key path, old key path)
        Prefixes that moved, newest step first, for mapping errors back to the file.

    Examples
    --------
    >>> new, moves = migrate({"version": 1, "scene": {"params": {"hue": "bar_phase"}}})
    >>> new
    {'version': 2, 'scenes': {'main': {'layers': [{'params': {'hue': 'bar_phase'}, 'shader': 'pulse.fs'}]}}}
    >>> moves
    [(('scenes', 'main', 'layers', 0), ('scene',))]
    """
    moves: list[Move] = []
    version = data.get("version")
    while isinstance(version, int) and version < CURRENT_VERSION and version in STEPS:
        data, step_moves = STEPS[version](data)
        moves = step_moves + moves
        version = data.get("version")
    return data, moves


def original_path(path: KeyPath, moves: list[Move]) -> KeyPath:
    """The key path as written in the file, for a path of the migrated data.

    Examples
    --------
    >>> original_path(("scenes", "main", "layers", 0, "params", "hue"), [(("scenes", "main", "layers", 0), ("scene",))])
    ('scene', 'params', 'hue')
    >>> original_path(("scenes", "main"), [(("scenes", "main", "layers", 0), ("scene",))])
    ('scene',)
    """
    for new, old in moves:
        if path[: len(new)] == new:
            path = old + path[len(new) :]
        elif new[: len(path)] == path:  # a parent the migration created: point at what moved
            path = old
    return path
