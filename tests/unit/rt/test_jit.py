"""lumen.rt.jit: compiled kernels, cached where numba can write, uncached where it cannot."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from lumen.rt import jit as jit_mod


def _total(x: np.ndarray) -> float:
    s = 0.0
    for v in x:
        s += v
    return s


def test_a_kernel_computes_what_its_python_does() -> None:
    k = jit_mod.jit(_total)
    x = np.arange(100, dtype=np.float32)
    assert k(x) == pytest.approx(_total(x))
    assert getattr(k, "py_func") is _total  # a numba dispatcher


def test_without_a_writable_cache_the_kernel_is_compiled_uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    real = numba.njit

    def njit(**kw: object) -> object:
        if kw.get("cache"):
            raise RuntimeError("cannot cache function '_total': no locator available for file 'x.py'")
        return real(**kw)  # type: ignore[call-overload]

    monkeypatch.setattr(numba, "njit", njit)
    k = jit_mod.jit(_total)
    assert k(np.ones(7, dtype=np.float32)) == 7.0
