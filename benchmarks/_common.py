"""Shared helpers of lumen's benchmark scripts: timing, tables, and RESULTS.md."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def repeat(fn: Callable[[], float], repeats: int) -> tuple[float, float, float]:
    """Run ``fn`` (which returns one measurement) ``repeats`` times: min, median, max."""
    xs = [fn() for _ in range(repeats)]
    return min(xs), statistics.median(xs), max(xs)


def time_per_call(fn: Callable[[], object], n: int) -> float:
    """Mean seconds per call of ``fn`` over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    def fmt(x: object) -> str:
        if isinstance(x, float):
            return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def weights_line(*paths: Path) -> str:
    """``Weights: <file> sha256 <first 12 hex digits>, ...``: which trained model a run scored."""
    import hashlib

    parts = [f"`{q.name}` sha256 {hashlib.sha256(q.read_bytes()).hexdigest()[:12]}" + ("" if q.parent.name == "weights" and "lumen" in q.parts else f" (from {q.parent})") for q in paths]
    return "Weights: " + ", ".join(parts) + "\n\n"


def record(title: str, body: str, argv: Sequence[str] | None = None, *, dry: bool = False) -> None:
    """Print ``body`` and append it to RESULTS.md with machine, date and command (only print if ``dry``)."""
    print(body)
    if dry:
        return
    args = list(argv if argv is not None else sys.argv[1:])
    if Path(sys.argv[0]).name == "lumen":  # run through `lumen bench`
        cmd = " ".join(["lumen", "bench", *sys.argv[2:]])
    else:
        cmd = "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *args])
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not RESULTS.exists():
        RESULTS.write_text("# lumen benchmark results\n\nAppended by the scripts in `benchmarks/` (`lumen bench`). Newest last.\n")
    with RESULTS.open("a") as f:
        f.write(f"\n## {title}\n\n- machine: {machine()}\n- date: {date}\n- command: `{cmd}`\n\n{body}\n")
