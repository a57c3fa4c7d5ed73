"""Art-Net 4 encoder and parser: preallocated ArtDmx/ArtSync packets, ArtPoll, ArtPollReply.

Layer: output. Threads: an `ArtnetEncoder` is owned by one thread (the output thread of the
show process); it does no I/O and takes no locks. ``encode``, ``encode_frame`` and
``sync_packet`` are real-time safe. `parse_artpoll`, `parse_opcode` and `encode_poll_reply`
are pure functions used by the ArtPoll responder's own thread (and by tests).

Art-Net numbers universes with a 15-bit **Port-Address**: ``net << 8 | subnet << 4 | universe``
(net 0..127, subnet 0..15, universe 0..15), so Port-Address 0 is the first universe (sACN
starts at 1). OpCodes and the ArtPollReply port are little-endian on the wire; the protocol
version, ArtDmx length and everything else multi-byte are big-endian.

Octet layout of an ArtDmx packet (Art-Net 4, "ArtDmx")::

    0   ID "Art-Net\\0" (8)         8   OpCode 0x5000 (lo, hi)
    10  ProtVerHi 0                 11  ProtVerLo 14
    12  Sequence 1..255 (0 = off)   13  Physical (informative input port, 0)
    14  SubUni: Port-Address bits 7..0
    15  Net: Port-Address bits 14..8
    16  Length hi                   17  Length lo (2..512, even; lumen sends 512)
    18  Data (Length slots)

ArtSync is the first 12 octets with OpCode 0x5200 followed by Aux1 = Aux2 = 0 (14 octets).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from lumen.errors import OutputError
from lumen.rt.realtime import realtime

#: UDP port of Art-Net (0x1936), for both directions.
ARTNET_PORT: Final[int] = 6454
#: The 8-octet ID every Art-Net packet starts with.
ARTNET_ID: Final[bytes] = b"Art-Net\x00"
#: Art-Net protocol version written in every packet that carries one (ProtVerHi 0, ProtVerLo 14).
PROTOCOL_VERSION: Final[int] = 14

OP_POLL: Final[int] = 0x2000
OP_POLL_REPLY: Final[int] = 0x2100
OP_DMX: Final[int] = 0x5000
OP_SYNC: Final[int] = 0x5200

#: Header octets of ArtDmx before the slots.
DMX_HEADER_LEN: Final[int] = 18
#: Slots per ArtDmx packet lumen sends (a full universe).
N_SLOTS: Final[int] = 512
#: Length in bytes of lumen's ArtDmx packets.
DMX_PACKET_LEN: Final[int] = DMX_HEADER_LEN + N_SLOTS
#: Length in bytes of an ArtSync packet.
SYNC_PACKET_LEN: Final[int] = 14
#: Shortest ArtPoll that consumers must accept (Art-Net 4); the Art-Net 4 ArtPoll is 22 octets.
POLL_MIN_LEN: Final[int] = 14
#: Length in bytes of an Art-Net 4 ArtPollReply.
POLL_REPLY_LEN: Final[int] = 239
#: Shortest ArtPollReply consumers must accept (older revisions were shorter).
POLL_REPLY_MIN_LEN: Final[int] = 207
#: Highest 15-bit Port-Address.
PORT_ADDRESS_MAX: Final[int] = 0x7FFF
#: Ports one ArtPollReply can describe.
PORTS_PER_REPLY: Final[int] = 4
#: Most ArtPollReply packets one device may send for one poll (BindIndex 1..255).
MAX_BIND_INDEX: Final[int] = 255

#: ArtPollReply Style codes.
STYLE_NODE: Final[int] = 0x00
STYLE_CONTROLLER: Final[int] = 0x01

#: ArtPoll Flags bits.
POLL_FLAG_REPLY_ON_CHANGE: Final[int] = 0x02
POLL_FLAG_DIAGNOSTICS: Final[int] = 0x04
POLL_FLAG_DIAG_UNICAST: Final[int] = 0x08
POLL_FLAG_VLC_DISABLE: Final[int] = 0x10
POLL_FLAG_TARGETED: Final[int] = 0x20

#: PortTypes bits: the port puts data onto Art-Net (input) / takes data from Art-Net (output).
PORT_TYPE_INPUT: Final[int] = 0x40
PORT_TYPE_OUTPUT: Final[int] = 0x80
#: GoodInput bit 7: data received (for lumen: the universe is being transmitted).
GOOD_INPUT_DATA: Final[int] = 0x80
#: Status1: indicators normal (bits 7-6 = 11), Port-Address set locally (bits 5-4 = 01).
STATUS1_DEFAULT: Final[int] = 0xD0
#: Status2 bit 3: the device handles 15-bit Port-Addresses (Art-Net 3 and 4).
STATUS2_PORT_ADDRESS_15BIT: Final[int] = 0x08
#: "OemUnknown" (Art-Net's code for products without a registered OEM code).
OEM_UNKNOWN: Final[int] = 0x00FF
#: Node report status code "RcPowerOk" (the first field of the NodeReport text).
REPORT_POWER_OK: Final[int] = 0x0001

_SHORT_NAME_LEN: Final[int] = 18
_LONG_NAME_LEN: Final[int] = 64
_REPORT_LEN: Final[int] = 64

# Offsets that change per send.
_OFF_SEQUENCE: Final[int] = 12

# ArtPollReply offsets (Art-Net 4 "ArtPollReply" packet definition).
_R_IP: Final[int] = 10
_R_PORT: Final[int] = 14
_R_VERSION: Final[int] = 16
_R_NET_SWITCH: Final[int] = 18
_R_SUB_SWITCH: Final[int] = 19
_R_OEM: Final[int] = 20
_R_UBEA: Final[int] = 22
_R_STATUS1: Final[int] = 23
_R_ESTA: Final[int] = 24
_R_SHORT_NAME: Final[int] = 26
_R_LONG_NAME: Final[int] = 44
_R_NODE_REPORT: Final[int] = 108
_R_NUM_PORTS: Final[int] = 172
_R_PORT_TYPES: Final[int] = 174
_R_GOOD_INPUT: Final[int] = 178
_R_GOOD_OUTPUT_A: Final[int] = 182
_R_SW_IN: Final[int] = 186
_R_SW_OUT: Final[int] = 190
_R_STYLE: Final[int] = 200
_R_MAC: Final[int] = 201
_R_BIND_IP: Final[int] = 207
_R_BIND_INDEX: Final[int] = 211
_R_STATUS2: Final[int] = 212


def port_address(net: int, subnet: int, universe: int) -> int:
    """The 15-bit Port-Address of ``net`` (0..127), ``subnet`` (0..15) and ``universe`` (0..15).

    Examples
    --------
    >>> port_address(0, 0, 0), port_address(0, 1, 2), port_address(1, 0, 0), port_address(127, 15, 15)
    (0, 18, 256, 32767)
    """
    if not (0 <= net <= 0x7F and 0 <= subnet <= 0xF and 0 <= universe <= 0xF):
        raise OutputError(f"net {net}, subnet {subnet}, universe {universe} out of range (0..127, 0..15, 0..15)")
    return net << 8 | subnet << 4 | universe


def split_port_address(address: int) -> tuple[int, int, int]:
    """``(net, subnet, universe)`` of a 15-bit Port-Address.

    Examples
    --------
    >>> split_port_address(0x1234)
    (18, 3, 4)
    """
    _check_port_address(address, "Port-Address")
    return address >> 8, (address >> 4) & 0xF, address & 0xF


def _check_port_address(address: int, what: str) -> None:
    if not 0 <= address <= PORT_ADDRESS_MAX:
        raise OutputError(f"{what} {address} is outside Art-Net's 15-bit Port-Address range 0..{PORT_ADDRESS_MAX}")


def _header(opcode: int) -> bytes:
    return ARTNET_ID + struct.pack("<H", opcode)


def _fixed_ascii(text: str, size: int, what: str) -> bytes:
    """``text`` as a NUL-terminated, NUL-padded ASCII field of ``size`` octets."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise OutputError(f"{what} must be ASCII: {text!r}") from exc
    return raw[: size - 1].ljust(size, b"\x00")


