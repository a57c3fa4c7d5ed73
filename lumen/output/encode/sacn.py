"""ANSI E1.31-2018 (sACN) encoder: preallocated data and synchronization packets, pure bytes.

Layer: output. Threads: one instance is owned by one thread (the output thread in the show
process); it does no I/O and takes no locks. ``encode``, ``encode_frame`` and ``terminate``
are real-time safe.

Every universe has one preallocated 638-byte E1.31 data packet (root layer, framing layer,
DMP layer, start code 0 and 512 slots). Everything that never changes (preamble, ACN packet
identifier, vectors, flags and lengths, CID, source name, priority, sync address, universe,
DMP header) is written once at construction; a send writes only the sequence number, the
options byte and the slots, then hands out a `memoryview` of the packet for ``sendto``.

Octet layout of a data packet (E1.31-2018 table 4-1; multi-byte fields are big-endian)::

    0   preamble size 0x0010          2   postamble size 0x0000
    4   ACN packet identifier (12)    16  root flags+length 0x7000 | 622
    18  root vector 0x00000004        22  CID (16)
    38  framing flags+length 0x7000 | 600
    40  framing vector 0x00000002     44  source name (64, UTF-8, NUL-terminated)
    108 priority                      109 synchronization address
    111 sequence number               112 options
    113 universe                      115 DMP flags+length 0x7000 | 523
    117 DMP vector 0x02               118 address and data type 0xa1
    119 first property address 0      121 address increment 1
    123 property value count 513      125 start code      126 slots (512)

Universe discovery packets (E1.31-2018 section 4.3, table 4-3) list the universes a source
sends, sorted, at most 512 per page, and go to 239.255.250.214 (universe 64214) every 10 s::

    0   root layer as above, vector 0x00000008 (VECTOR_ROOT_E131_EXTENDED)
    38  framing flags+length          40  framing vector 0x00000002 (..._EXTENDED_DISCOVERY)
    44  source name (64)              108 reserved (4)
    112 discovery flags+length        114 discovery vector 0x00000001 (..._UNIVERSE_LIST)
    118 page                          119 last page
    120 universes (2 octets each, ascending)
"""

from __future__ import annotations

import struct
import uuid
from typing import Final

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError
from lumen.rt.realtime import realtime

#: UDP port of E1.31 (ACN_SDT_MULTICAST_PORT), used for unicast as well.
SACN_PORT: Final[int] = 5568
#: Length in bytes of a data packet with a start code and 512 slots.
DATA_PACKET_LEN: Final[int] = 638
#: Length in bytes of a universe synchronization packet.
SYNC_PACKET_LEN: Final[int] = 49
#: Number of DMX slots per universe (after the start code).
N_SLOTS: Final[int] = 512
#: Lowest and highest universe numbers E1.31 allows for data (64214 is discovery).
UNIVERSE_MIN: Final[int] = 1
UNIVERSE_MAX: Final[int] = 63999
#: Highest priority E1.31 allows (0..200, default 100).
PRIORITY_MAX: Final[int] = 200

#: Options byte bits (framing layer octet 112).
OPTION_PREVIEW_DATA: Final[int] = 0x80
OPTION_STREAM_TERMINATED: Final[int] = 0x40
OPTION_FORCE_SYNCHRONIZATION: Final[int] = 0x20

VECTOR_ROOT_E131_DATA: Final[int] = 0x00000004
VECTOR_ROOT_E131_EXTENDED: Final[int] = 0x00000008
VECTOR_E131_DATA_PACKET: Final[int] = 0x00000002
VECTOR_E131_EXTENDED_SYNCHRONIZATION: Final[int] = 0x00000001
VECTOR_DMP_SET_PROPERTY: Final[int] = 0x02
VECTOR_E131_EXTENDED_DISCOVERY: Final[int] = 0x00000002
VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST: Final[int] = 0x00000001

#: Universe whose multicast group (239.255.250.214) carries universe discovery.
DISCOVERY_UNIVERSE: Final[int] = 64214
#: Seconds between universe discovery rounds (E131_UNIVERSE_DISCOVERY_INTERVAL).
DISCOVERY_INTERVAL_S: Final[float] = 10.0
#: Universes listed per discovery page.
DISCOVERY_UNIVERSES_PER_PAGE: Final[int] = 512
#: Length of a discovery packet before its universe list.
DISCOVERY_HEADER_LEN: Final[int] = 120

_ACN_PACKET_IDENTIFIER: Final[bytes] = b"ASC-E1.17\x00\x00\x00"
_FLAGS: Final[int] = 0x7000
_SOURCE_NAME_LEN: Final[int] = 64

