"""Doctests of lumen's pure functions run here, with NumPy print options pinned."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import lumen

MODULES = sorted(m.name for m in pkgutil.walk_packages(lumen.__path__, "lumen.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    with np.printoptions(precision=4, suppress=True, legacy="1.25"):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
