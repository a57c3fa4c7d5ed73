"""OSC input: a UDP server that turns controller messages into `Command` values.

Layer: control. Threads: `OscServer` runs its own daemon thread ("lumen-osc") that owns the
receive loop; `OscServer.send_state`, `OscServer.set_names`, `OscServer.stop` and the
counters may be called from any thread (the engine's frame or control thread).

Controllers (TouchOSC, liblo's ``oscsend``, any OSC client) send to ``bind:port``. For each
datagram the server:

1. checks the sender against the allowlist (IP addresses or CIDR networks; empty = anyone who
   can reach the bind address); a refused datagram is counted in ``osc_denied``;
2. checks its structure (`check_packet`) and decodes it with python-osc, unpacking bundles
   (time tags are ignored: messages act when they arrive); anything undecodable is counted in
   ``osc_bad`` and dropped whole;
3. maps each message with `lumen.control.oscmap.parse` and posts the command to the sink with
   ``t = time.perf_counter()`` at arrival and ``source = "osc"``; unknown addresses are
   counted in ``osc_unknown``, wrong arguments in ``osc_bad``;
4. echoes the new state of value-bearing commands (`lumen.control.oscmap.feedback`) to
   controllers, so their faders and toggles follow.

Feedback goes to recent clients: senders of valid lumen messages, at most `MAX_CLIENTS`,
forgotten after `CLIENT_TTL_S` of silence. Replies go to the sender's IP, on the sender's
port or on ``feedback_port`` (TouchOSC listens on a port of its own). ``/lumen/ping`` is
answered with ``/lumen/pong`` (same arguments) followed by the last known state, so a
controller that connects late catches up.

Nothing here raises out of the receive loop or blocks longer than `POLL_S`: faults are
counted (`OSC_COUNTERS`), sends are non-blocking and a failed send is counted.

Notes
-----
python-osc 1.10 loops forever on a bundle element with a negative size, silently drops
arguments of types it does not know (``c``, ``S``, ``I``; logging a warning for each) and
reads a missing float as 0.0: a dropped argument could turn ``/lumen/blackout ,c`` into
"blackout on", a truncated ``/lumen/master ,f`` into "master 0". `check_packet` refuses such
datagrams before python-osc sees them.
"""

from __future__ import annotations

import errno
import ipaddress
import math
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import Final, Literal

from pythonosc.osc_packet import OscPacket

from lumen.control import oscmap
from lumen.control.commands import Command, CommandSink
from lumen.control.oscmap import PING, PONG, OscMapError
from lumen.errors import DeviceError, OutputError
from lumen.output.encode.osc import OscArg, osc_message
from lumen.output.send import resolve_ipv4
from lumen.rt.counters import Counters

__all__ = [
    "CLIENT_TTL_S",
    "MAX_CLIENTS",
    "MAX_DATAGRAM",
    "OSC_COUNTERS",
    "POLL_S",
    "Address",
    "OscServer",
    "RecentClients",
    "check_packet",
]

#: Counter names the server bumps:
#: ``osc_packets`` every datagram received; ``osc_denied`` refused by the allowlist;
#: ``osc_bad`` undecodable datagrams plus messages with wrong arguments; ``osc_messages``
#: messages decoded (each message of a bundle counts); ``osc_unknown`` messages to unknown
#: addresses; ``osc_feedback`` feedback messages sent (echo, state, pong); ``osc_send_errors``
#: failed sends and unencodable state; ``osc_errors`` faults of the sink or the ping hook.
OSC_COUNTERS: Final[tuple[str, ...]] = (
    "osc_packets",
    "osc_messages",
    "osc_bad",
    "osc_unknown",
    "osc_denied",
    "osc_feedback",
    "osc_send_errors",
    "osc_errors",
)
#: Largest datagram read (the UDP maximum).
MAX_DATAGRAM: Final[int] = 65535
#: Most clients remembered for feedback.
MAX_CLIENTS: Final[int] = 16
#: A client silent this long gets no more feedback, s.
CLIENT_TTL_S: Final[float] = 600.0
#: Longest wait for a datagram before the stop flag is checked again, s.
POLL_S: Final[float] = 0.2
#: Most state messages remembered for replay after a ping.
MAX_STATE: Final[int] = 256
#: Deepest bundle nesting accepted (python-osc parses bundles recursively).
MAX_BUNDLE_DEPTH: Final[int] = 8
#: Type tags python-osc decodes; others it drops silently, so they are refused.
SUPPORTED_TAGS: Final[frozenset[str]] = frozenset("ifdshbrmtTFN[]")
_BUNDLE: Final[bytes] = b"#bundle\x00"
# Datagrams handled per wake-up before the stop flag is looked at again.
_DRAIN: Final[int] = 64

