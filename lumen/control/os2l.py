"""OS2L (Open Sound to Light): beats, buttons and commands from DJ software (VirtualDJ) over TCP.

Layer: control. Threads: `Os2lServer` is its own thread (``lumen-os2l``) that owns every
socket; `Os2lServer.stop` and the counters may be used from any thread. `Os2lStreamParser` is
pure and belongs to one thread.

Protocol
--------
The DJ software connects to the lighting software over TCP and sends JSON objects back to
back, with no length prefix or separator (a read may hold part of an object or several):

- ``{"evt":"beat","change":false,"pos":1234,"bpm":128.0,"strength":0.8}`` on every beat of
  the master deck (``pos``: beat counter; ``change``: the beat grid jumped, e.g. a new track;
  ``strength``: 0..1). lumen reports ``TempoSink.report("os2l", bpm, beat_t=now, t=now)``.
- ``{"evt":"btn","name":"strobe","page":"lumen","state":"on"}`` when a DJ presses (``"on"``)
  or releases / toggles off (``"off"``) a button; mapped by name to a `Command`.
- ``{"evt":"cmd","id":3,"param":50.0}`` a numbered command with a parameter; mapped by id to
  a `Command` whose value is ``param``, unchanged.

The lighting software may answer ``{"evt":"feedback","name":...,"page":...,"state":...}`` so
the DJ's button shows its state; lumen echoes the state of every mapped button to all
connected clients.

The port is `DEFAULT_PORT` (9996), the default of QLC+'s OS2L plugin, so a VirtualDJ already
pointed at QLC+ (its ``os2lDirectIp`` setting, ``host:port``) can be pointed at lumen without
changing the port; choose another when both run on one machine. DNS-SD (``_os2l._tcp``)
advertising is not implemented: set ``os2lDirectIp`` in the DJ software by hand. The default
bind address is 127.0.0.1; bind to the show network's address to accept another machine.

Robustness: a client may buffer at most ``max_buffer`` bytes of an unfinished object (beyond
that it is disconnected and counted in ``os2l_overflows``); malformed JSON and bytes between
objects are counted in ``os2l_bad`` and skipped up to the next ``{``; unknown events count in
``os2l_unknown``. A client that leaves is closed; when the last one leaves, the tempo sink is
told ``lost("os2l")``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lumen.control.commands import Command, CommandSink, TempoSink
from lumen.errors import DeviceError
from lumen.rt.counters import Counters

__all__ = [
    "DEFAULT_BIND",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_PORT",
    "LATCHING_COMMANDS",
    "MAX_DEPTH",
    "OS2L_COUNTERS",
    "Os2lServer",
    "Os2lStreamParser",
]

log = logging.getLogger("lumen")

#: Default TCP port (QLC+'s OS2L default).
DEFAULT_PORT: Final[int] = 9996
#: Default bind address: this machine only.
DEFAULT_BIND: Final[str] = "127.0.0.1"
#: Default limit of bytes buffered for one client's unfinished object.
DEFAULT_MAX_BUFFER: Final[int] = 64 * 1024

#: Counters an `Os2lServer` keeps.
OS2L_COUNTERS: Final[tuple[str, ...]] = (
    "os2l_clients",     # connections accepted
    "os2l_refused",     # connections refused (too many clients)
    "os2l_messages",    # JSON objects parsed
    "os2l_beats",       # beat events reported to the tempo sink
    "os2l_buttons",     # button events posted as commands
    "os2l_cmds",        # cmd events posted as commands
    "os2l_unmapped",    # buttons or cmd ids with no mapping
    "os2l_bad",         # malformed JSON, bytes between objects, events with bad fields
    "os2l_unknown",     # objects with an unknown or missing "evt"
    "os2l_overflows",   # clients dropped for buffering more than max_buffer bytes
    "os2l_errors",      # socket errors and exceptions from the sinks, caught
)

#: Commands whose value follows a button: 1 while "on", 0 at "off". Other commands fire on "on".
LATCHING_COMMANDS: Final[frozenset[str]] = frozenset({"blackout", "strobe", "auto"})

# Bytes the scanner stops at: outside a string, braces, brackets and quotes; inside, quotes
# and backslashes. Braces never occur inside a UTF-8 multi-byte character, so bytes suffice.
_OUTSIDE = re.compile(rb'[{}"]')
_INSIDE = re.compile(rb'["\\]')
_WS = b" \t\r\n"
#: Deepest nesting accepted (OS2L objects are flat). It also bounds the parser's work: after a
#: broken object it rescans from the next "{", so each byte is scanned at most about
#: MAX_DEPTH times.
MAX_DEPTH: Final[int] = 8
# Bytes after which a "{" may legally start a nested value.
_VALUE_START = frozenset(b":,[")


class Os2lStreamParser:
    """Splits a TCP byte stream into JSON objects (one client's stream).

    Objects are found by scanning for the ``}`` that closes the first ``{`` (skipping string
    contents), then decoded with `json.JSONDecoder.raw_decode`. A ``{`` where no value may
    start (``{"evt":"beat"{...``: a truncated object followed by the next one), or nesting
    deeper than `MAX_DEPTH`, ends the broken object there. A broken or malformed object is
    skipped up to the next ``{`` after its start, so one bad object never swallows the ones
    after it (nor a complete one it had taken for a nested value). Each skipped run (bytes
    before a ``{``, a broken or malformed object) counts once in `n_bad`.

    Examples
    --------
    >>> p = Os2lStreamParser()
    >>> p.feed(b'{"evt":"beat","bpm":12')
    []
    >>> p.feed(b'8.0}garbage{"evt":"btn"}{"ev')
    [{'evt': 'beat', 'bpm': 128.0}, {'evt': 'btn'}]
    >>> p.n_bad, p.n_buffered
    (1, 4)
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._decoder = json.JSONDecoder()
        # Scan state of the object that starts at buffer index 0 (while _depth > 0).
        self._pos = 0
        self._depth = 0
        self._in_str = False
        self._in_junk = False
        #: Skipped runs: malformed objects and bytes between objects.
        self.n_bad = 0

    @property
    def n_buffered(self) -> int:
        """Bytes held for an unfinished object."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add ``data``; return every object it completed, in order."""
        buf = self._buf
        buf += data
        out: list[dict[str, Any]] = []
        while True:
            if self._depth == 0:
                if not self._seek_start():
                    break
                self._pos, self._depth, self._in_str = 1, 1, False
            end = self._scan()
            if end < 0:
                break  # unfinished: wait for more bytes
            if end == 0:
                # A "{" where no value may start (or nested too deep): the object is broken.
                # Resync at the next "{" after its start: a complete object that a truncated
                # one swallowed as a nested value (``{"bpm":{"evt":...}``) is not lost.
                self.n_bad += 1
                del buf[: buf.find(b"{", 1)]
                self._depth = 0
                continue
            self._depth = 0
            obj: object = None
            text = ""
            try:
                text = bytes(buf[:end]).decode("utf-8")
                obj, stop = self._decoder.raw_decode(text)
            except ValueError:  # JSONDecodeError and UnicodeDecodeError
                stop = -1
            if stop == len(text) and isinstance(obj, dict):
                out.append(obj)
                del buf[:end]
            else:
                self.n_bad += 1
                nxt = buf.find(b"{", 1, end)
                del buf[: nxt if nxt > 0 else end]
        return out

    def _seek_start(self) -> bool:
        """Drop the bytes before the next "{" (whitespace is free; anything else is a bad run)."""
        buf = self._buf
        i = buf.find(b"{")
        if buf[: i if i >= 0 else len(buf)].strip(_WS):
            if not self._in_junk:
                self.n_bad += 1
            self._in_junk = True
        if i < 0:
            buf.clear()
            return False
        self._in_junk = False
        del buf[:i]
        return True

    def _scan(self) -> int:
        """Continue scanning the object at index 0: its end index, -1 if unfinished, or 0 if
        a "{" appeared where no value may start (``self._pos`` is then that brace)."""
        buf = self._buf
        pos = self._pos
        while True:
            if self._in_str:
                m = _INSIDE.search(buf, pos)
                if m is None:
                    self._pos = len(buf)
                    return -1
                i = m.start()
                if buf[i] == 0x5C:  # backslash: skip the escaped byte
                    if i + 1 >= len(buf):
                        self._pos = i
                        return -1
                    pos = i + 2
                    continue
                self._in_str = False
                pos = i + 1
                continue
            m = _OUTSIDE.search(buf, pos)
            if m is None:
                self._pos = len(buf)
                return -1
            i = m.start()
            c = buf[i]
            if c == 0x22:  # quote
                self._in_str = True
            elif c == 0x7B:  # {
                j = i - 1
                while j >= 0 and buf[j] in _WS:
                    j -= 1
                if j < 0 or buf[j] not in _VALUE_START or self._depth >= MAX_DEPTH:
                    self._pos = i
                    return 0
                self._depth += 1
            else:  # }
                self._depth -= 1
                if self._depth == 0:
                    return i + 1
            pos = i + 1


@dataclass
class _Client:
    sock: socket.socket
    addr: str
    parser: Os2lStreamParser = field(default_factory=Os2lStreamParser)
    out: bytearray = field(default_factory=bytearray)


class Os2lServer(threading.Thread):
    """An OS2L TCP server: one thread, non-blocking sockets, several clients.

    Parameters
    ----------
    commands_sink : CommandSink
        Receives the commands that buttons and cmd events map to.
    tempo_sink : TempoSink
        Receives the beats (``report("os2l", ...)``) and ``lost("os2l")``.
    bind : str
        IPv4 address to listen on (127.0.0.1: this machine only).
    port : int, 0..65535
        TCP port (`DEFAULT_PORT`; 0 picks a free one, see `port` after construction).
    buttons : mapping of str to (str, str)
        Button name -> (command name, command arg), e.g. ``{"strobe": ("strobe", "")}``.
        Commands in `LATCHING_COMMANDS` get value 1 on "on" and 0 on "off"; the others are
        posted once, on "on", with value 1.
    commands : mapping of int to (str, str)
        cmd id -> (command name, command arg); the command's value is the event's ``param``.
    max_clients : int
        Further connections are closed at once (``os2l_refused``).
    max_buffer : int, bytes
        Limit of one client's unfinished object; beyond it the client is dropped.
    feedback : bool
        Echo the state of mapped buttons to the clients as ``feedback`` events.
    counters : Counters, optional
        Counters holding at least `OS2L_COUNTERS` (a private set if None).

    Raises
    ------
    DeviceError
        The address cannot be bound (port in use, no such address).
    ValueError
        ``counters`` lack some of `OS2L_COUNTERS`, or a limit is not positive.
    """

    def __init__(self, commands_sink: CommandSink, tempo_sink: TempoSink, *, bind: str = DEFAULT_BIND,
                 port: int = DEFAULT_PORT, buttons: Mapping[str, tuple[str, str]] | None = None,
                 commands: Mapping[int, tuple[str, str]] | None = None, max_clients: int = 8,
                 max_buffer: int = DEFAULT_MAX_BUFFER, feedback: bool = True,
                 counters: Counters | None = None) -> None:
        super().__init__(name="lumen-os2l", daemon=True)
        self.commands_sink = commands_sink
        self.tempo_sink = tempo_sink
        self.buttons: dict[str, tuple[str, str]] = dict(buttons or {})
        self.commands: dict[int, tuple[str, str]] = dict(commands or {})
        self.max_clients = max_clients
        self.max_buffer = max_buffer
        self.feedback = feedback
        if max_clients < 1 or max_buffer < 1:
            raise ValueError(f"max_clients and max_buffer must be >= 1, got {max_clients}, {max_buffer}")
        self.counters = counters if counters is not None else Counters(OS2L_COUNTERS)
        missing = [n for n in OS2L_COUNTERS if n not in self.counters.index]
        if missing:
            raise ValueError(f"the counters lack {', '.join(missing)}; include lumen.control.os2l.OS2L_COUNTERS")
        self._slot = {name: self.counters.slot(name) for name in OS2L_COUNTERS}
        self._clients: dict[int, _Client] = {}
        self._stopping = threading.Event()
        self._error_logged = False
        self._closed = False
        self._sel = selectors.DefaultSelector()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((bind, port))
            self._listener.listen(16)
            self._listener.setblocking(False)
        except OSError as exc:
            self._listener.close()
            self._sel.close()
            raise DeviceError(f"cannot listen for OS2L on {bind}:{port}: {exc}") from exc
        self.address: tuple[str, int] = self._listener.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return self.address[1]

    @property
    def n_clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    def stop(self, timeout_s: float = 1.0) -> None:
        """Close every connection and the listener, and join the thread (within ``timeout_s``)."""
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the pipe is full or closed: the thread wakes up anyway within 0.1 s
        if self.is_alive():
            self.join(timeout_s)
            if self.is_alive():
                log.warning("OS2L thread did not stop within %.1f s", timeout_s)
        elif not self._closed:  # never started
            self._close_all()

    # -- the server thread --------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self._stopping.is_set():
                for key, mask in self._sel.select(timeout=0.1):
                    if self._stopping.is_set():
                        break
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock is self._wake_r:
                        self._drain_wake()
                    else:
                        assert isinstance(sock, socket.socket)
                        if mask & selectors.EVENT_READ:
                            self._readable(sock)
                        if mask & selectors.EVENT_WRITE:
                            self._flush(sock)
        except Exception as exc:  # noqa: BLE001 - the thread ends cleanly and says why
            self._error(exc)
        finally:
            self._close_all()

    def _error(self, exc: BaseException) -> None:
        self.counters.bump(self._slot["os2l_errors"])
        if not self._error_logged:
            self._error_logged = True
            log.warning("OS2L: %s: %s (further errors are only counted)", type(exc).__name__, exc)

    def _drain_wake(self) -> None:
        try:
            self._wake_r.recv(64)
        except OSError:
            pass

    def _accept(self) -> None:
        for _ in range(16):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._error(exc)
                return
            if len(self._clients) >= self.max_clients:
                self.counters.bump(self._slot["os2l_refused"])
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._clients[sock.fileno()] = _Client(sock, f"{addr[0]}:{addr[1]}")
            self._sel.register(sock, selectors.EVENT_READ, None)
            self.counters.bump(self._slot["os2l_clients"])

    def _readable(self, sock: socket.socket) -> None:
        client = self._clients.get(sock.fileno())
        if client is None:
            return
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # reset by the peer: treat as a disconnect
        if not data:
            self._drop(client)
            return
        parser = client.parser
        bad_before = parser.n_bad
        messages = parser.feed(data)
        if parser.n_bad != bad_before:
            self.counters.bump(self._slot["os2l_bad"], parser.n_bad - bad_before)
        now = time.perf_counter()
        for msg in messages:
            self.counters.bump(self._slot["os2l_messages"])
            try:
                self._handle(msg, now)
            except Exception as exc:  # noqa: BLE001 - a failing sink must not stop the server
                self._error(exc)
        if parser.n_buffered > self.max_buffer:
            self.counters.bump(self._slot["os2l_overflows"])
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        fd = client.sock.fileno()
        self._clients.pop(fd, None)
        try:
            self._sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        if not self._clients:
            self._lost()

    def _lost(self) -> None:
        try:
            self.tempo_sink.lost("os2l")
        except Exception as exc:  # noqa: BLE001
            self._error(exc)

    def _close_all(self) -> None:
        self._closed = True
        had_clients = bool(self._clients)
        for client in list(self._clients.values()):
            client.sock.close()
        self._clients.clear()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        self._sel.close()
        if had_clients:
            self._lost()

    # -- events ---------------------------------------------------------------------------------

    def _bad(self) -> None:
        self.counters.bump(self._slot["os2l_bad"])

    def _handle(self, msg: dict[str, Any], now: float) -> None:
        evt = msg.get("evt")
        if evt == "beat":
            bpm = _number(msg.get("bpm"))
            if bpm is None or not 0.0 < bpm < 1000.0:
                self._bad()
                return
            self.counters.bump(self._slot["os2l_beats"])
            self.tempo_sink.report("os2l", bpm, now, now)
        elif evt == "btn":
            name, state = msg.get("name"), msg.get("state")
            if not isinstance(name, str) or state not in ("on", "off"):
                self._bad()
                return
            target = self.buttons.get(name)
            if target is None:
                self.counters.bump(self._slot["os2l_unmapped"])
                return
            command, arg = target
            if command in LATCHING_COMMANDS:
                self._post(Command(command, 1.0 if state == "on" else 0.0, arg, now, "os2l"))
            elif state == "on":
                self._post(Command(command, 1.0, arg, now, "os2l"))
            self.counters.bump(self._slot["os2l_buttons"])
            if self.feedback:
                page = msg.get("page")
                self._send_all({"evt": "feedback", "name": name, "page": page if isinstance(page, str) else "",
                                "state": state})
        elif evt == "cmd":
            cid, param = msg.get("id"), _number(msg.get("param"))
            if isinstance(cid, bool) or not isinstance(cid, int) or param is None:
                self._bad()
                return
            target_cmd = self.commands.get(cid)
            if target_cmd is None:
                self.counters.bump(self._slot["os2l_unmapped"])
                return
            self._post(Command(target_cmd[0], param, target_cmd[1], now, "os2l"))
            self.counters.bump(self._slot["os2l_cmds"])
        else:
            self.counters.bump(self._slot["os2l_unknown"])

    def _post(self, cmd: Command) -> None:
        self.commands_sink.post(cmd)

    def _send_all(self, msg: dict[str, Any]) -> None:
        """Queue ``msg`` to every client and send what the sockets take now."""
        data = json.dumps(msg, separators=(",", ":")).encode()
        for client in list(self._clients.values()):
            if len(client.out) + len(data) > self.max_buffer:
                continue  # the client does not read its feedback: skip rather than buffer forever
            client.out += data
            self._flush(client.sock)

    def _flush(self, sock: socket.socket) -> None:
        """Send a client's queued feedback; wait for writability while some remains."""
        client = self._clients.get(sock.fileno())
        if client is None:
            return
        try:
            n = sock.send(client.out) if client.out else 0
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as exc:
            self._error(exc)
            return
        del client.out[:n]
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.out else 0)
        if self._sel.get_key(sock).events != want:
            self._sel.modify(sock, want, None)


def _number(x: object) -> float | None:
    """``x`` as a finite float, or None if it is not a JSON number."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    v = float(x)
    return v if math.isfinite(v) else None
