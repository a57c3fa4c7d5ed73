"""Shared fixtures: a seeded RNG, the headless JACK server, helpers' paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI explores the same examples every run (a red CI should mean a regression, not a new
# random draw); locally Hypothesis keeps searching with fresh seeds.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
HELPERS = REPO / "tests" / "helpers"
SHARED = REPO.parent / "shared"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, fresh for each test."""
    return np.random.default_rng(20261122)


@pytest.fixture(scope="session")
def jack_server() -> Iterator[str]:
    """Name of a running JACK dummy server (48 kHz, 256-frame periods).

    `tests/run.sh` starts one for the whole run; when pytest is run directly this fixture
    starts its own and stops it at the end of the session.
    """
    if shutil.which("jackd") is None:
        pytest.fail("jackd is not installed: run scripts/setup.sh")
    name = os.environ.setdefault("JACK_DEFAULT_SERVER", "lumen-ci")
    os.environ.setdefault("JACK_NO_AUDIO_RESERVATION", "1")
    # `jack_wait -c` exits 0 either way; it prints "running" or "not running".
    running = subprocess.run(["jack_wait", "-c", "-s", name], capture_output=True, text=True).stdout.strip() == "running"
    proc = None
    if not running:
        proc = subprocess.Popen(
            ["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", "256", "-C", "2", "-P", "2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(["timeout", "10", "jack_wait", "-w", "-s", name], check=True, capture_output=True)
        time.sleep(0.2)
    yield name
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)
