"""Write rendered frames to files: PNG frames, an animated GIF, or an MP4 with the audio muxed in.

Layer: render (knows no sockets; runs the ffmpeg command line for MP4). Threads: whichever
thread renders (the offline renderer's main thread); a writer is not shared between threads.

Frames come in as lumen frames (``(height, width, 3)`` float32, linear RGB, row 0 at the top)
and are stored as 8-bit sRGB (the sRGB transfer curve is applied, so files look on a monitor
as the light looks on the wall; pass ``srgb=False`` for raw linear values). Conversion is
deterministic: the same frames give the same PNG and GIF bytes.

- ``.png`` (or a path with no suffix): a folder of ``frame_000000.png`` ... files.
- ``.gif``: an animated GIF, written when the writer closes (frames are kept in memory, so
  keep GIFs short; the frame time is rounded to 10 ms, the GIF clock).
- ``.mp4``: H.264 (libx264, yuv420p, odd sizes padded to even) through the ``ffmpeg`` command
  line, with an audio file muxed in as AAC when given (the video and audio start together; the
  output ends with the shorter of the two).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Final, Protocol

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError

__all__ = ["FORMATS", "FrameWriter", "GifWriter", "Mp4Writer", "PngFramesWriter", "check_output_path", "open_writer", "to_srgb8"]

#: File formats by suffix.
FORMATS: Final[tuple[str, ...]] = ("mp4", "gif", "png")


def to_srgb8(frame: npt.NDArray[np.float32], out: npt.NDArray[np.uint8] | None = None, *, srgb: bool = True) -> npt.NDArray[np.uint8]:
    """Quantize a linear float frame to 8 bits, with the sRGB transfer curve when ``srgb``.

    Parameters
    ----------
    frame : ndarray, shape (height, width, 3), float32, linear 0..1 (clipped)
    out : ndarray, shape (height, width, 3), uint8, optional
    srgb : bool

    Examples
    --------
    >>> to_srgb8(np.array([[[0.0, 0.2140, 1.0]]], dtype=np.float32)).tolist()
    [[[0, 127, 255]]]
    >>> to_srgb8(np.array([[[0.5, np.nan, 2.0]]], dtype=np.float32), srgb=False).tolist()
    [[[128, 0, 255]]]
    """
    x = np.nan_to_num(frame, nan=0.0, posinf=1.0, neginf=0.0)
    x = np.clip(x, 0.0, 1.0)
    if srgb:
        x = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)
    q = np.rint(x * 255.0)
    if out is None:
        res: npt.NDArray[np.uint8] = q.astype(np.uint8)
        return res
    np.copyto(out, q, casting="unsafe")
    return out


class FrameWriter(Protocol):
    """What the offline renderer writes frames to."""

    def write(self, frame: npt.NDArray[np.float32]) -> None:
        """Append one frame ``(height, width, 3)`` float32 linear RGB."""

    def close(self) -> None:
        """Finish the file (idempotent)."""


class PngFramesWriter:
    """A folder of numbered PNG files (``frame_000000.png``, ...).

    Parameters
    ----------
    folder : Path
        Created if missing.
    srgb : bool
        Apply the sRGB curve (see `to_srgb8`).
    """

    def __init__(self, folder: Path, *, srgb: bool = True) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.srgb = srgb
        self.n_frames = 0

    def write(self, frame: npt.NDArray[np.float32]) -> None:
        """Write the next PNG."""
        from PIL import Image

        Image.fromarray(to_srgb8(frame, srgb=self.srgb)).save(self.folder / f"frame_{self.n_frames:06d}.png", optimize=False)
        self.n_frames += 1

    def close(self) -> None:
        """Nothing to finish."""


class GifWriter:
    """An animated GIF, written on `close`.

    Parameters
    ----------
    path : Path
    fps : float, frames/s
    srgb : bool
    """

    def __init__(self, path: Path, fps: float, *, srgb: bool = True) -> None:
        self.path = Path(path)
        self.fps = fps
        self.srgb = srgb
        self.frames: list[npt.NDArray[np.uint8]] = []
        self._closed = False

    def write(self, frame: npt.NDArray[np.float32]) -> None:
        """Keep the frame (quantized) for the GIF."""
        self.frames.append(to_srgb8(frame, srgb=self.srgb))

    def close(self) -> None:
        """Encode and write the GIF."""
        if self._closed or not self.frames:
            self._closed = True
            return
        from PIL import Image

        imgs = [Image.fromarray(f) for f in self.frames]
        duration_ms = max(10, int(round(100.0 / self.fps)) * 10)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        imgs[0].save(self.path, save_all=True, append_images=imgs[1:], duration=duration_ms, loop=0)
        self._closed = True
        self.frames = []


class Mp4Writer:
    """An H.264 MP4 through the ``ffmpeg`` command line, audio muxed in.

    Parameters
    ----------
    path : Path
    fps : float, frames/s
    width, height : int, pixels
    audio : Path, optional
        Audio file muxed in as AAC.
    srgb : bool
    crf : int
        x264 quality, 0 (lossless) .. 51; 18 looks lossless.

    Raises
    ------
    OutputError
        ``ffmpeg`` is not installed or cannot start.
    """

    def __init__(self, path: Path, fps: float, width: int, height: int, *, audio: Path | None = None, srgb: bool = True, crf: int = 18) -> None:
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise OutputError("ffmpeg is not installed (Debian: apt install ffmpeg); it is needed to write MP4")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.srgb = srgb
        self._buf = np.zeros((height, width, 3), dtype=np.uint8)
        cmd = [exe, "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", f"{fps:.6g}", "-i", "pipe:0"]  # fmt: skip
        if audio is not None:
            cmd += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "192k", "-shortest"]
        cmd += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
                "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(self.path)]  # fmt: skip
        self._log: IO[bytes] = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log)
        except OSError as e:
            self._log.close()
            raise OutputError(f"cannot start ffmpeg: {e}") from e
        self.n_frames = 0
        self._closed = False

    def write(self, frame: npt.NDArray[np.float32]) -> None:
        """Send one frame to ffmpeg."""
        to_srgb8(frame, self._buf, srgb=self.srgb)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(self._buf.tobytes())
        except BrokenPipeError:
            self._closed = True
            raise OutputError(f"ffmpeg stopped while writing {self.path}: {self._error()}") from None
        self.n_frames += 1

    def _error(self) -> str:
        self._proc.wait()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace").strip() or f"exit code {self._proc.returncode}"

    def close(self) -> None:
        """Finish the file and wait for ffmpeg.

        Raises
        ------
        OutputError
            ffmpeg failed (its message is included).
        """
        if self._closed:
            return
        self._closed = True
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        code = self._proc.wait()
        msg = self._error() if code != 0 else ""
        self._log.close()
        if code != 0:
            raise OutputError(f"ffmpeg failed writing {self.path}: {msg}")


def check_output_path(path: Path) -> None:
    """Raise `OutputError` now if `open_writer` would refuse ``path`` (unknown suffix, no ffmpeg)."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("mp4", "gif", "png", ""):
        raise OutputError(f"cannot write {path.name!r}: use a .mp4, .gif or .png name (PNG frames go in a folder)")
    if suffix == "mp4" and shutil.which("ffmpeg") is None:
        raise OutputError("ffmpeg is not installed (Debian: apt install ffmpeg); it is needed to write MP4")


def open_writer(path: Path, fps: float, width: int, height: int, *, audio: Path | None = None, srgb: bool = True) -> FrameWriter:
    """A writer for ``path`` chosen by its suffix (see the module docstring).

    Raises
    ------
    OutputError
        Unknown suffix, or ffmpeg missing for MP4.
    """
    suffix = path.suffix.lower().lstrip(".")
    if suffix == "mp4":
        return Mp4Writer(path, fps, width, height, audio=audio, srgb=srgb)
    if suffix == "gif":
        return GifWriter(path, fps, srgb=srgb)
    if suffix in ("png", ""):
        return PngFramesWriter(path.with_suffix("") if suffix else path, srgb=srgb)
    raise OutputError(f"cannot write {path.name!r}: use a .mp4, .gif or .png name (PNG frames go in a folder)")
