"""`SacnOutput`: DMX frames to an sACN (E1.31) receiver over UDP.

Layer: output. Threads: one owning thread sends (the output thread of the show process, or a
test); ``packets`` and ``errors`` may be read from any thread. Construction and ``close`` happen
on the thread that wires the engine.

Defaults are unicast to 127.0.0.1:5568. With ``multicast=True`` each universe goes to its E1.31
group 239.255.<hi>.<lo>; that leaves the machine and needs ``allow_multicast=True``.

Universe discovery (``discovery=True``): every ``discovery_interval_s`` (10 s, E1.31's
E131_UNIVERSE_DISCOVERY_INTERVAL), right after a frame, the output sends the discovery pages
listing its universes. A multicast output sends them to the discovery group 239.255.250.214
(universe 64214); a unicast output sends them to its unicast destination instead, because the
discovery group would leave the machine (a unicast receiver that does not do discovery ignores
them). It is off by default so that existing unicast receivers see only data packets.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lumen.errors import OutputError
from lumen.output.encode.sacn import (
    PRIORITY_MAX,
    SACN_PORT,
    UNIVERSE_MAX,
    UNIVERSE_MIN,
    DISCOVERY_INTERVAL_S,
    DISCOVERY_UNIVERSE,
    SacnEncoder,
    multicast_address,
)
from lumen.output.send import UdpSender

#: Stream_Terminated packets sent per universe when a stream ends (E1.31 section 6.7.1).
N_TERMINATE_PACKETS = 3


class SacnParams(BaseModel):
    """Configuration of an sACN output (the schema for show files, docs and OSC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: Annotated[str, Field(description="Destination IPv4 address or host name (unicast).")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535, description="Destination UDP port.")] = SACN_PORT
    start_universe: Annotated[
        int, Field(ge=UNIVERSE_MIN, le=UNIVERSE_MAX, description="sACN universe of the first row, 1..63999.")
    ] = 1
    n_universes: Annotated[int, Field(ge=1, le=UNIVERSE_MAX, description="Consecutive universes sent.")] = 1
    priority: Annotated[int, Field(ge=0, le=PRIORITY_MAX, description="Source priority, 0..200.")] = 100
    source_name: Annotated[str, Field(description="Source name shown by receivers (UTF-8, <= 63 bytes).")] = "lumen"
    rate_hz: Annotated[float, Field(gt=0.0, le=1000.0, description="Maximum frame rate, Hz.")] = 44.0
    latency_ms: Annotated[
        float, Field(ge=0.0, le=1000.0, description="Known latency after the socket (receiver, fixture), ms.")
    ] = 0.0
    sync_universe: Annotated[
        int, Field(ge=0, le=UNIVERSE_MAX, description="Universe for synchronization packets; 0 = none.")
    ] = 0
    multicast: Annotated[bool, Field(description="Send each universe to its group 239.255.hi.lo.")] = False
    allow_multicast: Annotated[bool, Field(description="Permit multicast destinations (show network only).")] = False
    discovery: Annotated[
        bool, Field(description="Send universe discovery every discovery_interval_s (multicast: 239.255.250.214).")
    ] = False
    discovery_interval_s: Annotated[
        float, Field(gt=0.0, le=3600.0, description="Seconds between universe discovery rounds (E1.31: 10).")
    ] = DISCOVERY_INTERVAL_S


