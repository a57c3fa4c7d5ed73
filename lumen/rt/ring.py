"""A single-producer single-consumer ring of audio frames.

Layer: rt. Threads: exactly one writer (the audio callback) and one reader (the analysis
thread) at a time.

The writer copies a block into preallocated storage, stamps the block's capture time, and
only then publishes the new write count, so a reader never sees a count that runs ahead of
the data. Counts are monotonic frame totals (never wrapped), so ``written - read`` is the fill
level and an overrun (the reader fell more than the capacity behind) is detectable: the reader
skips to the freshest data and counts the frames it lost, the writer never waits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lumen.rt.realtime import realtime


class AudioRing:
    """SPSC ring of float32 audio frames, ``(capacity, n_channels)``, with per-block times.

    Parameters
    ----------
    n_channels : int
        Channels per frame.
    blocksize : int
        Frames per block written by the producer (the stream's fixed blocksize).
    sr : float, Hz
        Sample rate, used to date frames within a block.
    n_blocks : int
        Capacity in blocks; capacity in frames is ``n_blocks * blocksize``.

    Notes
    -----
    `write` is real-time safe for blocks of exactly ``blocksize`` frames: it copies into one
    of the preallocated per-block views, so no array is created on the audio thread. Blocks
    of another size take a slower path that slices (allocating small view objects).
    """

    def __init__(self, n_channels: int, blocksize: int, sr: float, n_blocks: int = 256) -> None:
        if n_channels < 1 or blocksize < 1 or n_blocks < 2:
            raise ValueError("ring needs n_channels >= 1, blocksize >= 1, n_blocks >= 2")
        self.n_channels = n_channels
        self.blocksize = blocksize
        self.n_blocks = n_blocks
        self.sr = float(sr)
        self.capacity = n_blocks * blocksize
        self._buf = np.zeros((self.capacity, n_channels), dtype=np.float32)
        self._views = [self._buf[i * blocksize : (i + 1) * blocksize] for i in range(n_blocks)]
        # Capture time (perf_counter s) of the first frame of each block slot.
        self._times = np.zeros(n_blocks, dtype=np.float64)
        # [0] frames written (published last), [1] frames lost by the reader to overruns.
        self._state = np.zeros(2, dtype=np.int64)
        self._read = 0

    @property
    def written(self) -> int:
        """Frames written since creation."""
        return int(self._state[0])

    @property
    def read_count(self) -> int:
        """Frames consumed (or skipped) by the reader since creation."""
        return self._read

    @property
    def lost(self) -> int:
        """Frames the reader lost because it fell more than `capacity` behind."""
        return int(self._state[1])

    @realtime
    def write(self, block: npt.NDArray[np.float32], t_first: float) -> None:
        """Copy ``block`` (``(n, n_channels)`` float32) into the ring; never waits.

        Real-time safe when ``n == blocksize`` and the write position is block-aligned.

        Parameters
        ----------
        block : ndarray, shape (n_frames, n_channels), float32
            The samples, as the PortAudio callback hands them over.
        t_first : float, s
            Capture time of the block's first frame on the perf_counter clock.
        """
        w = self._state[0]
        n = block.shape[0]
        slot = (w // self.blocksize) % self.n_blocks
        if n == self.blocksize and w % self.blocksize == 0:
            np.copyto(self._views[slot], block)
            self._times[slot] = t_first
        else:
            self._write_slow(block, t_first)
        self._state[0] = w + n

    def _write_slow(self, block: npt.NDArray[np.float32], t_first: float) -> None:
        w = int(self._state[0])
        n = block.shape[0]
        start = w % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:]
        # Date every block slot the write touches from the block's first frame.
        bs = self.blocksize
        for b in range((w + bs - 1) // bs, (w + n - 1) // bs + 1):
            self._times[b % self.n_blocks] = t_first + (b * bs - w) / self.sr

    def available(self) -> int:
        """Frames ready for the reader (after any overrun skip is applied by `read`)."""
        return int(self._state[0]) - self._read

    def read(self, out: npt.NDArray[np.float32]) -> bool:
        """Copy the next ``len(out)`` frames into ``out`` and advance; False if not yet there.

        If the writer lapped the reader, the reader first skips to the oldest frames still
        in the ring and adds the skipped count to `lost`.
        """
        n = out.shape[0]
        w = int(self._state[0])
        if w - self._read > self.capacity - self.blocksize:
            # Overrun: keep a margin of one block so the writer is not racing the copy.
            skip_to = w - (self.capacity - self.blocksize)
            self._state[1] += skip_to - self._read
            self._read = skip_to
        if w - self._read < n:
            return False
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        if first < n:
            out[first:] = self._buf[: n - first]
        self._read += n
        return True

    def time_of(self, frame: int) -> float:
        """Capture time (perf_counter s) of absolute frame index ``frame``.

        Uses the stamp of the block the frame lies in, plus the frame's offset in that block.
        """
        b = frame // self.blocksize
        return float(self._times[b % self.n_blocks]) + (frame - b * self.blocksize) / self.sr
