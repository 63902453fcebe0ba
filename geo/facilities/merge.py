"""One facility inventory from three sources: OSM, official lists and plan mentions.

Rows stay rows (each keeps its own provenance); rows that are one facility are linked:

* a **list row** matching a row of an earlier list (another file) points to it;
* a **list row** matching an OSM facility (same area and category, similar names, close
  enough) points to it (``duplicate_of``, ``osm_id``); the OSM row counts;
* a **plan mention** matching a list row *takes its place*: the plan row gets the list row's
  position and precision, and the list row points to the plan row. The plan row keeps its own
  status, so a facility the plan says it will build (``new`` -> ``planned``) that the list
  shows built counts from the ``plan`` scenario on (the baseline is the state the plan starts
  from), and one the plan upgrades or names as existing counts in the baseline;
* a **generic plan mention of one new facility** (新建1家社区综合为老服务中心) matches the area's
  only list facility of that category whose name ends in the same facility word; it becomes a
  plan row placed there (the same rule, for mentions without a proper name).

Name similarity (:func:`match_key`, :func:`same_facility_name`): rapidfuzz ratio on names
without 上海市 / district / subdistrict prefixes and the fillers 社区 and 睦邻, or one name
containing the other. Distance: two placed rows match only within :data:`MATCH_RADIUS_M`
(:data:`SAME_NAME_RADIUS_M` for equal names) plus their stated uncertainties; a row without a
point matches on name within its area only.

Column ``known_by`` says, for every row, which sources know the facility it belongs to
(``osm``, ``list``, ``plan``, ``;``-joined in that order). ``counted``
(:func:`geo.facilities.geocode.counted_rows`) keeps one row per located facility.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.facilities.address import fold_text
from geo.facilities.geocode import SHANGHAI_DISTRICTS, counted_rows
from geo.io.geom import to_projected

#: Two placed rows of one facility lie at most this far apart, plus their uncertainties (m).
MATCH_RADIUS_M: float = 150.0
#: Two placed rows with the SAME name (match key) and category may lie this far apart (m): a
#: park or campus is mapped at a point inside it, a list places it at its address or gate.
SAME_NAME_RADIUS_M: float = 500.0
#: rapidfuzz ratio (0-100) above which two match keys are the same facility's name.
NAME_MIN_SCORE: float = 80.0
#: A contained name must be at least this long to count (characters).
MIN_CONTAINED: int = 3
#: Sources in ``known_by`` order.
SOURCES: tuple[str, ...] = ("osm", "list", "plan")
#: Fillers removed from names before comparing (the issue's 社区 / 睦邻).
FILLERS: tuple[str, ...] = ("社区", "睦邻")
#: 上海市 and Shanghai's district names (prefixes of facility names; 社区 is not a district).
_DISTRICTS = "|".join(d.removesuffix("区") for d in SHANGHAI_DISTRICTS)
_DISTRICT_RE = re.compile(rf"^(?:上海市|上海)?(?:(?:{_DISTRICTS})区?)?")
_SUBDISTRICT_RE = re.compile(r"^[\u4e00-\u9fff]{2,6}?(?:街道|镇)(?![路街道])")
_JUNK_RE = re.compile(r"[\s\-_·•,，.。:：;；'\"“”‘’()（）\[\]【】<>《》/]")
_BRACKET_RE = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")


def area_prefixes(name_zh: str) -> tuple[str, ...]:
    """Ways a subdistrict's name starts facility names: 长白新村街道, 长白新村, 长白."""
    base = fold_text(name_zh)
    out = [base, base.removesuffix("街道")]
    short = out[-1].removesuffix("新村").removesuffix("路")
    if len(short) >= 2:
        out.append(short)
    return tuple(dict.fromkeys(p for p in out if p))