def parse_opcode(packet: bytes | bytearray | memoryview) -> int:
    """The OpCode of an Art-Net packet.

    Raises
    ------
    OutputError
        The packet is shorter than 10 octets or does not start with ``Art-Net\\0``.

    Examples
    --------
    >>> hex(parse_opcode(b"Art-Net\\x00\\x00\\x50" + bytes(8)))
    '0x5000'
    """
    if len(packet) < 10 or bytes(packet[:8]) != ARTNET_ID:
        raise OutputError("not an Art-Net packet (bad ID or too short)")
    return int(packet[8]) | int(packet[9]) << 8


@dataclass(frozen=True, slots=True)
class ArtPoll:
    """A parsed ArtPoll.

    Attributes
    ----------
    protocol_version : int, >= 14
    flags : int, 0..255
        Bit 1 reply on change, bit 2 diagnostics, bit 3 unicast diagnostics, bit 4 VLC off,
        bit 5 targeted mode.
    diag_priority : int, 0..255
    target_top, target_bottom : int, 0..32767
        Port-Address range of a targeted poll (0 when the packet is too short to carry it).
    esta_manufacturer, oem : int, 0..65535
        Filters of the Art-Net 4 poll (0 when absent).
    """

    protocol_version: int
    flags: int
    diag_priority: int
    target_top: int
    target_bottom: int
    esta_manufacturer: int
    oem: int

    @property
    def targeted(self) -> bool:
        """True when only nodes with a Port-Address in ``target_bottom..target_top`` answer."""
        return bool(self.flags & POLL_FLAG_TARGETED)

    def wants(self, addresses: Sequence[int]) -> bool:
        """Whether a device with these Port-Addresses should reply to this poll."""
        if not self.targeted:
            return True
        return any(self.target_bottom <= a <= self.target_top for a in addresses)


