"""Pixel maps: where each LED sits in the frame, and where its bytes go in DMX.

Layer: patch. Threads: the frame thread (maps are built once, on any thread, and applied every
frame on the frame thread; one map must not be applied from two threads at once).

Every map is a `PixelMap`: a list of sample positions in scene coordinates (``x`` 0..1 left to
right, ``y`` 0..1 top to bottom, as the rendered frame) plus, for each LED, the DMX slots that
receive its color bytes. Both are computed once; `PixelMap.apply` then does a fixed sequence of
vectorized steps per frame on preallocated buffers:

1. **sample** the frame at each LED: the nearest texel, or the mean of a box of texels around
   it (``sampling="area"``), as a gather of precomputed flat indices (per texel tap, or from a
   box-blurred copy of the frame when that is cheaper);
2. **white** extraction for RGBW pixels (``W = min(R, G, B)``, see `WhiteMode`);
3. **scale** by brightness, brightness cap and per-channel white balance (linear, before gamma);
4. **gamma** through a 65536-entry lookup table (``byte = round(255 * v ** gamma)``);
5. **current limit**: the frame's estimated supply current, and a uniform scale-down when it
   exceeds the budget;
6. **write** the bytes into the universes as a few slice copies (one scatter for maps whose
   addresses do not form regular runs).

Three maps are provided: `MatrixMap` (rectangular walls, tiled panels, rotation, flips),
`StripMap` (LED strips along polylines) and `PointMap` (arbitrary points, e.g. from CSV).

Universe packing
----------------
Pixels are numbered in wiring order and packed from ``start_universe``/``start_address``
(1-based DMX address; following universes start at address 1). By default a pixel never
straddles two universes: 170 RGB or 128 RGBW pixels per universe, so an RGB universe carries
510 slots and leaves 511-512 unused. ``split_pixels=True`` packs the byte stream densely over
``slots_per_universe`` slots (512 by default; 510 for controllers that expect 170-pixel
universes even when splitting). The DMX buffer has one row per universe from the first to the
last one used (`PixelMap.universes`); slots no pixel uses are never written.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np
import numpy.typing as npt
from typing_extensions import Unpack

from lumen.errors import ConfigError, ConfigIssue

Origin = Literal["top_left", "top_right", "bottom_left", "bottom_right"]
Order = Literal["rows", "columns"]
Rotation = Literal[0, 90, 180, 270]
#: How an RGBW pixel's white channel is made from the frame's RGB.
#: ``"subtract"``: ``W = min(R, G, B)`` and that is taken out of R, G and B (same color, white
#: LED does the common part; the default). ``"add"``: ``W = min(R, G, B)``, R, G, B unchanged
#: (brighter, less accurate). ``"off"``: W stays 0.
WhiteMode = Literal["subtract", "add", "off"]
Sampling = Literal["nearest", "area"]
AreaMethod = Literal["auto", "taps", "blur"]

#: Index of the source color channel (R=0, G=1, B=2) at each wire position, per 3-byte order.
COLOR_ORDERS: dict[str, tuple[int, int, int]] = {
    "RGB": (0, 1, 2),
    "RBG": (0, 2, 1),
    "GRB": (1, 0, 2),
    "GBR": (1, 2, 0),
    "BRG": (2, 0, 1),
    "BGR": (2, 1, 0),
}
#: Same for 4-byte orders (W=3): every arrangement of R, G, B and W ("RGBW", "GRBW", "WRGB", ...).
COLOR_ORDERS_4: dict[str, tuple[int, int, int, int]] = {
    "".join(p): tuple("RGBW".index(ch) for ch in p)  # type: ignore[misc]
    for p in itertools.permutations("RGBW")
}

#: Number of entries of the gamma lookup table (input resolution of the output stage).
LUT_SIZE = 65536
#: Largest valid DMX universe number (sACN allows 1..63999, Art-Net 0..32767).
MAX_UNIVERSE = 63999
# Tolerance when flooring sample positions to texels: a position exactly on a texel edge
# (e.g. an LED center at 0.5 of an even-sized frame) must not flip with float rounding.
_EDGE_EPS = 1e-6
# Above this many slice copies per frame, one fancy-index scatter is faster.
_MAX_COPY_OPS = 32


def channel_order(color_order: str) -> tuple[int, ...]:
    """Source channel (R=0, G=1, B=2, W=3) at each wire position of ``color_order``.

    Examples
    --------
    >>> channel_order("GRB")
    (1, 0, 2)
    >>> channel_order("WRGB")
    (3, 0, 1, 2)
    """
    key = color_order.upper()
    if key in COLOR_ORDERS:
        return COLOR_ORDERS[key]
    if key in COLOR_ORDERS_4:
        return COLOR_ORDERS_4[key]
    raise ValueError(
        f"unknown color order {color_order!r}; known: any arrangement of RGB (e.g. RGB, GRB, BRG) or RGBW (e.g. RGBW, GRBW)"
    )


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


class MapOptions(TypedDict, total=False):
    """Keyword options shared by every pixel map (see `PixelMap` for their meaning)."""

    color_order: str
    start_universe: int
    start_address: int
    split_pixels: bool
    slots_per_universe: int | None
    pixels_per_universe: int | None
    white_mode: WhiteMode
    white_balance: Sequence[float] | None
    brightness_cap: float
    current_ma_per_channel: float | Sequence[float]
    current_budget_a: float | None
    sampling: Sampling
    area_radius_px: int
    area_method: AreaMethod


@dataclass(frozen=True, slots=True)
class _Copy:
    """One per-frame slice copy: ``dmx[row0:row0+n_rows, col0:col0+length] = bytes[src0:...]``."""

    row0: int
    col0: int
    n_rows: int
    length: int
    src0: int


class PixelMap:
    """Sample positions of LEDs in the frame, and the DMX slots their bytes go to.

    Subclasses compute the positions and the wiring order; this class does the universe
    packing and the per-frame work (see the module docstring).

    Parameters
    ----------
    positions : array_like, shape (n_pixels, 2), float, 0..1
        ``(x, y)`` of each LED in scene coordinates (y down), in wiring order.
    chains : sequence of (n, universe or None, address or None)
        Consecutive runs of pixels (in ``positions`` order, together covering all of them) and
        where each starts; ``None`` continues right after the previous run.
    slots : array_like, shape (n_pixels,), int, optional
        Explicit start slot per pixel instead of ``chains``: ``universe * 512 + address - 1``.
    color_order : str
        Byte order on the wire: an arrangement of "RGB" (3-byte pixels) or "RGBW" (4-byte).
    start_universe : int, 0..63999
        Universe of the first pixel.
    start_address : int, 1..512
        DMX address (1-based) of the first pixel's first byte in ``start_universe``.
    split_pixels : bool
        Pack bytes densely so a pixel may straddle two universes (default: never).
    slots_per_universe : int or None, 1..512
        Slots used per universe (the 510/512 policy). ``None``: 512 when splitting, else the
        most whole pixels fit (510 for RGB, 512 for RGBW).
    pixels_per_universe : int or None
        At most this many pixels per universe (no splitting); ``None``: as many as fit.
    white_mode : {"subtract", "add", "off"}
        How RGBW pixels get their white channel, see `WhiteMode`.
    white_balance : sequence of 3 or 4 float, 0..4, optional
        Linear gain per channel (R, G, B and, for RGBW, W), applied before gamma.
    brightness_cap : float, 0..1
        This output never exceeds this fraction of full; ``brightness`` scales within it.
    current_ma_per_channel : float or sequence of 3 or 4 float, mA
        Supply current of one LED channel at full (WS2812-class: about 20 mA).
    current_budget_a : float or None, A
        When the frame's estimated current exceeds this, every byte is scaled down by the same
        factor so it fits (`current_scale` reports the factor). ``None``: no limit.
    sampling : {"nearest", "area"}
        Nearest texel, or the mean of the ``(2 r + 1)**2`` texels around it (edges clamped).
    area_radius_px : int, 0..32
        ``r`` of the area box, in texels of the frame.
    area_method : {"auto", "taps", "blur"}
        How area sampling is done: one gather per texel of the box (cheap for few LEDs on a big
        frame), or a separable box blur of the whole frame then one gather (cheap for dense
        maps). ``"auto"`` picks the cheaper for the frame size. Results are identical.

    Attributes
    ----------
    n_pixels : int
    n_channels : int
        Bytes per pixel, 3 or 4.
    positions : ndarray, shape (n_pixels, 2), float64
    dmx_index : ndarray, shape (n_pixels, n_channels), int64
        Flat index into the ``(n_universes, 512)`` buffer of each pixel's R, G, B (, W) byte.
    universes : tuple of int
        Universe number of each row of the DMX buffer (consecutive).
    n_universes : int
    current_a : float, A
        Estimated supply current of the last applied frame, before limiting.
    current_scale : float, 0..1
        Factor the last frame was scaled by to fit the current budget (1.0 when it fit).
    """

    def __init__(
        self,
        positions: npt.ArrayLike,
        chains: Sequence[tuple[int, int | None, int | None]] | None = None,
        *,
        slots: npt.ArrayLike | None = None,
        color_order: str = "RGB",
        start_universe: int = 1,
        start_address: int = 1,
        split_pixels: bool = False,
        slots_per_universe: int | None = None,
        pixels_per_universe: int | None = None,
        white_mode: WhiteMode = "subtract",
        white_balance: Sequence[float] | None = None,
        brightness_cap: float = 1.0,
        current_ma_per_channel: float | Sequence[float] = 20.0,
        current_budget_a: float | None = None,
        sampling: Sampling = "nearest",
        area_radius_px: int = 1,
        area_method: AreaMethod = "auto",
    ) -> None:
        pos = np.array(positions, dtype=np.float64).reshape(-1, 2)
        if pos.shape[0] < 1:
            raise ValueError("a pixel map needs at least one pixel")
        if not np.all(np.isfinite(pos)) or pos.min() < 0.0 or pos.max() > 1.0:
            raise ValueError("pixel positions must be finite and within 0..1 (scene coordinates)")
        self.positions = pos
        self.n_pixels = int(pos.shape[0])
        self.color_order = color_order.upper()
        self.wire_order = channel_order(color_order)
        c = self.n_channels = len(self.wire_order)
        if not 0 <= start_universe <= MAX_UNIVERSE:
            raise ValueError(f"start_universe must be 0..{MAX_UNIVERSE}")
        if not 1 <= start_address <= 512:
            raise ValueError("start_address must be 1..512 (1-based DMX address)")
        if slots_per_universe is None:
            slots_per_universe = 512 if split_pixels else (512 // c) * c
        if not c <= slots_per_universe <= 512:
            raise ValueError(f"slots_per_universe must be {c}..512")
        if split_pixels and pixels_per_universe is not None:
            raise ValueError("pixels_per_universe applies only when pixels are not split (split_pixels=False)")
        max_ppu = slots_per_universe // c
        if pixels_per_universe is None:
            pixels_per_universe = max_ppu
        if not 1 <= pixels_per_universe <= max_ppu:
            raise ValueError(f"pixels_per_universe must be 1..{max_ppu} for {c}-byte pixels in {slots_per_universe} slots")
        if white_mode not in ("subtract", "add", "off"):
            raise ValueError(f"unknown white_mode {white_mode!r}; known: subtract, add, off")
        if not 0.0 <= brightness_cap <= 1.0:
            raise ValueError("brightness_cap must be 0..1")
        if sampling not in ("nearest", "area"):
            raise ValueError(f"unknown sampling {sampling!r}; known: nearest, area")
        if area_method not in ("auto", "taps", "blur"):
            raise ValueError(f"unknown area_method {area_method!r}; known: auto, taps, blur")
        if not 0 <= area_radius_px <= 32:
            raise ValueError("area_radius_px must be 0..32")
        self.start_universe = start_universe
        self.start_address = start_address
        self.split_pixels = split_pixels
        self.slots_per_universe = slots_per_universe
        self.pixels_per_universe = pixels_per_universe
        self.white_mode: WhiteMode = white_mode
        self.brightness_cap = float(brightness_cap)
        self.sampling: Sampling = sampling
        self.area_radius_px = area_radius_px if sampling == "area" else 0
        self.area_method: AreaMethod = area_method
        self.white_balance = self._per_channel(white_balance if white_balance is not None else 1.0, "white_balance")
        if np.any(self.white_balance < 0.0) or np.any(self.white_balance > 4.0):
            raise ValueError("white_balance gains must be 0..4")
        self.current_ma_per_channel = self._per_channel(current_ma_per_channel, "current_ma_per_channel")
        if np.any(self.current_ma_per_channel < 0.0):
            raise ValueError("current_ma_per_channel must be >= 0")
        if current_budget_a is not None and current_budget_a <= 0.0:
            raise ValueError("current_budget_a must be > 0 (or None for no limit)")
        self.current_budget_a = current_budget_a
        self.current_a = 0.0
        self.current_scale = 1.0

        # Flat "universe * 512 + slot" of every byte in stream (wire) order, then rows.
        if slots is not None:
            starts = np.asarray(slots, dtype=np.int64).reshape(-1)
            if starts.shape[0] != self.n_pixels:
                raise ValueError("slots needs one start slot per pixel")
            stream = (starts[:, None] + np.arange(c)).reshape(-1)
            if np.any(stream % 512 < starts.repeat(c) % 512):
                raise ValueError("an explicitly addressed pixel does not fit in its universe")
        else:
            stream = self._pack(chains if chains is not None else [(self.n_pixels, None, None)])
        univ = stream // 512
        if univ.min() < 0 or univ.max() > MAX_UNIVERSE:
            raise ValueError(f"the map runs past universe {MAX_UNIVERSE}")
        first = int(univ.min())
        self.universes: tuple[int, ...] = tuple(range(first, int(univ.max()) + 1))
        self.n_universes = len(self.universes)
        flat = stream - first * 512
        if np.unique(flat).size != flat.size:
            raise ValueError("two pixels of the map share DMX slots (overlapping addresses)")
        self._stream_index = flat
        wire = flat.reshape(self.n_pixels, c)
        self.dmx_index = np.zeros((self.n_pixels, c), dtype=np.int64)
        for j, ch in enumerate(self.wire_order):
            self.dmx_index[:, ch] = wire[:, j]
        self._copies = self._plan_copies(flat)

        n = self.n_pixels * c
        self._f = np.zeros(n, dtype=np.float32)
        self._tmp = np.zeros(n if c == 3 else self.n_pixels * 3, dtype=np.float32)
        self._idx = np.zeros(n, dtype=np.intp)
        self._bytes = np.zeros(n, dtype=np.uint8)
        if c == 4:
            self._rgb = self._tmp.reshape(self.n_pixels, 3)  # a view: RGB samples, pixel-major
            self._w = np.zeros(self.n_pixels, dtype=np.float32)
        # Per-byte gains (white balance, in wire order), used only when they differ by channel.
        wb_wire = self.white_balance[list(self.wire_order)]
        self._uniform_wb = bool(np.all(wb_wire == wb_wire[0]))
        self._gain_base = np.tile(wb_wire.astype(np.float32), self.n_pixels)
        self._gain = self._gain_base.copy()
        self._gain_key = math.nan
        ma_wire = self.current_ma_per_channel[list(self.wire_order)]
        self._uniform_ma = bool(np.all(ma_wire == ma_wire[0]))
        self._ma_wire = ma_wire
        self._lut = np.zeros(LUT_SIZE, dtype=np.uint8)
        self._lut_gamma = math.nan
        self._frame_shape: tuple[int, int] = (0, 0)
        self._method: Literal["nearest", "taps", "blur"] = "nearest"

    # ------------------------------------------------------------------ construction helpers

    def _per_channel(self, value: float | Sequence[float], name: str) -> npt.NDArray[np.float64]:
        """Expand a scalar or a per-channel sequence to (R, G, B, W) gains."""
        if isinstance(value, (int, float)):
            return np.full(4, float(value))
        vals = [float(v) for v in value]
        if len(vals) == 3 and self.n_channels == 3:
            return np.array([*vals, 0.0])
        if len(vals) == 4:
            return np.array(vals)
        raise ValueError(f"{name} needs {self.n_channels} values (R, G, B{', W' if self.n_channels == 4 else ''})")

    def _pack(self, chains: Sequence[tuple[int, int | None, int | None]]) -> npt.NDArray[np.int64]:
        """Flat slot (``universe * 512 + slot``) of every byte, in stream order."""
        c, spu, ppu = self.n_channels, self.slots_per_universe, self.pixels_per_universe
        out: list[npt.NDArray[np.int64]] = []
        u, s, count = self.start_universe, self.start_address - 1, 0  # count: pixels in universe u
        total = 0
        for n, universe, address in chains:
            if universe is not None:
                u, s, count = universe, 0, 0
            if address is not None:
                if not 1 <= address <= 512:
                    raise ValueError("a start address must be 1..512")
                s, count = address - 1, 0
            total += n
            if self.split_pixels:
                if s >= spu:
                    u, s = u + 1, 0
                q = s + np.arange(n * c, dtype=np.int64)
                out.append((u + q // spu) * 512 + q % spu)
                end = s + n * c
                u, s = u + end // spu, end % spu
                continue
            left = n
            while left > 0:
                fit = min((spu - s) // c, ppu - count)
                if fit <= 0:
                    u, s, count = u + 1, 0, 0
                    continue
                take = min(left, fit)
                out.append(u * 512 + s + np.arange(take * c, dtype=np.int64))
                s += take * c
                count += take
                left -= take
        if total != self.n_pixels:
            raise ValueError(f"the chains cover {total} pixels, the map has {self.n_pixels}")
        return np.concatenate(out)

    def _plan_copies(self, flat: npt.NDArray[np.int64]) -> list[_Copy] | None:
        """Group the byte stream into a few 2-D slice copies, or None to scatter instead."""
        breaks = np.flatnonzero(np.diff(flat) != 1) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [flat.size]))
        runs: list[tuple[int, int, int]] = []  # (flat start, length, stream start)
        for a, b in zip(starts.tolist(), ends.tolist()):
            f0 = int(flat[a])
            # A run may cross a row boundary (dense packing); split it at rows.
            while b - a > 0:
                room = 512 - f0 % 512
                ln = min(b - a, room)
                runs.append((f0, ln, a))
                a, f0 = a + ln, f0 + ln
        copies: list[_Copy] = []
        i = 0
        while i < len(runs):
            f0, ln, s0 = runs[i]
            k = 1
            while (
                i + k < len(runs)
                and runs[i + k][1] == ln
                and runs[i + k][0] == f0 + 512 * k
                and runs[i + k][2] == s0 + ln * k
            ):
                k += 1
            copies.append(_Copy(row0=f0 // 512, col0=f0 % 512, n_rows=k, length=ln, src0=s0))
            i += k
        if len(copies) > _MAX_COPY_OPS:
            return None
        return copies

    # ------------------------------------------------------------------ public API

    def new_dmx(self) -> npt.NDArray[np.uint8]:
        """A zeroed DMX buffer for this map, shape ``(n_universes, 512)``, row ``i`` = ``universes[i]``."""
        return np.zeros((self.n_universes, 512), dtype=np.uint8)

    def prepare(self, height: int, width: int) -> None:
        """Precompute the sampling indices for frames of ``height x width`` (done on first use).

        Allocates; call it outside the frame loop to keep the first frame on time.
        """
        fh, fw = int(height), int(width)
        if fh < 1 or fw < 1:
            raise ValueError("a frame needs height >= 1 and width >= 1")
        rows = np.clip(np.floor(self.positions[:, 1] * fh + _EDGE_EPS).astype(np.int64), 0, fh - 1)
        cols = np.clip(np.floor(self.positions[:, 0] * fw + _EDGE_EPS).astype(np.int64), 0, fw - 1)
        c = self.n_channels
        # Channel pattern of one pixel's gathered floats: wire order for RGB (so the gather
        # already yields wire-ordered bytes), plain R, G, B for RGBW (white is computed next).
        pattern = np.array(self.wire_order if c == 3 else (0, 1, 2), dtype=np.int64)
        r = self.area_radius_px
        method: Literal["nearest", "taps", "blur"] = "nearest"
        if self.sampling == "area" and r > 0:
            k = (2 * r + 1) ** 2
            if self.area_method == "auto":
                # Taps cost K gathers of every LED's floats (~0.8 ns each); the blur 4r passes
                # over the frame's floats (~0.15 ns each), measured in bench_pixelmap.py.
                method = "taps" if 5.3 * k * self.n_pixels < 4 * r * fh * fw else "blur"
            else:
                method = self.area_method
        self._method = method
        pix = rows * fw + cols
        self._src = (pix[:, None] * 3 + pattern).reshape(-1)
        if method == "taps":
            taps = []
            for dy in range(-r, r + 1):
                rr = np.clip(rows + dy, 0, fh - 1)
                for dx in range(-r, r + 1):
                    cc = np.clip(cols + dx, 0, fw - 1)
                    taps.append(((rr * fw + cc)[:, None] * 3 + pattern).reshape(-1))
            self._taps = np.stack(taps)
        elif method == "blur":
            self._hsum = np.zeros((fh, fw, 3), dtype=np.float32)
            self._blurred = np.zeros((fh, fw, 3), dtype=np.float32)
        self._frame_shape = (fh, fw)
        self._gain_key = math.nan

    def apply(
        self,
        frame: npt.NDArray[np.float32],
        dmx: npt.NDArray[np.uint8],
        *,
        brightness: float = 1.0,
        gamma: float = 1.0,
    ) -> None:
        """Sample ``frame`` at every LED and write the bytes into ``dmx``.

        Runs on preallocated buffers (no array allocation once the frame size and gamma are
        known). Values are clipped to 0..1; NaN becomes 0.

        Parameters
        ----------
        frame : ndarray, shape (H, W, 3), float32, linear 0..1, C-contiguous
            Row 0 is the top of the image. Any size: positions are relative.
        dmx : ndarray, shape (n_universes, 512), uint8, C-contiguous
            Written in place; slots not used by the map are left as they are.
        brightness : float, 0..1
            Scale before gamma (times ``brightness_cap``).
        gamma : float, 1..3
            Applied as ``v ** gamma`` (LED drivers are linear; 1.0 leaves values alone).
        """
        if dmx.shape != (self.n_universes, 512):
            raise ValueError(f"dmx must have shape ({self.n_universes}, 512), got {dmx.shape}")
        if frame.dtype != np.float32:
            frame = frame.astype(np.float32)  # slow path: the engine hands float32 frames
        fh, fw = frame.shape[0], frame.shape[1]
        if (fh, fw) != self._frame_shape:
            self.prepare(fh, fw)
        if gamma != self._lut_gamma:
            self._build_lut(gamma)
        src = frame.reshape(-1)
        with np.errstate(invalid="ignore", over="ignore"):
            if self.n_channels == 3:
                self._sample(src, self._f)
            else:
                self._sample(src, self._tmp)
                self._make_white()
            self._scale(brightness)
            f = self._f
            np.clip(f, 0.0, LUT_SIZE - 1, out=f)
            np.copyto(self._idx, f, casting="unsafe")
        # NaN survives the clip and casts to INT_MIN; masking maps it to entry 0 (black) and
        # keeps every index in range, so the fast "wrap" mode never has to wrap.
        np.bitwise_and(self._idx, LUT_SIZE - 1, out=self._idx)
        np.take(self._lut, self._idx, out=self._bytes, mode="wrap")
        if self.current_budget_a is not None:
            self._limit_current()
        self._write(dmx)

    # ------------------------------------------------------------------ per-frame steps

    def estimated_current_a(self, dmx: npt.NDArray[np.uint8]) -> float:
        """Supply current (A) the map's bytes in ``dmx`` would draw (not real-time; allocates)."""
        b = dmx.reshape(-1)[self._stream_index].reshape(self.n_pixels, self.n_channels).astype(np.float64)
        return float((b.sum(axis=0) / 255.0 * self._ma_wire[: self.n_channels]).sum() / 1000.0)

    def _sample(self, src: npt.NDArray[np.float32], out: npt.NDArray[np.float32]) -> None:
        if self._method == "nearest":
            np.take(src, self._src, out=out)
        elif self._method == "blur":
            np.take(self._blur(src).reshape(-1), self._src, out=out)
        else:
            taps = self._taps
            np.take(src, taps[0], out=out)
            acc = self._f if out is not self._f else self._tmp  # a free buffer of >= the same size
            scratch = acc[: out.size]
            for i in range(1, taps.shape[0]):
                np.take(src, taps[i], out=scratch)
                np.add(out, scratch, out=out)

    def _blur(self, src: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Sum of the clamped (2r+1)^2 box around every texel (separable, unnormalized)."""
        fh, fw = self._frame_shape
        frame = src.reshape(fh, fw, 3)
        _box_sum(frame, self._hsum, 1, self.area_radius_px)
        _box_sum(self._hsum, self._blurred, 0, self.area_radius_px)
        return self._blurred

    def _make_white(self) -> None:
        """RGB samples in ``_tmp`` -> wire-ordered R, G, B, W floats in ``_f``."""
        k = float((2 * self.area_radius_px + 1) ** 2) if self._method != "nearest" else 1.0
        rgb = self._rgb
        np.clip(rgb, 0.0, k, out=rgb)  # clip before extracting (area sums are not normalized yet)
        w = self._w
        if self.white_mode == "off":
            w.fill(0.0)
        else:
            np.minimum(rgb[:, 0], rgb[:, 1], out=w)
            np.minimum(w, rgb[:, 2], out=w)
        wire = self._f.reshape(self.n_pixels, 4)
        for j, ch in enumerate(self.wire_order):
            if ch == 3:
                np.copyto(wire[:, j], w)
            elif self.white_mode == "subtract":
                np.subtract(rgb[:, ch], w, out=wire[:, j])
            else:
                np.copyto(wire[:, j], rgb[:, ch])

    def _scale(self, brightness: float) -> None:
        """Brightness, cap, white balance and the area normalization, in one multiply."""
        k = (2 * self.area_radius_px + 1) ** 2 if self._method != "nearest" else 1
        g = float(brightness) * self.brightness_cap * (LUT_SIZE - 1) / k
        f = self._f
        if self._uniform_wb:
            np.multiply(f, np.float32(g * self._gain_base[0]), out=f)
            return
        if g != self._gain_key:
            np.multiply(self._gain_base, np.float32(g), out=self._gain)
            self._gain_key = g
        np.multiply(f, self._gain, out=f)

    def _build_lut(self, gamma: float) -> None:
        if not 0.1 <= gamma <= 5.0:
            raise ValueError("gamma must be 0.1..5 (usually 1..3)")
        # Entry i covers inputs [i, i+1) / (LUT_SIZE - 1): evaluate at its middle.
        x = np.minimum((np.arange(LUT_SIZE) + 0.5) / (LUT_SIZE - 1), 1.0)
        x[0] = 0.0
        self._lut[:] = np.rint(255.0 * x**gamma).astype(np.uint8)
        self._lut_gamma = gamma

    def _limit_current(self) -> None:
        b = self._bytes
        c = self.n_channels
        if self._uniform_ma:
            ma = float(b.sum(dtype=np.uint64)) * float(self._ma_wire[0])
        else:
            ma = 0.0
            for j in range(c):
                ma += float(b[j::c].sum(dtype=np.uint64)) * float(self._ma_wire[j])
        amps = ma / 255.0 / 1000.0
        self.current_a = amps
        budget = self.current_budget_a
        if budget is None or amps <= budget:
            self.current_scale = 1.0
            return
        s = budget / amps
        self.current_scale = s
        # Scale the bytes (what the LEDs draw is linear in them) and round down, so the
        # limited frame's estimate never exceeds the budget.
        np.multiply(b, np.float32(s), out=self._f)
        np.copyto(b, self._f, casting="unsafe")

    def _write(self, dmx: npt.NDArray[np.uint8]) -> None:
        b = self._bytes
        if self._copies is None:
            dmx.reshape(-1)[self._stream_index] = b
            return
        for cp in self._copies:
            n = cp.n_rows * cp.length
            dmx[cp.row0 : cp.row0 + cp.n_rows, cp.col0 : cp.col0 + cp.length] = b[cp.src0 : cp.src0 + n].reshape(
                cp.n_rows, cp.length
            )


class MatrixMap(PixelMap):
    """A rectangular LED wall (optionally made of tiled panels) patched onto universes.

    Parameters
    ----------
    width, height : int
        LEDs across and down of the whole wall, **as wired** (before `rotation`).
    origin, serpentine, order
        Wiring of the wall (or of each panel when tiled), see `wiring_order`.
    tiles : (int, int)
        ``(tiles_x, tiles_y)``: the wall is a grid of identical panels of
        ``width // tiles_x`` by ``height // tiles_y`` LEDs, each wired the same way, chained
        one after the other on the same data stream.
    tile_origin, tile_order, tile_serpentine
        Order of the panels along the chain, as `wiring_order` for a ``tiles_x x tiles_y``
        grid (default: rows from the top left, not serpentine).
    rotation : {0, 90, 180, 270}
        The wall as wired is mounted turned clockwise by this angle.
    flip_h, flip_v : bool
        Mirror the wall left-right / top-bottom (applied before the rotation).
    **options
        Packing, color, current and sampling options, see `PixelMap` (``color_order``,
        ``pixels_per_universe``, ``start_universe``, ...).

    Attributes
    ----------
    coords : ndarray, shape (n_pixels, 2), int64
        ``(row, col)`` of each LED on the wall as wired, in wiring order.
    scene_size : (int, int)
        ``(width, height)`` of the wall as seen, after rotation (a render size that maps
        texels 1:1 onto LEDs).
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        origin: Origin = "top_left",
        serpentine: bool = True,
        order: Order = "rows",
        tiles: tuple[int, int] = (1, 1),
        tile_origin: Origin = "top_left",
        tile_order: Order = "rows",
        tile_serpentine: bool = False,
        rotation: Rotation = 0,
        flip_h: bool = False,
        flip_v: bool = False,
        **options: Unpack[MapOptions],
    ) -> None:
        tx, ty = tiles
        if tx < 1 or ty < 1 or width % tx or height % ty:
            raise ValueError(f"tiles {tiles} must divide the wall ({width} x {height}) into whole panels")
        if rotation not in (0, 90, 180, 270):
            raise ValueError("rotation must be 0, 90, 180 or 270 (degrees clockwise)")
        pw, ph = width // tx, height // ty
        panel = wiring_order(pw, ph, origin=origin, serpentine=serpentine, order=order)
        chain = wiring_order(tx, ty, origin=tile_origin, serpentine=tile_serpentine, order=tile_order)
        coords = (chain[:, None, :] * np.array([ph, pw]) + panel[None, :, :]).reshape(-1, 2)
        u = (coords[:, 1] + 0.5) / width
        v = (coords[:, 0] + 0.5) / height
        if flip_h:
            u = 1.0 - u
        if flip_v:
            v = 1.0 - v
        if rotation == 90:
            x, y = 1.0 - v, u
        elif rotation == 180:
            x, y = 1.0 - u, 1.0 - v
        elif rotation == 270:
            x, y = v, 1.0 - u
        else:
            x, y = u, v
        self.width = width
        self.height = height
        self.coords = coords
        self.tiles = (tx, ty)
        self.panel_size = (pw, ph)
        self.rotation: Rotation = rotation
        self.scene_size = (height, width) if rotation in (90, 270) else (width, height)
        super().__init__(np.stack([x, y], axis=1), **options)

    @classmethod
    def from_panels(
        cls,
        panel_w: int,
        panel_h: int,
        tiles_x: int,
        tiles_y: int,
        **kwargs: object,
    ) -> MatrixMap:
        """A wall of ``tiles_x x tiles_y`` panels of ``panel_w x panel_h`` LEDs.

        Keyword arguments are those of `MatrixMap` (``origin`` etc. describe one panel).
        """
        return cls(panel_w * tiles_x, panel_h * tiles_y, tiles=(tiles_x, tiles_y), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Strip:
    """One LED strip laid along a polyline.

    Attributes
    ----------
    points : tuple of (float, float), 0..1
        Polyline vertices in scene coordinates (y down), from the strip's data input on.
    n_pixels : int or tuple of int
        LEDs spread evenly along the whole length, or a count per segment (one per pair of
        consecutive points). LED ``i`` of ``n`` sits at ``(i + 0.5) / n`` of its length, the
        same centers a matrix row uses.
    universe, address : int or None
        Where the strip starts (universe number, 1-based address); ``None`` continues right
        after the previous strip (the first strip starts at the map's start).
    """

    points: tuple[tuple[float, float], ...]
    n_pixels: int | tuple[int, ...]
    universe: int | None = None
    address: int | None = None

    def sample_positions(self) -> npt.NDArray[np.float64]:
        """``(x, y)`` of each LED along the strip, shape (n, 2)."""
        pts = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        if pts.shape[0] < 2:
            raise ValueError("a strip needs at least two points")
        seg = np.diff(pts, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        if isinstance(self.n_pixels, int):
            total = float(seg_len.sum())
            if self.n_pixels < 1 or total <= 0.0:
                raise ValueError("a strip needs n_pixels >= 1 and a length > 0")
            s = (np.arange(self.n_pixels) + 0.5) * total / self.n_pixels
            ends = np.cumsum(seg_len)
            j = np.minimum(np.searchsorted(ends, s, side="right"), len(seg_len) - 1)
            # Zero-length segments are never chosen for a point strictly inside the length.
            t = (s - (ends[j] - seg_len[j])) / np.where(seg_len[j] > 0, seg_len[j], 1.0)
            out: npt.NDArray[np.float64] = pts[j] + seg[j] * t[:, None]
            return out
        counts = list(self.n_pixels)
        if len(counts) != len(seg_len) or min(counts) < 0 or sum(counts) < 1:
            raise ValueError(f"n_pixels per segment needs {len(seg_len)} counts >= 0 (one per segment)")
        parts = [pts[j] + seg[j] * ((np.arange(n) + 0.5) / n)[:, None] for j, n in enumerate(counts) if n > 0]
        return np.concatenate(parts)


class StripMap(PixelMap):
    """LED strips along polylines in scene coordinates, chained in the order given.

    Parameters
    ----------
    strips : sequence of Strip
    **options
        Packing, color, current and sampling options, see `PixelMap`.

    Attributes
    ----------
    strip_slices : tuple of slice
        The pixels (in map order) of each strip.

    Examples
    --------
    >>> m = StripMap([Strip(((0.0, 0.5), (1.0, 0.5)), 4)])
    >>> m.positions[:, 0].tolist()
    [0.125, 0.375, 0.625, 0.875]
    """

    def __init__(self, strips: Sequence[Strip], **options: Unpack[MapOptions]) -> None:
        if not strips:
            raise ValueError("a strip map needs at least one strip")
        parts = [s.sample_positions() for s in strips]
        chains = [(len(p), s.universe, s.address) for p, s in zip(parts, strips)]
        bounds = np.cumsum([0] + [len(p) for p in parts]).tolist()
        self.strips = tuple(strips)
        self.strip_slices = tuple(slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]))
        super().__init__(np.concatenate(parts), chains, **options)


