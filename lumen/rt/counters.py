"""Named event counters that any thread may bump and any process may read.

Layer: rt. Threads: each counter should have one writing thread (increments are not atomic
across threads); any thread or process reads.

Counters live in a small int64 array, optionally in shared memory, so the health thread of
the show process can read the listen process's xruns and overruns without messaging.
"""

from __future__ import annotations

from collections.abc import Iterable
from multiprocessing import shared_memory

import numpy as np

from lumen.rt.realtime import realtime


class Counters:
    """A fixed set of named int64 counters.

    Parameters
    ----------
    names : iterable of str
        Counter names; their order fixes their slots.
    shm_name : str, optional
        Attach to (or, with ``create=True``, create) a shared-memory block of this name.
    """

    def __init__(self, names: Iterable[str], *, shm_name: str | None = None, create: bool = False) -> None:
        self.names: tuple[str, ...] = tuple(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self._shm: shared_memory.SharedMemory | None = None
        size = max(8 * len(self.names), 8)
        if shm_name is None and not create:
            self.values = np.zeros(len(self.names), dtype=np.int64)
        else:
            self._shm = shared_memory.SharedMemory(name=shm_name, create=create, size=size if create else 0)
            self.values = np.ndarray((len(self.names),), dtype=np.int64, buffer=self._shm.buf)
            if create:
                self.values[:] = 0

    @property
    def shm_name(self) -> str:
        """Name of the shared-memory block (raises for process-local counters)."""
        if self._shm is None:
            raise ValueError("process-local counters have no shared-memory name")
        return self._shm.name

    def slot(self, name: str) -> int:
        """Slot index of ``name``; use it to bump a counter from real-time code."""
        return self.index[name]

    @realtime
    def bump(self, slot: int, n: int = 1) -> None:
        """Add ``n`` to the counter in ``slot``. Real-time safe."""
        self.values[slot] += n

    def __getitem__(self, name: str) -> int:
        return int(self.values[self.index[name]])

    def snapshot(self) -> dict[str, int]:
        """All counters as a dict."""
        vals = self.values.tolist()
        return dict(zip(self.names, vals))

    def close(self) -> None:
        """Detach from shared memory."""
        if self._shm is not None:
            del self.values
            self._shm.close()

    def unlink(self) -> None:
        """Remove the shared-memory block (creator only)."""
        if self._shm is not None:
            self._shm.unlink()
