"""`OutputThread`: the paced output thread of the show process.

Layer: output. Threads: ``publish`` is called by the frame thread only (one writer); the
thread started by ``start`` owns the outputs and is the only one that sends until ``stop``;
``start``, ``stop`` run on the thread that wires the engine; ``stats`` and
``latency_percentiles`` may be called from any thread (the health thread).

Hand-off. ``publish`` copies the frame into one of two preallocated slots, each guarded by a
seqlock counter (odd while written), then sets a `threading.Event`. It always writes the slot
that does not hold the newest frame, so it never waits for the output thread; if the output
thread is lapped while copying, the counter tells it and it copies again.

Pacing. The output thread sends a new frame as soon as it arrives, but never sooner than
``1 / rate_hz`` after that output's previous send (the output's own ``rate_hz`` and the
thread's, whichever is lower); a frame that comes too early waits, and whatever frame is newest
when the time comes is the one sent. With no new frame, the last frame is re-sent every
``keepalive_s`` so receivers do not drop the source (olad forgets a silent source after 2.5 s).
A send error is counted by the output; an exception from an output is caught, counted in
``output_faults`` and the other outputs go on.

Latency. For the first send of each frame by each output, ``perf_counter()`` right after the
frame's last ``sendto`` minus the frame's audio time ``t_audio`` is stored, in ms, in a
preallocated ring of samples.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError
from lumen.output.encode.sacn import N_SLOTS
from lumen.rt.counters import Counters

#: Longest the output thread sleeps before it looks at the stop flag again, s.
_IDLE_WAIT_S: Final[float] = 0.25
#: Attempts at a consistent copy before giving up until the next wake-up.
_READ_TRIES: Final[int] = 8

_COUNTER_NAMES: Final[tuple[str, ...]] = (
    "frames_published",
    "frames_sent",
    "frames_coalesced",
    "keepalives",
    "output_faults",
    "read_retries",
    "torn_reads",
)


class PacedOutput(Protocol):
    """What `OutputThread` needs from an output (`SacnOutput` is one)."""

    @property
    def n_universes(self) -> int:
        """Rows of DMX per frame."""
        ...

    @property
    def rate_hz(self) -> float:
        """Highest frame rate, Hz."""
        ...

    @property
    def packets(self) -> int:
        """Packets sent successfully."""
        ...

    @property
    def errors(self) -> int:
        """Failed sends."""
        ...

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        """Send one frame, shape (n_universes, 512) uint8; return packets sent."""
        ...

    def terminate(self) -> int:
        """Tell receivers the stream ends; return packets sent."""
        ...

    def close(self) -> None:
        """Release sockets (the owner calls it after `OutputThread.stop`)."""
        ...


class OutputThread:
    """Paces DMX frames from the frame thread out to one or more outputs.

    Parameters
    ----------
    outputs : sequence of PacedOutput
        Outputs to drive (e.g. `SacnOutput`); each must take frames of ``n_universes`` rows.
    n_universes : int, >= 1
        Rows of each published frame.
    rate_hz : float, Hz, > 0
        Highest send rate of any output (each output's own ``rate_hz`` may lower it).
    keepalive_s : float, s, > 0
        Re-send the last frame after this long without a new one.
    name : str
        Thread name (shown by ``py-spy``, ``top -H``).
    n_latency_samples : int, >= 1
        Size of the ring of latency samples.

    Raises
    ------
    OutputError
        An output takes a different number of universes, or a parameter is out of range.
    """

    def __init__(
        self,
        outputs: Sequence[PacedOutput],
        n_universes: int,
        rate_hz: float = 44.0,
        keepalive_s: float = 0.5,
        name: str = "lumen-output",
        n_latency_samples: int = 65536,
    ) -> None:
        if n_universes < 1:
            raise OutputError(f"n_universes must be at least 1, got {n_universes}")
        if not rate_hz > 0.0:
            raise OutputError(f"rate_hz must be positive, got {rate_hz}")
        if not keepalive_s > 0.0:
            raise OutputError(f"keepalive_s must be positive, got {keepalive_s}")
        if n_latency_samples < 1:
            raise OutputError(f"n_latency_samples must be at least 1, got {n_latency_samples}")
        for out in outputs:
            if out.n_universes != n_universes:
                raise OutputError(f"{out!r} takes {out.n_universes} universes, the frames have {n_universes}")
            if not out.rate_hz > 0.0:
                raise OutputError(f"{out!r} has a non-positive rate_hz")
        self.outputs: tuple[PacedOutput, ...] = tuple(outputs)
        self.n_universes: int = n_universes
        self.rate_hz: float = float(rate_hz)
        self.keepalive_s: float = float(keepalive_s)
        self.name: str = name
        self.counters = Counters(_COUNTER_NAMES)
        self.last_fault: str = ""

        # Two slots written by publish(), guarded by seqlock counters.
        self._slots: npt.NDArray[np.uint8] = np.zeros((2, n_universes, N_SLOTS), dtype=np.uint8)
        self._slot_seq: list[int] = [0, 0]
        self._slot_gen: list[int] = [0, 0]
        self._slot_t: list[float] = [0.0, 0.0]
        self._slot_frame: list[int] = [0, 0]
        self._latest: int = -1  # slot holding the newest frame; -1 before the first publish
        self._gen: int = 0  # publishes so far (written by the frame thread only)
        self._event = threading.Event()

        # Owned by the output thread.
        self._front: npt.NDArray[np.uint8] = np.zeros((n_universes, N_SLOTS), dtype=np.uint8)
        self._front_gen: int = 0
        self._front_t: float = 0.0
        self._front_frame: int = -1
        self._latency_ms: npt.NDArray[np.float64] = np.zeros(n_latency_samples, dtype=np.float64)
        self._n_latency: int = 0

        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._slot_c = {n: self.counters.slot(n) for n in _COUNTER_NAMES}

    # -- frame thread -------------------------------------------------------------------------

    def publish(self, dmx: npt.NDArray[np.uint8], t_audio: float, frame_no: int) -> None:
        """Hand the newest frame to the output thread; never waits for it.

        Called by the frame thread only. Copies ``dmx`` into a preallocated slot and sets an
        event (whose internal lock is held only for a few instructions by either side).

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8
            The frame's DMX, one row per universe.
        t_audio : float, s
            Audio time (``perf_counter`` clock) of the features this frame was rendered from.
        frame_no : int
            Frame counter of the frame thread, kept for diagnostics.
        """
        slot = 1 if self._latest == 0 else 0
        seq = self._slot_seq
        seq[slot] += 1  # odd: write in progress
        try:
            np.copyto(self._slots[slot], dmx)
        except BaseException:
            seq[slot] += 1  # even again; the slot is not published, so nobody reads it
            raise
        self._gen += 1
        self._slot_gen[slot] = self._gen
        self._slot_t[slot] = t_audio
        self._slot_frame[slot] = frame_no
        seq[slot] += 1  # even: stable
        self._latest = slot
        self.counters.bump(self._slot_c["frames_published"])
        self._event.set()

    # -- output thread ------------------------------------------------------------------------

    def _take_latest(self) -> bool:
        """Copy the newest frame into the front buffer if there is one not yet taken."""
        seq = self._slot_seq
        for _ in range(_READ_TRIES):
            slot = self._latest
            if slot < 0:
                return False
            s1 = seq[slot]
            if s1 & 1:
                self.counters.bump(self._slot_c["read_retries"])
                continue
            gen = self._slot_gen[slot]
            if gen == self._front_gen:
                return False
            np.copyto(self._front, self._slots[slot])
            t_audio = self._slot_t[slot]
            frame_no = self._slot_frame[slot]
            if seq[slot] != s1:  # lapped by the writer while copying
                self.counters.bump(self._slot_c["read_retries"])
                continue
            if gen - self._front_gen > 1:
                self.counters.bump(self._slot_c["frames_coalesced"], gen - self._front_gen - 1)
            self._front_gen = gen
            self._front_t = t_audio
            self._front_frame = frame_no
            return True
        self.counters.bump(self._slot_c["torn_reads"])
        return False

    def _record_latency(self, ms: float) -> None:
        ring = self._latency_ms
        ring[self._n_latency % ring.shape[0]] = ms
        self._n_latency += 1

    def _send(self, out: PacedOutput) -> None:
        try:
            out.send_frame(self._front)
        except Exception as exc:  # a broken output must not stop the others
            self.counters.bump(self._slot_c["output_faults"])
            self.last_fault = f"{out!r}: {type(exc).__name__}: {exc}"

    def _run(self) -> None:
        outs = self.outputs
        n_out = len(outs)
        interval_s = [1.0 / min(self.rate_hz, out.rate_hz) for out in outs]
        next_allowed = [0.0] * n_out
        last_send = [0.0] * n_out
        pending = [False] * n_out
        have_frame = False
        first_of_frame = False  # the frame in the front buffer has not been sent by anyone yet
        keepalive_s = self.keepalive_s
        c_sent = self._slot_c["frames_sent"]
        c_keep = self._slot_c["keepalives"]
        perf = time.perf_counter
        while not self._stop_requested:
            timeout = _IDLE_WAIT_S
            if have_frame:
                now = perf()
                for i in range(n_out):
                    due = next_allowed[i] if pending[i] else max(last_send[i] + keepalive_s, next_allowed[i])
                    timeout = min(timeout, due - now)
            if timeout > 0.0:
                self._event.wait(timeout)
            self._event.clear()
            if self._stop_requested:
                break
            if self._take_latest():
                if first_of_frame:  # the previous frame was replaced before any output sent it
                    self.counters.bump(self._slot_c["frames_coalesced"])
                have_frame = True
                for i in range(n_out):
                    pending[i] = True
                first_of_frame = True
            if not have_frame:
                continue
            for i in range(n_out):
                now = perf()
                if now < next_allowed[i]:
                    continue
                fresh = pending[i]
                if not fresh and now - last_send[i] < keepalive_s:
                    continue
                self._send(outs[i])
                t_sent = perf()
                last_send[i] = now
                next_allowed[i] = now + interval_s[i]
                if fresh:
                    pending[i] = False
                    self._record_latency((t_sent - self._front_t) * 1000.0)
                    if first_of_frame:
                        self.counters.bump(c_sent)
                        first_of_frame = False
                else:
                    self.counters.bump(c_keep)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the output thread (once)."""
        if self._thread is not None:
            raise OutputError("the output thread was already started")
        self._stop_requested = False
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop and join the thread, then send Stream_Terminated on every output's universes.

        Parameters
        ----------
        timeout_s : float, s
            How long to wait for the thread to finish its current send.

        Raises
        ------
        OutputError
            The thread did not stop in time (the outputs are then left alone, because two
            threads must not send on one output).
        """
        thread = self._thread
        if thread is not None:
            self._stop_requested = True
            self._event.set()
            thread.join(timeout_s)
            if thread.is_alive():
                raise OutputError(f"output thread {self.name!r} did not stop within {timeout_s} s")
            self._thread = None
        for out in self.outputs:
            try:
                out.terminate()
            except Exception as exc:  # one output failing to terminate must not skip the rest
                self.counters.bump(self._slot_c["output_faults"])
                self.last_fault = f"{out!r}: {type(exc).__name__}: {exc}"

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._thread is not None and self._thread.is_alive()

    # -- reporting (any thread) ---------------------------------------------------------------

    def latency_percentiles(self) -> dict[str, float]:
        """Percentiles of frame latency (audio time to after the last ``sendto``), ms.

        Returns
        -------
        dict
            ``p50``, ``p90``, ``p99`` in ms over the recorded samples (the newest
            ``n_latency_samples``), NaN when there are none; ``n``, the number of samples used.
        """
        n = min(self._n_latency, self._latency_ms.shape[0])
        if n == 0:
            return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "n": 0.0}
        samples = self._latency_ms[:n].copy()
        p50, p90, p99 = np.percentile(samples, [50.0, 90.0, 99.0])
        return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "n": float(n)}

    def stats(self) -> dict[str, int]:
        """Counters: frames published/sent/coalesced, packets, send errors, keep-alives, faults.

        ``frames_sent`` counts frames sent at least once (a frame that several outputs send
        counts once); ``frames_coalesced`` counts published frames replaced by a newer one
        before they were sent; ``read_retries`` counts copies redone because ``publish`` wrote
        the slot meanwhile, ``torn_reads`` wake-ups that gave up after 8 such tries;
        ``packets`` and ``send_errors`` sum over the outputs.
        """
        out = self.counters.snapshot()
        out["packets"] = sum(o.packets for o in self.outputs)
        out["send_errors"] = sum(o.errors for o in self.outputs)
        out["latency_samples"] = self._n_latency
        return out