# Offsets that change per send.
_OFF_SEQUENCE: Final[int] = 111
_OFF_OPTIONS: Final[int] = 112
_OFF_SLOTS: Final[int] = 126
_OFF_SYNC_SEQUENCE: Final[int] = 44


def multicast_address(universe: int) -> str:
    """The E1.31 multicast group of ``universe``: ``239.255.<hi>.<lo>``.

    Parameters
    ----------
    universe : int, 1..63999 or 64214
        sACN universe number (64214: universe discovery).

    Returns
    -------
    str
        Dotted IPv4 group address.

    Examples
    --------
    >>> multicast_address(1), multicast_address(258), multicast_address(DISCOVERY_UNIVERSE)
    ('239.255.0.1', '239.255.1.2', '239.255.250.214')
    """
    if universe != DISCOVERY_UNIVERSE:
        _check_universe(universe, "universe")
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


def encode_source_name(name: str) -> bytes:
    """``name`` as the 64-byte source-name field: UTF-8, at most 63 bytes, NUL-padded.

    A name longer than 63 bytes is cut at a character boundary so the field stays valid
    UTF-8 and always ends with a NUL.

    Examples
    --------
    >>> encode_source_name("lumen")[:7]
    b'lumen\\x00\\x00'
    >>> len(encode_source_name("x" * 100)), encode_source_name("x" * 100)[62:]
    (64, b'x\\x00')
    """
    raw = name.encode("utf-8")
    if len(raw) > _SOURCE_NAME_LEN - 1:
        raw = raw[: _SOURCE_NAME_LEN - 1].decode("utf-8", errors="ignore").encode("utf-8")
    return raw.ljust(_SOURCE_NAME_LEN, b"\x00")


def _check_universe(universe: int, what: str) -> None:
    if not UNIVERSE_MIN <= universe <= UNIVERSE_MAX:
        raise OutputError(f"{what} {universe} is outside E1.31's {UNIVERSE_MIN}..{UNIVERSE_MAX}")