class SacnOutput:
    """Sends frames of DMX universes as E1.31 data packets, one ``sendto`` per universe.

    Parameters
    ----------
    address : str
        Destination IPv4 address or host name for unicast (ignored with ``multicast=True``).
    port : int, 1..65535
        Destination UDP port (5568 for real receivers; an ephemeral port in tests).
    start_universe : int, 1..63999
        Universe of row 0 of each frame.
    n_universes : int, >= 1
        Rows per frame (consecutive universes).
    priority : int, 0..200
        E1.31 source priority.
    source_name : str
        Source name shown by receivers.
    rate_hz : float, Hz, > 0
        Highest frame rate this output may be driven at; `OutputThread` enforces it.
    latency_ms : float, ms, >= 0
        Known latency after the socket (network, receiver, fixture), for beat-locked timing.
    cid : bytes of length 16, optional
        Component identifier; a random UUID4 when None.
    sync_universe : int, 0 or 1..63999
        When nonzero, data packets carry this sync address and every frame ends with a
        synchronization packet, so receivers switch all universes together.
    multicast : bool
        Send universe ``u`` to 239.255.<u // 256>.<u % 256> instead of ``address``.
    allow_multicast : bool
        Permit multicast destinations (required by ``multicast=True`` or a multicast
        ``address``). Only on a show network or inside a private network namespace.
    discovery : bool
        Send E1.31 universe discovery pages after a frame every ``discovery_interval_s``: to
        239.255.250.214 when the data goes to multicast, else to the unicast destination.
    discovery_interval_s : float, s, > 0
        Seconds between discovery rounds (E1.31 asks for 10).

    Raises
    ------
    OutputError
        An invalid parameter, a refused destination, or no socket.

    Examples
    --------
    >>> out = SacnOutput(port=40000, n_universes=2)  # doctest: +SKIP
    >>> out.send_frame(np.zeros((2, 512), dtype=np.uint8))  # doctest: +SKIP
    2
    >>> out.terminate()  # doctest: +SKIP
    6
    >>> out.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = SACN_PORT,
        start_universe: int = 1,
        n_universes: int = 1,
        priority: int = 100,
        source_name: str = "lumen",
        rate_hz: float = 44.0,
        latency_ms: float = 0.0,
        *,
        cid: bytes | None = None,
        sync_universe: int = 0,
        multicast: bool = False,
        allow_multicast: bool = False,
        discovery: bool = False,
        discovery_interval_s: float = DISCOVERY_INTERVAL_S,
    ) -> None:
        if not rate_hz > 0.0:
            raise OutputError(f"rate_hz must be positive, got {rate_hz}")
        if not latency_ms >= 0.0:
            raise OutputError(f"latency_ms must be >= 0, got {latency_ms}")
        if multicast and not allow_multicast:
            raise OutputError("multicast=True sends off this machine: it needs allow_multicast=True")
        if not discovery_interval_s > 0.0:
            raise OutputError(f"discovery_interval_s must be positive, got {discovery_interval_s}")
        self.encoder = SacnEncoder(
            n_universes,
            start_universe=start_universe,
            priority=priority,
            source_name=source_name,
            cid=cid,
            sync_universe=sync_universe,
        )
        self.n_universes: int = n_universes
        self.rate_hz: float = float(rate_hz)
        self.latency_ms: float = float(latency_ms)
        self.multicast: bool = multicast
        senders: list[UdpSender] = []
        try:
            if multicast:
                for u in self.encoder.universes:
                    senders.append(UdpSender(multicast_address(u), port, allow_multicast=True))
                self._data_senders: tuple[UdpSender, ...] = tuple(senders)
                if sync_universe:
                    senders.append(UdpSender(multicast_address(sync_universe), port, allow_multicast=True))
            else:
                senders.append(UdpSender(address, port, allow_multicast=allow_multicast))
                self._data_senders = (senders[0],) * n_universes
            sync_sender = senders[-1] if sync_universe else None
            discovery_sender: UdpSender | None = None
            if discovery:
                if multicast or ipaddress.IPv4Address(senders[0].address).is_multicast:
                    discovery_sender = UdpSender(multicast_address(DISCOVERY_UNIVERSE), port, allow_multicast=True)
                    senders.append(discovery_sender)
                else:
                    discovery_sender = senders[0]
        except OutputError:
            for s in senders:
                s.close()
            raise
        self._senders: tuple[UdpSender, ...] = tuple(senders)
        self._sync_sender: UdpSender | None = sync_sender
        self._discovery_sender: UdpSender | None = discovery_sender
        self.discovery_interval_s: float = float(discovery_interval_s)
        self._next_discovery_t: float = 0.0  # perf_counter time of the next round; 0: first frame
        self.discovery_rounds: int = 0
        self._pairs = tuple(zip(self._data_senders, range(n_universes)))

    @classmethod
    def from_params(cls, params: SacnParams, *, cid: bytes | None = None) -> SacnOutput:
        """Build an output from validated configuration."""
        return cls(
            params.address,
            params.port,
            params.start_universe,
            params.n_universes,
            params.priority,
            params.source_name,
            params.rate_hz,
            params.latency_ms,
            cid=cid,
            sync_universe=params.sync_universe,
            multicast=params.multicast,
            allow_multicast=params.allow_multicast,
            discovery=params.discovery,
            discovery_interval_s=params.discovery_interval_s,
        )

    @property
    def packets(self) -> int:
        """Packets sent successfully so far (data, sync and terminate packets)."""
        return sum(s.packets for s in self._senders)

    @property
    def errors(self) -> int:
        """Failed sends so far."""
        return sum(s.errors for s in self._senders)

    @property
    def last_error(self) -> str:
        """Text of the most recent failure of any of this output's sockets ("" if none)."""
        for s in self._senders:
            if s.last_error:
                return s.last_error
        return ""

    @property
    def destinations(self) -> tuple[tuple[str, int], ...]:
        """Distinct ``(address, port)`` destinations, data universes first."""
        return tuple(s.destination for s in self._senders)

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        """Encode and send one frame; a failed send is counted, never raised.

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8
            Slot values, row ``i`` for universe ``start_universe + i``.

        Returns
        -------
        int
            Packets the kernel accepted: the universes, then the sync packet (when
            ``sync_universe`` is set, after every frame), then the discovery pages when a
            discovery round is due.
        """
        views = self.encoder.encode_frame(dmx)
        ok = 0
        if self.multicast:
            for sender, i in self._pairs:
                ok += sender.send(views[i])
        else:  # one destination: skip the per-universe sender lookup
            send = self._data_senders[0].send
            for view in views:
                ok += send(view)
        if self._sync_sender is not None:
            ok += self._sync_sender.send(self.encoder.sync_packet())
        if self._discovery_sender is not None:
            now = time.perf_counter()
            if now >= self._next_discovery_t:
                self._next_discovery_t = now + self.discovery_interval_s
                ok += self.send_discovery()
        return ok

    def send_discovery(self) -> int:
        """Send the universe discovery pages now (``send_frame`` does it every interval).

        Returns
        -------
        int
            Packets the kernel accepted (0 when discovery is off).
        """
        sender = self._discovery_sender
        if sender is None:
            return 0
        ok = 0
        for packet in self.encoder.discovery_packets():
            ok += sender.send(packet)
        self.discovery_rounds += 1
        return ok

    def terminate(self) -> int:
        """Send three Stream_Terminated packets per universe so receivers drop this source now.

        Returns
        -------
        int
            Packets the kernel accepted (at most ``3 * n_universes``).
        """
        ok = 0
        for _ in range(N_TERMINATE_PACKETS):
            for sender, i in self._pairs:
                ok += sender.send(self.encoder.terminate(i))
        return ok

    def close(self) -> None:
        """Close the sockets (without terminating; call `terminate` first for a clean exit)."""
        for s in self._senders:
            s.close()

    def __repr__(self) -> str:
        dest = "multicast" if self.multicast else f"{self._senders[0].address}:{self._senders[0].port}"
        u0 = self.encoder.start_universe
        return f"SacnOutput({dest}, universes {u0}..{u0 + self.n_universes - 1}, packets={self.packets})"
