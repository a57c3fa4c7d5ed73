"""Loading PortAudio (through sounddevice) with lumen's JACK client name.

Layer: audio. Threads: call from the thread that sets up streams, before any stream exists.

PortAudio probes its host APIs once, when sounddevice is first imported, so a JACK server
must be running before that import for JACK devices to appear, and a JACK client name must
be set (``PaJack_SetClientName``) before it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from types import ModuleType

from lumen.errors import DeviceError

_client_name_buf: ctypes.Array[ctypes.c_char] | None = None


def set_jack_client_name(name: str) -> bool:
    """Name lumen's JACK client (ports then appear as ``name:in_0``...).

    Must run before sounddevice is imported; returns False (and changes nothing) if it
    already was, or if this PortAudio has no JACK support.
    """
    global _client_name_buf
    if "sounddevice" in sys.modules:
        return False
    libname = ctypes.util.find_library("portaudio") or "libportaudio.so.2"
    try:
        lib = ctypes.CDLL(libname)
        fn = lib.PaJack_SetClientName
    except (OSError, AttributeError):
        return False
    # PortAudio keeps the pointer, so the buffer must outlive the stream: keep it global.
    _client_name_buf = ctypes.create_string_buffer(name.encode()[:63])
    fn.argtypes = [ctypes.c_char_p]
    fn.restype = ctypes.c_int
    return int(fn(_client_name_buf)) == 0


def import_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio library into a `DeviceError`."""
    try:
        import sounddevice as sd
    except OSError as e:  # sounddevice raises OSError when libportaudio is missing
        raise DeviceError(f"PortAudio is not available ({e}); install Debian's libportaudio2") from None
    module: ModuleType = sd
    return module