def parse_artpoll(packet: bytes | bytearray | memoryview) -> ArtPoll:
    """Parse an ArtPoll (OpCode 0x2000).

    Accepts 14 octets or more (the Art-Net 4 minimum); the targeted-mode and filter fields of
    the 22-octet Art-Net 4 poll are read when present.

    Raises
    ------
    OutputError
        Not Art-Net, another OpCode, shorter than 14 octets, or protocol version below 14.

    Examples
    --------
    >>> parse_artpoll(b"Art-Net\\x00\\x00\\x20\\x00\\x0e\\x02\\x10").flags
    2
    """
    op = parse_opcode(packet)
    if op != OP_POLL:
        raise OutputError(f"OpCode 0x{op:04x} is not ArtPoll (0x2000)")
    if len(packet) < POLL_MIN_LEN:
        raise OutputError(f"ArtPoll of {len(packet)} octets is shorter than {POLL_MIN_LEN}")
    raw = bytes(packet)
    (version,) = struct.unpack_from(">H", raw, 10)
    if version < PROTOCOL_VERSION:
        raise OutputError(f"Art-Net protocol version {version} < {PROTOCOL_VERSION}")
    top = bottom = esta = oem = 0
    if len(raw) >= 18:
        top, bottom = struct.unpack_from(">HH", raw, 14)
    if len(raw) >= 22:
        esta, oem = struct.unpack_from(">HH", raw, 18)
    return ArtPoll(version, raw[12], raw[13], top, bottom, esta, oem)


def encode_artpoll(flags: int = 0, diag_priority: int = 0x10, target_top: int = 0, target_bottom: int = 0) -> bytes:
    """An Art-Net 4 ArtPoll (22 octets) as a controller sends it (used by tests and tools).

    Examples
    --------
    >>> p = encode_artpoll(); len(p), p[8:12]
    (22, b'\\x00 \\x00\\x0e')
    """
    _check_port_address(target_top, "target_top")
    _check_port_address(target_bottom, "target_bottom")
    body = struct.pack(">HBBHHHH", PROTOCOL_VERSION, flags, diag_priority, target_top, target_bottom, 0, 0)
    return _header(OP_POLL) + body


