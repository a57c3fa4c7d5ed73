"""Transitions between scenes: what kind, how long, and which musical moment they wait for.

Layer: scene (knows no GL). Threads: `TransitionSpec` is immutable (built at configuration
time); `Transitioner` is frame-thread state, driven once per frame by
`lumen.scene.graph.SceneSet`.

A scene change is asked for at any time (`lumen.scene.graph.SceneSet.go`) and *starts* on the
next boundary of its quantization (the next frame, beat, bar or 4-bar phrase of the music
clock). A cut then switches at once; the other kinds run for ``duration_beats`` beats (turned
into seconds with the tempo when they start, 120 BPM when the tempo is unknown). With no tempo
(``bpm`` 0) the clock never crosses a boundary, so quantized changes start at once instead of
waiting forever.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from lumen.scene.modulate import MusicClock
from lumen.scene.plan import Quantize, TransitionKind, WipeDirection

__all__ = ["FALLBACK_BPM", "TransitionSpec", "Transitioner", "boundary_crossed"]

#: Tempo used to turn beats into seconds when the tempo is unknown.
FALLBACK_BPM: Final[float] = 120.0


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """How to change to a scene.

    Attributes
    ----------
    kind : {"cut", "crossfade", "wipe", "flash"}
    duration_beats : float, beats, >= 0
        Length of a crossfade, wipe or flash (a cut ignores it; 0 acts as a cut).
    quantize : {"none", "beat", "bar", "phrase"}
        The musical moment the change starts on.
    direction : {"left", "right", "up", "down"}
        Where a wipe's edge travels.
    """

    kind: TransitionKind = "crossfade"
    duration_beats: float = 4.0
    quantize: Quantize = "bar"
    direction: WipeDirection = "left"


def boundary_crossed(quantize: Quantize, clock: MusicClock) -> bool:
    """Whether this frame is a start moment for ``quantize`` (clock already updated).

    Examples
    --------
    >>> c = MusicClock(); c.update(0.9, 0.2, 120.0); c.update(0.1, 0.28, 120.0)
    >>> boundary_crossed("beat", c), boundary_crossed("bar", c), boundary_crossed("none", c)
    (True, False, True)
    """
    if quantize == "none" or clock.bpm <= 0.0:
        return True
    if quantize == "beat":
        return clock.beat
    if quantize == "bar":
        return clock.bar
    return clock.phrase


@dataclass(slots=True)
class _Running:
    outgoing: str
    spec: TransitionSpec
    t_start: float
    duration_s: float


class Transitioner:
    """Pending and running scene changes (frame thread only).

    Attributes
    ----------
    pending : tuple of (str, TransitionSpec) or None
        The change asked for and not started yet (a newer request replaces it).
    """

    def __init__(self) -> None:
        self.pending: tuple[str, TransitionSpec] | None = None
        self._running: _Running | None = None

    def request(self, target: str, spec: TransitionSpec) -> None:
        """Ask for a change to ``target``; it starts on the spec's next boundary."""
        self.pending = (target, spec)

    def drop_missing(self, names: Collection[str]) -> None:
        """Forget changes from or to scenes not in ``names`` (after a show reload)."""
        if self.pending is not None and self.pending[0] not in names:
            self.pending = None
        if self._running is not None and self._running.outgoing not in names:
            self._running = None

    def clear(self) -> None:
        """Drop pending and running changes."""
        self.pending = None
        self._running = None

    def step(self, current: str, clock: MusicClock, time_s: float) -> tuple[str, str | None, float, TransitionSpec | None]:
        """Advance one frame.

        Parameters
        ----------
        current : str
            The scene shown now (the incoming one while a transition runs).
        clock : MusicClock
            Updated for this frame.
        time_s : float, s
            Show time of this frame.

        Returns
        -------
        current : str
            The scene to show (changed when a pending change started this frame).
        outgoing : str or None
            The scene being left while a transition runs.
        mix : float, 0..1
            Progress of the running transition (1 when none runs).
        spec : TransitionSpec or None
            The running transition.
        """
        if self.pending is not None and boundary_crossed(self.pending[1].quantize, clock):
            target, spec = self.pending
            self.pending = None
            if target != current:
                bpm = clock.bpm if clock.bpm > 0.0 else FALLBACK_BPM
                duration_s = spec.duration_beats * 60.0 / bpm
                if spec.kind == "cut" or duration_s <= 0.0:
                    self._running = None
                else:
                    self._running = _Running(current, spec, time_s, duration_s)
                current = target
        run = self._running
        if run is None:
            return current, None, 1.0, None
        mix = (time_s - run.t_start) / run.duration_s
        if mix >= 1.0 - 1e-9 or run.outgoing == current:
            self._running = None
            return current, None, 1.0, None
        return current, run.outgoing, max(0.0, mix), run.spec
