"""The subdistrict catalogue: every unit of the boundary file, findable by name or relation id.

The registry (``data/osm/areas.yaml``) lists the study areas the project ships with. The
catalogue is the wider set a user may add: every polygon of the registry's boundary file
(``defaults.boundary.file``, 113 街道/镇 of the eight central districts in today's mirror), joined
with the file's attribute table (``<stem>_attributes.csv`` beside it: area, a point inside, 2010
census population where the 2010 code is unchanged).

``lifecircle areas add NAME`` writes an entry for a catalogue unit to the *local* registry
overlay (:func:`overlay_path`), never to the committed ``areas.yaml``.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.io.files import write_text_atomic

#: File name of the local registry overlay (inside ``<data dir>/osm/``).
OVERLAY_NAME = "areas.local.yaml"
#: Environment variable naming the overlay file explicitly.
OVERLAY_ENV = "LIFECIRCLE_AREAS_LOCAL"

_SUFFIXES = ("街道", "镇", "乡")
_PINYIN_SUFFIX = re.compile(r"(?:JieDao|XiangZhen|Zhen|Xiang)$")


@dataclass(frozen=True)
class Subdistrict:
    """One unit of the boundary file (a 街道 or 镇). Areas in km² (UTM 51N)."""

    name_zh: str
    district: str
    osm_relation: int
    code_2023: str
    area_km2: float | None
    rep_lon: float | None
    rep_lat: float | None
    pop_2010: int | None
    census_code_2010: str | None
    pinyin: str | None

    @property
    def short(self) -> str:
        """The name without its 街道/镇 suffix (四平路)."""
        return strip_suffix(self.name_zh)

    @property
    def area_id(self) -> str:
        """Registry id: lower-case pinyin of the short name (``sipinglu``)."""
        if self.pinyin:
            return self.pinyin
        return _pinyin_id(self.short) or f"r{self.osm_relation}"

    @property
    def name_en(self) -> str:
        """English name: the area id capitalised, then ``Subdistrict`` or ``Town``."""
        kind = "Town" if self.name_zh.endswith(("镇", "乡")) else "Subdistrict"
        return f"{self.area_id.capitalize()} {kind}"


def strip_suffix(name: str) -> str:
    """四平路街道 -> 四平路; 川沙新镇 -> 川沙新 (only one suffix removed)."""
    for suf in _SUFFIXES:
        if name.endswith(suf) and len(name) > len(suf):
            return name[: -len(suf)]
    return name


def _pinyin_id(short: str) -> str | None:
    try:
        from pypinyin import lazy_pinyin  # optional: only units without a census pinyin
    except ImportError:  # pragma: no cover - pypinyin is a declared dependency
        return None
    out = "".join(lazy_pinyin(short))
    return out if out.isascii() and out.isalnum() else None


def attributes_path(boundary: Path) -> Path:
    """Return the attribute table that belongs to a boundary file (``<stem>_attributes.csv``)."""
    return boundary.with_name(boundary.stem + "_attributes.csv")


def _float(v: Any) -> float | None:
    """Read a number from a CSV cell; None for a missing, empty or non-numeric cell."""
    if v is None:
        return None
    try:
        return float(v) if str(v).strip() else None
    except (TypeError, ValueError):
        return None


def load_catalogue(registry: Any) -> list[Subdistrict]:
    """Every unit of the registry's boundary file, with attributes and census pinyin.

    Parameters
    ----------
    registry
        The study-area registry (its ``defaults`` name the boundary and population files).

    Returns
    -------
    list of Subdistrict
        In the boundary file's order.
    """
    import pyogrio

    bspec = registry.defaults.get("boundary") or {}
    if "file" not in bspec:
        raise LifeCircleError("registry defaults name no boundary file", path=registry.path)
    bpath = registry.resolve(bspec["file"], what="boundary file")
    try:
        props = pyogrio.read_dataframe(bpath, read_geometry=False)
    except Exception as exc:
        raise InputError(f"cannot read boundary file: {exc}", path=bpath) from None
    key = bspec.get("key", "osm_relation_id_source")
    for col in (key, "osm_name"):
        if col not in props.columns:
            raise InputError(f"boundary file has no column '{col}'", path=bpath)
    attrs: dict[str, dict[str, str]] = {}
    apath = attributes_path(bpath)
    if apath.exists():
        with apath.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                attrs[str(row.get("osm_relation_id_source", "")).strip()] = row
    census: dict[str, str] = {}
    pspec = registry.defaults.get("population") or {}
    if "file" in pspec:
        try:
            ppath = registry.resolve(pspec["file"], what="census population file")
        except LifeCircleError:
            ppath = None
        if ppath is not None:
            with ppath.open(encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    code = str(row.get(pspec.get("key", "gbcode_9"), "")).strip()
                    census[code] = str(row.get("name_pinyin", "")).strip()
    out = []
    for _, p in props.iterrows():
        rel = str(p[key]).strip()
        if not rel.isdigit():
            continue
        a = attrs.get(rel, {})
        code = str(p.get("official_control_code_2023") or a.get("official_control_code_2023") or "")
        pop = _float(a.get("pop2010_census_same_code"))
        code9 = code[:9] if len(code) >= 9 else ""
        has_census = pop is not None and code9 in census
        py = _PINYIN_SUFFIX.sub("", census.get(code9, "") if has_census else "").lower()
        own = _pinyin_id(strip_suffix(str(p["osm_name"])))
        if own and py and fuzz.ratio(own, py) < 70:
            py = own  # renamed since 2010 (提篮桥 -> 北外滩): the census pinyin is the old name
        out.append(
            Subdistrict(
                name_zh=str(p["osm_name"]),
                district=str(p.get("district") or a.get("district") or ""),
                osm_relation=int(rel),
                code_2023=code,
                area_km2=_float(a.get("area_km2_utm51n")),
                rep_lon=_float(a.get("rep_lon")),
                rep_lat=_float(a.get("rep_lat")),
                pop_2010=int(pop) if pop is not None else None,
                census_code_2010=code9 if has_census else None,
                pinyin=py if py.isascii() and py.isalnum() else None,
            )
        )
    return out


def find_subdistrict(catalogue: list[Subdistrict], query: str) -> Subdistrict:
    """Return the unit named by ``query``: Chinese name (街道/镇 optional), area or relation id.

    Raises
    ------
    InputError
        When nothing matches; the message lists the three closest names.
    """
    q = query.strip()
    if not q:
        raise InputError("empty subdistrict name")
    rel = q[1:] if q[:1] in "rR" and q[1:].isdigit() else q
    for s in catalogue:
        if rel.isdigit() and int(rel) == s.osm_relation:
            return s
    exact = [s for s in catalogue if q in (s.name_zh, s.short) or q.lower() == s.area_id]
    if len(exact) == 1:
        return exact[0]
    if not exact and len(q) >= 2:  # a unique part of a name (四平 -> 四平路街道)
        exact = [s for s in catalogue if q in s.name_zh]
        if len(exact) > 1:
            raise InputError(
                f"'{q}' is part of several names: "
                + ", ".join(s.name_zh for s in exact[:5])
                + "; give the full name or the relation id"
            )
        if exact:
            return exact[0]
    if len(exact) > 1:
        many = ", ".join(f"{s.name_zh} ({s.district}, relation {s.osm_relation})" for s in exact)
        raise InputError(f"'{q}' names several units: {many}; give the relation id")
    raise InputError(
        f"no subdistrict named '{q}' in the boundary file; closest: "
        + ", ".join(closest_names(catalogue, q))
    )


def closest_names(catalogue: list[Subdistrict], query: str, n: int = 3) -> list[str]:
    """Return the ``n`` catalogue names closest to ``query`` (character similarity)."""
    names = [s.name_zh for s in catalogue]
    q = strip_suffix(query.strip())
    hits = process.extract(q, [strip_suffix(x) for x in names], scorer=fuzz.WRatio, limit=n)
    return [names[i] for _, _, i in hits]


# -------------------------------------------------------------------------------------------
# the local registry overlay
# -------------------------------------------------------------------------------------------
def overlay_path(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``areas add`` writes: ``$LIFECIRCLE_AREAS_LOCAL``, else ``<data dir>/osm/``.

    The data dir is ``--data-dir`` / ``$LIFECIRCLE_DATA`` when given, else the project's
    ``data/`` (the file ``data/osm/areas.local.yaml`` is git-ignored).
    """
    env = os.environ.get(OVERLAY_ENV)
    if env:
        return Path(env).expanduser()
    root = Path(data_dir).expanduser() if data_dir else settings.user_data_dir()
    return (root or settings.PROJECT_DATA_DIR) / "osm" / OVERLAY_NAME


