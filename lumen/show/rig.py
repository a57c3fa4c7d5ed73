"""The rig of a show: fixtures patched from OFL profiles next to the LED wall.

Layer: show. Threads: the main thread at start-up (and a control thread on reload): it reads
fixture files.

`build_rig` turns a validated `ShowConfig` into pixel maps (wall, strips, CSV points) and a
`lumen.patch.fixtures.Patch`, and reports every problem (missing profile or CSV, wrong mode,
two things on the same DMX slot) as ``(key path, message)`` pairs, which the loader turns
into ``file:line:col`` errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lumen.errors import ConfigError
from lumen.patch.fixtures import FixtureError, FixtureProfile, Patch, load_ofl
from lumen.patch.pixelmap import MatrixMap, PixelMap, PointMap, Strip, StripMap
from lumen.show.schema import ShowConfig

KeyPath = tuple[str | int, ...]


def build_maps(cfg: ShowConfig, show_dir: Path | None) -> tuple[dict[str, PixelMap], list[tuple[KeyPath, str]]]:
    """The pixel maps of the rig by name ("wall", "strips", "points") and every problem found."""
    maps: dict[str, PixelMap] = {}
    problems: list[tuple[KeyPath, str]] = []
    w = cfg.wall
    try:
        maps["wall"] = MatrixMap(
            w.width, w.height, origin=w.origin, serpentine=w.serpentine, order=w.order,
            tiles=w.tiles, tile_order=w.tile_order, tile_serpentine=w.tile_serpentine,
            rotation=w.rotation, flip_h=w.flip_h, flip_v=w.flip_v,
            color_order=w.color_order, start_universe=w.universe, start_address=w.start_address,
            split_pixels=w.split_pixels,
            white_balance=(*w.white_balance, 1.0) if len(w.color_order) == 4 else w.white_balance,
            current_budget_a=w.current_budget_a, current_ma_per_channel=w.current_ma_per_channel,
            sampling=w.sampling, area_radius_px=w.area_radius_px,
        )
    except ValueError as e:
        problems.append((("wall",), str(e)))
    if cfg.strips is not None:
        sc = cfg.strips
        try:
            strips = [Strip(tuple(s.points), s.n_pixels, universe=s.universe, address=s.address) for s in sc.strips]
            maps["strips"] = StripMap(strips, color_order=sc.color_order, start_universe=sc.universe)
        except ValueError as e:
            problems.append((("strips",), str(e)))
    if cfg.points is not None:
        pc = cfg.points
        base = show_dir if show_dir is not None else Path.cwd()
        csv = Path(pc.csv) if Path(pc.csv).is_absolute() else base / pc.csv
        try:
            maps["points"] = PointMap.from_csv(csv, normalize=pc.normalize, color_order=pc.color_order, start_universe=pc.universe)
        except ConfigError as e:
            problems += [(("points", "csv"), str(i)) for i in e.issues]
        except (ValueError, OSError) as e:
            problems.append((("points", "csv"), f"{csv}: {e}"))
    return maps, problems


def occupancy_problems(maps: dict[str, PixelMap], patch: Patch, cfg: ShowConfig) -> list[tuple[KeyPath, str]]:
    """Two pixel maps, or a map and a fixture, that drive the same DMX slot."""
    owner: dict[int, list[str | None]] = {}
    problems: list[tuple[KeyPath, str]] = []

    def claim(universe: int, slots: np.ndarray, who: str, loc: KeyPath) -> None:
        row = owner.setdefault(universe, [None] * 512)
        for slot in slots.tolist():
            other = row[slot]
            if other is not None and other != who:
                problems.append((loc, f"{who} overlaps {other} at universe {universe} address {slot + 1}"))
                return
            row[slot] = who

    for name, m in maps.items():
        flat = m.dmx_index.reshape(-1)
        rows = flat // 512
        for r in np.unique(rows).tolist():
            claim(m.universes[0] + r, flat[rows == r] % 512, f"the {name} map", (name,))
    index = {fx.name: i for i, fx in enumerate(cfg.fixtures)}
    for fx in patch.fixtures:
        i = index[fx.name]
        slots = np.arange(fx.address - 1, fx.address - 1 + fx.mode.n_channels)
        claim(fx.universe, slots, f"fixture {fx.name!r}", ("fixtures", i, "address"))
    return problems


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
        try:
            patch.add(profile, mode.name, fx.universe, fx.address, fx.name, (fx.position[0], fx.position[1]), area=fx.area)
        except FixtureError as e:
            field = "name" if "name" in e.reason and "already" in e.reason else "address"
            problems.append((("fixtures", i, field), e.reason))
    return patch, problems


def build_rig(cfg: ShowConfig, show_dir: Path | None) -> tuple[dict[str, PixelMap], Patch, list[tuple[KeyPath, str]]]:
    """Pixel maps, fixture patch, and every problem (including overlaps between them)."""
    maps, problems = build_maps(cfg, show_dir)
    patch, fx_problems = build_patch(cfg, show_dir)
    problems += fx_problems
    problems += occupancy_problems(maps, patch, cfg)
    return maps, patch, problems
