"""Study areas and input resolution.

The registry ``data/osm/areas.yaml`` lists one entry per subdistrict (街道). Input files are
looked up, in order, in ``--data-dir`` / ``$LIFECIRCLE_DATA``, the project's ``data/`` and the
team mirror ``../shared/data``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.io import validate
from geo.io.subdistricts import overlay_path, read_overlay

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class DataRoots:
    """The ordered folders searched for input files."""

    roots: tuple[Path, ...]

    @classmethod
    def default(cls, data_dir: str | os.PathLike[str] | None = None) -> DataRoots:
        """Build the search order: ``data_dir`` (or $LIFECIRCLE_DATA), ``data/``, the mirror."""
        roots: list[Path] = []
        user = Path(data_dir).expanduser() if data_dir else settings.user_data_dir()
        if user is not None:
            roots.append(user)
        roots.append(settings.PROJECT_DATA_DIR)
        roots.append(settings.MIRROR_DIR)
        return cls(tuple(roots))

    def resolve(self, relpath: str | os.PathLike[str], *, what: str = "input") -> Path:
        """Return the first existing ``root/relpath``; raise listing every place tried."""
        rel = Path(relpath)
        if rel.is_absolute():
            if rel.exists():
                return rel
            raise LifeCircleError(f"{what} not found", path=rel)
        tried = [root / rel for root in self.roots]
        for candidate in tried:
            if candidate.exists():
                return candidate
        places = "; ".join(str(p) for p in tried)
        raise LifeCircleError(f"{what} '{rel}' not found; tried: {places}")

    def find_all(self, relpath: str | os.PathLike[str]) -> list[Path]:
        """Every existing ``root/relpath`` (used to discover fetched downloads)."""
        return [root / relpath for root in self.roots if (root / relpath).exists()]


@dataclass(frozen=True)
class Area:
    """One study area (a subdistrict, 街道). Distances in metres; geometry WGS-84."""

    id: str
    name_zh: str
    name_en: str
    district: str
    osm_relation: int
    boundary_file: str
    boundary_key: str
    network: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    census_code_2010: str | None = None
    census_note: str | None = None
    data_date: str | None = None
    #: official facility lists: paths or ``{file, crs, sheet}`` (read by geo.facilities.lists)
    facility_lists: tuple[Any, ...] = field(default=(), hash=False)
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def label(self) -> str:
        """Bilingual label, Chinese first."""
        return f"{self.name_zh} {self.name_en}"


class Registry:
    """The study-area registry plus the data roots used to resolve its files."""

    def __init__(
        self,
        areas: Sequence[Area],
        roots: DataRoots,
        defaults: dict[str, Any],
        path: Path | None = None,
    ):
        self.areas = {a.id: a for a in areas}
        self.roots = roots
        self.defaults = defaults
        self.path = path

    def __iter__(self) -> Iterator[Area]:
        return iter(self.areas.values())

    def ids(self) -> list[str]:
        """Area ids in registry order."""
        return list(self.areas)

    def get(self, area_id: str) -> Area:
        """Return an area or raise naming the known ids."""
        try:
            return self.areas[area_id]
        except KeyError:
            known = ", ".join(self.areas)
            raise LifeCircleError(
                f"unknown area '{area_id}'; known areas: {known}", path=self.path
            ) from None

    def select(self, area_ids: Iterable[str] | None) -> list[Area]:
        """Return the chosen areas (all when ``area_ids`` is empty), validated."""
        ids = list(area_ids or [])
        if not ids:
            return list(self.areas.values())
        return [self.get(a) for a in ids]

    def resolve(self, relpath: str, *, what: str = "input") -> Path:
        """Resolve a registry-relative path through the data roots (errors name the registry)."""
        try:
            return self.roots.resolve(relpath, what=what)
        except LifeCircleError as exc:
            if exc.path is not None or self.path is None:
                raise
            raise InputError(str(exc), path=self.path) from None

    # -- boundaries ---------------------------------------------------------------------
    @cached_property
    def _boundary_frames(self) -> dict[Any, Any]:  # file -> frame; (file, key, id) -> geom
        return {}

    def boundary(self, area: Area | str) -> BaseGeometry:
        """Return the area's boundary as a shapely (Multi)Polygon in WGS-84 (lon/lat)."""
        import geopandas as gpd

        if isinstance(area, str):
            area = self.get(area)
        path = self.resolve(area.boundary_file, what="boundary file")
        key = str(path)
        memo = (key, area.boundary_key, str(area.osm_relation))
        if memo in self._boundary_frames:
            return self._boundary_frames[memo]
        if key not in self._boundary_frames:
            try:
                gdf = gpd.read_file(path)
                if gdf.crs is not None and gdf.crs.to_epsg() not in (4326, None):
                    gdf = gdf.to_crs(4326)
            except (OSError, RuntimeError, ValueError) as exc:  # pyogrio errors are RuntimeErrors
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise InputError(
                    f"cannot read boundary file: {type(exc).__name__}: {msg}", path=path
                ) from None
            self._boundary_frames[key] = gdf
        gdf = self._boundary_frames[key]
        if area.boundary_key not in gdf.columns:
            raise LifeCircleError(
                f"boundary file has no column '{area.boundary_key}' to find relation "
                f"{area.osm_relation}",
                path=path,
            )
        match = gdf[gdf[area.boundary_key].astype(str) == str(area.osm_relation)]
        if match.empty:
            raise LifeCircleError(
                f"no boundary for area '{area.id}' (OSM relation {area.osm_relation}) "
                f"in column '{area.boundary_key}'",
                path=path,
            )
        geom = match.geometry.iloc[0]
        if geom is None or geom.is_empty:
            raise LifeCircleError(f"empty boundary for area '{area.id}'", path=path)
        # lon/lat ranges (a file in metres without a CRS), points and zero-area shapes are
        # refused; a self-intersecting ring is repaired with a warning
        geom = validate.polygon(
            geom, path=path, record=f"{area.boundary_key}={area.osm_relation}", what="boundary"
        )
        self._boundary_frames[memo] = geom
        return geom


