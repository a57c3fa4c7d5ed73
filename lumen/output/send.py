"""UDP sending for the outputs: one non-blocking socket, one ``sendto`` per packet, errors counted.

Layer: output. Threads: a `UdpSender` belongs to one thread (the output thread of the show
process); its ``packets``/``errors`` counters may be read from any thread.

Senders bind to ``('', 0)``, an ephemeral port. Binding a sender to 5568 (or 6454) would make
the kernel deliver unicast meant for a receiver on the same machine to the sender's socket
instead. Multicast and broadcast destinations are refused unless asked for explicitly, because
they leave the machine through the default interface; tests use them only inside a private
network namespace.
"""

from __future__ import annotations

import ipaddress
import socket
from types import TracebackType

from lumen.errors import OutputError

_LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def resolve_ipv4(address: str) -> ipaddress.IPv4Address:
    """Parse ``address`` as dotted IPv4, resolving a host name once if it is not one.

    Raises
    ------
    OutputError
        The name does not resolve to an IPv4 address.
    """
    try:
        return ipaddress.IPv4Address(address)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.gethostbyname(address))
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot resolve {address!r} to an IPv4 address: {exc}") from exc


class UdpSender:
    """A non-blocking IPv4 UDP socket that sends to one destination and counts failures.

    Parameters
    ----------
    address : str
        Destination IPv4 address or host name (resolved once, here).
    port : int, 1..65535
        Destination UDP port.
    allow_multicast : bool
        Permit a multicast (224.0.0.0/4) or limited-broadcast destination. Only for private
        network namespaces and real show networks; never for tests on a shared host.
    multicast_ttl : int, 1..255
        IP TTL of multicast packets (1 keeps them on the local link).
    multicast_interface : str, optional
        IPv4 address of the interface that multicast leaves through (default: the route's).

    Attributes
    ----------
    packets : int
        Packets handed to the kernel successfully.
    errors : int
        Failed ``sendto`` calls (no route, buffer full, message too long, closed socket, ...).
    last_error : str
        Text of the most recent failure ("" if none).

    Raises
    ------
    OutputError
        The destination is invalid, or multicast/broadcast without ``allow_multicast``, or the
        socket cannot be created.

    Notes
    -----
    Broadcast to a subnet address (e.g. 192.168.1.255) cannot be recognized without the
    netmask; the socket never sets ``SO_BROADCAST`` unless ``allow_multicast`` is set, so the
    kernel refuses such a send (``EACCES``) and it is counted as an error.
    """

    def __init__(
        self,
        address: str,
        port: int,
        *,
        allow_multicast: bool = False,
        multicast_ttl: int = 1,
        multicast_interface: str | None = None,
    ) -> None:
        ip = resolve_ipv4(address)
        if not 1 <= port <= 65535:
            raise OutputError(f"port {port} is outside 1..65535")
        if ip.is_unspecified:
            raise OutputError(f"{ip} is not a destination address")
        is_group = ip.is_multicast or ip == _LIMITED_BROADCAST
        if is_group and not allow_multicast:
            raise OutputError(
                f"{ip} is a multicast/broadcast address; it would leave this machine. "
                "Pass allow_multicast=True only on a show network or inside a private netns."
            )
        if not 1 <= multicast_ttl <= 255:
            raise OutputError(f"multicast_ttl {multicast_ttl} is outside 1..255")
        self.address: str = str(ip)
        self.port: int = port
        self.destination: tuple[str, int] = (self.address, port)
        self.packets: int = 0
        self.errors: int = 0
        self.last_error: str = ""
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            raise OutputError(f"cannot create a UDP socket: {exc}") from exc
        try:
            sock.bind(("", 0))
            sock.setblocking(False)
            if allow_multicast:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, multicast_ttl)
                if ip == _LIMITED_BROADCAST:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                if multicast_interface is not None:
                    iface = resolve_ipv4(multicast_interface)
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface.packed)
        except OSError as exc:
            sock.close()
            raise OutputError(f"cannot set up a UDP socket for {self.address}:{port}: {exc}") from exc
        self._sock = sock

    @property
    def local_address(self) -> tuple[str, int]:
        """The ``(address, port)`` the socket is bound to (an ephemeral port)."""
        host, port = self._sock.getsockname()
        return (str(host), int(port))

    def send(self, packet: bytes | bytearray | memoryview) -> bool:
        """Send one datagram with one ``sendto``; never raises for network faults.

        Parameters
        ----------
        packet : bytes-like
            The datagram (e.g. a 638-byte sACN packet).

        Returns
        -------
        bool
            True if the kernel took the packet; False if ``sendto`` failed, in which case
            ``errors`` is incremented and ``last_error`` describes the failure.
        """
        try:
            self._sock.sendto(packet, self.destination)
        except OSError as exc:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return False
        self.packets += 1
        return True

    def close(self) -> None:
        """Close the socket; later sends fail and are counted as errors."""
        self._sock.close()

    def __enter__(self) -> UdpSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"UdpSender({self.address!r}, {self.port}, packets={self.packets}, errors={self.errors})"


class SingleSenderStats:
    """Counters of an output that sends through one `UdpSender` (held in ``self._sender``)."""

    _sender: UdpSender

    @property
    def packets(self) -> int:
        """Packets sent successfully so far."""
        return self._sender.packets

    @property
    def errors(self) -> int:
        """Failed sends so far."""
        return self._sender.errors

    @property
    def last_error(self) -> str:
        """Text of the most recent send failure ("" if none)."""
        return self._sender.last_error

    @property
    def destination(self) -> tuple[str, int]:
        """The ``(address, port)`` packets go to."""
        return self._sender.destination

