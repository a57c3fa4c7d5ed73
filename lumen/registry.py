"""A generic plugin registry with explicit, stable names.

Layer: shared by every layer. Threads: registration at import time; lookups from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from lumen.errors import PluginError, UnknownPluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Plugins of one kind, keyed by an explicit name.

    Parameters
    ----------
    kind : str
        What the plugins are ("analyzer", "output", ...), used in error messages.

    Examples
    --------
    >>> shapes: Registry[type] = Registry("shape")
    >>> @shapes.register("square")
    ... class Square: ...
    >>> shapes.get("square").__name__
    'Square'
    >>> shapes.get("sqare")
    Traceback (most recent call last):
    ...
    lumen.errors.UnknownPluginError: unknown shape 'sqare' (did you mean 'square'?); known: square
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers its target under ``name``; duplicates raise."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise PluginError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """The plugin called ``name``; raises :class:`UnknownPluginError` if there is none."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownPluginError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items