class PointMap(PixelMap):
    """LEDs at arbitrary points, in the order given (e.g. exported from a mapping tool).

    Parameters
    ----------
    points : array_like, shape (n_pixels, 2), float, 0..1
        ``(x, y)`` in scene coordinates (y down), in wiring order.
    addresses : array_like, shape (n_pixels, 2), int, optional
        ``(universe, address)`` of each pixel's first byte (1-based address); the pixel must
        fit in that universe. ``None``: packed in order from ``start_universe``/``start_address``.
    **options
        Packing, color, current and sampling options, see `PixelMap`.
    """

    def __init__(
        self,
        points: npt.ArrayLike,
        *,
        addresses: npt.ArrayLike | None = None,
        **options: Unpack[MapOptions],
    ) -> None:
        slots = None
        if addresses is not None:
            a = np.asarray(addresses, dtype=np.int64).reshape(-1, 2)
            if np.any(a[:, 0] < 0) or np.any(a[:, 0] > MAX_UNIVERSE) or np.any(a[:, 1] < 1) or np.any(a[:, 1] > 512):
                raise ValueError(f"addresses must be (universe 0..{MAX_UNIVERSE}, address 1..512)")
            slots = a[:, 0] * 512 + a[:, 1] - 1
        super().__init__(points, slots=slots, **options)

    @classmethod
    def from_csv(
        cls, path: str | Path, *, normalize: bool = False, **options: Unpack[MapOptions]
    ) -> PointMap:
        """Read a point map from CSV: ``x,y`` per line, optionally ``universe,address`` too.

        An optional header names the columns (``x``, ``y``, ``universe``, ``address``, any
        order). Blank lines and lines starting with ``#`` are skipped.

        Parameters
        ----------
        path : str or Path
        normalize : bool
            Stretch the points' bounding box onto the whole frame (for coordinates in mm or
            any other unit); otherwise they must already be within 0..1.
        **options
            See `PixelMap`.

        Raises
        ------
        ConfigError
            Every bad row, as ``file:line:col: column: message``.
        """
        p = Path(path)
        name = str(p)
        n_ch = len(channel_order(options.get("color_order", "RGB")))
        try:
            lines = p.read_text(encoding="utf-8-sig").splitlines()
        except OSError as e:
            raise ConfigError([ConfigIssue(name, 0, 0, "", f"cannot read the point map: {e}")]) from e
        issues: list[ConfigIssue] = []
        columns: list[str] | None = None
        xy: list[tuple[float, float]] = []
        addr: list[tuple[int, int]] = []
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            fields: list[str] = []
            cols: list[int] = []  # 1-based column of each field, for the error messages
            pos = 0
            for part in raw.split(","):
                cols.append(pos + len(part) - len(part.lstrip()) + 1)
                fields.append(part.strip())
                pos += len(part) + 1
            if columns is None:
                if not all(_is_number(f) for f in fields):
                    columns = [f.lower() for f in fields]
                    if (
                        any(f not in _CSV_COLUMNS for f in columns)
                        or len(set(columns)) != len(columns)
                        or not {"x", "y"} <= set(columns)
                        or ("universe" in columns) != ("address" in columns)
                    ):
                        issues.append(
                            ConfigIssue(name, lineno, 1, "", f"bad header {raw.strip()!r}: the columns are x,y and optionally universe,address")
                        )
                        break
                    continue
                if len(fields) not in (2, 4):
                    issues.append(ConfigIssue(name, lineno, 1, "", f"expected 2 (x,y) or 4 (x,y,universe,address) fields, got {len(fields)}"))
                    break
                columns = list(_CSV_COLUMNS[: len(fields)])
            if len(fields) != len(columns):
                issues.append(ConfigIssue(name, lineno, 1, "", f"expected {len(columns)} fields ({','.join(columns)}), got {len(fields)}"))
                continue
            row: dict[str, float] = {}
            for key, val, col in zip(columns, fields, cols):
                msg = _check_csv_field(key, val, normalize=normalize, n_channels=n_ch)
                if msg:
                    issues.append(ConfigIssue(name, lineno, col, key, msg))
                else:
                    row[key] = float(val)
            if len(row) == len(columns):
                xy.append((row["x"], row["y"]))
                if "universe" in row:
                    addr.append((int(row["universe"]), int(row["address"])))
        if not issues and not xy:
            issues.append(ConfigIssue(name, 0, 0, "", "no points"))
        if issues:
            raise ConfigError(issues)
        pts = np.array(xy, dtype=np.float64)
        if normalize:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            pts = np.where(hi > lo, (pts - lo) / span, 0.5)
        try:
            return cls(pts, addresses=addr if addr else None, **options)
        except ValueError as e:
            raise ConfigError([ConfigIssue(name, 0, 0, "", str(e))]) from e