def node_report(count: int, text: str = "lumen ok", code: int = REPORT_POWER_OK) -> str:
    """The NodeReport text ``#xxxx [yyyy] text``: status code in hex, reply counter in decimal.

    Examples
    --------
    >>> node_report(3)
    '#0001 [0003] lumen ok'
    """
    return f"#{code:04x} [{count % 10000:04d}] {text}"


def encode_poll_reply(
    ip: str,
    port_addresses: Sequence[int],
    *,
    short_name: str = "lumen",
    long_name: str = "lumen audio-reactive lighting",
    report: str = "",
    style: int = STYLE_CONTROLLER,
    bind_index: int = 1,
    direction: str = "input",
    version_info: int = 1,
    oem: int = OEM_UNKNOWN,
    esta_manufacturer: int = 0,
    mac: bytes = bytes(6),
) -> bytes:
    """An Art-Net 4 ArtPollReply (239 octets) describing up to four ports.

    Parameters
    ----------
    ip : str
        IPv4 address of the device (also written as BindIp).
    port_addresses : sequence of int, 1..4 items, 0..32767
        Port-Addresses of the ports; they must share bits 14..4 (net and subnet), which go into
        NetSwitch and SubSwitch, while bits 3..0 go into SwIn or SwOut.
    short_name, long_name, report : str
        ASCII, cut to 17 / 63 / 63 characters and NUL-terminated.
    style : int
        `STYLE_CONTROLLER` (0x01) for a device that sends DMX, such as lumen; `STYLE_NODE`
        (0x00) for a DMX gateway.
    bind_index : int, 1..255
        Which of a device's replies this is (1 = root).
    direction : {"input", "output"}
        ``"input"``: the ports put DMX onto Art-Net (what a controller does; PortTypes bit 6,
        SwIn, GoodInput "data received"). ``"output"``: the ports take DMX from Art-Net
        (PortTypes bit 7, SwOut).
    version_info, oem, esta_manufacturer : int, 0..65535
    mac : bytes of length 6
        MAC address (zeros when unknown).

    Raises
    ------
    OutputError
        An argument is out of range or the ports do not share net and subnet.
    """
    n_ports = len(port_addresses)
    if not 1 <= n_ports <= PORTS_PER_REPLY:
        raise OutputError(f"an ArtPollReply describes 1..{PORTS_PER_REPLY} ports, got {n_ports}")
    for a in port_addresses:
        _check_port_address(a, "Port-Address")
    if len({a >> 4 for a in port_addresses}) != 1:
        raise OutputError(f"Port-Addresses {list(port_addresses)} do not share net and subnet (bits 14..4)")
    if not 1 <= bind_index <= MAX_BIND_INDEX:
        raise OutputError(f"bind_index {bind_index} is outside 1..{MAX_BIND_INDEX}")
    if direction not in ("input", "output"):
        raise OutputError(f"direction must be 'input' or 'output', got {direction!r}")
    if len(mac) != 6:
        raise OutputError(f"mac must be 6 bytes, got {len(mac)}")
    try:
        ip_raw = ipaddress.IPv4Address(ip).packed
    except ValueError as exc:
        raise OutputError(f"{ip!r} is not an IPv4 address") from exc

    buf = bytearray(POLL_REPLY_LEN)
    buf[0:10] = _header(OP_POLL_REPLY)
    buf[_R_IP : _R_IP + 4] = ip_raw
    struct.pack_into("<H", buf, _R_PORT, ARTNET_PORT)  # 0x1936, low byte first
    struct.pack_into(">H", buf, _R_VERSION, version_info)
    first = port_addresses[0]
    buf[_R_NET_SWITCH] = first >> 8
    buf[_R_SUB_SWITCH] = (first >> 4) & 0xF
    struct.pack_into(">H", buf, _R_OEM, oem)  # OemHi, Oem
    buf[_R_UBEA] = 0
    buf[_R_STATUS1] = STATUS1_DEFAULT
    struct.pack_into("<H", buf, _R_ESTA, esta_manufacturer)  # EstaManLo, EstaManHi
    buf[_R_SHORT_NAME : _R_SHORT_NAME + _SHORT_NAME_LEN] = _fixed_ascii(short_name, _SHORT_NAME_LEN, "short_name")
    buf[_R_LONG_NAME : _R_LONG_NAME + _LONG_NAME_LEN] = _fixed_ascii(long_name, _LONG_NAME_LEN, "long_name")
    buf[_R_NODE_REPORT : _R_NODE_REPORT + _REPORT_LEN] = _fixed_ascii(report, _REPORT_LEN, "report")
    struct.pack_into(">H", buf, _R_NUM_PORTS, n_ports)
    for i, a in enumerate(port_addresses):
        if direction == "input":
            buf[_R_PORT_TYPES + i] = PORT_TYPE_INPUT  # protocol bits 5-0 = 0: DMX512
            buf[_R_GOOD_INPUT + i] = GOOD_INPUT_DATA
            buf[_R_SW_IN + i] = a & 0xF
        else:
            buf[_R_PORT_TYPES + i] = PORT_TYPE_OUTPUT
            buf[_R_GOOD_OUTPUT_A + i] = 0x80  # data being transmitted on the DMX port
            buf[_R_SW_OUT + i] = a & 0xF
    buf[_R_STYLE] = style
    buf[_R_MAC : _R_MAC + 6] = mac
    buf[_R_BIND_IP : _R_BIND_IP + 4] = ip_raw
    buf[_R_BIND_INDEX] = bind_index
    buf[_R_STATUS2] = STATUS2_PORT_ADDRESS_15BIT
    return bytes(buf)


