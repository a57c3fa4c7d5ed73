"""Architecture: the one-way layer contracts of DESIGN.md hold (import-linter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint_imports), "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" not in r.stdout.split("Contracts:")[-1].lower() or " 0 broken" in r.stdout


def test_only_cli_imports_argparse() -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "lumen").rglob("*.py")
        if p.name != "cli.py" and "import argparse" in p.read_text()
    ]
    assert offenders == []


def test_no_wall_clock_time_for_scheduling() -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "lumen").rglob("*.py")
        if "time.time()" in p.read_text() or "datetime.now()" in p.read_text()
    ]
    assert offenders == []
