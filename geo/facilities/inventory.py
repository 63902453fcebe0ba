"""OSM facility inventory per area, and the plan-vs-OSM reconciliation.

The inventory (contract "facilities" table, ``source = osm``) merges, per study area:

* the area's OSM files (registry ``network`` and ``features`` lists plus fetched downloads):
  tagged nodes as points, closed ways as a point inside the polygon, open ways at their middle;
* the Geofabrik shapefile layers in ``registry.defaults['pois']['geofabrik']``
  (``gis_osm_pois_free_1``, ``gis_osm_pois_a_free_1``, ``gis_osm_transport_free_1``,
  ``gis_osm_transport_a_free_1``); polygons become a point inside the polygon.

Features are classified with the taxonomy (tags / ``fclass`` first, refined by the name), kept
within :data:`geo.settings.CLIP_BUFFER_M` of the boundary (``in_area`` says whether inside) and
de-duplicated across sources: the same OSM id, or the same category with a similar name within
:data:`DEDUPE_RADIUS_M`. Geometry is WGS-84; distances are computed in EPSG:32651.

The reconciliation compares, per area and category, what the plans say exists, will be built
or upgraded with what OSM maps (``out/inventory_reconciliation.csv``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import settings
from geo._errors import LifeCircleError
from geo._types import ProgressFn
from geo.facilities.taxonomy import Taxonomy, load_taxonomy
from geo.io.areas import network_sources
from geo.io.files import write_atomic
from geo.io.geom import bbox_of, clip_polygon
from geo.io.osm import OsmData, read_osm
from geo.io.tables import FACILITIES

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo.io.areas import Area, Registry

#: Extra inventory columns.
INVENTORY_EXTRA: tuple[str, ...] = ("in_area", "fclass", "osm_tags", "sources")
#: Geofabrik layers read for facilities (those present in the folder).
GEOFABRIK_LAYERS: tuple[str, ...] = (
    "gis_osm_pois_free_1",
    "gis_osm_pois_a_free_1",
    "gis_osm_transport_free_1",
    "gis_osm_transport_a_free_1",
)
#: Two features of one category with similar names closer than this are one facility (m).
DEDUPE_RADIUS_M: float = 50.0
#: rapidfuzz ratio (0-100) above which two normalised names are "similar".
NAME_SIMILARITY: float = 80.0
#: Tag keys summarised in the ``osm_tags`` column.
SUMMARY_KEYS: tuple[str, ...] = (
    "amenity",
    "leisure",
    "shop",
    "healthcare",
    "social_facility",
    "social_facility:for",
    "public_transport",
    "highway",
    "railway",
    "office",
    "tourism",
    "landuse",
    "school",
)
#: Columns of ``inventory_reconciliation.csv``.
RECONCILIATION_COLUMNS: tuple[str, ...] = (
    "area",
    "category",
    "label_zh",
    "label_en",
    "plan_existing",
    "plan_new",
    "plan_upgrade",
    "osm_count",
    "difference",
    "note",
)

_NAME_JUNK = re.compile(r"[\s\-_·•,，.。:：;；'\"“”‘’()（）\[\]【】<>《》/]")


# -------------------------------------------------------------------------------------------
# reading features
# -------------------------------------------------------------------------------------------
def _name_of(tags: dict[str, str]) -> str | None:
    for key in ("name", "name:zh", "name:zh-Hans", "official_name", "name:en"):
        v = tags.get(key)
        if v and str(v).strip():
            return str(v).strip()
    return None


def _tag_summary(tags: dict[str, str]) -> str:
    return "; ".join(f"{k}={tags[k]}" for k in SUMMARY_KEYS if k in tags)


def osm_file_features(
    registry: Registry, area: Area, taxonomy: Taxonomy, zone: BaseGeometry
) -> list[dict[str, Any]]:
    """Classified facility features of the area's OSM files within ``zone`` (WGS-84 polygon).

    Returns
    -------
    list of dict
        ``name, category, osm_id ("node/1"), geometry (WGS-84 Point), fclass (None), osm_tags,
        sources, priority`` per feature; earlier files win on duplicate ids.
    """
    import shapely

    paths: list[Path] = list(network_sources(registry, area))
    for rel in area.features:
        p = registry.resolve(rel, what=f"feature file of area '{area.id}'")
        if p.resolve() not in [q.resolve() for q in paths]:
            paths.append(p)
    bbox = bbox_of(zone, margin_deg=0.002)
    merged = OsmData()
    for p in paths:
        merged.extend(read_osm(p, bbox=bbox))
    rows: list[dict[str, Any]] = []
    for pt in merged.points:
        name = _name_of(pt.tags)
        cat = taxonomy.classify_feature(pt.tags, name)
        if cat is None:
            continue
        geom = shapely.Point(pt.lon, pt.lat)
        rows.append(
            _feature(
                name, cat, f"{pt.osm_type}/{pt.id}", geom, None, _tag_summary(pt.tags), "osm-file"
            )
        )
    for way in merged.ways:
        name = _name_of(way.tags)
        cat = taxonomy.classify_feature(way.tags, name)
        if cat is None:
            continue
        coords = way.coords
        if way.closed:
            poly = shapely.Polygon(coords)
            if not poly.is_valid:
                poly = shapely.make_valid(poly)
            geom = shapely.point_on_surface(poly)
        else:
            line = shapely.LineString(coords)
            geom = line.interpolate(0.5, normalized=True)
        rows.append(
            _feature(name, cat, f"way/{way.id}", geom, None, _tag_summary(way.tags), "osm-file")
        )
    if not rows:
        return rows
    inside = shapely.intersects(np.array([r["geometry"] for r in rows], dtype=object), zone)
    return [r for r, ok in zip(rows, inside, strict=True) if ok]


def _feature(
    name: str | None, cat: str, osm_id: str, geom: Any, fclass: str | None, tags: str, source: str
) -> dict[str, Any]:
    return {
        "name": name,
        "category": cat,
        "osm_id": osm_id,
        "geometry": geom,
        "fclass": fclass,
        "osm_tags": tags,
        "sources": source,
    }


def geofabrik_folder(registry: Registry) -> Path | None:
    """Return the Geofabrik shapefile folder named in ``areas.yaml`` defaults, or None."""
    rel = ((registry.defaults or {}).get("pois") or {}).get("geofabrik")
    if not rel:
        return None
    return registry.resolve(rel, what="Geofabrik POI folder")


def geofabrik_features(
    registry: Registry,
    taxonomy: Taxonomy,
    zone: BaseGeometry,
    layers: Sequence[str] = GEOFABRIK_LAYERS,
) -> list[dict[str, Any]]:
    """Classified facility features of the Geofabrik layers within ``zone`` (WGS-84 polygon).

    Points keep their position; polygons become a point inside the polygon. A layer file that
    is missing is skipped; one that cannot be read raises naming the file.
    """
    import pyogrio
    import shapely

    folder = geofabrik_folder(registry)
    if folder is None:
        return []
    rows: list[dict[str, Any]] = []
    for layer in layers:
        path = folder / f"{layer}.shp"
        if not path.exists():
            continue
        try:
            df = pyogrio.read_dataframe(
                path, bbox=tuple(zone.bounds), columns=["osm_id", "fclass", "name"]
            )
        except Exception as exc:
            raise LifeCircleError(f"cannot read Geofabrik layer: {exc}", path=path) from None
        if df.empty:
            continue
        if df.crs is not None and df.crs.to_epsg() not in (4326, None):
            df = df.to_crs(4326)
        inside = shapely.intersects(df.geometry.to_numpy(), zone)
        df = df[inside]
        polygon_layer = layer.endswith("_a_free_1")
        for rec in df.itertuples(index=False):
            name = str(rec.name).strip() if isinstance(rec.name, str) and rec.name.strip() else None
            cat = taxonomy.classify_feature(None, name, fclass=str(rec.fclass))
            if cat is None:
                continue
            geom = rec.geometry
            if geom is None or geom.is_empty:
                continue
            if geom.geom_type != "Point":
                geom = shapely.point_on_surface(geom)
            kind = "way" if polygon_layer else "node"
            rows.append(
                _feature(
                    name,
                    cat,
                    f"{kind}/{rec.osm_id}",
                    geom,
                    str(rec.fclass),
                    f"fclass={rec.fclass}",
                    f"geofabrik:{layer}",
                )
            )
    return rows


# -------------------------------------------------------------------------------------------
# de-duplication
# -------------------------------------------------------------------------------------------
def normalise_name(name: object) -> str:
    """Return a facility name for comparison: no spaces, punctuation or brackets, lower case."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return _NAME_JUNK.sub("", str(name)).lower()