def reply_pages(port_addresses: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Group Port-Addresses into ArtPollReply pages: up to 4 each, sharing net and subnet.

    Raises
    ------
    OutputError
        More pages than the 255 BindIndex values allow.

    Examples
    --------
    >>> reply_pages([0, 1, 2, 3, 4, 15, 16])
    ((0, 1, 2, 3), (4,), (15,), (16,))
    """
    pages: list[tuple[int, ...]] = []
    cur: list[int] = []
    for a in sorted(set(port_addresses)):
        if cur and (len(cur) == PORTS_PER_REPLY or cur[0] >> 4 != a >> 4 or a - cur[-1] != 1):
            pages.append(tuple(cur))
            cur = []
        cur.append(a)
    if cur:
        pages.append(tuple(cur))
    if len(pages) > MAX_BIND_INDEX:
        raise OutputError(f"{len(pages)} ArtPollReply pages exceed the {MAX_BIND_INDEX} BindIndex values")
    return tuple(pages)


class ArtnetEncoder:
    """Preallocated ArtDmx packets for a block of consecutive Port-Addresses, and an ArtSync.

    Parameters
    ----------
    n_universes : int, >= 1
        Number of consecutive Port-Addresses this encoder serves.
    start_universe : int, 0..32767
        15-bit Port-Address (``net << 8 | subnet << 4 | universe``) of index 0.
    sequencing : bool
        Number packets 1..255 per universe (wrapping to 1, never 0), so receivers can reorder;
        False sends 0, which tells receivers not to check.
    physical : int, 0..255
        The informative "physical input port" octet.

    Raises
    ------
    OutputError
        A Port-Address or count is out of range.

    Notes
    -----
    The memoryviews returned point into the encoder's buffer: send them before the next encode
    of the same universe and do not keep them.

    Examples
    --------
    >>> enc = ArtnetEncoder(2, start_universe=0x0110)
    >>> pkt = enc.encode(1, np.full(512, 7, dtype=np.uint8))
    >>> len(pkt), pkt[12], pkt[14], pkt[15], pkt[18]
    (530, 1, 17, 1, 7)
    """

    def __init__(
        self, n_universes: int, start_universe: int = 0, *, sequencing: bool = True, physical: int = 0
    ) -> None:
        if n_universes < 1:
            raise OutputError(f"n_universes must be at least 1, got {n_universes}")
        _check_port_address(start_universe, "start_universe")
        _check_port_address(start_universe + n_universes - 1, "last universe")
        if not 0 <= physical <= 255:
            raise OutputError(f"physical {physical} is outside 0..255")
        self.n_universes: int = n_universes
        self.start_universe: int = start_universe
        self.sequencing: bool = sequencing

        self._buf = bytearray(n_universes * DMX_PACKET_LEN)
        self._packets: npt.NDArray[np.uint8] = np.frombuffer(self._buf, dtype=np.uint8).reshape(
            n_universes, DMX_PACKET_LEN
        )
        self._slots: npt.NDArray[np.uint8] = self._packets[:, DMX_HEADER_LEN:]
        self._slot_rows: tuple[npt.NDArray[np.uint8], ...] = tuple(self._slots[i] for i in range(n_universes))
        self._seq: npt.NDArray[np.uint8] = self._packets[:, _OFF_SEQUENCE]
        whole = memoryview(self._buf)
        self._views: tuple[memoryview, ...] = tuple(
            whole[i * DMX_PACKET_LEN : (i + 1) * DMX_PACKET_LEN] for i in range(n_universes)
        )
        head = _header(OP_DMX) + struct.pack(">HBB", PROTOCOL_VERSION, 0, physical)
        for i in range(n_universes):
            a = start_universe + i
            off = i * DMX_PACKET_LEN
            # SubUni (bits 7..0), Net (bits 14..8), Length big-endian.
            self._buf[off : off + DMX_HEADER_LEN] = head + struct.pack("<H", a) + struct.pack(">H", N_SLOTS)
        self._sync_buf = bytearray(_header(OP_SYNC) + struct.pack(">HBB", PROTOCOL_VERSION, 0, 0))
        self._sync_view = memoryview(self._sync_buf)

    # -- queries ------------------------------------------------------------------------------

    @property
    def universes(self) -> tuple[int, ...]:
        """Port-Addresses served, in index order."""
        return tuple(range(self.start_universe, self.start_universe + self.n_universes))

    def sequence(self, u_index: int) -> int:
        """Sequence number of the last packet of universe index ``u_index`` (0 before the first
        packet, and always 0 without sequencing)."""
        return int(self._seq[u_index])

    def packet(self, u_index: int) -> memoryview:
        """The current ArtDmx packet of universe index ``u_index`` (530 bytes)."""
        return self._views[u_index]

    # -- per-send writes ----------------------------------------------------------------------

    @realtime
    def encode(self, u_index: int, dmx: npt.NDArray[np.uint8]) -> memoryview:
        """Write the next ArtDmx packet of universe index ``u_index``. Real-time safe.

        Parameters
        ----------
        u_index : int, 0..n_universes-1
        dmx : ndarray, shape (512,), uint8

        Returns
        -------
        memoryview
            The 530-byte packet, valid until the next encode of this universe.
        """
        np.copyto(self._slot_rows[u_index], dmx)
        view = self._views[u_index]
        if self.sequencing:
            view[_OFF_SEQUENCE] = view[_OFF_SEQUENCE] % 255 + 1
        return view

    @realtime
    def encode_frame(self, dmx: npt.NDArray[np.uint8]) -> tuple[memoryview, ...]:
        """Write the next ArtDmx packet of every universe. Real-time safe.

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8

        Returns
        -------
        tuple of memoryview
            One 530-byte packet per universe, valid until the next encode.
        """
        np.copyto(self._slots, dmx)
        if self.sequencing:
            seq = self._seq
            seq += 1  # uint8: 255 wraps to 0 ...
            np.maximum(seq, 1, out=seq)  # ... and 0 becomes 1: the sequence runs 1..255, 1, ...
        return self._views

    @realtime
    def sync_packet(self) -> memoryview:
        """The 14-byte ArtSync packet (OpCode 0x5200, Aux1 = Aux2 = 0). Real-time safe."""
        return self._sync_view