def match_key(name: object, prefixes: Sequence[str] = ()) -> str:
    """Return a name for matching.

    Folded, without brackets' content, 上海市/区/街道/area prefixes, 社区/睦邻 fillers and
    punctuation.
    """
    s = fold_text(name).lower()
    s = _BRACKET_RE.sub("", s)
    s = _JUNK_RE.sub("", s)
    s = _DISTRICT_RE.sub("", s, count=1)
    s = _SUBDISTRICT_RE.sub("", s, count=1)
    for p in sorted(prefixes, key=len, reverse=True):
        if p and s.startswith(p) and len(s) > len(p):
            s = s[len(p) :]
            break
    for f in FILLERS:
        s = s.replace(f, "")
    return s


def same_facility_name(a: str, b: str, min_score: float = NAME_MIN_SCORE) -> float:
    """Similarity (0-100) of two match keys; 0 when they are not the same facility's name."""
    from rapidfuzz import fuzz

    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    if min(len(a), len(b)) >= MIN_CONTAINED and (a in b or b in a):
        return 90.0
    score = float(fuzz.ratio(a, b))
    return score if score >= min_score else 0.0


def _point(geom: Any) -> Any:  # a table cell: a geometry, None or NaN
    if geom is None or (isinstance(geom, float) and math.isnan(geom)) or geom.is_empty:
        return None
    return geom if geom.geom_type == "Point" else geom.representative_point()