class SacnEncoder:
    """Preallocated E1.31 data packets for a block of consecutive universes.

    Parameters
    ----------
    n_universes : int, >= 1
        Number of consecutive universes this encoder serves.
    start_universe : int, 1..63999
        sACN universe of index 0; universe ``start_universe + i`` has index ``i``.
    priority : int, 0..200
        Source priority written in every data packet (receivers take the highest).
    source_name : str
        Human-readable source name; UTF-8, cut to 63 bytes, NUL-terminated.
    cid : bytes of length 16, optional
        Component identifier (a UUID) of this source; a random UUID4 when None. Keep it stable
        across restarts of one show so receivers see the same source.
    sync_universe : int, 0 or 1..63999
        Universe on which synchronization packets are sent; 0 disables synchronization (data
        packets then carry sync address 0 and are acted on at once).

    Raises
    ------
    OutputError
        A universe, the priority or the CID is out of range.

    Notes
    -----
    The memoryviews that the encode methods return point into the encoder's own buffer: send
    them before the next encode of the same universe, and do not keep them.

    Examples
    --------
    >>> enc = SacnEncoder(2, start_universe=7, cid=bytes(16))
    >>> pkt = enc.encode(1, np.full(512, 9, dtype=np.uint8))
    >>> len(pkt), int.from_bytes(pkt[113:115], "big"), pkt[111], pkt[126]
    (638, 8, 0, 9)
    """

    def __init__(
        self,
        n_universes: int,
        start_universe: int = 1,
        priority: int = 100,
        source_name: str = "lumen",
        cid: bytes | None = None,
        sync_universe: int = 0,
    ) -> None:
        if n_universes < 1:
            raise OutputError(f"n_universes must be at least 1, got {n_universes}")
        _check_universe(start_universe, "start_universe")
        _check_universe(start_universe + n_universes - 1, "last universe")
        if not 0 <= priority <= PRIORITY_MAX:
            raise OutputError(f"priority {priority} is outside E1.31's 0..{PRIORITY_MAX}")
        if sync_universe != 0:
            _check_universe(sync_universe, "sync_universe")
        if cid is None:
            cid = uuid.uuid4().bytes
        if len(cid) != 16:
            raise OutputError(f"cid must be 16 bytes, got {len(cid)}")

        self.n_universes: int = n_universes
        self.start_universe: int = start_universe
        self.priority: int = priority
        self.cid: bytes = bytes(cid)
        self.sync_universe: int = sync_universe
        self.source_name_field: bytes = encode_source_name(source_name)

        self._buf = bytearray(n_universes * DATA_PACKET_LEN)
        #: All packets as one array, shape (n_universes, 638), for vectorized writes.
        self._packets: npt.NDArray[np.uint8] = np.frombuffer(self._buf, dtype=np.uint8).reshape(
            n_universes, DATA_PACKET_LEN
        )
        self._slots: npt.NDArray[np.uint8] = self._packets[:, _OFF_SLOTS:]
        self._slot_rows: tuple[npt.NDArray[np.uint8], ...] = tuple(self._slots[i] for i in range(n_universes))
        whole = memoryview(self._buf)
        self._views: tuple[memoryview, ...] = tuple(
            whole[i * DATA_PACKET_LEN : (i + 1) * DATA_PACKET_LEN] for i in range(n_universes)
        )
        template = self._data_template()
        for i in range(n_universes):
            self._buf[i * DATA_PACKET_LEN : (i + 1) * DATA_PACKET_LEN] = template
            struct.pack_into(">H", self._buf, i * DATA_PACKET_LEN + 113, start_universe + i)
        # The sequence byte is the per-universe sequence state; 255 makes the first packet 0.
        self._packets[:, _OFF_SEQUENCE] = 255
        # Column views of the per-send header bytes, made once so a frame's writes allocate none.
        self._seq_col: npt.NDArray[np.uint8] = self._packets[:, _OFF_SEQUENCE]
        self._options_col: npt.NDArray[np.uint8] = self._packets[:, _OFF_OPTIONS]

        self._sync_buf = bytearray(self._sync_template())
        self._sync_view = memoryview(self._sync_buf)
        self._sync_seq = 255
        self._discovery: tuple[bytes, ...] = self._discovery_templates()

    # -- construction -------------------------------------------------------------------------

    def _root_layer(self, total_len: int, vector: int) -> bytes:
        return (
            struct.pack(">HH", 0x0010, 0x0000)
            + _ACN_PACKET_IDENTIFIER
            + struct.pack(">HI", _FLAGS | (total_len - 16), vector)
            + self.cid
        )

    def _data_template(self) -> bytes:
        root = self._root_layer(DATA_PACKET_LEN, VECTOR_ROOT_E131_DATA)
        framing = (
            struct.pack(">HI", _FLAGS | (DATA_PACKET_LEN - 38), VECTOR_E131_DATA_PACKET)
            + self.source_name_field
            + struct.pack(">BHBBH", self.priority, self.sync_universe, 0, 0, 0)
        )
        dmp = struct.pack(
            ">HBBHHHB",
            _FLAGS | (DATA_PACKET_LEN - 115),
            VECTOR_DMP_SET_PROPERTY,
            0xA1,  # address type and data type
            0x0000,  # first property address
            0x0001,  # address increment
            N_SLOTS + 1,  # property value count: start code + slots
            0x00,  # start code: dimmer levels
        )
        packet = root + framing + dmp + bytes(N_SLOTS)
        assert len(packet) == DATA_PACKET_LEN
        return packet

    def _sync_template(self) -> bytes:
        root = self._root_layer(SYNC_PACKET_LEN, VECTOR_ROOT_E131_EXTENDED)
        framing = struct.pack(
            ">HIBHH",
            _FLAGS | (SYNC_PACKET_LEN - 38),
            VECTOR_E131_EXTENDED_SYNCHRONIZATION,
            0,  # sequence, written per send
            self.sync_universe,
            0,  # reserved
        )
        packet = root + framing
        assert len(packet) == SYNC_PACKET_LEN
        return packet

    def _discovery_templates(self) -> tuple[bytes, ...]:
        universes = self.universes  # consecutive, so already sorted ascending
        per = DISCOVERY_UNIVERSES_PER_PAGE
        pages = [universes[i : i + per] for i in range(0, len(universes), per)]
        last = len(pages) - 1
        out: list[bytes] = []
        for page_no, page in enumerate(pages):
            total = DISCOVERY_HEADER_LEN + 2 * len(page)
            root = self._root_layer(total, VECTOR_ROOT_E131_EXTENDED)
            framing = (
                struct.pack(">HI", _FLAGS | (total - 38), VECTOR_E131_EXTENDED_DISCOVERY)
                + self.source_name_field
                + bytes(4)  # reserved
            )
            discovery = struct.pack(
                ">HIBB", _FLAGS | (total - 112), VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST, page_no, last
            ) + struct.pack(f">{len(page)}H", *page)
            packet = root + framing + discovery
            assert len(packet) == total
            out.append(packet)
        return tuple(out)

    # -- queries ------------------------------------------------------------------------------

    @property
    def universes(self) -> tuple[int, ...]:
        """sACN universe numbers served, in index order."""
        return tuple(range(self.start_universe, self.start_universe + self.n_universes))

    @property
    def source_name(self) -> str:
        """The source name as it goes on the wire (after any truncation)."""
        return self.source_name_field.rstrip(b"\x00").decode("utf-8")

    def sequence(self, u_index: int) -> int:
        """Sequence number of the last packet encoded for universe index ``u_index`` (0..255).

        Before the first encode this is 255 (the next packet carries 0).
        """
        return int(self._packets[u_index, _OFF_SEQUENCE])

    def packet(self, u_index: int) -> memoryview:
        """The current packet of universe index ``u_index`` (638 bytes), as last encoded."""
        return self._views[u_index]

    # -- per-send writes ----------------------------------------------------------------------

    @realtime
    def encode(self, u_index: int, dmx: npt.NDArray[np.uint8]) -> memoryview:
        """Write the next data packet of universe index ``u_index``. Real-time safe.

        Parameters
        ----------
        u_index : int, 0..n_universes-1
            Index of the universe (its number is ``start_universe + u_index``).
        dmx : ndarray, shape (512,), uint8
            Slot values 1..512.

        Returns
        -------
        memoryview
            The 638-byte packet, valid until the next encode of this universe.
        """
        # Slots first: a wrongly typed ``dmx`` raises before the sequence advances.
        np.copyto(self._slot_rows[u_index], dmx)
        view = self._views[u_index]
        view[_OFF_SEQUENCE] = (view[_OFF_SEQUENCE] + 1) & 0xFF
        view[_OFF_OPTIONS] = 0
        return view

    @realtime
    def encode_frame(self, dmx: npt.NDArray[np.uint8]) -> tuple[memoryview, ...]:
        """Write the next data packet of every universe at once. Real-time safe.

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8
            Slot values, one row per universe in index order.

        Returns
        -------
        tuple of memoryview
            One 638-byte packet per universe, valid until the next encode.
        """
        # uint8 array arithmetic wraps 255 -> 0 silently, which is the sequence rule.
        np.copyto(self._slots, dmx)
        seq = self._seq_col
        seq += 1
        self._options_col.fill(0)
        return self._views

    @realtime
    def terminate(self, u_index: int) -> memoryview:
        """Write a Stream_Terminated packet for universe index ``u_index``. Real-time safe.

        The packet keeps the last slot values and takes the next sequence number. E1.31 asks
        a source that stops to send three of these per universe; receivers then drop the
        source at once instead of after the 2.5 s timeout.

        Returns
        -------
        memoryview
            The 638-byte packet, valid until the next encode of this universe.
        """
        view = self._views[u_index]
        view[_OFF_SEQUENCE] = (view[_OFF_SEQUENCE] + 1) & 0xFF
        view[_OFF_OPTIONS] = OPTION_STREAM_TERMINATED
        return view

    def sync_packet(self, sequence: int | None = None) -> memoryview:
        """Write a universe synchronization packet (49 bytes, vector 0x00000001).

        Send it after the data packets of a frame, to the sync universe's address, so that
        receivers holding those data packets act on them together.

        Parameters
        ----------
        sequence : int, optional
            Sequence number to write (taken mod 256); by default the encoder's own sync sequence, which is
            separate from the data universes' and advances by one per call.

        Returns
        -------
        memoryview
            The 49-byte packet, valid until the next call.

        Raises
        ------
        OutputError
            The encoder was built with ``sync_universe=0``.
        """
        if self.sync_universe == 0:
            raise OutputError("this encoder has no sync universe (sync_universe=0)")
        if sequence is None:
            self._sync_seq = (self._sync_seq + 1) & 0xFF
        else:
            self._sync_seq = sequence & 0xFF
        self._sync_view[_OFF_SYNC_SEQUENCE] = self._sync_seq
        return self._sync_view

    def discovery_packets(self) -> tuple[bytes, ...]:
        """The universe discovery packets listing this encoder's universes, one per page.

        Built once at construction (the universes never change): page ``k`` lists universes
        ``512 k ..`` in ascending order, and every page carries the index of the last page.
        Send all of them every `DISCOVERY_INTERVAL_S` to the group of universe 64214 (239.255.250.214), or to
        the unicast destination of a unicast output.

        Returns
        -------
        tuple of bytes
            ``ceil(n_universes / 512)`` packets of ``120 + 2 * n`` bytes.
        """
        return self._discovery
