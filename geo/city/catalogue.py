"""The subdistrict catalogue: every 街道/镇 polygon of the boundary file as a study area.

The registry's boundary file (``areas.yaml`` ``defaults.boundary``; on the mirror the 113 units
of the 8 central districts) is read once. Each polygon becomes an :class:`geo.io.areas.Area`:

* an area already in the registry (matched by OSM relation) keeps its entry: id, network and
  feature files, plans, census code and note;
* any other unit gets the id ``sd<9-digit code>`` (the township part of
  ``official_control_code_2023``), no network files (a ``--pbf`` or a fetched extract supplies
  them) and, when the 2010 census has a row with the same 9-digit code, that code. A unit whose
  code is not in the census (created or re-coded since 2010) gets no census code and a note:
  its population source is ``none``, never a silent zero.

The result is an ordinary :class:`~geo.io.areas.Registry`, so every stage runs on it unchanged.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from geo._errors import InputError
from geo.io.areas import Area, Registry, load_registry
from geo.io.files import read_text_utf8

#: Property holding the 12-digit 2023 administrative code of a unit.
CODE_COLUMN: str = "official_control_code_2023"
#: Property holding the unit's Chinese name.
NAME_COLUMN: str = "official_control_name_2023"
#: Property holding the district (区) name.
DISTRICT_COLUMN: str = "district"

#: English names of the central districts (for ``--district`` and labels).
DISTRICT_EN: dict[str, str] = {
    "黄浦区": "Huangpu", "徐汇区": "Xuhui", "长宁区": "Changning", "静安区": "Jing'an",
    "普陀区": "Putuo", "虹口区": "Hongkou", "杨浦区": "Yangpu", "浦东新区": "Pudong",
}  # fmt: skip

#: Census pinyin suffixes and their English unit names.
_UNIT_SUFFIX: tuple[tuple[str, str], ...] = (("JieDao", "Subdistrict"), ("Zhen", "Town"))

#: Note of a unit without a 2010 census row.
NO_CENSUS_NOTE: str = (
    "code {code} has no row in the 2010 census (unit created or re-coded since 2010): "
    "no population / 2010年人口普查无此代码，人口未知"
)


def area_id_for(code: str) -> str:
    """The catalogue id of a unit: ``sd`` + the 9-digit township part of its 12-digit code."""
    digits = re.sub(r"\D", "", str(code))
    if len(digits) < 9:
        raise InputError(f"administrative code '{code}' has fewer than 9 digits")
    return f"sd{digits[:9]}"


def english_name(pinyin: str | None, code: str) -> str:
    """``NanJingDongLuJieDao`` -> ``Nanjingdonglu Subdistrict``; the code when no pinyin."""
    if not pinyin:
        return f"Unit {code}"
    for suffix, unit in _UNIT_SUFFIX:
        if pinyin.endswith(suffix) and len(pinyin) > len(suffix):
            return f"{pinyin[: -len(suffix)].capitalize()} {unit}"
    return pinyin.capitalize()


def _census_rows(registry: Registry) -> dict[str, dict[str, str]]:
    spec = registry.defaults.get("population") or {}
    if "file" not in spec or "key" not in spec:
        return {}
    path = registry.resolve(spec["file"], what="census population file")
    rows = csv.DictReader(read_text_utf8(path).splitlines())
    return {str(r[spec["key"]]).strip(): r for r in rows if r.get(spec["key"])}


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
    """A registry holding every unit of the boundary file (seed entries kept, see module doc).

    Parameters
    ----------
    registry
        The study-area registry (default ``data/osm/areas.yaml``); its defaults name the
        boundary file, key and census file.
    data_dir
        Data folder searched first (as ``--data-dir``).

    Returns
    -------
    Registry
        Areas in file order (district, then code); ``area.extra`` has ``code_2023`` and
        ``district_en``.
    """
    import geopandas as gpd

    registry = registry if registry is not None else load_registry(data_dir=data_dir)
    boundary = registry.defaults.get("boundary") or {}
    if "file" not in boundary or "key" not in boundary:
        raise InputError("areas.yaml defaults.boundary needs 'file' and 'key'", path=registry.path)
    path = registry.resolve(boundary["file"], what="boundary file")
    try:
        frame = gpd.read_file(path, columns=[boundary["key"], CODE_COLUMN, NAME_COLUMN, "district"])
    except Exception as exc:
        raise InputError(f"cannot read boundary file: {exc}", path=path) from None
    for col in (boundary["key"], CODE_COLUMN, NAME_COLUMN, DISTRICT_COLUMN):
        if col not in frame.columns:
            raise InputError(f"boundary file has no column '{col}'", path=path)
    census = _census_rows(registry)
    pinyin_col = "name_pinyin"
    seeds = {a.osm_relation: a for a in registry}
    areas: list[Area] = []
    for i, rec in enumerate(frame.drop(columns="geometry").to_dict("records")):
        try:
            relation = int(str(rec[boundary["key"]]))
        except ValueError:
            raise InputError(
                f"'{boundary['key']}' is not an OSM relation id", path=path, record=f"feature {i}"
            ) from None
        code = str(rec[CODE_COLUMN] or "")
        district = str(rec[DISTRICT_COLUMN] or "")
        extra = {"code_2023": code, "district_en": DISTRICT_EN.get(district, "")}
        seed = seeds.get(relation)
        if seed is not None:
            areas.append(replace(seed, extra={**seed.extra, **extra}))
            continue
        aid = area_id_for(code)
        row = census.get(aid[2:])
        areas.append(
            Area(
                id=aid,
                name_zh=str(rec[NAME_COLUMN] or aid),
                name_en=english_name(row.get(pinyin_col) if row else None, code),
                district=district,
                osm_relation=relation,
                boundary_file=str(boundary["file"]),
                boundary_key=str(boundary["key"]),
                census_code_2010=aid[2:] if row else None,
                census_note=None if row else NO_CENSUS_NOTE.format(code=code),
                extra=extra,
            )
        )
    ids = [a.id for a in areas]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise InputError(f"two units share the catalogue id(s) {', '.join(dupes)}", path=path)
    # seed areas of other boundary files stay available (not part of the city screen)
    extra_seeds = [a for a in registry if a.id not in ids]
    return Registry([*areas, *extra_seeds], registry.roots, registry.defaults, registry.path)


def select_areas(
    catalogue: Registry,
    *,
    area_ids: Sequence[str] = (),
    districts: Iterable[str] = (),
    all_areas: bool = False,
) -> list[Area]:
    """The areas a screen covers: ``--all``, ``--district`` (repeatable) and/or ``--area`` ids.

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
    """The areas as a GeoDataFrame (WGS-84): ``area, name_zh, name_en, district, code_2023,
    osm_relation, census_code_2010, census_note, geometry`` (geometry None when unreadable)."""
    import geopandas as gpd

    from geo._errors import LifeCircleError

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
