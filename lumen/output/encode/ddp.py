"""DDP (Distributed Display Protocol, as spoken by WLED and many pixel controllers) encoder.

Layer: output. Threads: a `DdpEncoder` is owned by one thread (the output thread of the show
process); it does no I/O and takes no locks. ``encode`` is real-time safe.

A frame of ``n_pixels`` RGB pixels (3 octets each) is cut into packets of at most 480 pixels
(1440 data octets), each with the 10-octet header of the DDP specification
(http://www.3waylabs.com/ddp/)::

    0   flags: V V x T S R Q P    version 1 = 0x40; P (0x01, push) on the frame's last packet
    1   x x x x n n n n           sequence 1..15 per packet (0 = unused), wrapping 15 -> 1
    2   data type: C R T T T S S S
                                  C = 0 standard, TTT = 001 RGB, SSS = 011 8 bits per element,
                                  so 0x0B for 8-bit RGB (the spec's example code writes 1;
                                  receivers such as WLED read only TTT and accept both)
    3   destination id            1 = default output device
    4   data offset, octets       32 bits, big-endian (MSB first)
    8   data length, octets       16 bits, big-endian
    10  data

Everything but the sequence octets and the pixel data is written once at construction.
"""

from __future__ import annotations

import struct
from typing import Final

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError
from lumen.rt.realtime import realtime

#: UDP port DDP displays listen on.
DDP_PORT: Final[int] = 4048
#: Header length without the optional timecode.
HEADER_LEN: Final[int] = 10
#: Most data octets per packet (480 RGB pixels; fits an Ethernet frame).
MAX_DATA_LEN: Final[int] = 1440
#: Octets per pixel (8-bit RGB).
BYTES_PER_PIXEL: Final[int] = 3

FLAG_VERSION_1: Final[int] = 0x40
FLAG_VERSION_MASK: Final[int] = 0xC0
FLAG_TIMECODE: Final[int] = 0x10
FLAG_STORAGE: Final[int] = 0x08
FLAG_REPLY: Final[int] = 0x04
FLAG_QUERY: Final[int] = 0x02
FLAG_PUSH: Final[int] = 0x01

#: Data type octet for 8-bit RGB per the spec's bit fields (TTT = 1 RGB, SSS = 3: 8 bits).
DATA_TYPE_RGB8: Final[int] = 0x0B
#: The legacy value the spec's example code writes (and some senders use) for RGB.
DATA_TYPE_RGB_LEGACY: Final[int] = 0x01
#: Destination id of the default output device.
ID_DISPLAY: Final[int] = 1
#: Highest sequence number (the low nibble of octet 1).
SEQUENCE_MAX: Final[int] = 15

_OFF_SEQUENCE: Final[int] = 1


