"""GL fixtures for the integration tests: a headless EGL context checked for GL errors.

Layer: tests. Threads: pytest's main thread (the context is current only there).

``gl_context`` is module-scoped (creating an EGL context costs tens of milliseconds); each test
gets it through ``ctx``, which asserts ``ctx.error == "GL_NO_ERROR"`` before the test (so a
previous test's leftover error is not blamed on this one) and after it (so this test's GL
errors fail it). Reading ``ctx.error`` also clears the GL error flag.
"""

from __future__ import annotations

import time

import threading

import socket

from collections.abc import Callable, Iterator

import moderngl
import pytest

from lumen.errors import DeviceError
from lumen.render.context import create_context


@pytest.fixture(scope="module")
def gl_context() -> Iterator[moderngl.Context]:
    """A standalone EGL context (Mesa llvmpipe without a GPU), shared by one test module."""
    try:
        ctx = create_context("egl")
    except DeviceError as exc:
        pytest.skip(f"no headless GL: {exc}")
    yield ctx
    ctx.release()


@pytest.fixture
def ctx(gl_context: moderngl.Context) -> Iterator[moderngl.Context]:
    """The module's GL context, with no GL error before and after the test."""
    assert gl_context.error == "GL_NO_ERROR", "a GL error was pending before this test"
    yield gl_context
    assert gl_context.error == "GL_NO_ERROR", "this test left a GL error"


# -- UDP receiving, for the output tests (sACN, Art-Net, DDP) -------------------------------


class Receiver:
    """A UDP socket on 127.0.0.1:<ephemeral> that collects datagrams, bounded in count and time."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def collect(self, n: int, timeout_s: float = 2.0) -> list[bytes]:
        """Up to ``n`` datagrams, waiting at most ``timeout_s`` in total."""
        got: list[bytes] = []
        deadline = time.perf_counter() + timeout_s
        while len(got) < n:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(4096))
            except TimeoutError:
                break
        return got

    def drain(self) -> list[bytes]:
        """Everything already queued, without waiting."""
        got: list[bytes] = []
        self.sock.setblocking(False)
        try:
            while len(got) < 100_000:
                got.append(self.sock.recv(4096))
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return got

    def start_background(self) -> None:
        """Receive on a thread into ``self.received`` until `stop_background` (bounded)."""
        self.received: list[bytes] = []
        self._stop = threading.Event()

        def run() -> None:
            self.sock.settimeout(0.05)
            while not self._stop.is_set() and len(self.received) < 1_000_000:
                try:
                    self.received.append(self.sock.recv(4096))
                except TimeoutError:
                    continue

        self._thread = threading.Thread(target=run, name="test-receiver", daemon=True)
        self._thread.start()

    def stop_background(self) -> list[bytes]:
        """Stop the receiving thread after the queue is empty; return what arrived."""
        time.sleep(0.1)  # let the last datagrams reach the socket
        self._stop.set()
        self._thread.join(5.0)
        self.sock.settimeout(None)
        return self.received + self.drain()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """A factory of receivers, all closed after the test."""
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.close()
