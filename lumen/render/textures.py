"""Textures shaders read: lumen's audio textures, IMPORTED images, and a black fallback.

Layer: render. Threads: the frame thread only (every function here makes GL calls on the
context of the calling thread).

- `AudioTextures` holds the two float textures every program may sample: ``spectrum``
  (`lumen.features.SPECTRUM_BINS` x 1, 0..1, low to high frequency) and ``waveform``
  (`lumen.features.WAVE_SAMPLES` x 1, -1..1, oldest sample first), plus ``waveform_isf``, the
  same waveform as ISF ``audio`` inputs expect it (0..1, silence at 0.5). They are
  one-channel float textures read back as ``(v, v, v, 1)`` (swizzle ``RRR1``), so ``.r`` and
  ``.rgb`` both work, as in ISF hosts.
- `load_image` loads an ISF ``IMPORTED`` image (PNG, JPEG, anything Pillow reads) as an RGBA8
  texture, rows flipped so ISF's bottom-left origin matches GL's.
- `black_texture` makes the 1x1 transparent black texture bound in place of a missing input.

Every texture here samples with linear filtering and clamps to the edge.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

import moderngl
import numpy as np
import numpy.typing as npt

from lumen.errors import ShaderError
from lumen.features import SPECTRUM_BINS, WAVE_SAMPLES

__all__ = ["AudioTextures", "black_texture", "configure_texture", "load_image"]

#: Largest IMPORTED image side accepted, in pixels (a bigger file is an error, not a stall).
MAX_IMAGE_SIZE: Final[int] = 8192


def configure_texture(texture: moderngl.Texture) -> moderngl.Texture:
    """Set lumen's sampling on ``texture`` (linear filtering, clamp to edge) and return it."""
    texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
    texture.repeat_x = False
    texture.repeat_y = False
    return texture


def black_texture(ctx: moderngl.Context) -> moderngl.Texture:
    """A new 1x1 RGBA8 texture holding transparent black ``(0, 0, 0, 0)``; the caller owns it."""
    return configure_texture(ctx.texture((1, 1), 4, bytes(4), dtype="f1"))


def load_image(
    ctx: moderngl.Context, path: str | os.PathLike[str], *, source: str | None = None, line: int = 0
) -> moderngl.Texture:
    """Load an image file into an RGBA8 texture for an ISF ``IMPORTED`` entry.

    Pixel values are uploaded as stored (no color-space conversion), rows flipped so that
    texture coordinate (0, 0) is the image's bottom-left corner, as in ISF.

    Parameters
    ----------
    ctx : moderngl.Context
    path : str or os.PathLike
        The image file (PNG, JPEG, ... anything Pillow opens).
    source : str, optional
        The shader file that imports it, named in errors (default: ``path``).
    line : int
        File line of the IMPORTED entry in ``source``, for errors.

    Returns
    -------
    moderngl.Texture
        RGBA8, the image's size; the caller owns (and releases) it.

    Raises
    ------
    lumen.errors.ShaderError
        The file is missing, unreadable, not an image, or larger than `MAX_IMAGE_SIZE`.
    """
    from PIL import Image, UnidentifiedImageError  # Pillow is only needed when a shader imports images

    where = source if source is not None else str(path)
    try:
        with Image.open(path) as img:
            if max(img.size) > MAX_IMAGE_SIZE:
                raise ValueError(f"{img.size[0]}x{img.size[1]} is larger than {MAX_IMAGE_SIZE} pixels")
            rgba = img.convert("RGBA").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
            size = rgba.size
            data = rgba.tobytes()
    except FileNotFoundError as exc:
        raise ShaderError(where, line, f"IMPORTED image not found: {path}") from exc
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise ShaderError(where, line, f"IMPORTED image {path} cannot be read: {exc}") from exc
    return configure_texture(ctx.texture(size, 4, data, dtype="f1"))


class AudioTextures:
    """lumen's audio textures, updated once per frame from the latest `Features`.

    Parameters
    ----------
    ctx : moderngl.Context
        The GL context, in this (the frame) thread.

    Attributes
    ----------
    spectrum : moderngl.Texture
        `SPECTRUM_BINS` x 1, R32F (sampled as ``(v, v, v, 1)``), 0..1, low to high frequency.
    waveform : moderngl.Texture
        `WAVE_SAMPLES` x 1, R32F, -1..1 stored as is, oldest sample first.
    waveform_isf : moderngl.Texture
        The waveform as ISF ``audio`` inputs expect it: ``0.5 + 0.5 * wave`` (0..1).
    n_nonfinite : int
        NaN/Inf values replaced by 0 so far.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.n_nonfinite = 0
        self._spectrum: npt.NDArray[np.float32] = np.zeros(SPECTRUM_BINS, dtype=np.float32)
        self._wave: npt.NDArray[np.float32] = np.zeros(WAVE_SAMPLES, dtype=np.float32)
        self._wave_isf: npt.NDArray[np.float32] = np.full(WAVE_SAMPLES, 0.5, dtype=np.float32)
        self._bad_spectrum: npt.NDArray[np.bool_] = np.zeros(SPECTRUM_BINS, dtype=np.bool_)
        self._bad_wave: npt.NDArray[np.bool_] = np.zeros(WAVE_SAMPLES, dtype=np.bool_)
        self.spectrum = self._texture(self._spectrum)
        self.waveform = self._texture(self._wave)
        self.waveform_isf = self._texture(self._wave_isf)

    def _texture(self, data: npt.NDArray[np.float32]) -> moderngl.Texture:
        tex = configure_texture(self.ctx.texture((data.shape[0], 1), 1, data, dtype="f4"))
        tex.swizzle = "RRR1"
        return tex

    def update(self, spectrum: Sequence[float], wave: Sequence[float]) -> None:
        """Upload this frame's spectrum and waveform.

        Values are copied into preallocated float32 buffers (sequences shorter than the texture
        are padded with 0, longer ones truncated); NaN and Inf become 0 and are counted in
        `n_nonfinite`. Nothing larger than numpy's per-call scratch is allocated.

        Parameters
        ----------
        spectrum : sequence of float, 0..1
            `SPECTRUM_BINS` values, low to high frequency (``Features.spectrum``).
        wave : sequence of float, -1..1
            `WAVE_SAMPLES` values, oldest first (``Features.wave``).
        """
        self._fill(self._spectrum, self._bad_spectrum, spectrum)
        self._fill(self._wave, self._bad_wave, wave)
        np.multiply(self._wave, 0.5, out=self._wave_isf)
        self._wave_isf += 0.5
        self.spectrum.write(self._spectrum)
        self.waveform.write(self._wave)
        self.waveform_isf.write(self._wave_isf)

    def _fill(self, buf: npt.NDArray[np.float32], bad: npt.NDArray[np.bool_], values: Sequence[float]) -> None:
        n = len(values)
        if n == buf.shape[0]:
            buf[:] = values
        else:
            k = min(n, buf.shape[0])
            buf[:k] = values[:k]
            buf[k:] = 0.0
        np.isfinite(buf, out=bad)
        np.logical_not(bad, out=bad)
        if bad.any():
            self.n_nonfinite += int(np.count_nonzero(bad))
            np.copyto(buf, 0.0, where=bad)

    def release(self) -> None:
        """Release the textures."""
        self.spectrum.release()
        self.waveform.release()
        self.waveform_isf.release()
