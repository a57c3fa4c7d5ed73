"""Command values: what control surfaces ask the show to do, and where they are delivered.

Layer: control. Threads: built on control threads (OSC, MIDI, OS2L, Link, the CLI), applied
on the frame thread (scene, cue, look commands) or by the tempo arbiter (tempo commands).

Every control surface speaks the same small vocabulary, so an OSC address, a MIDI note, an
OS2L button and a keyboard key that mean "next cue" all become ``Command("cue_go")``. A
surface never touches the show directly: it posts commands to a `CommandSink` (the engine's
`lumen.control.hub.ControlHub`), and reports external tempo to a `TempoSink` (the hub's
tempo arbiter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from lumen.features import TEMPO_SOURCES as _TEMPO_SOURCES

#: Command names the show understands, with the meaning of ``value`` and ``arg``.
COMMANDS: Final[dict[str, str]] = {
    "blackout": "value 1 = blackout on, 0 = off",
    "master": "grand master, value 0..1",
    "strobe": "full-white strobe of the whole rig while value is 1 (momentary), off at 0",
    "scene": "go to the scene named by arg (manual: overrides automation)",
    "cue_go": "fire the next cue of the cue list",
    "cue_back": "go back to the previous cue",
    "cue_goto": "fire the cue numbered arg (e.g. '3' or '2.5')",
    "tap": "one tap of tap tempo (value unused)",
    "tempo": "set the tempo to value bpm (manual tempo; phase follows the audio)",
    "tempo_release": "drop manual tempo; back to the next source in the precedence",
    "param": "override parameter arg = 'scene/node/param' with value; a NaN value releases it",
    "auto": "automation on (value 1) or off (value 0)",
    "release": "release the manual override: automation may change scenes again",
}
#: Command names the show understands.
COMMAND_NAMES: Final[frozenset[str]] = frozenset(COMMANDS)
#: Tempo sources, in the default precedence (first wins while it is live).
TEMPO_SOURCES: Final[tuple[str, ...]] = _TEMPO_SOURCES


@dataclass(frozen=True, slots=True)
class Command:
    """One control command.

    Attributes
    ----------
    name : str
        One of `COMMAND_NAMES`.
    value : float
        The command's number (see `COMMANDS`); 0 when it has none.
    arg : str
        The command's name argument: a scene name, a cue number, a ``scene/node/param`` path.
    t : float, s
        perf_counter time it was issued.
    source : str
        Who sent it, for logs and feedback: ``"osc"``, ``"midi"``, ``"os2l"``, ``"cli"``,
        ``"auto"`` (automation), ``"cue"``.

    Examples
    --------
    >>> Command("scene", arg="drop", source="osc")
    Command(name='scene', value=0.0, arg='drop', t=0.0, source='osc')
    """

    name: str
    value: float = 0.0
    arg: str = ""
    t: float = 0.0
    source: str = ""


class CommandSink(Protocol):
    """Where control surfaces deliver commands (thread-safe, never blocks)."""

    def post(self, cmd: Command) -> None:
        """Deliver one command."""


class TempoSink(Protocol):
    """Where external tempo sources (MIDI clock, Link, OS2L) report what they hear."""

    def report(self, source: str, bpm: float, beat_t: float | None = None, t: float | None = None) -> None:
        """Report the tempo of ``source`` (one of `TEMPO_SOURCES`).

        Parameters
        ----------
        source : str
            ``"midi_clock"``, ``"link"`` or ``"os2l"``.
        bpm : float
            Tempo, beats per minute.
        beat_t : float, optional
            perf_counter time of a beat (phase); None when the source knows no phase.
        t : float, optional
            perf_counter time of the report; now if None.
        """

    def lost(self, source: str) -> None:
        """The source stopped (MIDI stop, last Link peer gone, OS2L client left)."""
