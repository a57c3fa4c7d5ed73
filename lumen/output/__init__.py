"""Outputs: DMX frames onto the wire (sACN, Art-Net, DDP; OSC cues later).

Layer: output (knows no scene, no render, no GL). Threads: the output thread of the show
process sends; the engine's wiring thread builds, starts and stops outputs.

``outputs`` is the registry of output kinds by their stable names, e.g.
``outputs.get("sacn")(port=5568, n_universes=4)``.
"""

from __future__ import annotations

from collections.abc import Callable

from lumen.output.artnet import ArtnetOutput, ArtnetParams, ArtPollResponder
from lumen.output.ddp import DdpOutput, DdpParams
from lumen.output.pace import OutputThread, PacedOutput
from lumen.output.sacn import SacnOutput, SacnParams
from lumen.output.send import UdpSender
from lumen.registry import Registry

#: Output kinds by name; each entry builds a `PacedOutput`.
outputs: Registry[Callable[..., PacedOutput]] = Registry("output")
outputs.register("sacn")(SacnOutput)
outputs.register("artnet")(ArtnetOutput)
outputs.register("ddp")(DdpOutput)

__all__ = [
    "ArtPollResponder",
    "ArtnetOutput",
    "ArtnetParams",
    "DdpOutput",
    "DdpParams",
    "OutputThread",
    "PacedOutput",
    "SacnOutput",
    "SacnParams",
    "UdpSender",
    "outputs",
]