def _relation_id(value: Any, path: Path, record: str) -> int:
    """Return an OSM relation id: a positive whole number (``13469094``, not ``r1346``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(
            f"osm_relation must be a whole number, got {value!r}", path=path, record=record
        )
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise InputError(
            f"osm_relation must be a positive whole number, got {value!r}",
            path=path,
            record=record,
        )
    return int(text)


def _str_list(entry: dict[str, Any], key: str, path: Path, record: str) -> tuple[str, ...]:
    """Return a list of file names (``network``, ``plans``...): absent, empty or strings."""
    value = entry.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(
            f"'{key}' must be a list of file paths, got {value!r}", path=path, record=record
        )
    return tuple(value)


def _area_from_entry(entry: dict[str, Any], defaults: dict[str, Any], path: Path, i: int) -> Area:
    required = ("id", "name_zh", "name_en", "district", "osm_relation")
    if not isinstance(entry, dict):
        raise InputError(
            f"area entry must be a mapping, got {entry!r}", path=path, record=f"entry {i + 1}"
        )
    missing = [k for k in required if k not in entry]
    if missing:
        raise LifeCircleError(
            f"area entry missing {', '.join(missing)}", path=path, record=f"entry {i + 1}"
        )
    area_id = str(entry["id"])
    if not area_id.isascii() or not area_id.replace("_", "").isalnum():
        raise LifeCircleError(
            f"area id '{area_id}' must be ascii letters/digits/_",
            path=path,
            record=f"entry {i + 1}",
        )
    if not isinstance(entry.get("boundary") or {}, dict) or not isinstance(
        defaults.get("boundary", {}), dict
    ):
        raise InputError(
            "'boundary' must be a mapping with file and key", path=path, record=area_id
        )
    boundary = {**defaults.get("boundary", {}), **(entry.get("boundary") or {})}
    if "file" not in boundary or "key" not in boundary:
        raise LifeCircleError("no boundary file/key for area", path=path, record=area_id)
    known = set(required) | {
        "boundary",
        "network",
        "features",
        "plans",
        "census_code_2010",
        "census_note",
        "data_date",
        "facility_lists",
    }
    return Area(
        id=area_id,
        name_zh=str(entry["name_zh"]),
        name_en=str(entry["name_en"]),
        district=str(entry["district"]),
        osm_relation=_relation_id(entry["osm_relation"], path, area_id),
        boundary_file=str(boundary["file"]),
        boundary_key=str(boundary["key"]),
        network=_str_list(entry, "network", path, area_id),
        features=_str_list(entry, "features", path, area_id),
        plans=_str_list(entry, "plans", path, area_id),
        census_code_2010=(
            str(entry["census_code_2010"]) if entry.get("census_code_2010") else None
        ),
        census_note=entry.get("census_note"),
        data_date=entry.get("data_date"),
        facility_lists=_str_list(entry, "facility_lists", path, area_id),
        extra={k: v for k, v in entry.items() if k not in known},
    )


def load_registry(
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Registry:
    """Load the study-area registry (default ``data/osm/areas.yaml`` or ``$LIFECIRCLE_AREAS``).

    Entries of the local overlay (:func:`geo.io.subdistricts.overlay_path`, written by
    ``lifecircle areas add``) follow, unless their id is already in the registry.
    """
    if path is None:
        path = os.environ.get(settings.AREAS_ENV) or settings.AREAS_FILE
    path = Path(path)
    if not path.exists():
        raise LifeCircleError("study-area registry not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LifeCircleError("registry is not UTF-8", path=path) from None
    except RecursionError:
        raise InputError("YAML nested too deeply to read", path=path) from None
    except yaml.YAMLError as exc:
        raise LifeCircleError(f"malformed YAML: {exc}".replace("\n", " "), path=path) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("areas"), list):
        raise LifeCircleError("expected a mapping with an 'areas' list", path=path)
    defaults = raw.get("defaults") or {}
    areas = [_area_from_entry(e, defaults, path, i) for i, e in enumerate(raw["areas"])]
    # areas a user added (`lifecircle areas add`) live in a git-ignored overlay file
    local = overlay_path(data_dir)
    if local.resolve() != path.resolve():
        seen = {a.id for a in areas}
        for i, e in enumerate(read_overlay(local)):
            if isinstance(e, dict) and str(e.get("id")) not in seen:
                areas.append(_area_from_entry(e, defaults, local, i))
    ids = [a.id for a in areas]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise LifeCircleError(f"duplicate area ids: {', '.join(sorted(dupes))}", path=path)
    return Registry(areas, DataRoots.default(data_dir), defaults, path)


OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".json", ".osm.xml")


def network_sources(registry: Registry, area: Area) -> list[Path]:
    """Return the area's network files in priority order: downloads first, then the registry."""
    found: list[Path] = []
    for folder in registry.roots.find_all(Path("osm") / area.id):
        # only the user's and the project's folders hold downloads; the mirror is listed as is
        if not folder.is_dir() or folder.resolve().is_relative_to(settings.MIRROR_DIR.resolve()):
            continue
        fetched = [
            p
            for p in folder.iterdir()
            if p.is_file() and p.name.lower().endswith(OSM_SUFFIXES) and not p.name.startswith(".")
        ]
        fetched.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        found.extend(fetched)
    declared = [
        registry.resolve(rel, what=f"network file of area '{area.id}'") for rel in area.network
    ]
    out: list[Path] = []
    for p in [*found, *declared]:
        if p.resolve() not in [q.resolve() for q in out]:
            out.append(p)
    return out