def similar_names(a: object, b: object, min_similarity: float = NAME_SIMILARITY) -> bool:
    """Return True for one facility's names: ratio >= threshold, or one contains the other."""
    from rapidfuzz import fuzz

    na, nb = normalise_name(a), normalise_name(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    if min(len(na), len(nb)) >= 2 and (na in nb or nb in na):
        return True
    return fuzz.ratio(na, nb) >= min_similarity


def _osm_key(osm_id: object) -> tuple[str, str] | None:
    if osm_id is None or (isinstance(osm_id, float) and np.isnan(osm_id)):
        return None
    text = str(osm_id)
    kind, _, num = text.partition("/")
    if not num:
        return ("?", kind)
    return ("n" if kind == "node" else "a", num)  # way and relation ids share Geofabrik's ids


def dedupe_facilities(
    frame: Any, radius_m: float = DEDUPE_RADIUS_M, min_similarity: float = NAME_SIMILARITY
) -> Any:
    """Merge rows that are one facility.

    One facility: the same OSM id, or the same category with similar names within
    ``radius_m`` metres.

    Parameters
    ----------
    frame
        GeoDataFrame (WGS-84 points) with ``name, category, osm_id, sources`` in priority
        order (the first row of a group is kept).
    radius_m
        Distance for the name rule (metres, EPSG:32651).
    min_similarity
        rapidfuzz ratio (0-100) on normalised names.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per facility; ``sources`` joins the merged rows' sources (``;``), ``merged``
        counts them; a kept row without a name takes the first name of its group.
    """
    from scipy.spatial import cKDTree

    if len(frame) == 0:
        out = frame.copy()
        out["merged"] = pd.Series(dtype="int64")
        return out
    gdf = frame.reset_index(drop=True)
    n = len(gdf)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)  # the earlier (higher-priority) row leads

    first_by_key: dict[tuple[str, str], int] = {}
    for i, oid in enumerate(gdf["osm_id"].tolist()):
        key = _osm_key(oid)
        if key is None:
            continue
        if key in first_by_key:
            union(first_by_key[key], i)
        else:
            first_by_key[key] = i
    proj = gdf.geometry.to_crs(settings.PROJECTED_CRS)
    xy = np.column_stack([proj.x.to_numpy(), proj.y.to_numpy()])
    names = gdf["name"].tolist()
    cats = gdf["category"].to_numpy()
    for cat in pd.unique(cats):
        idx = np.flatnonzero(cats == cat)
        if len(idx) < 2:
            continue
        tree = cKDTree(xy[idx])
        for a, b in sorted(tree.query_pairs(radius_m)):
            i, j = int(idx[a]), int(idx[b])
            if similar_names(names[i], names[j], min_similarity):
                union(i, j)
    roots = np.array([find(i) for i in range(n)])
    keep = []
    for r in pd.unique(roots):
        members = np.flatnonzero(roots == r)
        lead = int(members[0])
        row = gdf.iloc[lead].copy()
        if not isinstance(row["name"], str) or not row["name"]:
            row["name"] = next(
                (names[m] for m in members if isinstance(names[m], str) and names[m]), None
            )
        srcs = []
        for m in members:
            for s in str(gdf.at[int(m), "sources"]).split(";"):
                if s and s not in srcs:
                    srcs.append(s)
        row["sources"] = ";".join(srcs)
        row["merged"] = len(members)
        keep.append(row)
    out = gpd.GeoDataFrame(keep, geometry="geometry", crs=gdf.crs).reset_index(drop=True)
    out["merged"] = out["merged"].astype("int64")
    return out


