"""Command values: what control surfaces ask the show to do.

Layer: control. Threads: built on control threads, applied on the frame thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Command names the frame thread understands.
COMMAND_NAMES: Final[frozenset[str]] = frozenset({"blackout", "master"})


@dataclass(frozen=True, slots=True)
class Command:
    """One control command.

    Attributes
    ----------
    name : str
        One of `COMMAND_NAMES`: ``"blackout"`` (value 1 = on, 0 = off), ``"master"`` (0..1).
    value : float
    t : float, s
        perf_counter time it was issued.
    """

    name: str
    value: float = 0.0
    t: float = 0.0