Address = tuple[str, int]
"""An IPv4 address and UDP port."""


def _string_end(data: bytes, start: int, end: int) -> int:
    """Index after the NUL-padded OSC string at ``start`` (ValueError if it does not fit)."""
    nul = data.find(b"\x00", start, end)
    if nul < 0:
        raise ValueError("unterminated string")
    stop = start + (nul - start + 4) // 4 * 4
    if stop > end:
        raise ValueError("string padding runs past the end")
    return stop


def _address(data: bytes, start: int, end: int) -> str:
    return data[start : data.find(b"\x00", start, end)].decode("utf-8", "replace")[:60]


def _check_args(data: bytes, i: int, end: int, tags: str) -> None:
    """Check that the argument data for ``tags`` fits between ``i`` and ``end``."""
    for tag in tags:
        if tag in "ifrm":
            i += 4
        elif tag in "dht":
            i += 8
        elif tag == "s":
            i = _string_end(data, i, end)
        elif tag == "b":
            if end - i < 4:
                raise ValueError("truncated blob size")
            n = int.from_bytes(data[i : i + 4], "big", signed=True)
            if n < 0:
                raise ValueError(f"negative blob size {n}")
            i += 4 + n + (-n % 4)
        if i > end:
            raise ValueError(f"argument {tag!r} runs past the end of the message")


def check_packet(data: bytes) -> None:
    """Check the structure of an OSC datagram before python-osc parses it.

    Checks what python-osc gets wrong or lets through: bundle element sizes (positive, a
    multiple of 4, inside the bundle), elements that are neither messages nor bundles, bundle
    nesting deeper than `MAX_BUNDLE_DEPTH`, type tags python-osc would drop (anything
    outside `SUPPORTED_TAGS`), and argument data shorter than the type tags say (python-osc
    pads a short float with zeros, so a truncated ``/lumen/master ,f`` would read as 0).
    Decoding the values is left to python-osc.

    Parameters
    ----------
    data : bytes
        One datagram.

    Raises
    ------
    ValueError
        With the reason, when the datagram must be refused.

    Examples
    --------
    >>> check_packet(osc_message("/lumen/master", [0.5]))
    >>> check_packet(b"/lumen/blackout\\x00,c\\x00\\x00\\x00\\x00\\x00A")
    Traceback (most recent call last):
    ...
    ValueError: unsupported type tag(s) 'c' in /lumen/blackout
    >>> check_packet(_BUNDLE + bytes(8) + b"\\xff\\xff\\xff\\xfc")
    Traceback (most recent call last):
    ...
    ValueError: bad bundle element size -4
    >>> check_packet(osc_message("/lumen/master", [0.5])[:-4])
    Traceback (most recent call last):
    ...
    ValueError: argument 'f' runs past the end of the message
    """
    # Iterative walk over (start, end, depth) spans of the one buffer: no copies, no recursion.
    spans = [(0, len(data), 0)]
    while spans:
        start, end, depth = spans.pop()
        if data.startswith(_BUNDLE, start, end):
            if depth >= MAX_BUNDLE_DEPTH:
                raise ValueError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
            i = start + len(_BUNDLE) + 8
            if i > end:
                raise ValueError("bundle too short for its time tag")
            while i < end:
                if end - i < 4:
                    raise ValueError("truncated bundle element size")
                size = int.from_bytes(data[i : i + 4], "big", signed=True)
                i += 4
                if size <= 0 or size % 4 or i + size > end:
                    raise ValueError(f"bad bundle element size {size}")
                spans.append((i, i + size, depth + 1))
                i += size
        elif data.startswith(b"/", start, end):
            i = _string_end(data, start, end)
            if i < end:
                tag_end = _string_end(data, i, end)
                tags = data[i:tag_end].rstrip(b"\x00")
                if not tags.startswith(b","):
                    raise ValueError("type tag string does not start with ','")
                bad = sorted({chr(c) for c in tags[1:]} - SUPPORTED_TAGS)
                if bad:
                    raise ValueError(f"unsupported type tag(s) {''.join(bad)!r} in {_address(data, start, end)}")
                _check_args(data, tag_end, end, tags[1:].decode("ascii"))
        else:
            raise ValueError("neither an OSC message nor a bundle")


