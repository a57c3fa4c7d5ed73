"""The `lumen` command's small subcommands, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OFL = REPO.parent / "shared" / "data" / "ofl"
LUMEN = [sys.executable, "-m", "lumen.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LUMEN, *args], capture_output=True, text=True, timeout=120)


def test_fixtures_check_reports_each_bad_file_and_exits_2(tmp_path: Path) -> None:
    good = run("fixtures", "check", str(OFL / "fixtures" / "generic"))
    assert good.returncode == 0, good.stderr
    assert " ok, 0 failed" in good.stdout
    (tmp_path / "broken.json").write_text('{"name": "x"')
    bad = run("fixtures", "check", str(tmp_path), str(OFL / "fixtures" / "generic"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [line for line in bad.stderr.strip().splitlines() if "broken.json: " in line]
    assert "1 failed" in bad.stdout


def test_validate_ok_and_bad(tmp_path: Path) -> None:
    ok = run("validate", str(REPO / "presets" / "demo.yaml"))
    assert ok.returncode == 0 and ": ok" in ok.stdout
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("version: 1\nwall:\n  widht: 10\n")
    bad = run("validate", str(bad_file))
    assert bad.returncode == 2
    assert f"{bad_file}:3:3: wall.widht: unknown field 'widht' (did you mean 'width'?)" in bad.stderr


def test_plugins_and_devices_list_what_exists() -> None:
    p = run("plugins")
    assert p.returncode == 0 and "analyzers: beat, levels, mood, onset, structure, tempo" in p.stdout and "sacn" in p.stdout
    d = run("devices")
    assert d.returncode == 0 and "audio devices:" in d.stdout and "lo  127.0.0.1" in d.stdout
