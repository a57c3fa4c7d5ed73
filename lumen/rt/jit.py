"""Compiled per-hop kernels: numba's ``njit``, typed for mypy, with lumen's settings.

Layer: rt (any layer may use it). Threads: any.

A kernel is compiled on its first call and cached on disk (``__pycache__`` beside its module,
or numba's per-user cache when that is read-only), so a process that finds the cache loads it in
milliseconds. Call a kernel once while preparing (the analysis chain does, in its constructors)
so no live hop waits for the compiler. Kernels run without the GIL (``nogil``): the audio
callback is never kept waiting by one. ``fastmath`` here allows only reassociation and
contraction, so sums vectorise while infinities and NaN keep their meaning.

numba checks a cached kernel against its own source file only: after editing a kernel that
kernels in other modules call (``lumen.analysis.beat.model.band_sum``), delete those modules'
``__pycache__`` (a fresh clone has none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

__all__ = ["jit"]

_F = TypeVar("_F", bound=Callable[..., Any])


_FASTMATH = {"reassoc", "contract"}


def jit(fn: _F) -> _F:
    """``numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})``, keeping ``fn``'s type.

    Where numba finds nowhere to write its cache (a read-only install and no writable per-user
    cache folder), the kernel is compiled without one: each process then compiles it again,
    once, when it builds its analysis chain.
    """
    try:
        return cast(_F, numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)(fn))
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return cast(_F, numba.njit(nogil=True, fastmath=_FASTMATH)(fn))
