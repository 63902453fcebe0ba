"""The city screen's areas: every unit of the subdistrict catalogue as a study area.

The catalogue (:mod:`geo.io.subdistricts`, also behind ``lifecircle areas add``) lists every
polygon of the registry's boundary file (on the mirror the 113 街道/镇 of the 8 central
districts) with its 2023 code and, where the 2010 code is unchanged, its census code. Here each
unit becomes an :class:`geo.io.areas.Area`:

* an area already in the registry (matched by OSM relation: the four seed areas, or one added
  with ``areas add``) keeps its entry: id, network and feature files, plans, census note;
* any other unit gets the entry ``areas add`` would write (:func:`geo.io.subdistricts.area_entry`):
  pinyin id, no network files (a ``--pbf`` or a fetched extract supplies them) and no census
  code where the census has no row for it. Such a unit's ``population_source`` is ``none``,
  with the note, never a silent zero.

The result is an ordinary :class:`~geo.io.areas.Registry`, so every stage runs on it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from geo._errors import InputError, LifeCircleError
from geo.io.areas import Area, Registry, load_registry
from geo.io.subdistricts import area_entry
from geo.io.subdistricts import load_catalogue as load_units

#: English names of the central districts (for ``--district`` and labels).
DISTRICT_EN: dict[str, str] = {
    "黄浦区": "Huangpu", "徐汇区": "Xuhui", "长宁区": "Changning", "静安区": "Jing'an",
    "普陀区": "Putuo", "虹口区": "Hongkou", "杨浦区": "Yangpu", "浦东新区": "Pudong",
}  # fmt: skip


def district_matches(district: str, wanted: str) -> bool:
    """Whether ``wanted`` names ``district``: ``杨浦区``, ``杨浦`` or ``Yangpu`` (any case)."""
    w = wanted.strip().lower()
    if not w:
        return False
    en = DISTRICT_EN.get(district, "").lower()
    return w in (district.lower(), district.removesuffix("新区").removesuffix("区").lower(), en)


def load_catalogue(
    registry: Registry | None = None, *, data_dir: str | Path | None = None
) -> Registry:
    """Return a registry holding every unit of the boundary file (seed entries kept).

    Parameters
    ----------
    registry
        The study-area registry (default ``data/osm/areas.yaml`` + local overlay); its defaults
        name the boundary file, key and census file.
    data_dir
        Data folder searched first (as ``--data-dir``).

    Returns
    -------
    Registry
        The units in boundary-file order, then the registry's other areas; ``area.extra`` has
        ``code_2023`` and ``district_en`` for every unit.
    """
    registry = registry if registry is not None else load_registry(data_dir=data_dir)
    bspec = registry.defaults.get("boundary") or {}
    seeds = {a.osm_relation: a for a in registry}
    areas: list[Area] = []
    for s in load_units(registry):
        extra = {"code_2023": s.code_2023, "district_en": DISTRICT_EN.get(s.district, "")}
        seed = seeds.get(s.osm_relation)
        if seed is not None:
            areas.append(replace(seed, extra={**seed.extra, **extra}))
            continue
        entry = area_entry(s)
        areas.append(
            Area(
                id=str(entry["id"]),
                name_zh=str(entry["name_zh"]),
                name_en=str(entry["name_en"]),
                district=str(entry["district"]),
                osm_relation=int(entry["osm_relation"]),
                boundary_file=str(bspec.get("file", "")),
                boundary_key=str(bspec.get("key", "osm_relation_id_source")),
                census_code_2010=entry.get("census_code_2010"),
                census_note=entry.get("census_note"),
                extra={**extra, "area_km2": entry.get("area_km2")},
            )
        )
    ids = [a.id for a in areas]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise InputError(f"two units share the area id(s) {', '.join(dupes)}", path=registry.path)
    # registry areas of other boundary files stay available (not part of --all)
    others = [a for a in registry if a.id not in ids]
    return Registry([*areas, *others], registry.roots, registry.defaults, registry.path)


def select_areas(
    catalogue: Registry,
    *,
    area_ids: Sequence[str] = (),
    districts: Iterable[str] = (),
    all_areas: bool = False,
) -> list[Area]:
    """Return the areas a screen covers: ``--all``, ``--district`` (repeated) and/or ``--area``.

    Only units of the boundary file count for ``--all`` and ``--district`` (they carry a code).
    """
    units = [a for a in catalogue if a.extra.get("code_2023")]
    wanted = list(districts)
    if not (all_areas or wanted or area_ids):
        raise InputError(
            "choose the subdistricts: --all, --district NAME (e.g. 杨浦区 or Yangpu) or --area ID"
        )
    chosen: list[Area] = list(units) if all_areas else []
    for d in wanted:
        hit = [a for a in units if district_matches(a.district, d)]
        if not hit:
            known = ", ".join(f"{k} ({v})" for k, v in DISTRICT_EN.items())
            raise InputError(f"no subdistricts in district '{d}'; known: {known}")
        chosen += hit
    chosen += [catalogue.get(a) for a in area_ids]
    seen: set[str] = set()
    out: list[Area] = []
    for a in chosen:
        if a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out


def catalogue_table(catalogue: Registry, areas: Sequence[Area]) -> Any:
    """Return the areas as a GeoDataFrame (WGS-84).

    Columns ``area, name_zh, name_en, district, code_2023, osm_relation, census_code_2010,
    census_note, geometry`` (geometry None when unreadable).
    """
    import geopandas as gpd

    rows = []
    geoms = []
    for a in areas:
        try:
            geom = catalogue.boundary(a)
        except LifeCircleError:
            geom = None
        geoms.append(geom)
        rows.append(
            {
                "area": a.id,
                "name_zh": a.name_zh,
                "name_en": a.name_en,
                "district": a.district,
                "code_2023": a.extra.get("code_2023", ""),
                "osm_relation": a.osm_relation,
                "census_code_2010": a.census_code_2010 or "",
                "census_note": a.census_note or "",
            }
        )
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
