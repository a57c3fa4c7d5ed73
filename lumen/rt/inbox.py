"""The command inbox: control threads post, the frame thread drains once per frame.

Layer: rt. Threads: any number of posters (OSC, MIDI, Link, keyboard); one drainer (the frame
thread). Never blocks either side: a full inbox drops the oldest command and counts it.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Bounded multi-producer, single-consumer queue of immutable command values.

    ``collections.deque`` appends and pops are atomic in CPython, so neither side locks.

    Examples
    --------
    >>> box: Inbox[str] = Inbox(maxlen=2)
    >>> for c in ("a", "b", "c"):
    ...     box.post(c)
    >>> box.drain(), box.dropped
    (['b', 'c'], 1)
    """

    def __init__(self, maxlen: int = 1024) -> None:
        self._q: deque[T] = deque(maxlen=maxlen)
        self.maxlen = maxlen
        self.posted = 0
        self.dropped = 0

    def post(self, cmd: T) -> None:
        """Queue ``cmd``; if full, the oldest command is dropped (and counted)."""
        if len(self._q) >= self.maxlen:
            self.dropped += 1
        self._q.append(cmd)
        self.posted += 1

    def drain(self, limit: int = 256) -> list[T]:
        """Take up to ``limit`` commands in arrival order."""
        out: list[T] = []
        q = self._q
        while q and len(out) < limit:
            out.append(q.popleft())
        return out

    def __len__(self) -> int:
        return len(self._q)
