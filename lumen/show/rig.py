"""The rig of a show: fixtures patched from OFL profiles next to the LED wall.

Layer: show. Threads: the main thread at start-up (and a control thread on reload): it reads
fixture files.

`build_patch` turns a validated `ShowConfig` into a `lumen.patch.fixtures.Patch` and reports
every problem (missing profile, wrong mode, overlapping addresses, a fixture on top of the
wall's pixels) as ``(key path, message)`` pairs, which the loader turns into
``file:line:col`` errors.
"""

from __future__ import annotations

from pathlib import Path

from lumen.patch.fixtures import FixtureError, FixtureProfile, Patch, load_ofl
from lumen.show.schema import ShowConfig

#: RGB pixels per universe of the wall (no pixel split across universes).
WALL_PIXELS_PER_UNIVERSE = 170

KeyPath = tuple[str | int, ...]


def wall_universes(cfg: ShowConfig) -> range:
    """Rig universes the LED wall occupies."""
    n = -(-cfg.wall.width * cfg.wall.height // WALL_PIXELS_PER_UNIVERSE)
    return range(cfg.wall.universe, cfg.wall.universe + n)


def profile_path(cfg: ShowConfig, profile: str, show_dir: Path | None) -> Path:
    """Where a fixture's OFL file is: a path, or 'manufacturer/fixture' in the library."""
    base = show_dir if show_dir is not None else Path.cwd()
    candidates = []
    p = Path(profile)
    candidates.append(p if p.is_absolute() else base / p)
    if cfg.fixture_library is not None:
        lib = Path(cfg.fixture_library)
        lib = lib if lib.is_absolute() else base / lib
        candidates += [lib / p, lib / f"{profile}.json", lib / "fixtures" / f"{profile}.json"]
    for c in candidates:
        if c.is_file():
            return c
    return candidates[0]


def build_patch(cfg: ShowConfig, show_dir: Path | None) -> tuple[Patch, list[tuple[KeyPath, str]]]:
    """The fixture patch of ``cfg`` and every problem found building it."""
    patch = Patch()
    problems: list[tuple[KeyPath, str]] = []
    profiles: dict[Path, FixtureProfile] = {}
    wall = wall_universes(cfg)
    n_wall_px = cfg.wall.width * cfg.wall.height
    for i, fx in enumerate(cfg.fixtures):
        path = profile_path(cfg, fx.profile, show_dir)
        try:
            profile = profiles.get(path) or load_ofl(path)
        except FixtureError as e:
            problems.append((("fixtures", i, "profile"), f"cannot load fixture profile {fx.profile!r}: {e.reason}"))
            continue
        profiles[path] = profile
        try:
            mode = profile.mode(fx.mode)
        except FixtureError as e:
            problems.append((("fixtures", i, "mode"), e.reason))
            continue
        if fx.universe in wall:
            k = fx.universe - wall.start
            used = min(WALL_PIXELS_PER_UNIVERSE, n_wall_px - k * WALL_PIXELS_PER_UNIVERSE) * 3
            if fx.address <= used:
                problems.append((
                    ("fixtures", i, "address"),
                    f"fixture {fx.name!r} at {fx.universe}/{fx.address} overlaps the LED wall "
                    f"(universe {fx.universe} slots 1..{used})",
                ))
                continue
        try:
            patch.add(profile, mode.name, fx.universe, fx.address, fx.name, (fx.position[0], fx.position[1]), area=fx.area)
        except FixtureError as e:
            field = "name" if "name" in e.reason and "already" in e.reason else "address"
            problems.append((("fixtures", i, field), e.reason))
    return patch, problems
