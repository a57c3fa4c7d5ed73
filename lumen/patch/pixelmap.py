"""Pixel maps: where each LED of a wall sits in the frame, and where its bytes go in DMX.

Layer: patch. Threads: the frame thread (maps are built once, applied every frame).

A `MatrixMap` walks a rectangular LED wall in wiring order (from an origin corner, by rows
or columns, optionally serpentine), samples the rendered frame at each LED, applies
brightness and gamma, and writes the color bytes into universes of 512 slots. By default a
pixel never straddles two universes: 170 RGB pixels per universe (510 slots, 2 unused).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Origin = Literal["top_left", "top_right", "bottom_left", "bottom_right"]
Order = Literal["rows", "columns"]

#: Index of R, G and B in the wire order for each supported color order.
COLOR_ORDERS: dict[str, tuple[int, int, int]] = {
    "RGB": (0, 1, 2),
    "RBG": (0, 2, 1),
    "GRB": (1, 0, 2),
    "GBR": (1, 2, 0),
    "BRG": (2, 0, 1),
    "BGR": (2, 1, 0),
}


def wiring_order(
    width: int, height: int, *, origin: Origin = "top_left", serpentine: bool = True, order: Order = "rows"
) -> npt.NDArray[np.int64]:
    """Wall coordinates of each LED in the order the data line reaches them.

    Returns
    -------
    ndarray, shape (width * height, 2), int64
        ``(row, col)`` of LED ``k``, row 0 at the top of the wall.

    Examples
    --------
    >>> wiring_order(3, 2).tolist()
    [[0, 0], [0, 1], [0, 2], [1, 2], [1, 1], [1, 0]]
    >>> wiring_order(2, 2, origin="bottom_left", serpentine=False).tolist()
    [[1, 0], [1, 1], [0, 0], [0, 1]]
    """
    if width < 1 or height < 1:
        raise ValueError("a wall needs width >= 1 and height >= 1")
    runs, run_len = (height, width) if order == "rows" else (width, height)
    coords = np.zeros((width * height, 2), dtype=np.int64)
    k = 0
    for r in range(runs):
        idx = np.arange(run_len)
        if serpentine and r % 2 == 1:
            idx = idx[::-1]
        if order == "rows":
            coords[k : k + run_len, 0] = r
            coords[k : k + run_len, 1] = idx
        else:
            coords[k : k + run_len, 0] = idx
            coords[k : k + run_len, 1] = r
        k += run_len
    if origin in ("bottom_left", "bottom_right"):
        coords[:, 0] = height - 1 - coords[:, 0]
    if origin in ("top_right", "bottom_right"):
        coords[:, 1] = width - 1 - coords[:, 1]
    return coords


class MatrixMap:
    """An LED matrix patched onto consecutive universes.

    Parameters
    ----------
    width, height : int
        LEDs across and down.
    origin, serpentine, order
        Wiring, see `wiring_order`.
    color_order : str
        Byte order on the wire, e.g. "RGB" or "GRB".
    pixels_per_universe : int
        LEDs per universe (170 RGB: no pixel split across universes).

    Attributes
    ----------
    n_universes : int
        Universes the wall needs.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        origin: Origin = "top_left",
        serpentine: bool = True,
        order: Order = "rows",
        color_order: str = "RGB",
        pixels_per_universe: int = 170,
    ) -> None:
        if not 1 <= pixels_per_universe <= 170:
            raise ValueError("pixels_per_universe must be 1..170 for 3-byte pixels")
        if color_order not in COLOR_ORDERS:
            raise ValueError(f"unknown color order {color_order!r}; known: {', '.join(COLOR_ORDERS)}")
        self.width = width
        self.height = height
        self.coords = wiring_order(width, height, origin=origin, serpentine=serpentine, order=order)
        self.n_pixels = width * height
        self.pixels_per_universe = pixels_per_universe
        self.n_universes = -(-self.n_pixels // pixels_per_universe)
        k = np.arange(self.n_pixels)
        base = (k // pixels_per_universe) * 512 + (k % pixels_per_universe) * 3
        perm = COLOR_ORDERS[color_order]
        # dmx_index[k, c] = flat DMX slot receiving color channel c (R, G, B) of LED k.
        self.dmx_index = np.zeros((self.n_pixels, 3), dtype=np.int64)
        for c in range(3):
            self.dmx_index[:, c] = base + perm.index(c)
        self._frame_shape: tuple[int, int] = (0, 0)
        self._vals = np.zeros((self.n_pixels, 3), dtype=np.float32)
        self._bytes = np.zeros((self.n_pixels, 3), dtype=np.uint8)
        self._flat_dmx_index = self.dmx_index.reshape(-1)

    def new_dmx(self) -> npt.NDArray[np.uint8]:
        """A zeroed DMX buffer for this map, shape ``(n_universes, 512)``."""
        return np.zeros((self.n_universes, 512), dtype=np.uint8)

    def _prepare(self, fh: int, fw: int) -> None:
        # Sample the frame at LED centers (nearest texel), so any render size maps onto the wall.
        rows = ((self.coords[:, 0] + 0.5) * fh / self.height).astype(np.int64)
        cols = ((self.coords[:, 1] + 0.5) * fw / self.width).astype(np.int64)
        self._src = np.clip(rows, 0, fh - 1) * fw + np.clip(cols, 0, fw - 1)
        self._frame_shape = (fh, fw)

    def apply(
        self,
        frame: npt.NDArray[np.float32],
        dmx: npt.NDArray[np.uint8],
        *,
        brightness: float = 1.0,
        gamma: float = 1.0,
    ) -> None:
        """Sample ``frame`` at every LED and write the bytes into ``dmx``.

        Parameters
        ----------
        frame : ndarray, shape (H, W, 3), float32, linear 0..1
            Row 0 is the top of the image.
        dmx : ndarray, shape (n_universes, 512), uint8
            Written in place; slots not used by the wall are left as they are.
        brightness : float, 0..1
            Scale before gamma (an output cap).
        gamma : float, 1..3
            Applied as ``v ** gamma`` (LED drivers are linear; 1.0 leaves values alone).
        """
        fh, fw = frame.shape[0], frame.shape[1]
        if (fh, fw) != self._frame_shape:
            self._prepare(fh, fw)
        np.take(frame.reshape(-1, 3), self._src, axis=0, out=self._vals)
        v = self._vals
        np.clip(v, 0.0, 1.0, out=v)
        if brightness != 1.0:
            np.multiply(v, brightness, out=v)
        if gamma != 1.0:
            np.power(v, gamma, out=v)
        np.multiply(v, 255.0, out=v)
        np.rint(v, out=v)
        np.copyto(self._bytes, v, casting="unsafe")
        dmx.reshape(-1)[self._flat_dmx_index] = self._bytes.reshape(-1)