# -------------------------------------------------------------------------------------------
# the inventory
# -------------------------------------------------------------------------------------------
def empty_facilities() -> Any:
    """Return an empty facilities GeoDataFrame with the contract and inventory columns."""
    cols = [c for c in FACILITIES.names if c != "geometry"] + list(INVENTORY_EXTRA)
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    return _typed(
        gpd.GeoDataFrame(
            df, geometry=gpd.GeoSeries([], crs=settings.STORAGE_CRS), crs=settings.STORAGE_CRS
        )
    )


def _typed(gdf: Any) -> Any:
    gdf["confidence"] = gdf["confidence"].astype("float64")
    gdf["mention_start"] = gdf["mention_start"].astype("Int64")
    gdf["in_area"] = gdf["in_area"].astype(bool)
    for c in (
        "facility_id",
        "area",
        "name",
        "category",
        "source",
        "status",
        "precision",
        "osm_id",
        "mention_doc",
        "fclass",
        "osm_tags",
        "sources",
    ):
        gdf[c] = gdf[c].astype("string")
    return gdf


def build_inventory(
    registry: Registry,
    area: Area | str,
    taxonomy: Taxonomy | None = None,
    *,
    buffer_m: float = settings.CLIP_BUFFER_M,
) -> Any:
    """Return the OSM facility inventory of one area (OSM files + Geofabrik, de-duplicated).

    Parameters
    ----------
    registry
        The study-area registry.
    area
        An :class:`geo.areas.Area` or its id.
    taxonomy
        Categories and OSM rules (default taxonomy file).
    buffer_m
        Facilities this far outside the boundary are kept (``in_area = False``) so residents
        near the edge reach them (metres).

    Returns
    -------
    geopandas.GeoDataFrame
        contract facilities columns (``source='osm'``, ``status='existing'``,
        ``precision='exact'``, ``confidence=1.0``, ``mention_doc``/``mention_start`` empty),
        WGS-84 points, plus ``in_area, fclass, osm_tags, sources, merged``; sorted by
        category, then name.
    """
    import shapely

    tax = taxonomy or load_taxonomy()
    if isinstance(area, str):
        area = registry.get(area)
    boundary = registry.boundary(area)
    zone = clip_polygon(boundary, buffer_m)
    rows = osm_file_features(registry, area, tax, zone)
    rows += geofabrik_features(registry, tax, zone)
    if not rows:
        out = empty_facilities()
        out["merged"] = pd.Series(dtype="int64")
        return out
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.STORAGE_CRS)
    gdf = dedupe_facilities(gdf)
    gdf["area"] = area.id
    gdf["source"] = "osm"
    gdf["status"] = "existing"
    gdf["precision"] = "exact"
    gdf["confidence"] = 1.0
    gdf["mention_doc"] = None
    gdf["mention_start"] = None
    gdf["in_area"] = shapely.covers(boundary, gdf.geometry.to_numpy())
    gdf["facility_id"] = [f"osm:{area.id}:{oid}" for oid in gdf["osm_id"]]
    order = {k: i for i, k in enumerate(tax.keys)}
    gdf["_o"] = gdf["category"].map(order)
    gdf = gdf.sort_values(["_o", "name", "osm_id"], na_position="last").drop(columns="_o")
    cols = [*FACILITIES.names, *INVENTORY_EXTRA, "merged"]
    return _typed(gdf[cols].reset_index(drop=True))


