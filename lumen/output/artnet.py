"""`ArtnetOutput`: DMX frames as Art-Net 4 ArtDmx over UDP; `ArtPollResponder`: discovery replies.

Layer: output. Threads: an `ArtnetOutput` is driven by one owning thread (the output thread of
the show process, or a test); ``packets`` and ``errors`` may be read from any thread.
An `ArtPollResponder` runs its own daemon thread that owns its socket; ``start``/``stop`` run
on the thread that wires the engine, and its counters may be read from any thread. The two
share nothing, so answering polls never delays a frame.

Defaults are unicast to 127.0.0.1:6454. Art-Net's classic broadcast destinations
(2.255.255.255, 10.255.255.255, a subnet's x.y.z.255, 255.255.255.255) leave the machine and
are refused unless ``allow_broadcast=True``. Art-Net has no multicast: multicast addresses are
always refused.

Termination: Art-Net has no end-of-stream message (unlike sACN's Stream_Terminated), so
``terminate`` sends nothing and returns 0. Receivers keep the last look (or apply their own
data-loss behavior). Publish a black frame before stopping if the rig should go dark.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
from collections.abc import Sequence
from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lumen.errors import OutputError
from lumen.output.encode.artnet import (
    ARTNET_PORT,
    OP_POLL,
    PORT_ADDRESS_MAX,
    STYLE_CONTROLLER,
    ArtnetEncoder,
    encode_poll_reply,
    node_report,
    parse_artpoll,
    parse_opcode,
    reply_pages,
)
from lumen.output.send import SingleSenderStats, UdpSender, resolve_ipv4

#: Longest the responder thread waits in ``select`` before it looks at its stop flag, s.
_POLL_WAIT_S: Final[float] = 0.1
#: Largest datagram the responder reads (an Art-Net packet is at most ~1 kB).
_RECV_BYTES: Final[int] = 2048


def is_broadcast_like(address: str) -> bool:
    """True for 255.255.255.255 and any address ending in .255 (Art-Net's 2.255.255.255,
    10.255.255.255, a /24 subnet's broadcast). Without the netmask a directed broadcast cannot be
    told apart from a host for sure, so lumen errs on the side of refusing.

    Examples
    --------
    >>> is_broadcast_like("2.255.255.255"), is_broadcast_like("192.168.1.255"), is_broadcast_like("127.0.0.1")
    (True, True, False)
    """
    return resolve_ipv4(address).packed[3] == 255


class _BroadcastSender(UdpSender):
    """A `UdpSender` with ``SO_BROADCAST`` set, for a directed broadcast destination."""

    def __init__(self, address: str, port: int) -> None:
        limited = resolve_ipv4(address) == ipaddress.IPv4Address("255.255.255.255")
        super().__init__(address, port, allow_multicast=limited)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        except OSError as exc:
            self.close()
            raise OutputError(f"cannot enable broadcast on a UDP socket: {exc}") from exc


class ArtnetParams(BaseModel):
    """Configuration of an Art-Net output (the schema for show files, docs and OSC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: Annotated[str, Field(description="Destination IPv4 address (unicast unless allow_broadcast).")] = (
        "127.0.0.1"
    )
    port: Annotated[int, Field(ge=1, le=65535, description="Destination UDP port (6454 for real nodes).")] = ARTNET_PORT
    start_universe: Annotated[
        int,
        Field(ge=0, le=PORT_ADDRESS_MAX, description="15-bit Port-Address (net<<8|subnet<<4|universe) of row 0."),
    ] = 0
    n_universes: Annotated[int, Field(ge=1, le=PORT_ADDRESS_MAX + 1, description="Consecutive universes sent.")] = 1
    rate_hz: Annotated[float, Field(gt=0.0, le=1000.0, description="Maximum frame rate, Hz.")] = 44.0
    latency_ms: Annotated[
        float, Field(ge=0.0, le=1000.0, description="Known latency after the socket (node, fixture), ms.")
    ] = 0.0
    sync: Annotated[bool, Field(description="Send ArtSync after each frame so nodes switch together.")] = False
    allow_broadcast: Annotated[
        bool, Field(description="Permit a broadcast destination such as 2.255.255.255 (show network only).")
    ] = False


class ArtnetOutput(SingleSenderStats):
    """Sends frames of DMX universes as ArtDmx packets, one ``sendto`` per universe.

    Parameters
    ----------
    address : str
        Destination IPv4 address or host name.
    port : int, 1..65535
        Destination UDP port (6454 for real nodes; an ephemeral port in tests).
    start_universe : int, 0..32767
        15-bit Port-Address of row 0 (``net << 8 | subnet << 4 | universe``).
    n_universes : int, >= 1
        Rows per frame (consecutive Port-Addresses).
    rate_hz : float, Hz, > 0
        Highest frame rate; `OutputThread` enforces it (Art-Net 4 asks for at most 44 Hz).
    latency_ms : float, ms, >= 0
        Known latency after the socket, for beat-locked timing.
    sync : bool
        End every frame with an ArtSync to the same destination, so nodes in sync mode output
        all universes together.
    allow_broadcast : bool
        Permit a broadcast destination (255.255.255.255 or an address ending in .255). Only
        on a show network or inside a private network namespace.

    Raises
    ------
    OutputError
        An invalid parameter, a refused destination, or no socket.

    Notes
    -----
    ``terminate`` sends nothing (Art-Net has no stream termination) and returns 0.
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = ARTNET_PORT,
        start_universe: int = 0,
        n_universes: int = 1,
        rate_hz: float = 44.0,
        latency_ms: float = 0.0,
        *,
        sync: bool = False,
        allow_broadcast: bool = False,
    ) -> None:
        if not rate_hz > 0.0:
            raise OutputError(f"rate_hz must be positive, got {rate_hz}")
        if not latency_ms >= 0.0:
            raise OutputError(f"latency_ms must be >= 0, got {latency_ms}")
        ip = resolve_ipv4(address)
        if ip.is_multicast:
            raise OutputError(f"{ip} is a multicast address; Art-Net has no multicast")
        self.encoder = ArtnetEncoder(n_universes, start_universe)
        self.n_universes: int = n_universes
        self.rate_hz: float = float(rate_hz)
        self.latency_ms: float = float(latency_ms)
        self.sync: bool = sync
        if is_broadcast_like(str(ip)):
            if not allow_broadcast:
                raise OutputError(
                    f"{ip} is a broadcast address; it would reach every node on the network. "
                    "Pass allow_broadcast=True only on a show network or inside a private netns."
                )
            self._sender: UdpSender = _BroadcastSender(str(ip), port)
        else:
            self._sender = UdpSender(str(ip), port)
        self.broadcast: bool = is_broadcast_like(str(ip))

    @classmethod
    def from_params(cls, params: ArtnetParams) -> ArtnetOutput:
        """Build an output from validated configuration."""
        return cls(
            params.address,
            params.port,
            params.start_universe,
            params.n_universes,
            params.rate_hz,
            params.latency_ms,
            sync=params.sync,
            allow_broadcast=params.allow_broadcast,
        )

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        """Encode and send one frame (then an ArtSync with ``sync``); errors are counted.

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8
            Slot values, row ``i`` for Port-Address ``start_universe + i``.

        Returns
        -------
        int
            Packets the kernel accepted.
        """
        views = self.encoder.encode_frame(dmx)
        send = self._sender.send
        ok = 0
        for view in views:
            ok += send(view)
        if self.sync:
            ok += send(self.encoder.sync_packet())
        return ok

    def terminate(self) -> int:
        """Art-Net has no stream termination: send nothing and return 0.

        Receivers hold the last frame (or apply their own data-loss behavior); publish a black
        frame first if the rig should go dark.
        """
        return 0

    def close(self) -> None:
        """Close the socket."""
        self._sender.close()

    def __repr__(self) -> str:
        u0 = self.encoder.start_universe
        host, port = self._sender.destination
        return f"ArtnetOutput({host}:{port}, universes {u0}..{u0 + self.n_universes - 1}, packets={self.packets})"


class ArtPollResponder:
    """Answers ArtPoll with ArtPollReply packets describing the universes lumen sends.

    A daemon thread owns one UDP socket bound to ``bind_address:port``. For every valid ArtPoll
    (for a targeted poll, only the pages with a Port-Address in its range) it unicasts the replies back
    to the poller's address and port, as Art-Net 4 asks: up to four Port-Addresses per reply
    (sharing net and subnet), BindIndex 1, 2, ... and BindIp = ``reply_ip``. Malformed packets
    (not Art-Net, too short, an old protocol version) are counted in ``malformed``; valid
    Art-Net packets that are not polls (ArtDmx, other devices' replies) in ``ignored``.

    Parameters
    ----------
    universes : sequence of int, 0..32767
        Port-Addresses lumen sends (e.g. ``ArtnetOutput.encoder.universes``).
    bind_address : str
        Local IPv4 address to listen on (127.0.0.1 by default; the show network's address, or
        0.0.0.0, to be discoverable by consoles, which poll by broadcast).
    port : int, 0..65535
        Local UDP port (6454 for real controllers; 0 picks an ephemeral port for tests).
    reply_ip : str, optional
        Address written in the replies' IP and BindIp fields; defaults to ``bind_address``
        (required when that is 0.0.0.0).
    short_name, long_name : str
        ASCII names shown by consoles (17 and 63 characters at most).
    style : int
        ArtPollReply Style; `STYLE_CONTROLLER` because lumen sends DMX.
    reuse_address : bool
        Set ``SO_REUSEADDR`` so another Art-Net program on this machine can share the port.
    name : str
        Thread name.

    Attributes
    ----------
    polls, replies, malformed, ignored, send_errors : int
        Counters, written by the responder thread only.

    Raises
    ------
    OutputError
        Bad parameters (too many universes for 255 replies, non-ASCII names) or the socket cannot
        be bound (e.g. port 6454 is taken by another Art-Net program).
    """

    def __init__(
        self,
        universes: Sequence[int],
        *,
        bind_address: str = "127.0.0.1",
        port: int = ARTNET_PORT,
        reply_ip: str | None = None,
        short_name: str = "lumen",
        long_name: str = "lumen audio-reactive lighting",
        style: int = STYLE_CONTROLLER,
        reuse_address: bool = False,
        name: str = "lumen-artpoll",
    ) -> None:
        if not universes:
            raise OutputError("an ArtPollResponder needs at least one universe")
        if not 0 <= port <= 65535:
            raise OutputError(f"port {port} is outside 0..65535")
        bind_ip = resolve_ipv4(bind_address)
        if reply_ip is None:
            if bind_ip.is_unspecified:
                raise OutputError("reply_ip is required when bind_address is 0.0.0.0")
            reply_ip = str(bind_ip)
        self.reply_ip: str = str(resolve_ipv4(reply_ip))
        self.universes: tuple[int, ...] = tuple(sorted(set(universes)))
        self.pages: tuple[tuple[int, ...], ...] = reply_pages(self.universes)
        self.short_name: str = short_name
        self.long_name: str = long_name
        self.style: int = style
        self.name: str = name
        # Build once to validate names and addresses before any thread starts.
        self._build_replies(0)

        self.polls: int = 0
        self.replies: int = 0
        self.malformed: int = 0
        self.ignored: int = 0
        self.send_errors: int = 0
        self.last_error: str = ""

        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            raise OutputError(f"cannot create a UDP socket: {exc}") from exc
        try:
            if reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(bind_ip), port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OutputError(f"cannot bind the ArtPoll responder to {bind_ip}:{port}: {exc}") from exc
        self._sock = sock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def local_address(self) -> tuple[str, int]:
        """The ``(address, port)`` the responder listens on."""
        host, port = self._sock.getsockname()
        return (str(host), int(port))

    def _build_replies(self, count: int) -> list[bytes]:
        report = node_report(count)
        return [
            encode_poll_reply(
                self.reply_ip,
                page,
                short_name=self.short_name,
                long_name=self.long_name,
                report=report,
                style=self.style,
                bind_index=i + 1,
                direction="input",
            )
            for i, page in enumerate(self.pages)
        ]

    def handle(self, packet: bytes, source: tuple[str, int]) -> int:
        """Handle one datagram from ``source``; return the replies sent.

        Called by the responder thread; tests may call it directly instead of starting it.
        """
        try:
            op = parse_opcode(packet)
            if op != OP_POLL:
                self.ignored += 1
                return 0
            poll = parse_artpoll(packet)
        except OutputError:
            self.malformed += 1
            return 0
        self.polls += 1
        sent = 0
        for page, reply in zip(self.pages, self._build_replies(self.polls)):
            if not poll.wants(page):  # a targeted poll: only the pages inside its range
                continue
            try:
                self._sock.sendto(reply, source)
            except OSError as exc:
                self.send_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            sent += 1
        self.replies += sent
        return sent

    def _run(self) -> None:
        sock = self._sock
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], _POLL_WAIT_S)
            except (OSError, ValueError):  # the socket was closed under us
                return
            if not ready:
                continue
            # Drain what is queued, bounded so the stop flag is seen under a flood.
            for _ in range(64):
                try:
                    packet, source = sock.recvfrom(_RECV_BYTES)
                except BlockingIOError:
                    break
                except OSError as exc:
                    self.send_errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    break
                self.handle(packet, source)

    def start(self) -> None:
        """Start the responder thread (once)."""
        if self._thread is not None:
            raise OutputError("the ArtPoll responder was already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and close the socket.

        Raises
        ------
        OutputError
            The thread did not stop within ``timeout_s``.
        """
        thread = self._thread
        self._stop.set()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                raise OutputError(f"ArtPoll responder {self.name!r} did not stop within {timeout_s} s")
            self._thread = None
        self._sock.close()

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        host, port = self.local_address if self._sock.fileno() >= 0 else ("closed", 0)
        return f"ArtPollResponder({host}:{port}, {len(self.universes)} universes, replies={self.replies})"