class RecentClients:
    """The controllers that get feedback: most recently heard first out, bounded, expiring.

    Not thread-safe; `OscServer` guards it with its lock.

    Parameters
    ----------
    max_clients : int
        Most clients kept; hearing a new one beyond that forgets the least recently heard.
    ttl_s : float, s
        A client not heard from for this long is forgotten.

    Examples
    --------
    >>> c = RecentClients(max_clients=2, ttl_s=10.0)
    >>> c.touch(("10.0.0.1", 9000), now=0.0); c.touch(("10.0.0.2", 9000), now=1.0)
    >>> c.touch(("10.0.0.3", 9000), now=2.0)
    >>> c.active(now=5.0)
    [('10.0.0.2', 9000), ('10.0.0.3', 9000)]
    >>> c.active(now=11.5)
    [('10.0.0.3', 9000)]
    """

    def __init__(self, max_clients: int = MAX_CLIENTS, ttl_s: float = CLIENT_TTL_S) -> None:
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, got {max_clients}")
        self.max_clients = max_clients
        self.ttl_s = ttl_s
        self._seen: OrderedDict[Address, float] = OrderedDict()

    def touch(self, client: Address, now: float) -> None:
        """Note that ``client`` was heard at ``now`` (perf_counter seconds)."""
        self._seen.pop(client, None)
        self._seen[client] = now
        while len(self._seen) > self.max_clients:
            self._seen.popitem(last=False)

    def active(self, now: float) -> list[Address]:
        """Clients heard within ``ttl_s`` of ``now``, least recently heard first."""
        while self._seen:
            client, seen = next(iter(self._seen.items()))
            if now - seen <= self.ttl_s:
                break
            del self._seen[client]
        return list(self._seen)

    def __len__(self) -> int:
        return len(self._seen)


def _parse_allow(allow: Sequence[str]) -> tuple[ipaddress.IPv4Network, ...]:
    nets = []
    for entry in allow:
        try:
            net = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValueError(f"OSC allow entry {entry!r} is not an IPv4 address or network (e.g. 192.168.1.0/24)") from None
        if not isinstance(net, ipaddress.IPv4Network):
            raise ValueError(f"OSC allow entry {entry!r} is IPv6; the OSC server listens on IPv4 only")
        nets.append(net)
    return tuple(nets)


def _bind_error(bind: str, port: int, exc: OSError) -> DeviceError:
    where = f"{bind}:{port}"
    if exc.errno == errno.EADDRINUSE:
        why = f"UDP port {port} is already in use (another lumen, or another OSC program?); pick another port"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"{bind} is not an address of this machine"
    elif exc.errno == errno.EACCES:
        why = f"permission denied (ports below 1024 need privileges): {exc.strerror}"
    else:
        why = f"{type(exc).__name__}: {exc}"
    return DeviceError(f"cannot listen for OSC on {where}: {why}")


