"""Error hierarchy of lumen.

Layer: shared by every layer. Threads: any (constructing an error allocates, so never on the
audio callback; real-time code counts faults instead of raising).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class LumenError(Exception):
    """Root of every error lumen raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file.

    Attributes
    ----------
    path : str
        File the problem is in (``"<string>"`` for text that has no file).
    line, col : int
        1-based position of the offending node (0 when unknown).
    key_path : str
        Dotted path of the field, e.g. ``outputs.0.port``.
    message : str
        What is wrong, with a "did you mean ...?" hint where one helps.
    """

    path: str
    line: int
    col: int
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(LumenError):
    """A configuration file (show, preset, rig) is invalid.

    Carries every problem found, not just the first; ``str()`` lists them one per line as
    ``file:line:col: key.path: message``. The first issue is also exposed as ``path``, ``line``,
    ``col`` and ``key_path``.
    """

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        if not issues:
            raise ValueError("ConfigError needs at least one issue")
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        first = self.issues[0]
        self.path = first.path
        self.line = first.line
        self.col = first.col
        self.key_path = first.key_path
        super().__init__("\n".join(str(i) for i in self.issues))


class ShaderError(LumenError):
    """A shader failed to load or compile.

    Attributes
    ----------
    path : str
        The shader file.
    line : int
        1-based line in that file (0 when the compiler did not say).
    message : str
        The compiler's message for that line.
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class PluginError(LumenError):
    """A plugin was registered or used wrongly."""


class UnknownPluginError(PluginError, KeyError):
    """No plugin of that name; the message suggests the closest names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        self.kind = kind
        self.name = name
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        listing = ", ".join(known) if known else "none registered"
        msg = f"unknown {kind} {name!r}{hint}; known: {listing}"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class DeviceError(LumenError):
    """An audio device (or other hardware) is missing or failed."""


class OutputError(LumenError):
    """An output (network socket, file) could not be set up."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
