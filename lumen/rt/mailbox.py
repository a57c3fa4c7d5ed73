"""A seqlock mailbox: one writer publishes the latest value, many readers take it, nobody waits.

Layer: rt. Threads and processes: one writer (e.g. the analysis thread of the listen process);
any number of readers in any thread or process (e.g. frame threads of show processes).

The value is a fixed-length float64 vector. The writer makes the sequence odd, writes the
payload, then makes it even again; a reader copies the payload between two reads of the
sequence and accepts the copy only if both reads are the same even number. A torn read is
therefore detected and retried, never returned. Backed by `multiprocessing.shared_memory` to
cross processes, or by a plain array within one process.
"""

from __future__ import annotations

from multiprocessing import shared_memory

import numpy as np
import numpy.typing as npt

from lumen.rt.realtime import realtime

_HEADER = 2  # [0] sequence, [1] number of publishes


class Mailbox:
    """Latest-value mailbox of ``n`` float64 slots.

    Parameters
    ----------
    n : int
        Payload length.
    name : str, optional
        Name of a shared-memory block to attach to (made by another `Mailbox.create_shared`).
    """

    def __init__(self, n: int, *, name: str | None = None, _create: bool = False) -> None:
        self.n = n
        self._shm: shared_memory.SharedMemory | None = None
        nbytes = (_HEADER + n) * 8
        buf: memoryview | bytearray
        if name is None and not _create:
            buf = bytearray(nbytes)
        else:
            if _create:
                self._shm = shared_memory.SharedMemory(create=True, size=nbytes, name=name)
            else:
                self._shm = shared_memory.SharedMemory(name=name)
            assert self._shm.buf is not None
            buf = self._shm.buf
        self._seq = np.ndarray((1,), dtype=np.int64, buffer=buf, offset=0)
        self._count = np.ndarray((1,), dtype=np.int64, buffer=buf, offset=8)
        self._payload = np.ndarray((n,), dtype=np.float64, buffer=buf, offset=16)
        if _create:
            self._seq[0] = 0
            self._count[0] = 0
            self._payload[:] = 0.0

    @classmethod
    def create_shared(cls, n: int, name: str | None = None) -> Mailbox:
        """Create a shared-memory mailbox; its `name` lets other processes attach."""
        return cls(n, name=name, _create=True)

    @property
    def name(self) -> str:
        """Shared-memory name (raises for a process-local mailbox)."""
        if self._shm is None:
            raise ValueError("a process-local mailbox has no shared-memory name")
        return self._shm.name

    @property
    def sequence(self) -> int:
        """Current sequence number (even when no write is in progress)."""
        return int(self._seq[0])

    @property
    def publishes(self) -> int:
        """Values published so far."""
        return int(self._count[0])

    @realtime
    def write(self, value: npt.NDArray[np.float64]) -> None:
        """Publish ``value`` (shape ``(n,)``); never waits. Real-time safe."""
        self._seq[0] += 1  # odd: write in progress
        np.copyto(self._payload, value)
        self._count[0] += 1
        self._seq[0] += 1  # even: stable

    def begin_write(self) -> None:
        """First step of `write`, exposed so tests can interleave a reader mid-write."""
        self._seq[0] += 1

    def write_slice(self, start: int, values: npt.NDArray[np.float64]) -> None:
        """Middle step of `write`: store part of the payload."""
        self._payload[start : start + len(values)] = values

    def end_write(self) -> None:
        """Last step of `write`."""
        self._count[0] += 1
        self._seq[0] += 1

    def try_read(self, out: npt.NDArray[np.float64]) -> bool:
        """One attempt to copy a consistent value into ``out``; False if a write interfered."""
        s1 = int(self._seq[0])
        if s1 & 1:
            return False
        np.copyto(out, self._payload)
        return int(self._seq[0]) == s1

    def read(self, out: npt.NDArray[np.float64], max_tries: int = 1000) -> bool:
        """Copy the latest consistent value into ``out``; False only if every try was torn."""
        for _ in range(max_tries):
            if self.try_read(out):
                return True
        return False

    def close(self) -> None:
        """Detach from shared memory (the creator should also call `unlink`)."""
        if self._shm is not None:
            # Drop views into the buffer before closing it.
            del self._payload, self._seq, self._count
            self._shm.close()

    def unlink(self) -> None:
        """Remove the shared-memory block (creator only)."""
        if self._shm is not None:
            self._shm.unlink()
