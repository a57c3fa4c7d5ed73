"""The show's director: cue list (GO, BACK, GOTO), automation rules, manual override.

Layer: show. Threads: the frame thread only (it calls `Director.command` for each drained
command and `Director.step` once per frame); nothing here blocks or does I/O.

Who decides what is on the wall, strongest first:

1. **Manual**: a scene, GO, BACK or GOTO command from a control surface. It starts the
   *manual override*: automation rules stop changing scenes until the override is released
   (``/lumen/release``, or ``automation.hold_s`` after the last manual command when that is
   not 0). A manual command always acts, whatever automation is doing.
2. **Cue follow**: a cue with ``follow_bars`` GOes to the next cue after that many bars
   (console-style auto-follow; it is part of the programming, so it runs under an override).
3. **Automation**: rules fired by music events (``drop``, ``break``, ``build``, any
   ``section`` change) or every N bars, with an optional condition over the features; at
   most one automatic change per ``automation.min_bars`` bars.

Each decision is an `Action` the frame thread applies to the scene set and reports to the
consoles (cue numbers go out as console cues).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lumen.control.commands import Command
from lumen.errors import LumenError, did_you_mean
from lumen.features import Features
from lumen.scene.expr import FEATURE_NAMES, Expr, compile_expr
from lumen.scene.transition import TransitionSpec

__all__ = ["Action", "Cue", "CueList", "Director", "Rule", "UnknownCueError", "build_director"]

#: Sections that are music events of their own (a change into one fires its event).
EVENT_SECTIONS: Final[tuple[str, ...]] = ("drop", "break", "build")


class UnknownCueError(LumenError, KeyError):
    """A GOTO named a cue number the list does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue: a scene and how to get there.

    Attributes
    ----------
    number : float
        Cue number, as on a console.
    scene : str
    label : str
    transition : TransitionSpec or None
        None: the scene's own transition.
    quantize : str or None
        Overrides the transition's quantization.
    follow_bars : int or None
        GO to the next cue after this many bars.
    """

    number: float
    scene: str
    label: str = ""
    transition: TransitionSpec | None = None
    quantize: str | None = None
    follow_bars: int | None = None

    @property
    def label_or_number(self) -> str:
        """The label, or ``"cue N"``."""
        return self.label or f"cue {self.number:g}"


@dataclass(frozen=True, slots=True)
class Action:
    """A scene change decided by the director.

    Attributes
    ----------
    scene : str
    transition : TransitionSpec or None
    quantize : str or None
    cue : Cue or None
        The cue fired, when the change came from the cue list.
    reason : str
        Why, for logs and feedback: ``"manual"``, ``"cue"``, ``"follow"``, ``"auto:drop"``…
    """

    scene: str
    transition: TransitionSpec | None = None
    quantize: str | None = None
    cue: Cue | None = None
    reason: str = ""


def _cue_action(cue: Cue, reason: str) -> Action:
    return Action(cue.scene, cue.transition, cue.quantize, cue, reason)


class CueList:
    """An ordered cue list with a playhead.

    Parameters
    ----------
    cues : iterable of Cue
        In ascending number order.

    Examples
    --------
    >>> cl = CueList([Cue(1, "intro"), Cue(2, "verse"), Cue(2.5, "drop")])
    >>> cl.go().scene, cl.go().scene, cl.back().scene, cl.goto(2.5).scene
    ('intro', 'verse', 'intro', 'drop')
    >>> cl.go() is None  # past the last cue: GO does nothing
    True
    """

    def __init__(self, cues: Iterable[Cue] = ()) -> None:
        self.cues: tuple[Cue, ...] = tuple(cues)
        self.index = -1  # no cue fired yet

    @property
    def current(self) -> Cue | None:
        """The last cue fired."""
        return self.cues[self.index] if 0 <= self.index < len(self.cues) else None

    def go(self) -> Cue | None:
        """Fire the next cue (None past the end)."""
        if self.index + 1 >= len(self.cues):
            return None
        self.index += 1
        return self.cues[self.index]

    def back(self) -> Cue | None:
        """Fire the previous cue (None before the first)."""
        if self.index <= 0:
            return None
        self.index -= 1
        return self.cues[self.index]

    def goto(self, number: float) -> Cue:
        """Fire cue ``number``.

        Raises
        ------
        UnknownCueError
            No such cue (the playhead does not move).
        """
        for i, c in enumerate(self.cues):
            if math.isclose(c.number, number, abs_tol=1e-9):
                self.index = i
                return c
        known = [f"{c.number:g}" for c in self.cues]
        raise UnknownCueError(f"no cue {number:g}{did_you_mean(f'{number:g}', known)}; cues: {', '.join(known) or 'none'}")


@dataclass(frozen=True, slots=True)
class Rule:
    """An automation rule (see `lumen.show.schema.RuleConfig`).

    Attributes
    ----------
    on : str or None
        ``"drop"``, ``"break"``, ``"build"`` or ``"section"``.
    section : str or None
        With ``on="section"``: only changes to this label.
    every_bars : int or None
    when : Expr or None
        Fires only while it evaluates above 0.5.
    go : str or None
    rotate : tuple of str
    cue : float, "next" or None
    quantize : str or None
    """

    on: str | None = None
    section: str | None = None
    every_bars: int | None = None
    when: Expr | None = None
    go: str | None = None
    rotate: tuple[str, ...] = ()
    cue: float | str | None = None
    quantize: str | None = None

    @classmethod
    def from_config(cls, r: Any) -> Rule:
        """A rule from a validated `RuleConfig`."""
        when = None if r.when is None else compile_expr(r.when, FEATURE_NAMES)
        return cls(r.on, r.section, r.every_bars, when, r.go, tuple(r.rotate or ()), r.cue, r.quantize)


class Director:
    """Cue list, automation and manual override, evaluated on the frame thread.

    Parameters
    ----------
    cues : CueList
    rules : sequence of Rule
    enabled : bool
        Automation on at start.
    hold_s : float, s
        Manual override length; 0 = until released.
    min_bars : int
        Bars between two automatic changes, at least.

    Attributes
    ----------
    override : bool
        A manual command holds the show (automation waits).
    section : str
        The section label seen last.
    n_fired : dict of str to int
        Automatic changes per rule reason (for the dashboard and tests).
    """

    def __init__(self, cues: CueList, rules: Sequence[Rule] = (), *, enabled: bool = True, hold_s: float = 0.0, min_bars: int = 4) -> None:
        self.cues = cues
        self.rules = tuple(rules)
        self.enabled = enabled
        self.hold_s = hold_s
        self.min_bars = min_bars
        self.override = False
        self._override_t = 0.0
        self.section = "none"
        self._last_auto_bar = -(10**9)
        self._cue_bar = 0
        self._rotation = [0] * len(self.rules)
        self.n_fired: dict[str, int] = {}

    # ------------------------------------------------------------------ manual

    def command(self, cmd: Command, bars: int = 0) -> Action | None:
        """Apply a scene, cue or automation command; return the scene change it asks for.

        Raises
        ------
        UnknownCueError
            ``cue_goto`` of a missing cue.
        """
        name = cmd.name
        if name == "auto":
            self.enabled = cmd.value > 0.5
            if self.enabled:
                self.override = False
            return None
        if name == "release":
            self.override = False
            return None
        cue: Cue | None
        if name == "scene":
            self._manual(cmd.t)
            return Action(cmd.arg, reason="manual")
        if name == "cue_go":
            cue = self.cues.go()
        elif name == "cue_back":
            cue = self.cues.back()
        elif name == "cue_goto":
            try:
                number = float(cmd.arg) if cmd.arg else float(cmd.value)
            except ValueError:
                raise UnknownCueError(f"cue number {cmd.arg!r} is not a number") from None
            cue = self.cues.goto(number)
        else:
            return None
        self._manual(cmd.t)
        if cue is None:
            return None
        self._cue_bar = bars
        return _cue_action(cue, "cue")

    def _manual(self, t: float) -> None:
        self.override = True
        self._override_t = t

    # ------------------------------------------------------------------ per frame

    def step(self, f: Features, *, bar: bool, bars: int, t: float, env: dict[str, float] | None = None) -> Action | None:
        """Check cue follow and automation for this frame.

        Parameters
        ----------
        f : Features
            This frame's features.
        bar : bool
            A bar line was crossed since the last frame (`lumen.scene.modulate.MusicClock.bar`).
        bars : int
            Bars counted so far.
        t : float, s
            perf_counter time.
        env : dict, optional
            Values for ``when`` conditions (default: the features' scalar fields).

        Returns
        -------
        Action or None
        """
        event: str | None = None
        label = f.section
        if label != self.section:
            self.section = label
            event = label if label in EVENT_SECTIONS else "section"
        if self.override and self.hold_s > 0.0 and t - self._override_t >= self.hold_s:
            self.override = False
        cur = self.cues.current
        if bar and cur is not None and cur.follow_bars is not None and bars - self._cue_bar >= cur.follow_bars:
            nxt = self.cues.go()
            if nxt is not None:
                self._cue_bar = bars
                return _cue_action(nxt, "follow")
        if not self.enabled or self.override or not self.rules:
            return None
        if bars - self._last_auto_bar < self.min_bars and self._last_auto_bar >= 0:
            return None
        values = env if env is not None else f.scalars()
        for i, rule in enumerate(self.rules):
            if rule.on is not None:
                if event is None:
                    continue
                if rule.on == "section":
                    if rule.section is not None and rule.section != label:
                        continue
                elif rule.on != label:
                    continue
            elif not (bar and rule.every_bars is not None and bars > 0 and bars % rule.every_bars == 0):
                continue
            if rule.when is not None and not rule.when(values) > 0.5:
                continue
            action = self._fire(i, rule, bars)
            if action is not None:
                self._last_auto_bar = bars
                self.n_fired[action.reason] = self.n_fired.get(action.reason, 0) + 1
                return action
        return None

    def _fire(self, i: int, rule: Rule, bars: int) -> Action | None:
        reason = f"auto:{rule.on or f'every {rule.every_bars} bars'}"
        if rule.go is not None:
            return Action(rule.go, quantize=rule.quantize, reason=reason)
        if rule.rotate:
            scene = rule.rotate[self._rotation[i] % len(rule.rotate)]
            self._rotation[i] += 1
            return Action(scene, quantize=rule.quantize, reason=reason)
        if rule.cue == "next":
            cue = self.cues.go()
        elif isinstance(rule.cue, float):
            cue = self.cues.goto(rule.cue)
        else:
            cue = None
        if cue is None:
            return None
        self._cue_bar = bars
        a = _cue_action(cue, reason)
        return Action(a.scene, a.transition, rule.quantize or a.quantize, a.cue, reason)


def build_director(cfg: Any) -> Director:
    """A `Director` for a validated `lumen.show.schema.ShowConfig` (cue list and automation)."""
    from lumen.show.scenes import transition_spec

    cues = CueList(
        Cue(c.number, c.scene, c.label, None if c.transition is None else transition_spec(c.transition), c.quantize, c.follow_bars)
        for c in cfg.cues
    )
    a = cfg.automation
    return Director(cues, [Rule.from_config(r) for r in a.rules], enabled=a.enabled, hold_s=a.hold_s, min_bars=a.min_bars)