def _box_sum(src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32], axis: int, r: int) -> None:
    """``dst`` = sum of ``src`` over a window of ``2r+1`` along ``axis``, edges clamped.

    In place on preallocated arrays of the same shape; ``2r`` passes (the first two taps are
    added straight into ``dst``), plus small edge fixes.
    """
    n = src.shape[axis]

    def sl(a: int | None, b: int | None) -> tuple[slice, ...]:
        return (slice(None),) * axis + (slice(a, b),)

    first, last = src[sl(0, 1)], src[sl(n - 1, n)]
    if n > 1:
        np.add(src[sl(1, None)], src[sl(None, n - 1)], out=dst[sl(1, None)])
        np.add(first, first, out=dst[sl(0, 1)])
    else:
        np.add(src, src, out=dst)
    for d in range(1, r + 1):
        if d > 1:  # left tap c - d (clamped to 0)
            if d < n:
                np.add(dst[sl(d, None)], src[sl(None, n - d)], out=dst[sl(d, None)])
                np.add(dst[sl(None, d)], first, out=dst[sl(None, d)])
            else:
                np.add(dst, first, out=dst)
        if d < n:  # right tap c + d (clamped to n - 1)
            np.add(dst[sl(None, n - d)], src[sl(d, None)], out=dst[sl(None, n - d)])
            np.add(dst[sl(n - d, None)], last, out=dst[sl(n - d, None)])
        else:
            np.add(dst, last, out=dst)


_CSV_COLUMNS = ("x", "y", "universe", "address")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_csv_field(key: str, val: str, *, normalize: bool, n_channels: int) -> str:
    """The problem with one CSV field, or "" when it is fine."""
    if key in ("x", "y"):
        try:
            num = float(val)
        except ValueError:
            return f"{val!r} is not a number"
        if not math.isfinite(num):
            return f"{val!r} is not finite"
        if not normalize and not 0.0 <= num <= 1.0:
            return f"{num:g} is outside 0..1 (pass normalize=True for other units)"
        return ""
    try:
        n = int(val)
    except ValueError:
        return f"{val!r} is not an integer"
    if key == "universe" and not 0 <= n <= MAX_UNIVERSE:
        return f"universe {n} is outside 0..{MAX_UNIVERSE}"
    if key == "address" and not 1 <= n <= 513 - n_channels:
        return f"address {n}: a {n_channels}-byte pixel must start at 1..{513 - n_channels}"
    return ""