def build_facilities(
    registry: Registry,
    areas: Iterable[Area | str] | None = None,
    taxonomy: Taxonomy | None = None,
    *,
    progress: ProgressFn | None = None,
) -> Any:
    """Return the facilities table (OSM rows) of the chosen areas: :func:`build_inventory` per area.

    Plan rows (geocoded mentions) are added by the geocoding stage before writing.
    """
    tax = taxonomy or load_taxonomy()
    chosen = [
        registry.get(a) if isinstance(a, str) else a
        for a in (areas if areas is not None else registry)
    ]
    it: Iterable[Any] = progress(chosen, "OSM inventory / 设施清单") if progress else chosen
    frames = [build_inventory(registry, a, tax) for a in it]
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_facilities()
    return _typed(
        gpd.GeoDataFrame(
            pd.concat(frames, ignore_index=True), geometry="geometry", crs=settings.STORAGE_CRS
        )
    )


# -------------------------------------------------------------------------------------------
# reconciliation
# -------------------------------------------------------------------------------------------
def _sum_distinct(rows: pd.DataFrame) -> tuple[float, int]:
    """Σ quantities of distinct statements and the number of unquantified generic ones."""
    if rows.empty:
        return 0.0, 0
    named = rows[rows["kind"] == "named"]
    generic = rows[rows["kind"] != "named"]
    total = float(len(named.drop_duplicates(["doc", "name"])))
    quant = generic[generic["quantity"].notna()]
    total += float(quant.drop_duplicates(["doc", "name", "quantity"])["quantity"].sum())
    unq = int(generic["quantity"].isna().sum())
    return total, unq


