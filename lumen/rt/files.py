"""File-change detection for hot reload (shaders, show files).

Layer: rt (used by render and show). Threads: any (a ``stat`` call; never on the audio
callback).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["stat_key"]


def stat_key(path: Path) -> tuple[int, int] | None:
    """``(mtime_ns, size)`` of ``path``, or None if it cannot be read: compare keys to see a save.

    Examples
    --------
    >>> stat_key(Path("/no/such/file")) is None
    True
    """
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
