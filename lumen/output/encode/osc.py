"""OSC 1.0 message and bundle encoder (pure bytes).

Layer: output. Threads: any; the functions are pure (no I/O, no shared state).

An OSC message is the address pattern, the type tag string (``,`` then one tag a
argument) and the arguments, each padded with NULs to a multiple of 4 octets; numbers are
big-endian. A bundle is ``#bundle``, a 64-bit NTP time tag, and size-prefixed elements.

Argument types, chosen from the Python value:

===========  ====  =====================================
Python       tag   wire
===========  ====  =====================================
bool         T/F   no data
None         N     no data
int          i     int32 (h, int64, outside int32 range)
float        f     float32 (use `Double` for d)
str          s     UTF-8, NUL-terminated, padded
bytes        b     int32 size, octets, padded
`Double`     d     float64
===========  ====  =====================================

lumen sends plain messages to consoles (QLC+ ignores bundles) and floats as float32, which
every receiver reads.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["Double", "OscArg", "osc_bundle", "osc_message", "osc_string"]

#: The time tag meaning "immediately".
IMMEDIATELY: Final[int] = 1
_INT32_MIN: Final[int] = -(2**31)
_INT32_MAX: Final[int] = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Double:
    """A float sent as a 64-bit OSC double (tag ``d``)."""

    value: float


OscArg = bool | None | int | float | str | bytes | Double


def osc_string(s: str) -> bytes:
    """UTF-8 octets of ``s``, NUL-terminated and padded to a multiple of 4.

    Examples
    --------
    >>> osc_string("/a")
    b'/a\\x00\\x00'
    >>> osc_string("abcd")
    b'abcd\\x00\\x00\\x00\\x00'
    """
    b = s.encode("utf-8")
    if b"\x00" in b:
        raise ValueError(f"OSC string contains a NUL: {s!r}")
    return b + b"\x00" * (4 - len(b) % 4)


def _blob(b: bytes) -> bytes:
    return struct.pack(">i", len(b)) + b + b"\x00" * (-len(b) % 4)


def osc_message(address: str, args: Sequence[OscArg] = ()) -> bytes:
    """Encode one OSC message.

    Parameters
    ----------
    address : str
        Address pattern; must start with ``/``.
    args : sequence
        Arguments; the type of each picks its tag (module table).

    Returns
    -------
    bytes
        The message, a multiple of 4 octets long.

    Raises
    ------
    ValueError
        For an address not starting with ``/`` or a NUL inside a string.
    TypeError
        For an argument of another type.

    Examples
    --------
    >>> osc_message("/lumen/master", [0.5]).hex()
    '2f6c756d656e2f6d61737465720000002c6600003f000000'
    >>> osc_message("/eos/cue/1/5/fire")
    b'/eos/cue/1/5/fire\\x00\\x00\\x00,\\x00\\x00\\x00'
    """
    if not address.startswith("/"):
        raise ValueError(f"OSC address must start with '/': {address!r}")
    tags = [","]
    data: list[bytes] = []
    for a in args:
        if a is True:
            tags.append("T")
        elif a is False:
            tags.append("F")
        elif a is None:
            tags.append("N")
        elif isinstance(a, int):
            if _INT32_MIN <= a <= _INT32_MAX:
                tags.append("i")
                data.append(struct.pack(">i", a))
            else:
                tags.append("h")
                data.append(struct.pack(">q", a))
        elif isinstance(a, float):
            tags.append("f")
            data.append(struct.pack(">f", a))
        elif isinstance(a, Double):
            tags.append("d")
            data.append(struct.pack(">d", a.value))
        elif isinstance(a, str):
            tags.append("s")
            data.append(osc_string(a))
        elif isinstance(a, bytes):
            tags.append("b")
            data.append(_blob(a))
        else:
            raise TypeError(f"cannot send {type(a).__name__} as an OSC argument: {a!r}")
    return osc_string(address) + osc_string("".join(tags)) + b"".join(data)


def osc_bundle(elements: Iterable[bytes], timetag: int = IMMEDIATELY) -> bytes:
    """Encode a bundle of already encoded messages (or bundles).

    Parameters
    ----------
    elements : iterable of bytes
        Encoded messages or bundles.
    timetag : int
        64-bit NTP time tag; 1 means "immediately".

    Examples
    --------
    >>> len(osc_bundle([osc_message("/a")]))
    28
    """
    out = [b"#bundle\x00", struct.pack(">Q", timetag)]
    for e in elements:
        out.append(struct.pack(">i", len(e)))
        out.append(e)
    return b"".join(out)