def read_overlay(path: Path) -> list[dict[str, Any]]:
    """Return the entries of a local registry overlay (none when the file does not exist)."""
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        msg = str(exc).replace("\n", " ")
        raise InputError(f"unreadable local area registry: {msg}", path=path) from None
    areas = raw.get("areas") if isinstance(raw, dict) else None
    if not isinstance(areas, list):
        raise InputError("expected a mapping with an 'areas' list", path=path)
    return areas


def area_entry(s: Subdistrict) -> dict[str, Any]:
    """Return a registry entry for a catalogue unit (no network files: the estimate basis).

    ``network`` stays empty: files fetched later with ``lifecircle data fetch`` into
    ``data/osm/<id>/`` are picked up automatically.
    """
    entry: dict[str, Any] = {
        "id": s.area_id,
        "name_zh": s.name_zh,
        "name_en": s.name_en,
        "district": s.district,
        "osm_relation": s.osm_relation,
    }
    if s.census_code_2010:
        entry["census_code_2010"] = s.census_code_2010
    else:
        entry["census_note"] = (
            "2010 code changed since the census: no census total; give --population-total"
        )
    entry.update(
        {
            "network": [],
            "features": [],
            "plans": [],
            "data_date": None,
            "added_by": "lifecircle areas add",
            "code_2023": s.code_2023,
            "area_km2": s.area_km2,
            "pop_census_2010": s.pop_2010,
        }
    )
    return entry


def write_overlay(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write the local registry overlay atomically."""
    head = (
        "# Local study-area registry (written by `lifecircle areas add`; not committed).\n"
        "# Entries here extend data/osm/areas.yaml and use its defaults.\n"
    )
    body = yaml.safe_dump({"areas": entries}, allow_unicode=True, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, head + body)
    return path