def _pong_args(args: Sequence[object]) -> tuple[OscArg, ...]:
    """The ping's arguments if lumen can send them back, else none."""
    out: list[OscArg] = []
    for a in args:
        if a is None or isinstance(a, (bool, int, str, bytes)):
            out.append(a)
        elif isinstance(a, float) and math.isfinite(a):
            out.append(a)
        else:
            return ()
    return tuple(out)


class OscServer(threading.Thread):
    """Receive OSC from controllers and post `Command` values to a sink.

    The socket is bound here, so a taken port fails at construction; `start` runs the receive
    loop on this daemon thread; `stop` ends it and closes the socket. Also a context manager
    (``with OscServer(...) as srv:`` starts and stops it).

    Parameters
    ----------
    sink : CommandSink
        Where commands go (the engine's control hub); ``post`` must not block.
    bind : str
        Local IPv4 address to listen on: 127.0.0.1 (default, this machine only), the show
        network's address, or 0.0.0.0 (every interface).
    port : int, 0..65535
        UDP port; 0 picks a free one (read it back from `port`).
    allow : sequence of str
        Senders accepted: IPv4 addresses or CIDR networks (``192.168.1.0/24``); empty =
        anyone who can reach ``bind``.
    feedback_port : int, optional
        Port controllers listen on for feedback (TouchOSC's "port (incoming)"); None = reply
        to the port each message came from.
    counters : Counters, optional
        Counters holding at least `OSC_COUNTERS` (e.g. the engine's shared set); None makes
        a private set.
    echo : {"all", "sender", "off"}
        Who gets the new state after a value-bearing command: every recent client (so a
        second controller follows the first), only the sender, or nobody.
    scenes : collection of str, optional
        The show's scene names; when given, other scene names are refused.
    params : mapping of str to collection of str, optional
        Scene name -> its node names (any parameter) and/or ``node/param`` paths; when given,
        other parameters are refused (see `lumen.control.oscmap.parse`).
    on_ping : callable, optional
        Called on the server thread with the reply address after each ``/lumen/pong``, e.g.
        to push the full show state with ``send_state(..., to=address)``. Must not block;
        exceptions are counted in ``osc_errors``.
    name : str
        Thread name.

    Attributes
    ----------
    port : int
        The bound UDP port.
    bind_address : str
        The bound IPv4 address.
    counters : Counters
        The counters (see `OSC_COUNTERS`).
    last_error : str
        Text of the most recent refused message or fault ("" if none), for diagnostics.

    Raises
    ------
    DeviceError
        The socket cannot be created or bound (port in use, address not on this machine).
    ValueError
        A bad port number, allow entry, ``echo`` value or counter set.
    """

    def __init__(
        self,
        sink: CommandSink,
        *,
        bind: str = "127.0.0.1",
        port: int = 9000,
        allow: Sequence[str] = (),
        feedback_port: int | None = None,
        counters: Counters | None = None,
        echo: Literal["all", "sender", "off"] = "all",
        scenes: Collection[str] | None = None,
        params: Mapping[str, Collection[str]] | None = None,
        on_ping: Callable[[Address], None] | None = None,
        name: str = "lumen-osc",
    ) -> None:
        super().__init__(name=name, daemon=True)
        if not 0 <= port <= 65535:
            raise ValueError(f"OSC port {port} is outside 0..65535")
        if feedback_port is not None and not 1 <= feedback_port <= 65535:
            raise ValueError(f"OSC feedback port {feedback_port} is outside 1..65535")
        if echo not in ("all", "sender", "off"):
            raise ValueError(f"echo must be 'all', 'sender' or 'off', got {echo!r}")
        self._allow = _parse_allow(allow)
        if counters is None:
            counters = Counters(OSC_COUNTERS)
        missing = [n for n in OSC_COUNTERS if n not in counters.index]
        if missing:
            raise ValueError(f"the counters lack {', '.join(missing)}; include lumen.control.osc.OSC_COUNTERS")
        self.counters: Counters = counters
        self._slot = {n: counters.slot(n) for n in OSC_COUNTERS}
        self._sink = sink
        self._feedback_port = feedback_port
        self._echo = echo
        self._names: tuple[Collection[str] | None, Mapping[str, Collection[str]] | None] = (None, None)
        self.set_names(scenes, params)
        self._on_ping = on_ping
        self.last_error: str = ""

        # One lock guards the client list, the state cache and the counters bumped from more
        # than one thread (osc_feedback, osc_send_errors); it is never held while sending.
        self._lock = threading.Lock()
        self._clients = RecentClients()
        self._state: OrderedDict[str, bytes] = OrderedDict()
        self._halt = threading.Event()

        try:
            ip = str(resolve_ipv4(bind))
        except OutputError as exc:
            raise DeviceError(f"cannot listen for OSC on {bind}:{port}: {exc}") from exc
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as exc:
            raise DeviceError(f"cannot create a UDP socket for OSC: {exc}") from exc
        try:
            sock.bind((ip, port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise _bind_error(ip, port, exc) from exc
        self._sock = sock
        self.bind_address: str = ip
        self.port: int = int(sock.getsockname()[1])

    # ------------------------------------------------------------------ any thread

    def set_names(
        self,
        scenes: Collection[str] | None = None,
        params: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """Replace the known scene and parameter names (after a show reload). Any thread."""
        frozen_params = None if params is None else {k: frozenset(v) for k, v in params.items()}
        self._names = (None if scenes is None else frozenset(scenes), frozen_params)

    def clients(self) -> list[Address]:
        """Addresses feedback currently goes to. Any thread."""
        with self._lock:
            return self._clients.active(time.perf_counter())

    def send_state(self, messages: Sequence[tuple[str, Sequence[OscArg]]], *, to: Address | None = None) -> int:
        """Send state messages to every recent client (or only to ``to``). Any thread.

        For changes that did not come from OSC (automation changed the scene, the tempo
        moved, a cue fired): OSC-originated changes are echoed by the server itself. The
        messages are also remembered and replayed to a client that pings.

        Parameters
        ----------
        messages : sequence of (address, args)
            E.g. ``[("/lumen/scene", ["drop"]), ("/lumen/tempo", [128.0])]``.
        to : (str, int), optional
            One destination instead of every recent client.

        Returns
        -------
        int
            Datagrams handed to the kernel. Unencodable messages and failed sends are counted
            in ``osc_send_errors``, never raised.
        """
        encoded: list[tuple[str, bytes]] = []
        bad = 0
        for address, args in messages:
            try:
                encoded.append((address, osc_message(address, args)))
            except (ValueError, TypeError) as exc:
                bad += 1
                self.last_error = f"cannot encode state {address!r}: {exc}"
        with self._lock:
            for address, payload in encoded:
                self._remember(address, payload)
            targets = [to] if to is not None else self._clients.active(time.perf_counter())
            if bad:
                self.counters.bump(self._slot["osc_send_errors"], bad)
        payloads = [payload for _, payload in encoded]
        return self._send(payloads, targets)

    def stop(self, timeout_s: float = 2.0) -> None:
        """End the receive loop and close the socket. Any thread; idempotent.

        Raises
        ------
        DeviceError
            The thread did not end within ``timeout_s``.
        """
        self._halt.set()
        if self.is_alive():
            self.join(timeout_s)
            if self.is_alive():
                raise DeviceError(f"OSC server thread {self.name!r} did not stop within {timeout_s} s")
        self._sock.close()

    def __enter__(self) -> OscServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"OscServer({self.bind_address}:{self.port}, alive={self.is_alive()}, clients={len(self._clients)})"

    # ------------------------------------------------------------------ server thread

    def run(self) -> None:
        """The receive loop (server thread): wait at most `POLL_S`, handle what arrived."""
        sock = self._sock
        while not self._halt.is_set():
            try:
                ready, _, _ = select.select([sock], [], [], POLL_S)
            except (OSError, ValueError):  # the socket was closed under us
                return
            if not ready:
                continue
            for _ in range(_DRAIN):
                try:
                    data, source = sock.recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError as exc:  # e.g. an ICMP error from an earlier send
                    self._bump("osc_errors")
                    self.last_error = f"receive: {type(exc).__name__}: {exc}"
                    break
                self.handle(data, (str(source[0]), int(source[1])))

    def handle(self, data: bytes, source: Address) -> None:
        """Handle one datagram from ``source`` (server thread; tests may call it directly).

        Never raises: every fault is counted.
        """
        try:
            self._handle(data, source)
        except Exception as exc:  # the loop must survive anything; count it and go on
            self._bump("osc_errors")
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _handle(self, data: bytes, source: Address) -> None:
        t = time.perf_counter()
        self._bump("osc_packets")
        if self._allow and not self._allowed(source[0]):
            self._bump("osc_denied")
            return
        try:
            check_packet(data)
            timed = OscPacket(data).messages
        except Exception as exc:  # python-osc raises more than ParseError on garbage
            self._bump("osc_bad")
            self.last_error = f"bad OSC datagram from {source[0]}:{source[1]}: {exc}"
            return
        self._bump("osc_messages", len(timed))
        reply_to = (source[0], self._feedback_port or source[1])
        scenes, params = self._names
        for tm in timed:
            address: str = tm.message.address
            args: tuple[object, ...] = tuple(tm.message.params)
            if address == PING:
                self._touch(reply_to, t)
                self._pong(args, reply_to)
                continue
            try:
                cmd = oscmap.parse(address, args, scenes=scenes, params=params)
            except OscMapError as exc:
                self._bump("osc_unknown" if exc.unknown else "osc_bad")
                self.last_error = str(exc)
                continue
            self._touch(reply_to, t)
            if cmd is None:  # a button release
                continue
            try:
                self._sink.post(Command(cmd.name, cmd.value, cmd.arg, t, "osc"))
            except Exception as exc:
                self._bump("osc_errors")
                self.last_error = f"the command sink failed: {type(exc).__name__}: {exc}"
                continue
            self._echo_state(cmd, reply_to)

    def _allowed(self, ip: str) -> bool:
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self._allow)

    def _touch(self, client: Address, now: float) -> None:
        with self._lock:
            self._clients.touch(client, now)

    def _echo_state(self, cmd: Command, sender: Address) -> None:
        fb = oscmap.feedback(cmd)
        if fb is None:
            return
        address, args = fb
        payload = osc_message(address, args)
        with self._lock:
            self._remember(address, payload)
            if self._echo == "off":
                return
            targets = self._clients.active(time.perf_counter()) if self._echo == "all" else [sender]
        self._send([payload], targets)

    def _pong(self, args: tuple[object, ...], client: Address) -> None:
        with self._lock:
            replay = list(self._state.values())
        self._send([osc_message(PONG, _pong_args(args)), *replay], [client])
        if self._on_ping is not None:
            try:
                self._on_ping(client)
            except Exception as exc:
                self._bump("osc_errors")
                self.last_error = f"on_ping failed: {type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ helpers

    def _remember(self, address: str, payload: bytes) -> None:
        """Keep the latest state message per address (caller holds the lock)."""
        self._state.pop(address, None)
        self._state[address] = payload
        while len(self._state) > MAX_STATE:
            self._state.popitem(last=False)

    def _send(self, payloads: Sequence[bytes], targets: Sequence[Address]) -> int:
        sent = failed = 0
        for target in targets:
            for payload in payloads:
                try:
                    self._sock.sendto(payload, target)
                    sent += 1
                except (OSError, ValueError) as exc:  # buffer full, no route, socket closed
                    failed += 1
                    self.last_error = f"send to {target[0]}:{target[1]}: {type(exc).__name__}: {exc}"
        with self._lock:
            if sent:
                self.counters.bump(self._slot["osc_feedback"], sent)
            if failed:
                self.counters.bump(self._slot["osc_send_errors"], failed)
        return sent

    def _bump(self, name: str, n: int = 1) -> None:
        # Counters bumped only by the server thread need no lock.
        self.counters.bump(self._slot[name], n)

