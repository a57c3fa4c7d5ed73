"""Audio sources: a sound card, a file, or generated music, all feeding one SPSC ring.

Layer: audio. Threads: `start`/`stop`/`poll` from the listen process's main thread; the
callback (`DeviceSource`) or a pacing thread (`FileSource`, `SignalSource`) is the ring's
only writer; the analysis thread is its only reader.

Every source delivers fixed-size blocks of float32 frames ``(blocksize, n_channels)`` stamped
with their capture time on the perf_counter clock, exactly as a PortAudio callback would, so
analysis cannot tell a file or generated music from a live input.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from lumen.audio.music import MusicGenerator, MusicParams
from lumen.audio.portaudio import import_sounddevice, set_jack_client_name
from lumen.errors import DeviceError
from lumen.rt.clock import StreamClock, now, sleep_until
from lumen.rt.counters import Counters
from lumen.rt.realtime import realtime
from lumen.rt.ring import AudioRing

#: Counters every source keeps (shared with the show process's health thread).
AUDIO_COUNTERS: Final[tuple[str, ...]] = (
    "callbacks",        # blocks delivered
    "frames",           # frames delivered
    "xruns",            # callbacks with any PortAudio status flag set
    "input_overflows",  # input overflow flags (samples lost before lumen saw them)
    "input_underflows",
    "device_lost",      # times the stream stopped without being asked to
    "device_reopened",  # successful reopen after a loss
    "late_blocks",      # paced sources: a block produced more than a block late
)


class AudioSource(ABC):
    """A producer of audio blocks into an `AudioRing`.

    Attributes
    ----------
    sr : int, Hz
        Sample rate.
    n_channels : int
        Channels per frame.
    blocksize : int
        Frames per block.
    """

    sr: int
    n_channels: int
    blocksize: int

    def __init__(self) -> None:
        self._ring: AudioRing | None = None
        self._counters: Counters | None = None

    def make_ring(self, seconds: float = 2.0) -> AudioRing:
        """A ring sized for this source holding about ``seconds`` of audio."""
        n_blocks = max(8, int(seconds * self.sr / self.blocksize))
        return AudioRing(self.n_channels, self.blocksize, self.sr, n_blocks)

    def _attach(self, ring: AudioRing, counters: Counters) -> None:
        if ring.blocksize != self.blocksize or ring.n_channels != self.n_channels:
            raise ValueError("ring shape does not match the source")
        self._ring = ring
        self._counters = counters
        self._s_callbacks = counters.slot("callbacks")
        self._s_frames = counters.slot("frames")
        self._s_xruns = counters.slot("xruns")
        self._s_over = counters.slot("input_overflows")
        self._s_under = counters.slot("input_underflows")
        self._s_late = counters.slot("late_blocks")

    @abstractmethod
    def start(self, ring: AudioRing, counters: Counters) -> None:
        """Begin delivering blocks into ``ring``, counting into ``counters``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop delivering; idempotent."""

    @property
    @abstractmethod
    def finished(self) -> bool:
        """True once a finite source has delivered everything."""

    def poll(self) -> None:  # noqa: B027 - optional hook
        """Supervise the source (called about twice a second); default does nothing."""

    def describe(self) -> str:
        """One line for logs and dashboards."""
        return f"{type(self).__name__} {self.sr} Hz x{self.n_channels}, {self.blocksize}-frame blocks"


class DeviceSource(AudioSource):
    """Live input from a PortAudio device through a sounddevice callback.

    Parameters
    ----------
    device : str or int or None
        Index, or a case-insensitive substring of the device name or of its host API name
        (``"JACK"`` picks the JACK host API's first input device); None for the default.
    sr : int, Hz
    blocksize : int
        Frames per callback (fixed, so the ring's zero-copy path is used).
    n_channels : int
    client_name : str
        JACK client name, effective only if set before sounddevice is first imported.
    latency : str or float
        PortAudio input latency ("low", "high" or seconds).

    Notes
    -----
    The callback obeys the real-time rules: it copies the block into the ring's preallocated
    storage, stamps it, bumps counters, and returns. It never allocates arrays, locks, logs,
    does I/O or raises. If the stream stops on its own (device unplugged, server gone), `poll`
    counts ``device_lost`` and tries to reopen it; analysis meanwhile sees no new audio and
    the show keeps running on the last features.
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        sr: int = 48000,
        blocksize: int = 256,
        n_channels: int = 2,
        client_name: str = "lumen",
        latency: str | float = "low",
    ) -> None:
        super().__init__()
        self.device = device
        self.sr = sr
        self.blocksize = blocksize
        self.n_channels = n_channels
        self.latency = latency
        set_jack_client_name(client_name)
        self._sd = import_sounddevice()
        self._index = self.find_device(device)
        self._stream: Any = None
        self._stopping = False
        self._reopen_at = 0.0
        self._last_callbacks = -1
        self._last_progress = 0.0
        #: Seconds without a callback after which a running stream counts as lost.
        self.stall_s = max(0.5, 20 * blocksize / sr)

    def find_device(self, device: str | int | None) -> int:
        """Resolve ``device`` to a PortAudio input device index; raise `DeviceError` if none."""
        sd = self._sd
        try:
            devices = list(sd.query_devices())
            hostapis = list(sd.query_hostapis())
        except Exception as e:  # PortAudio errors are plain exceptions here
            raise DeviceError(f"cannot list audio devices: {e}") from None
        inputs = [(i, d) for i, d in enumerate(devices) if d["max_input_channels"] > 0]
        if not inputs:
            wanted = "" if device is None else f" matching {device!r}"
            raise DeviceError(f"no audio input device{wanted}: this machine has no inputs (is a sound card or JACK server present?)")
        if device is None:
            default = sd.default.device[0]
            if default is not None and default >= 0 and devices[default]["max_input_channels"] > 0:
                return int(default)
            return int(inputs[0][0])
        if isinstance(device, int):
            if any(i == device for i, _ in inputs):
                return device
            raise DeviceError(f"audio input device {device} not found; inputs: {self._listing(inputs, hostapis)}")
        want = device.lower()
        for i, d in inputs:
            if want in d["name"].lower():
                return i
        for i, d in inputs:
            if want in hostapis[d["hostapi"]]["name"].lower():
                return i
        raise DeviceError(f"no audio input device matching {device!r}; inputs: {self._listing(inputs, hostapis)}")

    @staticmethod
    def _listing(inputs: list[tuple[int, Any]], hostapis: list[Any]) -> str:
        return ", ".join(f"{i}: {d['name']} ({hostapis[d['hostapi']]['name']})" for i, d in inputs)

    def start(self, ring: AudioRing, counters: Counters) -> None:
        """Open and start the input stream."""
        self._attach(ring, counters)
        self._stopping = False
        self._open()
        self._last_progress = now()

    def _open(self) -> None:
        try:
            self._stream = self._sd.InputStream(
                device=self._index,
                samplerate=self.sr,
                blocksize=self.blocksize,
                channels=self.n_channels,
                dtype="float32",
                latency=self.latency,
                callback=self._callback,
            )
            self._stream.start()
        except Exception as e:  # sounddevice.PortAudioError and ValueError for bad settings
            self._stream = None
            raise DeviceError(f"cannot open audio input {self._index} at {self.sr} Hz: {e}") from None

    @realtime
    def _callback(self, indata: npt.NDArray[np.float32], frames: int, time: Any, status: Any) -> None:
        """PortAudio callback. Real-time safe: copy, stamp, count, return."""
        c = self._counters
        ring = self._ring
        if c is None or ring is None:
            return
        flags = status._flags
        if flags:
            c.bump(self._s_xruns)
            if flags & 0x2:  # paInputOverflow
                c.bump(self._s_over)
            if flags & 0x1:  # paInputUnderflow
                c.bump(self._s_under)
        t_first = StreamClock.capture_time(time.currentTime, time.inputBufferAdcTime, frames, self.sr)
        ring.write(indata, t_first)
        c.bump(self._s_callbacks)
        c.bump(self._s_frames, frames)

    def poll(self) -> None:
        """Detect a lost device and try to reopen it every 2 s.

        A stream is lost when PortAudio stops it on its own, or when it claims to run but no
        callback arrived for `stall_s` (a JACK server that died leaves the stream "active").
        """
        c = self._counters
        if self._stopping or c is None:
            return
        t = now()
        s = self._stream
        if s is not None:
            n = c.values[self._s_callbacks]
            if n != self._last_callbacks:
                self._last_callbacks = n
                self._last_progress = t
                return
            if s.active and t - self._last_progress < self.stall_s:
                return
            c.bump(c.slot("device_lost"))
            self._stream = None
            self._abandon(s)
            self._reopen_at = t + 2.0
            return
        if t >= self._reopen_at:
            try:
                self._open()
                c.bump(c.slot("device_reopened"))
                self._last_progress = now()
            except DeviceError:
                self._reopen_at = t + 2.0

    @staticmethod
    def _abandon(stream: Any) -> None:
        """Close a dead stream without letting a hung host API block the caller."""
        closer = threading.Thread(target=stream.close, kwargs={"ignore_errors": True}, daemon=True)
        closer.start()
        closer.join(timeout=1.0)

    def stop(self) -> None:
        """Stop and close the stream."""
        self._stopping = True
        if self._stream is not None:
            self._stream.stop(ignore_errors=True)
            self._stream.close(ignore_errors=True)
            self._stream = None

    @property
    def finished(self) -> bool:
        """A live device never finishes."""
        return False

    @property
    def stream_active(self) -> bool:
        """True while the PortAudio stream runs."""
        return bool(self._stream is not None and self._stream.active)


class _PacedSource(AudioSource):
    """Base for sources that produce blocks on a thread, at real-time pace or flat out."""

    def __init__(self, *, sr: int, blocksize: int, n_channels: int, realtime_pace: bool) -> None:
        super().__init__()
        self.sr = sr
        self.blocksize = blocksize
        self.n_channels = n_channels
        self.realtime_pace = realtime_pace
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = False
        self._block = np.zeros((blocksize, n_channels), dtype=np.float32)
        self.t_start = 0.0

    @abstractmethod
    def _fill(self, out: npt.NDArray[np.float32]) -> int:
        """Fill ``out`` with the next block; return frames of real audio (< blocksize at the end)."""

    def start(self, ring: AudioRing, counters: Counters) -> None:
        """Start the producer thread."""
        self._attach(ring, counters)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lumen-{type(self).__name__}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ring = self._ring
        c = self._counters
        assert ring is not None and c is not None
        block_s = self.blocksize / self.sr
        self.t_start = now()
        n_block = 0
        while not self._stop.is_set():
            n = self._fill(self._block)
            if n <= 0:
                break
            t_first = self.t_start + n_block * block_s
            if self.realtime_pace:
                # A capture device hands a block over when its last frame has arrived.
                t_ready = t_first + block_s
                sleep_until(t_ready)
                if now() - t_ready > block_s:
                    c.bump(self._s_late)
            else:
                # Flat out, but never overrun the reader: wait for room.
                while ring.available() > ring.capacity - 2 * self.blocksize and not self._stop.is_set():
                    self._stop.wait(0.0005)
                t_first = now() - block_s
            ring.write(self._block, t_first)
            c.bump(self._s_callbacks)
            c.bump(self._s_frames, self.blocksize)
            n_block += 1
            if n < self.blocksize:
                break
        self._done = True

    def stop(self) -> None:
        """Stop the producer thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    @property
    def finished(self) -> bool:
        """True once the producer ran out of audio."""
        return self._done


class SignalSource(_PacedSource):
    """Generated music with exactly known beats (see `lumen.audio.music`).

    Parameters
    ----------
    params : MusicParams
        Tempo, swing, key, arrangement, seed...
    seconds : float or None
        Stop after this long; None plays forever (the arrangement loops).
    realtime_pace : bool
        True: one block per block duration, like a sound card. False: as fast as analysis takes it.
    """

    def __init__(
        self,
        params: MusicParams | None = None,
        *,
        sr: int = 48000,
        blocksize: int = 256,
        n_channels: int = 2,
        seconds: float | None = None,
        realtime_pace: bool = True,
    ) -> None:
        super().__init__(sr=sr, blocksize=blocksize, n_channels=n_channels, realtime_pace=realtime_pace)
        self.params = params if params is not None else MusicParams()
        self.generator = MusicGenerator(self.params, sr=sr, n_channels=n_channels)
        self._left: int | None = None if seconds is None else int(round(seconds * sr))

    def _fill(self, out: npt.NDArray[np.float32]) -> int:
        if self._left is not None:
            if self._left <= 0:
                return 0
            n = min(self._left, int(out.shape[0]))
            self._left -= n
        else:
            n = int(out.shape[0])
        self.generator.render(out)
        if n < out.shape[0]:
            out[n:] = 0.0
        return n

    def describe(self) -> str:
        """One line for logs and dashboards."""
        p = self.params
        return f"SignalSource {p.bpm:g} bpm {p.mode}, seed {p.seed}; " + super().describe()


def read_audio_file(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Read a whole audio file as float32 ``(n_frames, n_channels)`` and its sample rate.

    Uses libsndfile (WAV, FLAC, OGG, MP3 with libsndfile >= 1.1); falls back to librosa, if
    installed, for other formats. Raises `DeviceError` (exit code 3) when unreadable.
    """
    p = Path(path)
    if not p.exists():
        raise DeviceError(f"audio file not found: {p}")
    try:
        import soundfile

        data, sr = soundfile.read(str(p), dtype="float32", always_2d=True)
        return np.ascontiguousarray(data), int(sr)
    except Exception as e:  # libsndfile raises its own error types for unknown formats
        first_error = e
    try:
        import librosa  # optional: more formats through audioread/ffmpeg
    except ImportError:
        raise DeviceError(f"cannot read audio file {p}: {first_error}") from None
    try:
        y, sr = librosa.load(str(p), sr=None, mono=False)
    except Exception as e:
        raise DeviceError(f"cannot read audio file {p}: {e}") from None
    y2 = np.atleast_2d(y).T.astype(np.float32)
    return np.ascontiguousarray(y2), int(sr)


class FileSource(_PacedSource):
    """Audio from a file, at real-time pace or as fast as analysis takes it.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile (or librosa, if installed) reads.
    blocksize : int
    n_channels : int or None
        Output channels: the file's by default; otherwise mixed down or duplicated.
    realtime_pace : bool
    loop : bool
        Start over at the end instead of finishing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        blocksize: int = 256,
        n_channels: int | None = None,
        realtime_pace: bool = True,
        loop: bool = False,
    ) -> None:
        data, sr = read_audio_file(path)
        if n_channels is not None and n_channels != data.shape[1]:
            if n_channels == 1:
                data = data.mean(axis=1, keepdims=True, dtype=np.float32)
            else:
                mono = data.mean(axis=1, keepdims=True, dtype=np.float32)
                data = np.repeat(mono, n_channels, axis=1)
        super().__init__(sr=sr, blocksize=blocksize, n_channels=data.shape[1], realtime_pace=realtime_pace)
        self.path = Path(path)
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        self.loop = loop
        self._pos = 0

    @property
    def duration_s(self) -> float:
        """Length of the file in seconds."""
        return float(self.data.shape[0] / self.sr)

    def _fill(self, out: npt.NDArray[np.float32]) -> int:
        n_total = self.data.shape[0]
        need = out.shape[0]
        got = 0
        while got < need:
            if self._pos >= n_total:
                if not self.loop or n_total == 0:
                    break
                self._pos = 0
            k = min(need - got, n_total - self._pos)
            out[got : got + k] = self.data[self._pos : self._pos + k]
            self._pos += k
            got += k
        if got < need:
            out[got:] = 0.0
        return got

    def describe(self) -> str:
        """One line for logs and dashboards."""
        return f"FileSource {self.path.name} ({self.duration_s:.1f} s); " + super().describe()
