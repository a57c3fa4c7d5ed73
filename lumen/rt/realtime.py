"""The `@realtime` mark and the lint that checks marked functions.

Layer: rt. Threads: the decorator runs at import; the lint runs in tests and tools.

A function marked ``@realtime`` may run on the audio callback (or another thread that must
never wait): it must not allocate arrays, take locks, log, print, do I/O, sleep, touch torch,
or raise. Python cannot promise zero allocation, so the contract is checked two ways: this AST
lint for forbidden calls, and a tracemalloc test that runs the function many times.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import textwrap
from collections.abc import Callable
from typing import Final, TypeVar

F = TypeVar("F", bound=Callable[..., object])

_REGISTRY: list[Callable[..., object]] = []

#: Calls a real-time function must not make, by the last part of their dotted name.
FORBIDDEN_CALLS: Final[frozenset[str]] = frozenset(
    {
        # allocation of arrays and containers
        "zeros", "empty", "ones", "full", "array", "asarray", "copy", "concatenate", "stack",
        "hstack", "vstack", "append", "extend", "tolist", "list", "dict", "set", "tuple",
        "bytearray", "bytes", "astype", "reshape", "sorted", "format", "join", "encode",
        # locks and waiting
        "acquire", "wait", "sleep", "join_thread", "Lock", "RLock", "Condition", "Event", "put", "get_nowait",
        # logging, printing, I/O
        "print", "debug", "info", "warning", "error", "exception", "critical", "log", "open",
        "write_text", "sendto", "send", "recv", "flush",
    }
)
#: Module prefixes a real-time function must not touch at all.
FORBIDDEN_MODULES: Final[frozenset[str]] = frozenset({"torch", "logging", "socket", "os", "sys", "threading"})
#: Statements a real-time function must not contain.
FORBIDDEN_NODES: Final[tuple[type[ast.AST], ...]] = (
    ast.Raise, ast.With, ast.AsyncWith, ast.Await, ast.Yield, ast.ListComp, ast.DictComp,
    ast.SetComp, ast.GeneratorExp, ast.List, ast.Dict, ast.Set, ast.JoinedStr, ast.Lambda,
)


def realtime(func: F) -> F:
    """Mark ``func`` as real-time safe and register it for the lint and allocation tests."""
    func.__lumen_realtime__ = True  # type: ignore[attr-defined]
    _REGISTRY.append(func)
    return func


def registered() -> list[Callable[..., object]]:
    """Every function marked ``@realtime`` so far (import modules first)."""
    return list(_REGISTRY)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def lint(func: Callable[..., object]) -> list[str]:
    """Return the real-time rule violations in ``func``'s source, one message each.

    Examples
    --------
    >>> def bad(x):
    ...     print(x)
    ...     return [x]
    >>> [m.split(": ")[1] for m in lint(bad)]
    ['forbidden call print()', 'forbidden List']
    """
    src = textwrap.dedent(inspect.getsource(func))
    tree = ast.parse(src)
    fdef = tree.body[0]
    first = inspect.getsourcelines(func)[1]
    problems: list[str] = []
    for node in ast.walk(fdef):
        if node is fdef:
            continue
        line = first + getattr(node, "lineno", 1) - 1
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            leaf = name.rsplit(".", 1)[-1]
            root = name.split(".", 1)[0]
            if leaf in FORBIDDEN_CALLS:
                problems.append(f"{func.__qualname__}:{line}: forbidden call {name}()")
            elif root in FORBIDDEN_MODULES:
                problems.append(f"{func.__qualname__}:{line}: forbidden module in {name}()")
        elif isinstance(node, FORBIDDEN_NODES) and not (
            isinstance(node, ast.Lambda | ast.GeneratorExp) and False
        ):
            # decorators are outside the body, so the only nested nodes here are the body's
            problems.append(f"{func.__qualname__}:{line}: forbidden {type(node).__name__}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_MODULES:
            problems.append(f"{func.__qualname__}:{line}: forbidden module {node.id}")
    return problems


def prioritize_audio_process() -> str:
    """Give this process's threads the CPU and the GIL ahead of rendering (the listen process).

    The PortAudio callback needs the GIL. If another thread of this process holds it and is
    preempted by render threads (llvmpipe uses every core), the callback waits and the
    stream overflows. So this process's threads run at a low real-time priority (below the
    audio server's, SCHED_FIFO 1: they sleep nearly all the time, so they cost nothing),
    falling back to a raised nice level, and the GIL switch interval is short. Called before
    any thread starts, so every thread inherits it. Returns a note for the source
    description when neither was permitted.
    """
    sys.setswitchinterval(0.0005)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return ""
    except (OSError, AttributeError):  # no rtprio for this user, or not Linux
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        return " (normal priority: no permission to raise it)"
    return " (nice -10: no permission for real-time priority)"