class DdpEncoder:
    """Preallocated DDP data packets for one strip or wall of ``n_pixels`` RGB pixels.

    Parameters
    ----------
    n_pixels : int, >= 1
        Pixels per frame.
    data_type : int, 0..255
        Octet 2 of every packet; `DATA_TYPE_RGB8` (0x0B) by default, `DATA_TYPE_RGB_LEGACY` (1)
        for receivers that want the spec's example value.
    destination_id : int, 1..255
        Octet 3 (1 = the display's default output).
    max_data_len : int, 3..1440, multiple of 3
        Data octets per packet (a packet never splits a pixel).
    sequencing : bool
        Number packets 1..15 (wrapping to 1); False sends 0 ("not used").

    Raises
    ------
    OutputError
        A parameter is out of range.

    Notes
    -----
    The memoryviews returned point into the encoder's buffer: send them before the next encode
    and do not keep them.

    Examples
    --------
    >>> enc = DdpEncoder(500)
    >>> pkts = enc.encode(np.full((500, 3), 9, dtype=np.uint8))
    >>> [len(p) for p in pkts], [p[0] for p in pkts], [p[1] for p in pkts]
    ([1450, 70], [64, 65], [1, 2])
    """

    def __init__(
        self,
        n_pixels: int,
        *,
        data_type: int = DATA_TYPE_RGB8,
        destination_id: int = ID_DISPLAY,
        max_data_len: int = MAX_DATA_LEN,
        sequencing: bool = True,
    ) -> None:
        if n_pixels < 1:
            raise OutputError(f"n_pixels must be at least 1, got {n_pixels}")
        if not 0 <= data_type <= 255:
            raise OutputError(f"data_type {data_type} is outside 0..255")
        if not 1 <= destination_id <= 255:
            raise OutputError(f"destination_id {destination_id} is outside 1..255")
        if not (BYTES_PER_PIXEL <= max_data_len <= MAX_DATA_LEN and max_data_len % BYTES_PER_PIXEL == 0):
            raise OutputError(f"max_data_len {max_data_len} must be a multiple of 3 in 3..{MAX_DATA_LEN}")
        n_bytes = n_pixels * BYTES_PER_PIXEL
        if n_bytes > 0xFFFFFFFF:
            raise OutputError(f"{n_pixels} pixels do not fit DDP's 32-bit offsets")
        self.n_pixels: int = n_pixels
        self.n_bytes: int = n_bytes
        self.data_type: int = data_type
        self.destination_id: int = destination_id
        self.sequencing: bool = sequencing
        n_packets = -(-n_bytes // max_data_len)
        self.n_packets: int = n_packets

        #: Pixels as written by the caller, shape (n_pixels, 3); its flat view feeds the packets.
        self._pixels: npt.NDArray[np.uint8] = np.zeros((n_pixels, BYTES_PER_PIXEL), dtype=np.uint8)
        flat = self._pixels.reshape(-1)
        self._flat: npt.NDArray[np.uint8] = flat

        self._buf = bytearray(n_bytes + n_packets * HEADER_LEN)
        whole = memoryview(self._buf)
        arr = np.frombuffer(self._buf, dtype=np.uint8)
        views: list[memoryview] = []
        pairs: list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]] = []
        pos = 0
        for k in range(n_packets):
            lo = k * max_data_len
            hi = min(n_bytes, lo + max_data_len)
            length = hi - lo
            flags = FLAG_VERSION_1 | (FLAG_PUSH if k == n_packets - 1 else 0)
            self._buf[pos : pos + HEADER_LEN] = struct.pack(">BBBBIH", flags, 0, data_type, destination_id, lo, length)
            views.append(whole[pos : pos + HEADER_LEN + length])
            pairs.append((arr[pos + HEADER_LEN : pos + HEADER_LEN + length], flat[lo:hi]))
            pos += HEADER_LEN + length
        self._views: tuple[memoryview, ...] = tuple(views)
        self._pairs: tuple[tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]], ...] = tuple(pairs)
        self._seq: int = 0

    @property
    def sequence(self) -> int:
        """Sequence number of the last packet written (0 before the first, or without sequencing)."""
        return self._seq

    @property
    def packets(self) -> tuple[memoryview, ...]:
        """The packets as last encoded."""
        return self._views

    @realtime
    def encode(self, rgb: npt.NDArray[np.uint8]) -> tuple[memoryview, ...]:
        """Write the packets of one frame. Real-time safe.

        Parameters
        ----------
        rgb : ndarray, shape (n_pixels, 3), uint8
            Pixel values in strip order, R, G, B.

        Returns
        -------
        tuple of memoryview
            The frame's packets in offset order; only the last has the push flag.
        """
        np.copyto(self._pixels, rgb)
        return self._emit()

    @realtime
    def encode_bytes(self, data: npt.NDArray[np.uint8]) -> tuple[memoryview, ...]:
        """Like `encode`, with the pixels as a flat array of ``3 * n_pixels`` octets. Real-time safe."""
        np.copyto(self._flat, data)
        return self._emit()

    @realtime
    def _emit(self) -> tuple[memoryview, ...]:
        """Copy the staged pixels into the packets and number them. Real-time safe."""
        seq = self._seq
        seq_on = self.sequencing
        for view, (dst, src) in zip(self._views, self._pairs):
            np.copyto(dst, src)
            if seq_on:
                seq = seq % SEQUENCE_MAX + 1
                view[_OFF_SEQUENCE] = seq
        self._seq = seq
        return self._views
