"""`DdpOutput`: RGB pixels of a strip or wall to a DDP display (WLED, pixel controllers).

Layer: output. Threads: one owning thread sends (the output thread of the show process, or a
test); ``packets`` and ``errors`` may be read from any thread. Construction and ``close`` happen
on the thread that wires the engine.

Two ways in:

- ``send_pixels(rgb)``: ``rgb`` of shape ``(n_pixels, 3)`` uint8, the natural DDP input.
- ``send_frame(dmx)``: the `PacedOutput` path, so DDP can sit on the same `OutputThread` as
  sACN and Art-Net. ``dmx`` has shape ``(n_universes, 512)`` with ``n_universes =
  ceil(n_pixels / 170)``, and is read the way lumen's patch packs pixels into universes: 170 RGB
  pixels per row in slots 1..510 (slots 511 and 512 ignored), pixel ``p`` in row ``p // 170`` at
  slots ``3 * (p % 170) + 1 ..+3``.

Defaults are unicast to 127.0.0.1:4048. DDP has no end-of-stream message: ``terminate`` sends
nothing and returns 0.
"""

from __future__ import annotations

from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from lumen.errors import OutputError
from lumen.output.encode.ddp import (
    BYTES_PER_PIXEL,
    DATA_TYPE_RGB8,
    DDP_PORT,
    ID_DISPLAY,
    DdpEncoder,
)
from lumen.output.send import SingleSenderStats, UdpSender

#: RGB pixels lumen's patch puts in one 512-slot universe row.
PIXELS_PER_UNIVERSE: Final[int] = 170
_ROW_BYTES: Final[int] = PIXELS_PER_UNIVERSE * BYTES_PER_PIXEL


class DdpParams(BaseModel):
    """Configuration of a DDP output (the schema for show files, docs and OSC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: Annotated[str, Field(description="Destination IPv4 address or host name (unicast).")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535, description="Destination UDP port (4048 for DDP displays).")] = DDP_PORT
    n_pixels: Annotated[int, Field(ge=1, le=1_000_000, description="RGB pixels of the strip or wall.")] = 170
    rate_hz: Annotated[float, Field(gt=0.0, le=1000.0, description="Maximum frame rate, Hz.")] = 44.0
    latency_ms: Annotated[
        float, Field(ge=0.0, le=1000.0, description="Known latency after the socket (display), ms.")
    ] = 0.0
    data_type: Annotated[
        int, Field(ge=0, le=255, description="DDP data type octet: 11 (0x0B) = 8-bit RGB; 1 for legacy receivers.")
    ] = DATA_TYPE_RGB8
    destination_id: Annotated[int, Field(ge=1, le=255, description="DDP destination id; 1 = default output.")] = (
        ID_DISPLAY
    )


class DdpOutput(SingleSenderStats):
    """Sends RGB frames as DDP packets (at most 480 pixels each, push flag on the last).

    Parameters
    ----------
    address : str
        Destination IPv4 address or host name.
    port : int, 1..65535
        Destination UDP port (4048 for real displays; an ephemeral port in tests).
    n_pixels : int, >= 1
        Pixels per frame.
    rate_hz : float, Hz, > 0
        Highest frame rate; `OutputThread` enforces it.
    latency_ms : float, ms, >= 0
        Known latency after the socket, for beat-locked timing.
    data_type : int, 0..255
        DDP data type octet (0x0B: 8-bit RGB).
    destination_id : int, 1..255
        DDP destination id (1: default output device).

    Attributes
    ----------
    n_universes : int
        ``ceil(n_pixels / 170)``: rows of the DMX frames ``send_frame`` takes.

    Raises
    ------
    OutputError
        An invalid parameter, a refused destination (multicast, 255.255.255.255), or no socket.
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = DDP_PORT,
        n_pixels: int = PIXELS_PER_UNIVERSE,
        rate_hz: float = 44.0,
        latency_ms: float = 0.0,
        *,
        data_type: int = DATA_TYPE_RGB8,
        destination_id: int = ID_DISPLAY,
    ) -> None:
        if not rate_hz > 0.0:
            raise OutputError(f"rate_hz must be positive, got {rate_hz}")
        if not latency_ms >= 0.0:
            raise OutputError(f"latency_ms must be >= 0, got {latency_ms}")
        self.encoder = DdpEncoder(n_pixels, data_type=data_type, destination_id=destination_id)
        self.n_pixels: int = n_pixels
        self.n_universes: int = -(-n_pixels // PIXELS_PER_UNIVERSE)
        self.rate_hz: float = float(rate_hz)
        self.latency_ms: float = float(latency_ms)
        # Staging for send_frame: the first 510 slots of each row; its flat prefix is the strip.
        self._rows: npt.NDArray[np.uint8] = np.zeros((self.n_universes, _ROW_BYTES), dtype=np.uint8)
        self._strip: npt.NDArray[np.uint8] = self._rows.reshape(-1)[: n_pixels * BYTES_PER_PIXEL]
        self._sender = UdpSender(address, port)

    @classmethod
    def from_params(cls, params: DdpParams) -> DdpOutput:
        """Build an output from validated configuration."""
        return cls(
            params.address,
            params.port,
            params.n_pixels,
            params.rate_hz,
            params.latency_ms,
            data_type=params.data_type,
            destination_id=params.destination_id,
        )

    def _send(self, views: tuple[memoryview, ...]) -> int:
        send = self._sender.send
        ok = 0
        for view in views:
            ok += send(view)
        return ok

    def send_pixels(self, rgb: npt.NDArray[np.uint8]) -> int:
        """Encode and send one frame of pixels; errors are counted, never raised.

        Parameters
        ----------
        rgb : ndarray, shape (n_pixels, 3), uint8

        Returns
        -------
        int
            Packets the kernel accepted.
        """
        return self._send(self.encoder.encode(rgb))

    def send_frame(self, dmx: npt.NDArray[np.uint8]) -> int:
        """Send a DMX-shaped frame: 170 RGB pixels per universe row (see the module docstring).

        Parameters
        ----------
        dmx : ndarray, shape (n_universes, 512), uint8

        Returns
        -------
        int
            Packets the kernel accepted.
        """
        np.copyto(self._rows, dmx[:, :_ROW_BYTES])
        return self._send(self.encoder.encode_bytes(self._strip))

    def terminate(self) -> int:
        """DDP has no stream termination: send nothing and return 0."""
        return 0

    def close(self) -> None:
        """Close the socket."""
        self._sender.close()

    def __repr__(self) -> str:
        host, port = self._sender.destination
        return f"DdpOutput({host}:{port}, {self.n_pixels} pixels, packets={self.packets})"