def reconcile(
    mentions: pd.DataFrame,
    inventory: gpd.GeoDataFrame,
    areas: Sequence[Area | str],
    taxonomy: Taxonomy | None = None,
) -> pd.DataFrame:
    """Plan-stated counts vs OSM-mapped counts per area and category.

    Parameters
    ----------
    mentions
        The mention table (:func:`geo.plans.extract_all`).
    inventory
        The facilities table of the same areas (OSM rows; ``in_area`` column).
    areas
        Areas (objects or ids) to report; every taxonomy category gets a row.
    taxonomy
        Categories (default taxonomy file).

    Returns
    -------
    pandas.DataFrame
        ``area, category, label_zh, label_en, plan_existing, plan_new, plan_upgrade,
        osm_count, difference, note``. ``plan_existing`` is the largest count one statement
        of the plans gives (a per-sentence sum of quantified "existing" mentions, e.g.
        "现有…32个健身苑点"), or the number of distinct named existing facilities if larger;
        ``plan_new`` / ``plan_upgrade`` add the quantities of distinct new / upgrade
        statements (a named facility counts 1; list items under a quantified head are not
        counted twice). Out-of-area mentions are ignored; empty means the plans say nothing.
        ``osm_count`` counts inventory facilities inside the boundary;
        ``difference = plan_existing - osm_count`` (positive: the map lacks facilities the
        plan reports).
    """
    tax = taxonomy or load_taxonomy()
    ids = [a if isinstance(a, str) else a.id for a in areas]
    m = mentions.copy() if mentions is not None else pd.DataFrame()
    if not m.empty:
        m = m[(m["in_area"].astype(str) != "no") & m["counted"].astype(bool)]
    inv = inventory
    rows = []
    for area_id in ids:
        ma = m[m["area"] == area_id] if not m.empty else m
        docs = sorted(set(ma["doc"])) if not ma.empty else []
        ia = inv[inv["area"].astype(str) == area_id] if inv is not None and len(inv) else None
        for key, cat in tax.categories.items():
            mc = ma[ma["category"] == key] if not ma.empty else ma
            notes = []
            plan_existing: float | None = None
            plan_new: float | None = None
            plan_upgrade: float | None = None
            if not mc.empty:
                ex = mc[mc["action"] == "existing"]
                quant = ex[(ex["kind"] != "named") & ex["quantity"].notna()]
                best, best_note = 0.0, ""
                if not quant.empty:
                    per = quant.groupby(["doc", "sentence"])["quantity"].sum()
                    k = int(np.argmax(per.to_numpy()))
                    best = float(per.iloc[k])
                    doc, sentence = per.index[k]
                    parts = quant[(quant["doc"] == doc) & (quant["sentence"] == sentence)]
                    listed = " + ".join(
                        f"{int(q)} {n}"
                        for n, q in zip(parts["name"], parts["quantity"], strict=True)
                    )
                    best_note = f"plan states {listed} ({doc})"
                n_named = ex[ex["kind"] == "named"].drop_duplicates(["doc", "name"])
                if best or len(n_named):
                    plan_existing = max(best, float(len(n_named)))
                    if best >= len(n_named) and best:
                        notes.append(best_note)
                    else:
                        names = "、".join(n_named["name"].astype(str).head(5))
                        notes.append(f"plan names {len(n_named)} existing: {names}")
                new, unq_new = _sum_distinct(mc[mc["action"] == "new"])
                upg, unq_upg = _sum_distinct(mc[mc["action"] == "upgrade"])
                plan_new = new or None  # only unquantified statements: the count is unknown
                plan_upgrade = upg or None
                if unq_new or unq_upg:
                    notes.append(f"unquantified mentions: {unq_new} new, {unq_upg} upgrade")
            elif not docs:
                notes.append("no plan read for this area")
            osm_count = (
                int(((ia["category"] == key) & ia["in_area"].astype(bool)).sum())
                if ia is not None
                else 0
            )
            buffer_count = (
                int(((ia["category"] == key) & ~ia["in_area"].astype(bool)).sum())
                if ia is not None
                else 0
            )
            notes.append(
                f"OSM: {osm_count} inside, {buffer_count} within "
                f"{settings.CLIP_BUFFER_M:.0f} m outside"
            )
            diff = plan_existing - osm_count if plan_existing is not None else None
            rows.append(
                {
                    "area": area_id,
                    "category": key,
                    "label_zh": cat.label_zh,
                    "label_en": cat.label_en,
                    "plan_existing": plan_existing,
                    "plan_new": plan_new,
                    "plan_upgrade": plan_upgrade,
                    "osm_count": osm_count,
                    "difference": diff,
                    "note": "; ".join(notes),
                }
            )
    out = pd.DataFrame(rows, columns=list(RECONCILIATION_COLUMNS))
    for c in ("plan_existing", "plan_new", "plan_upgrade", "difference"):
        out[c] = pd.to_numeric(out[c]).astype("Float64")
    out["osm_count"] = out["osm_count"].astype("int64")
    return out


def write_reconciliation(
    table: pd.DataFrame, path: str | os.PathLike[str], replace_areas: Iterable[str] | None = None
) -> Path:
    """Write ``inventory_reconciliation.csv`` (UTF-8 with BOM), keeping other areas' rows."""
    path = Path(path)
    if replace_areas is not None and path.exists():
        try:
            old = pd.read_csv(path, encoding="utf-8-sig")
        except Exception as exc:
            raise LifeCircleError(f"cannot read reconciliation table: {exc}", path=path) from None
        keep = old[~old["area"].astype(str).isin(list(replace_areas))]
        if len(keep):
            table = pd.concat([keep, table], ignore_index=True)
    return write_atomic(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