def _unc(value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v


def _placed(precision: object, geom: Any) -> bool:
    return _point(geom) is not None and str(precision) not in ("area", "unresolved")


def merge_sources(
    osm_rows: gpd.GeoDataFrame | None,
    list_rows: gpd.GeoDataFrame | None = None,
    plan_rows: gpd.GeoDataFrame | None = None,
    mentions: pd.DataFrame | None = None,
    *,
    area_names: Mapping[str, str] | None = None,
    boundaries: Mapping[str, Any] | None = None,
) -> gpd.GeoDataFrame:
    """Combine OSM, list and plan rows into one facilities table with ``known_by``.

    Parameters
    ----------
    osm_rows
        The OSM inventory (:func:`geo.facilities.inventory.build_facilities`).
    list_rows
        Placed list rows (:func:`geo.facilities.lists.list_stage`).
    plan_rows
        Geocoded plan rows (:func:`geo.facilities.geocode.plan_facilities`).
    mentions
        The plan mentions table; its generic ``new`` mentions of one facility may match a list
        row (see the module docstring).
    area_names
        ``{area id: Chinese name}`` (name prefixes removed before comparing).
    boundaries
        ``{area id: WGS-84 polygon}`` to set ``in_area`` of list rows.

    Returns
    -------
    geopandas.GeoDataFrame
        Every input row, WGS-84, with ``known_by``, ``duplicate_of``, ``counted`` and the list
        provenance columns (``address, list_file, list_row, list_source``).
    """
    frames = []
    for f in (osm_rows, list_rows, plan_rows):
        if f is not None and len(f):
            frames.append(pd.DataFrame(f.to_crs(settings.STORAGE_CRS)))
    if not frames:
        return osm_rows
    fac: Any = pd.concat(frames, ignore_index=True)
    for col in ("duplicate_of", "osm_id", "note", "match_ref", "match_name", "method", "address"):
        if col not in fac.columns:
            fac[col] = ""
        fac[col] = fac[col].astype(object).where(fac[col].notna(), "")
    if "uncertainty_m" not in fac.columns:
        fac["uncertainty_m"] = np.nan
    fac["uncertainty_m"] = pd.to_numeric(fac["uncertainty_m"], errors="coerce")
    names = area_names or {}
    prefixes = {a: area_prefixes(n) for a, n in names.items()}
    src = fac["source"].astype(str).to_numpy()
    area = fac["area"].astype(str).to_numpy()
    keys = np.array(
        [match_key(n, prefixes.get(a, ())) for n, a in zip(fac["name"], area, strict=True)],
        dtype=object,
    )
    if boundaries:
        for i in np.flatnonzero(src == "list"):
            pt = _point(fac.at[i, "geometry"])
            b = boundaries.get(area[i])
            fac.at[i, "in_area"] = bool(b is not None and pt is not None and b.covers(pt))
    proj = _projected_points(fac["geometry"])
    osm_idx = np.flatnonzero(src == "osm")
    list_idx = np.flatnonzero((src == "list") & (fac["duplicate_of"].astype(str) == ""))
    # -- list -> an earlier list (the same facility in two lists) ----------------------------
    files = fac["list_file"].astype(str).to_numpy() if "list_file" in fac.columns else src
    for n, li in enumerate(map(int, list_idx)):
        earlier = np.array([k for k in list_idx[:n] if files[k] != files[li]], dtype=int)
        j = _best_match(li, earlier, fac, keys, proj)
        if j is not None and not str(fac.at[j, "duplicate_of"]):
            fac.at[li, "duplicate_of"] = fac.at[j, "facility_id"]
            fac.at[li, "note"] = _join(
                fac.at[li, "note"], f"also listed as {fac.at[j, 'facility_id']}"
            )
    list_idx = np.array([k for k in list_idx if not str(fac.at[k, "duplicate_of"])], dtype=int)
    # -- list -> OSM ------------------------------------------------------------------------
    for li in map(int, list_idx):
        j = _best_match(li, osm_idx, fac, keys, proj)
        if j is not None:
            fac.at[li, "duplicate_of"] = fac.at[j, "facility_id"]
            fac.at[li, "osm_id"] = fac.at[j, "osm_id"]
            fac.at[li, "note"] = _join(
                fac.at[li, "note"], f"same facility as OSM {fac.at[j, 'osm_id']}"
            )
    # -- plan -> list ---------------------------------------------------------------------------
    free_list = [int(k) for k in list_idx if not str(fac.at[k, "duplicate_of"])]
    plan_idx = np.flatnonzero((src == "plan") & (fac["duplicate_of"].astype(str) == ""))
    for p in map(int, plan_idx):
        j = _best_match(p, np.array(free_list, dtype=int), fac, keys, proj)
        if j is None:
            continue
        _take_place(fac, p, j)
        proj[p] = proj[j]
        free_list.remove(j)
    # -- generic plan mentions -> the area's only list row of the kind -------------------------
    extra = _generic_matches(mentions, fac, keys, free_list, prefixes)
    if extra:
        fac = pd.concat([fac, pd.DataFrame(extra)], ignore_index=True)
    fac["known_by"] = _known_by(fac)
    fac["counted"] = counted_rows(fac)
    return gpd.GeoDataFrame(fac, geometry="geometry", crs=settings.STORAGE_CRS)


def _row_no(value: object) -> str:
    try:
        return str(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def _join(a: object, b: str) -> str:
    a = "" if a is None or (isinstance(a, float) and math.isnan(a)) else str(a)
    return f"{a}; {b}" if a else b


def _projected_points(geoms: Iterable[Any]) -> list[tuple[float, float] | None]:

    pts = [_point(g) for g in geoms]
    ok = [k for k, p in enumerate(pts) if p is not None]
    out: list[tuple[float, float] | None] = [None] * len(pts)
    if ok:
        x, y = to_projected(np.array([pts[k].x for k in ok]), np.array([pts[k].y for k in ok]))
        for n, k in enumerate(ok):
            out[k] = (float(x[n]), float(y[n]))
    return out


def _best_match(
    i: int,
    candidates: np.ndarray,
    fac: Any,
    keys: np.ndarray,
    proj: Sequence[tuple[float, float] | None],
) -> int | None:
    """Return the candidate row that is row ``i``'s facility (best name score), or None."""
    if len(candidates) == 0 or not keys[i]:
        return None
    area = str(fac.at[i, "area"])
    cat = str(fac.at[i, "category"])
    placed_i = _placed(fac.at[i, "precision"], fac.at[i, "geometry"])
    best: tuple[float, int] | None = None
    for j in candidates:
        j = int(j)
        if str(fac.at[j, "area"]) != area or str(fac.at[j, "category"]) != cat:
            continue
        score = same_facility_name(keys[i], keys[j])
        if not score:
            continue
        if placed_i and _placed(fac.at[j, "precision"], fac.at[j, "geometry"]):
            a, b = proj[i], proj[j]
            if a is None or b is None:
                continue
            base = SAME_NAME_RADIUS_M if score == 100.0 else MATCH_RADIUS_M
            limit = base + _unc(fac.at[i, "uncertainty_m"]) + _unc(fac.at[j, "uncertainty_m"])
            if math.hypot(a[0] - b[0], a[1] - b[1]) > limit:
                continue
        if best is None or score > best[0]:
            best = (score, j)
    return None if best is None else best[1]


_RANK = {p: k for k, p in enumerate(("exact", "coordinates", "address", "poi", "interpolated",
                                     "intersection", "compound", "street", "area",
                                     "unresolved"))}  # fmt: skip


def _take_place(fac: Any, p: int, j: int) -> None:
    """Plan row ``p`` takes list row ``j``'s place (when the list places it better)."""
    lp, pp = str(fac.at[j, "precision"]), str(fac.at[p, "precision"])
    where = f"list {fac.at[j, 'list_file']} row {_row_no(fac.at[j, 'list_row'])}"
    if _RANK.get(lp, 99) < _RANK.get(pp, 99):
        for col in ("geometry", "precision", "confidence", "uncertainty_m", "address"):
            if col in fac.columns:
                fac.at[p, col] = fac.at[j, col]
        if "in_area" in fac.columns:
            fac.at[p, "in_area"] = fac.at[j, "in_area"]
        fac.at[p, "method"] = "list"
        fac.at[p, "match_name"] = fac.at[j, "name"]
        fac.at[p, "match_ref"] = fac.at[j, "facility_id"]
        fac.at[p, "note"] = _join(fac.at[p, "note"], f"placed where the {where} puts it")
    else:
        fac.at[p, "note"] = _join(fac.at[p, "note"], f"also in the {where}")
    if str(fac.at[j, "osm_id"]) and not str(fac.at[p, "osm_id"]):
        fac.at[p, "osm_id"] = fac.at[j, "osm_id"]
    fac.at[j, "duplicate_of"] = fac.at[p, "facility_id"]
    fac.at[j, "note"] = _join(fac.at[j, "note"], f"named by the plan: {fac.at[p, 'facility_id']}")


def _generic_matches(
    mentions: pd.DataFrame | None,
    fac: gpd.GeoDataFrame,
    keys: np.ndarray,
    free_list: list[int],
    prefixes: Mapping[str, tuple[str, ...]],
) -> list[dict[str, Any]]:
    """Plan rows for generic ``new`` mentions of one facility matching a unique list row."""
    if mentions is None or len(mentions) == 0 or not free_list:
        return []
    m = mentions
    sel = (
        (m["kind"].astype(str) == "generic")
        & (m["action"].astype(str) == "new")
        & (pd.to_numeric(m["quantity"], errors="coerce") == 1)
        & (m["in_area"].astype(str).str.lower() != "no")
    )
    m = m[sel].drop_duplicates(["doc", "area", "name", "sentence"])
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for r in m.itertuples(index=False):
        area, cat = str(r.area), str(r.category)
        key = match_key(r.name, prefixes.get(area, ()))
        if len(key) < 4:
            continue
        hits = [
            j for j in free_list
            if str(fac.at[j, "area"]) == area and str(fac.at[j, "category"]) == cat
            and str(keys[j]).endswith(key)
        ]  # fmt: skip
        if len(hits) != 1 or hits[0] in used:
            continue
        j = hits[0]
        if not _placed(fac.at[j, "precision"], fac.at[j, "geometry"]):
            continue
        used.add(j)
        fid = f"plan:{str(r.doc).rsplit('/', 1)[-1].removesuffix('.txt')}:{r.start}"
        row = {c: fac.at[j, c] for c in fac.columns}
        row.update(
            facility_id=fid, name=str(r.name), source="plan", status="planned",
            mention_doc=r.doc, mention_start=r.start, duplicate_of="", method="list",
            match_name=fac.at[j, "name"], match_ref=fac.at[j, "facility_id"],
            sentence=getattr(r, "sentence", ""), action="new", quantity=1.0,
            note=(f"generic plan mention (new {r.name} x1) matched to the area's only listed "
                  f"{cat} facility ending in '{key}': {fac.at[j, 'name']} "
                  f"(list {fac.at[j, 'list_file']} row {_row_no(fac.at[j, 'list_row'])})"),
            sources=str(r.doc), list_file="", list_row=None, list_source="",
        )  # fmt: skip
        fac.at[j, "duplicate_of"] = fid
        fac.at[j, "note"] = _join(fac.at[j, "note"], f"the plan's new facility: {fid}")
        out.append(row)
    return out


def _known_by(fac: pd.DataFrame) -> list[str]:
    """``osm;list;plan`` per row: the sources of every row linked to the same facility."""
    ids = fac["facility_id"].astype(str).tolist()
    pos = {fid: k for k, fid in enumerate(ids)}
    parent = list(range(len(ids)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    src = fac["source"].astype(str).tolist()
    osm_of: dict[tuple[str, str], int] = {}
    for k, (s, oid, a) in enumerate(zip(src, fac["osm_id"].astype(str), fac["area"].astype(str),
                                        strict=True)):  # fmt: skip
        if s == "osm" and oid:
            osm_of.setdefault((a, oid), k)
    for k, (dup, oid, a) in enumerate(zip(fac["duplicate_of"].astype(str),
                                          fac["osm_id"].astype(str), fac["area"].astype(str),
                                          strict=True)):  # fmt: skip
        if dup and dup in pos:
            union(k, pos[dup])
        if oid and (a, oid) in osm_of:
            union(k, osm_of[(a, oid)])
    groups: dict[int, set[str]] = {}
    for k, s in enumerate(src):
        groups.setdefault(find(k), set()).add(s if s in SOURCES else "osm")
    return [";".join(s for s in SOURCES if s in groups[find(k)]) for k in range(len(ids))]


def source_table(
    fac: gpd.GeoDataFrame, areas: Sequence[str], categories: Sequence[str]
) -> pd.DataFrame:
    """Facilities counted inside each area, per category, by which sources know them.

    Returns
    -------
    pandas.DataFrame
        ``area, category, osm, list, plan, several, total``: counted rows with
        ``in_area``; ``osm``/``list``/``plan`` are facilities known to that source alone,
        ``several`` to more than one.
    """
    rows = []
    f = fac[fac["counted"].astype(bool)] if len(fac) else fac
    for a in areas:
        fa = f[(f["area"].astype(str) == a) & f["in_area"].astype(bool)] if len(f) else f
        for c in categories:
            kb = fa[fa["category"].astype(str) == c]["known_by"].astype(str) if len(fa) else []
            kb = list(kb)
            rows.append({
                "area": a, "category": c,
                "osm": sum(k == "osm" for k in kb), "list": sum(k == "list" for k in kb),
                "plan": sum(k == "plan" for k in kb), "several": sum(";" in k for k in kb),
                "total": len(kb),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["area", "category", "osm", "list", "plan", "several",
                                       "total"])  # fmt: skip


def in_area_mask(fac: gpd.GeoDataFrame, boundaries: Mapping[str, Any]) -> np.ndarray:
    """Whether each row's point lies inside its area's boundary."""
    out = np.zeros(len(fac), dtype=bool)
    for k, (a, g) in enumerate(zip(fac["area"].astype(str), fac.geometry, strict=True)):
        pt = _point(g)
        b = boundaries.get(a)
        out[k] = bool(pt is not None and b is not None and shapely.covers(b, pt))
    return out
