"""MIDI files to audio with FluidSynth, in process: each soundfont is loaded once per process.

Layer: analysis (training tooling). Threads: the caller's (one renderer per process; the
training data workers are processes).

The ``fluidsynth`` command loads its soundfont again for every file it renders: 0.2-0.3 s for
FluidR3 (148 MB), and 2.3-2.6 s for a compressed ``.sf3`` such as MuseScore General, whose
samples are decoded on every load. `render_midi` instead drives ``libfluidsynth`` (the library
the command is built on, from the same Debian package) through ctypes and keeps each
(soundfont, sample rate) loaded for the life of the process; every file plays on a fresh synth
that borrows the loaded soundfont, so a render costs what the synthesis costs (about 0.1 s for
a 50 s piece at 22.05 kHz) and depends on nothing rendered before it. The settings are the
command's fast-render ones (``fluidsynth -ni -g 0.5 -r SR -F``): gain 0.5, MIDI timing driven
by the rendered sample count. The output matches the command's to a correlation of 0.996-1.0
(the command writes dithered 16-bit samples; this keeps float32).

Where the library cannot be loaded, `render_midi` runs the ``fluidsynth`` command.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import tempfile
from typing import Final

import numpy as np
import numpy.typing as npt
import soundfile as sf

__all__ = ["FluidRenderer", "render_midi"]

#: Samples rendered per library call (the player is polled between calls).
BLOCK: Final[int] = 1024
#: Gain of the renders (the command's ``-g 0.5``).
GAIN: Final[float] = 0.5
#: Longest render, s: a file that never ends (a loop in its tempo map) is cut here.
MAX_S: Final[float] = 900.0
_PLAYING: Final[int] = 1  # FLUID_PLAYER_PLAYING
_FLUID_WARN: Final[int] = 2

_lib: ctypes.CDLL | None = None
_lib_error: OSError | None = None


def _library() -> ctypes.CDLL:
    """libfluidsynth with the signatures used here (loaded once; a failure is remembered too).

    Raises
    ------
    OSError
        The library cannot be loaded.
    """
    global _lib, _lib_error
    if _lib is not None:
        return _lib
    if _lib_error is not None:
        raise _lib_error
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3")
    except OSError as e:
        _lib_error = e
        raise
    vp, cp, i, d = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double
    sigs: dict[str, tuple[type | None, list[type]]] = {
        "new_fluid_settings": (vp, []),
        "delete_fluid_settings": (None, [vp]),
        "fluid_settings_setnum": (i, [vp, cp, d]),
        "fluid_settings_setint": (i, [vp, cp, i]),
        "fluid_settings_setstr": (i, [vp, cp, cp]),
        "new_fluid_synth": (vp, [vp]),
        "delete_fluid_synth": (None, [vp]),
        "fluid_synth_sfload": (i, [vp, cp, i]),
        "fluid_synth_get_sfont": (vp, [vp, ctypes.c_uint]),
        "fluid_synth_add_sfont": (i, [vp, vp]),
        "fluid_synth_remove_sfont": (i, [vp, vp]),
        "fluid_synth_system_reset": (i, [vp]),
        "fluid_synth_write_float": (i, [vp, i, vp, i, i, vp, i, i]),
        "new_fluid_player": (vp, [vp]),
        "delete_fluid_player": (None, [vp]),
        "fluid_player_add": (i, [vp, cp]),
        "fluid_player_play": (i, [vp]),
        "fluid_player_get_status": (i, [vp]),
        "fluid_set_log_function": (vp, [i, vp, vp]),
    }
    for fn, (res, args) in sigs.items():
        f = getattr(lib, fn)
        f.restype = res
        f.argtypes = args
    # A new synth warns on every channel that it has no preset until the soundfont is added;
    # warnings carry nothing else here (errors still print).
    lib.fluid_set_log_function(_FLUID_WARN, None, None)
    _lib = lib
    return lib


class FluidRenderer:
    """A soundfont loaded once, rendering MIDI files one after another.

    Each render runs on a new synth that borrows the loaded soundfont, so every render starts
    from the same state (a reused synth carries chorus and reverb state from the previous
    file) and the same file always gives the same samples.

    Parameters
    ----------
    soundfont : str
        Path of a ``.sf2`` or ``.sf3`` file.
    sr : int, Hz
        Output sample rate.

    Raises
    ------
    OSError
        libfluidsynth cannot be loaded.
    RuntimeError
        The synth cannot be created or the soundfont not loaded.
    """

    def __init__(self, soundfont: str, sr: int) -> None:
        lib = _library()
        self.sr = int(sr)
        self._settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sr))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", GAIN)
        lib.fluid_settings_setstr(self._settings, b"player.timing-source", b"sample")
        lib.fluid_settings_setint(self._settings, b"synth.lock-memory", 0)
        self._home = lib.new_fluid_synth(self._settings)  # owns the loaded soundfont
        if not self._home:
            lib.delete_fluid_settings(self._settings)
            raise RuntimeError("FluidSynth could not create a synth")
        self._sfont = None
        if lib.fluid_synth_sfload(self._home, os.fsencode(soundfont), 1) < 0:
            self.close()
            raise RuntimeError(f"FluidSynth could not load the soundfont {soundfont}")
        self._sfont = lib.fluid_synth_get_sfont(self._home, 0)
        self._left = np.zeros(BLOCK, np.float32)
        self._right = np.zeros(BLOCK, np.float32)

    def render(self, midi_path: str, max_s: float = MAX_S) -> npt.NDArray[np.float32]:
        """The file as mono float32 audio at `sr`, until its last event or ``max_s`` (whole blocks).

        Stopping early changes nothing before the stop: the first ``max_s`` seconds are the
        samples a whole render begins with.

        Raises
        ------
        RuntimeError
            The file is not a standard MIDI file, or the synth cannot be created.
        """
        with open(midi_path, "rb") as f:
            if f.read(4) != b"MThd":
                raise RuntimeError(f"{midi_path} is not a standard MIDI file")
        if not self._sfont:
            raise RuntimeError("the renderer is closed")
        lib = _library()
        synth = lib.new_fluid_synth(self._settings)
        if not synth:
            raise RuntimeError("FluidSynth could not create a synth")
        lib.fluid_synth_add_sfont(synth, self._sfont)
        player = lib.new_fluid_player(synth)
        try:
            if not player or lib.fluid_player_add(player, os.fsencode(midi_path)) != 0 or lib.fluid_player_play(player) != 0:
                raise RuntimeError(f"FluidSynth cannot play {midi_path}")
            out: list[npt.NDArray[np.float32]] = []
            max_blocks = -(-int(min(max_s, MAX_S) * self.sr) // BLOCK)
            left, right = self._left, self._right
            while lib.fluid_player_get_status(player) == _PLAYING and len(out) < max_blocks:
                lib.fluid_synth_write_float(synth, BLOCK, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
                out.append(0.5 * (left + right))
        finally:
            if player:
                lib.delete_fluid_player(player)
            lib.fluid_synth_remove_sfont(synth, self._sfont)  # the home synth keeps it
            lib.delete_fluid_synth(synth)
        if not out:
            raise RuntimeError(f"FluidSynth rendered nothing of {midi_path}")
        return np.concatenate(out)

    def close(self) -> None:
        """Free the soundfont and the synth (the renderer cannot be used afterwards)."""
        lib = _library()
        self._sfont = None
        if self._home:
            lib.delete_fluid_synth(self._home)
            self._home = None
        if self._settings:
            lib.delete_fluid_settings(self._settings)
            self._settings = None


#: Renderers kept per process (the oldest is freed beyond this: FluidR3 holds about 150 MB,
#: MuseScore General Lite about 220 MB once decoded).
MAX_RENDERERS: Final[int] = 4
_RENDERERS: dict[tuple[str, int], FluidRenderer] = {}


def _render_with_command(midi_path: str, sr: int, soundfont: str, max_s: float) -> npt.NDArray[np.float32]:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise FileNotFoundError("fluidsynth not found: install the Debian package fluidsynth")
    fd, wav = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        subprocess.run([exe, "-ni", "-q", "-g", str(GAIN), "-r", str(sr), "-F", wav, soundfont, midi_path], check=True, capture_output=True, timeout=120)
        x, _ = sf.read(wav, dtype="float32", always_2d=True)
    finally:
        os.unlink(wav)
    return np.asarray(x[: int(max_s * sr)].mean(axis=1), dtype=np.float32)


def render_midi(midi_path: str, sr: int, soundfont: str, *, in_process: bool = True, max_s: float = MAX_S) -> npt.NDArray[np.float32]:
    """Render a MIDI file to mono float32 audio at ``sr`` with ``soundfont``.

    In process (`FluidRenderer`, one per soundfont and rate, kept for the life of the process)
    when libfluidsynth loads; otherwise, or with ``in_process=False``, with the ``fluidsynth``
    command (which renders the whole file, cut to ``max_s`` here). ``max_s`` stops the render
    once that much audio is made (a training clip uses only its first seconds).

    Raises
    ------
    FileNotFoundError
        Neither the library nor the command is installed (Debian package ``fluidsynth``).
    """
    if in_process:
        key = (soundfont, int(sr))
        r = _RENDERERS.get(key)
        if r is None:
            try:
                r = FluidRenderer(soundfont, sr)
            except OSError:
                return _render_with_command(midi_path, sr, soundfont, max_s)
            while len(_RENDERERS) >= MAX_RENDERERS:
                _RENDERERS.pop(next(iter(_RENDERERS))).close()
            _RENDERERS[key] = r
        return r.render(midi_path, max_s)
    return _render_with_command(midi_path, sr, soundfont, max_s)
