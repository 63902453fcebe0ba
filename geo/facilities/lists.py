"""Official facility lists (civil-affairs, health, subdistrict lists): read, classify, place.

A planner's list is a CSV (UTF-8 or GB18030) or XLSX sheet with one facility a row. Columns are
found by their common Chinese or English names (:data:`COLUMN_ALIASES`); only a name column is
required. Each row keeps its provenance (file, row, source) and is placed by
:func:`place_list`:

1. **given coordinates** (``lon``/``lat``, in the row's ``crs`` or the list's default) are
   converted to WGS-84 with :mod:`geo.facilities.coords` and checked: inside Shanghai, inside
   (or within :data:`AREA_TOLERANCE_M` of) the row's subdistrict, and within
   :data:`ROAD_CHECK_M` of the road its address names. A point far from its road is flagged
   with its likely cause ("looks like GCJ-02 read as WGS-84") and the address is used instead
   whenever it can be placed (at least on the named road);
2. otherwise the **address** is placed by :mod:`geo.facilities.address` on the area's OSM data
   (address / interpolated / intersection / compound / street);
3. a row with neither stays at precision ``area`` (name only) or ``unresolved`` (an address
   that could not be read, with the reason).

Problems never drop a row: each gives one warning line naming the file and row. Reading fails
(:class:`geo._errors.InputError`, exit code 2) only when nothing can be read: a missing or
undecodable file, a missing sheet, or no name column.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.facilities.address import AddressIndex, ParsedAddress, fold_text, parse_addresses
from geo.facilities.coords import CRS_NAMES, normalise_crs, to_wgs84
from geo.facilities.geocode import _geofabrik_roads
from geo.io.areas import network_sources
from geo.io.files import write_atomic, write_text_atomic
from geo.io.geom import bbox_of, clip_polygon, project_geom, to_projected
from geo.io.osm import FEATURE_KEYS, OsmData, read_osm

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo.facilities.taxonomy import Taxonomy
    from geo.io.areas import Area, Registry

#: Accepted column names per role (compared after NFKC, traditional->simplified, lower case,
#: without spaces and _-). The first matching header of a role wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("名称", "机构名称", "设施名称", "单位名称", "场所名称", "名字", "name", "facility",
             "facilityname", "机构"),
    "category": ("类别", "类型", "分类", "设施类别", "设施类型", "机构类型", "category", "type",
                 "kind"),
    "address": ("地址", "详细地址", "机构地址", "地点", "位置", "address", "addr", "location"),
    "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "crs": ("坐标系", "坐标系统", "crs", "coordsys", "coordinatesystem", "srs"),
    "source": ("来源", "数据来源", "出处", "source", "sourceurl", "url"),
    "subdistrict": ("街道", "所属街道", "街镇", "街道镇", "subdistrict", "jiedao", "area"),
}  # fmt: skip

#: Precision labels of list rows, best first: given coordinates, then the address levels.
LIST_PRECISIONS: tuple[str, ...] = ("coordinates", "address", "interpolated", "intersection",
                                    "compound", "street", "area", "unresolved")  # fmt: skip

#: Confidence per precision (0-1), for the facilities table.
CONFIDENCE: dict[str, float] = {"coordinates": 0.8, "address": 0.9, "interpolated": 0.7,
                                "intersection": 0.6, "compound": 0.6, "street": 0.3, "area": 0.0,
                                "unresolved": 0.0}  # fmt: skip

#: A point at least this far from the road its address names is flagged (m).
ROAD_CHECK_M: float = 300.0
#: Given coordinates may lie this far outside the row's subdistrict (m; edge facilities).
AREA_TOLERANCE_M: float = 200.0
#: Rough land extent of Shanghai municipality (lon/lat, mainland and Chongming, rounded out).
SHANGHAI_BBOX: tuple[float, float, float, float] = (120.85, 30.66, 122.20, 31.88)
#: Rows of an error table below this count are reported as too few to tell.
MIN_ERROR_ROWS: int = 10

#: Columns of the placed list table (and of the list rows of ``facilities.gpkg``).
LIST_COLUMNS: tuple[str, ...] = (
    "facility_id", "area", "name", "category", "source", "status", "precision", "confidence",
    "uncertainty_m", "address", "list_file", "list_row", "list_source", "lon_given", "lat_given",
    "crs_given", "method", "match_name", "match_ref", "note", "flag", "duplicate_of", "sources",
    "geometry",
)  # fmt: skip


# -------------------------------------------------------------------------------------------
# reading
# -------------------------------------------------------------------------------------------
@dataclass
class FacilityList:
    """A list as read: text cells, the file row number of each, and the matched columns."""

    path: Path
    frame: pd.DataFrame  # str cells, original headers
    rows: list[int]  # file row of each frame row (header = row 1)
    columns: dict[str, str]  # role -> header
    sheet: str | None = None

    def cell(self, i: int, role: str) -> str:
        """Return the stripped text of row ``i`` in the column of ``role`` ("" when absent)."""
        col = self.columns.get(role)
        if col is None:
            return ""
        v = self.frame[col].iat[i]
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    def where(self, i: int) -> str:
        """``row N`` (or ``sheet S row N``) of frame row ``i``."""
        return (f"sheet {self.sheet} " if self.sheet else "") + f"row {self.rows[i]}"


def _header_key(text: object) -> str:
    s = fold_text(text).lower()
    return re.sub(r"[\s_\-()（）\[\]]", "", s)


def match_columns(headers: Sequence[object]) -> dict[str, str]:
    """Map roles (name, category, address, lon, lat, crs, source, subdistrict) to headers."""
    keys = {_header_key(h): str(h) for h in headers}
    out: dict[str, str] = {}
    for role, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            hit = keys.get(_header_key(alias))
            if hit is not None and hit not in out.values():
                out[role] = hit
                break
    return out


def _decode(data: bytes, path: Path) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError("cannot decode the file; expected UTF-8 or GB18030 text", path=path)


def read_list(path: str | os.PathLike[str], *, sheet: str | None = None) -> FacilityList:
    """Read a facility list (CSV in UTF-8/GB18030, or an XLSX sheet) and find its columns.

    Parameters
    ----------
    path
        ``.csv`` / ``.txt`` / ``.tsv`` or ``.xlsx`` file.
    sheet
        XLSX sheet name (default: the first sheet).

    Returns
    -------
    FacilityList

    Raises
    ------
    InputError
        When nothing can be read: file missing, undecodable, not a table, sheet missing, no
        name column (the message lists the accepted names).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("facility list not found", path=path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame, sheet = _read_xlsx(path, sheet)
    elif suffix in (".csv", ".txt", ".tsv"):
        if sheet:
            raise InputError(f"--sheet {sheet} given for a {suffix} file; sheets are XLSX only",
                             path=path)  # fmt: skip
        text = _decode(path.read_bytes(), path)
        sep = "\t" if suffix == ".tsv" else None
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep,
                                engine="python", skip_blank_lines=True)  # fmt: skip
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"not a readable table: {exc}".replace("\n", " "), path=path) from None
    else:
        raise InputError(f"unsupported file type '{suffix}'; expected .csv or .xlsx", path=path)
    frame.columns = [str(c).strip() for c in frame.columns]
    columns = match_columns(list(frame.columns))
    if "name" not in columns:
        accepted = ", ".join(COLUMN_ALIASES["name"])
        found = ", ".join(map(str, frame.columns)) or "none"
        raise InputError(f"no name column (columns found: {found}); accepted names: {accepted}",
                         path=path, record=f"sheet {sheet}" if sheet else None)  # fmt: skip
    rows = list(range(2, len(frame) + 2))
    return FacilityList(path, frame.reset_index(drop=True), rows, columns, sheet)


def _read_xlsx(path: Path, sheet: str | None) -> tuple[pd.DataFrame, str]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"cannot read the workbook: {exc}", path=path) from None
    names = list(wb.sheetnames)
    wb.close()
    if sheet is None:
        sheet = names[0]
    elif sheet not in names:
        raise InputError(f"no sheet '{sheet}'; sheets: {', '.join(names)}", path=path)
    frame = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False,
                          engine="openpyxl")  # fmt: skip
    return frame, sheet


# -------------------------------------------------------------------------------------------
# placing
# -------------------------------------------------------------------------------------------
@dataclass
class AreaInfo:
    """What placing needs of one study area."""

    id: str
    name_zh: str
    boundary: Any  # WGS-84 polygon
    index: AddressIndex | None  # None: no OSM data to place addresses on


@dataclass
class PlacedList:
    """The placed rows of one list, its warnings and the geocoder's error rows."""

    path: Path
    rows: Any  # GeoDataFrame (LIST_COLUMNS)
    warnings: list[str] = field(default_factory=list)
    #: one row per list row with both an address and coordinates: precision and distance (m)
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict[str, Any]:
        """Rows read, placed per precision, unresolved, flagged, duplicates."""
        prec = self.rows["precision"].value_counts()
        return {
            "file": str(self.path),
            "rows": len(self.rows),
            "placed": {
                p: int(prec.get(p, 0)) for p in LIST_PRECISIONS if p not in ("area", "unresolved")
            },
            "area_only": int(prec.get("area", 0)),
            "unresolved": int(prec.get("unresolved", 0)),
            "flagged": int((self.rows["flag"].astype(str) != "").sum()),
            "duplicates": int((self.rows["duplicate_of"].astype(str) != "").sum()),
            "warnings": len(self.warnings),
        }


def classify_row(taxonomy: Taxonomy, category_text: str, name: str) -> str:
    """Return the category of a category cell (a key, label or type word), else of the name."""
    key = category_text.strip().lower()
    if key in taxonomy.categories:
        return key
    folded = fold_text(category_text)
    for k, cat in taxonomy.categories.items():
        if folded and folded in (cat.label_zh, cat.label_en.lower()):
            return k
    for text in (folded, fold_text(name)):
        if text:
            found = taxonomy.classify_name(text)
            if found is not None:
                return str(found)
    return ""


def _area_of(value: str, areas: Sequence[AreaInfo]) -> AreaInfo | None:
    v = fold_text(value)
    if not v:
        return None
    for a in areas:
        zh = fold_text(a.name_zh)
        if v in (a.id, zh) or v.removesuffix("街道") == zh.removesuffix("街道"):
            return a
    return None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def place_list(
    flist: FacilityList,
    areas: Sequence[AreaInfo],
    taxonomy: Taxonomy,
    *,
    area: str | None = None,
    crs: str | None = None,
    subdistricts: gpd.GeoDataFrame | None = None,
) -> PlacedList:
    """Classify and place every row of a list; never drops a row.

    Parameters
    ----------
    flist
        Output of :func:`read_list`.
    areas
        The study areas rows may belong to (a row's ``subdistrict`` cell is matched against
        their id and Chinese name; rows without one belong to ``area``, else to the area their
        coordinates fall in).
    taxonomy
        :class:`geo.facilities.taxonomy.Taxonomy` for the category cells / names.
    area
        Area id for every row (``--area``); rows naming another subdistrict are still read but
        warned about.
    crs
        Coordinate system of rows without a ``crs`` cell (default ``wgs84``).
    subdistricts
        Optional GeoDataFrame of all subdistrict polygons (``osm_name``) to say where a wrong
        point falls.

    Returns
    -------
    PlacedList
    """
    by_id = {a.id: a for a in areas}
    forced = by_id.get(area) if area else None
    default_crs = normalise_crs(crs or "wgs84")
    n = len(flist.frame)
    name_file = flist.path.name
    stem = re.sub(r"[\s:;,|]", "_", flist.path.stem)
    warnings: list[str] = []

    def warn(i: int, msg: str) -> None:
        warnings.append(f"{flist.path} ({flist.where(i)}): {msg}")

    parsed = parse_addresses([flist.cell(i, "address") for i in range(n)])
    records: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], str] = {}
    for i in range(n):
        name = flist.cell(i, "name")
        address = flist.cell(i, "address")
        fid = f"list:{stem}:{flist.rows[i]}"
        rec: dict[str, Any] = {
            "facility_id": fid, "area": "", "name": name, "category": "", "source": "list",
            "status": "existing", "precision": "area", "confidence": 0.0,
            "uncertainty_m": math.nan, "address": address, "list_file": name_file,
            "list_row": flist.rows[i], "list_source": flist.cell(i, "source"),
            "lon_given": math.nan, "lat_given": math.nan, "crs_given": "", "method": "",
            "match_name": "", "match_ref": "", "note": "", "flag": "", "duplicate_of": "",
            "sources": f"list:{name_file}", "geometry": None,
        }  # fmt: skip
        notes: list[str] = []
        if not name:
            warn(i, "empty name; row kept, placed by its address or coordinates only")
            notes.append("no name")
        cat = classify_row(taxonomy, flist.cell(i, "category"), name)
        if not cat:
            warn(i, f"category '{flist.cell(i, 'category')}' / name '{name}' matches no "
                    f"taxonomy category ({', '.join(taxonomy.keys)})")  # fmt: skip
            notes.append("category unknown")
        rec["category"] = cat
        # -- which area ---------------------------------------------------------------------
        sub = flist.cell(i, "subdistrict")
        target = _area_of(sub, areas) if sub else None
        if forced is not None:
            if sub and _area_of(sub, [forced]) is None:
                warn(i, f"subdistrict '{sub}' is not {forced.name_zh}; row read for "
                        f"--area {forced.id} as asked")  # fmt: skip
            target = forced
        elif sub and target is None:
            notes.append(f"subdistrict '{sub}' is not a study area")
        # -- given coordinates --------------------------------------------------------------
        lon_t, lat_t = flist.cell(i, "lon"), flist.cell(i, "lat")
        point = None
        row_crs = default_crs
        if lon_t or lat_t:
            lon, lat = _float(lon_t), _float(lat_t)
            rec["lon_given"], rec["lat_given"] = lon, lat
            crs_text = flist.cell(i, "crs")
            try:
                row_crs = normalise_crs(crs_text) if crs_text else default_crs
            except LifeCircleError:
                warn(i, f"unknown coordinate system '{crs_text}' (expected wgs84, gcj02 or "
                        "bd09); coordinates not used")  # fmt: skip
                row_crs = ""
            rec["crs_given"] = row_crs
            if not (np.isfinite(lon) and np.isfinite(lat)):
                warn(i, f"lon/lat '{lon_t}', '{lat_t}' are not numbers; coordinates not used")
            elif not _in_shanghai(lon, lat):
                swapped = _in_shanghai(lat, lon)
                warn(i, f"lon/lat ({lon:g}, {lat:g}) is outside Shanghai"
                        + ("; latitude and longitude look swapped" if swapped else "")
                        + "; coordinates not used")  # fmt: skip
            elif row_crs:
                wx, wy = to_wgs84([lon], [lat], row_crs)
                point = shapely.Point(float(wx[0]), float(wy[0]))
                if target is None and sub == "":
                    target = next((a for a in areas if a.boundary.covers(point)), None)
                if target is not None and not _near_area(target, point):
                    where = _subdistrict_at(subdistricts, point)
                    other = _other_reading(lon, lat, row_crs, target)
                    warn(i, f"coordinates ({lon:g}, {lat:g}, {row_crs}) put the point "
                            f"{'in ' + where if where else 'outside ' + target.name_zh}, not in "
                            f"{target.name_zh}{other}; coordinates not used")  # fmt: skip
                    notes.append(f"coordinates outside {target.id}{other}")
                    point = None
        if target is None:
            if rec["precision"] != "unresolved":
                rec["precision"] = "unresolved"
            notes.append("no study area for this row (give --area or a subdistrict column)")
            rec["note"] = "; ".join(notes)
            records.append(rec)
            continue
        rec["area"] = target.id
        # -- duplicates -----------------------------------------------------------------------
        key = (target.id, fold_text(name), fold_text(address), cat, lon_t, lat_t)
        if name and key in seen:
            warn(i, f"duplicate of {seen[key]} (same name, address and category); kept, not "
                    "counted twice")  # fmt: skip
            rec["duplicate_of"] = seen[key]
        elif name:
            seen[key] = fid
        # -- the address -----------------------------------------------------------------------
        p = parsed[i]
        placement = None
        if address and target.index is not None:
            placement = target.index.locate(p)
        elif address:
            notes.append(f"no OSM road data for {target.id}: the address cannot be placed")
        if address and p.problem:
            notes.append(f"address not read: {p.problem}")
        # -- cross-check -------------------------------------------------------------------------
        if point is not None and address and target.index is not None and p.has_location_text:
            d = target.index.distance_to_road(p, point.x, point.y)
            if d is not None and d >= ROAD_CHECK_M:
                cause = _crs_cause(target.index, p, rec["lon_given"], rec["lat_given"], row_crs)
                flag = f"{d:.0f} m from {p.road or p.road_en}" + (f": {cause}" if cause else "")
                rec["flag"] = flag
                warn(i, f"point is {flag}")
            if placement is not None and placement.placed:
                dist = _dist_m(point, placement.lon, placement.lat)
                errors.append({"area": target.id, "list_row": flist.rows[i], "name": name,
                               "address": address, "precision": placement.precision,
                               "error_m": round(dist, 1), "flag": rec["flag"]})  # fmt: skip
            elif placement is not None:
                errors.append({"area": target.id, "list_row": flist.rows[i], "name": name,
                               "address": address, "precision": placement.precision,
                               "error_m": math.nan, "flag": rec["flag"]})  # fmt: skip
        # -- choose ---------------------------------------------------------------------------
        # a point far from its own road is not used when the address gives any place on it
        on_road = placement is not None and placement.placed
        if point is not None and not (rec["flag"] and on_road):
            rec.update(precision="coordinates", method=f"given ({row_crs} -> wgs84)",
                       geometry=point)  # fmt: skip
            notes.append("coordinates as given" + (f", converted from {row_crs}"
                                                   if row_crs != "wgs84" else ""))  # fmt: skip
            if placement is not None and placement.placed:
                notes.append(f"address placed {_dist_m(point, placement.lon, placement.lat):.0f}"
                             f" m away ({placement.precision})")  # fmt: skip
        elif placement is not None and placement.placed:
            rec.update(precision=placement.precision, method="address",
                       uncertainty_m=placement.uncertainty_m, match_name=placement.matched,
                       match_ref=placement.ref,
                       geometry=shapely.Point(placement.lon, placement.lat))  # fmt: skip
            notes.append(placement.note)
            if rec["flag"]:
                notes.append("flagged coordinates not used")
        elif rec["precision"] != "unresolved":
            if address and p.problem:
                rec["precision"] = "unresolved"
            else:
                rec["precision"] = "area"
                if placement is not None and placement.note:
                    notes.append(placement.note)
                if not address and point is None:
                    notes.append("name only: no address or coordinates")
        rec["confidence"] = CONFIDENCE[rec["precision"]]
        rec["note"] = "; ".join(x for x in notes if x)
        records.append(rec)
    frame = pd.DataFrame(records, columns=list(LIST_COLUMNS))
    gdf = gpd.GeoDataFrame(frame, geometry="geometry", crs=settings.STORAGE_CRS)
    err = pd.DataFrame(errors, columns=["area", "list_row", "name", "address", "precision",
                                        "error_m", "flag"])  # fmt: skip
    return PlacedList(flist.path, gdf, warnings, err)


def _in_shanghai(lon: float, lat: float) -> bool:
    x0, y0, x1, y1 = SHANGHAI_BBOX
    return bool(x0 <= lon <= x1 and y0 <= lat <= y1)


def _dist_m(point: BaseGeometry, lon: float, lat: float) -> float:

    x, y = to_projected(np.array([point.x, lon]), np.array([point.y, lat]))
    return float(math.hypot(x[1] - x[0], y[1] - y[0]))


def _near_area(area: AreaInfo, point: BaseGeometry) -> bool:
    if area.boundary.covers(point):
        return True

    return bool(project_geom(area.boundary).distance(project_geom(point)) <= AREA_TOLERANCE_M)


def _readings(lon: float, lat: float) -> Iterator[tuple[str, float, float]]:

    for name in CRS_NAMES:
        wx, wy = to_wgs84([lon], [lat], name)
        yield name, float(wx[0]), float(wy[0])


def _other_reading(lon: float, lat: float, declared: str, area: AreaInfo) -> str:
    """' (read as gcj02 it falls inside)' when another coordinate system fits the area."""
    for name, x, y in _readings(lon, lat):
        if name != declared and _near_area(area, shapely.Point(x, y)):
            return f" (read as {name} it falls inside: check the crs)"
    return ""


_CRS_LABEL = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}


def _crs_cause(index: AddressIndex, parsed: ParsedAddress, lon: float, lat: float,
               declared: str) -> str:  # fmt: skip
    """Return the likely cause of a point far from its road: another coordinate system that fits."""
    best: tuple[float, str] | None = None
    for name, x, y in _readings(lon, lat):
        if name == declared:
            continue
        d = index.distance_to_road(parsed, x, y)
        if d is not None and d < ROAD_CHECK_M and (best is None or d < best[0]):
            best = (d, name)
    if best is None:
        return "check the coordinates and the address"
    return f"looks like {_CRS_LABEL[best[1]]} read as {_CRS_LABEL[declared]}"


def _subdistrict_at(subdistricts: gpd.GeoDataFrame | None, point: BaseGeometry) -> str:
    if subdistricts is None or len(subdistricts) == 0:
        return ""
    hit = subdistricts[subdistricts.geometry.covers(point)]
    return str(hit["osm_name"].iloc[0]) if len(hit) and "osm_name" in hit.columns else ""


# -------------------------------------------------------------------------------------------
# the error table
# -------------------------------------------------------------------------------------------
def error_table(errors: pd.DataFrame, min_rows: int = MIN_ERROR_ROWS) -> pd.DataFrame:
    """Return the median and 90th-percentile error (m) of the address placement per precision.

    The error is the distance between the address placement and the given coordinates, for
    rows that have both.

    Returns
    -------
    pandas.DataFrame
        ``precision, n_rows, median_m, p90_m, verdict``; a last row ``all placed``; a level
        with fewer than ``min_rows`` rows says so in ``verdict``.
    """
    rows = []
    levels = [p for p in LIST_PRECISIONS if p != "coordinates"]
    for level in [*levels, "all placed"]:
        if level == "all placed":
            sub = errors[errors["error_m"].notna()] if len(errors) else errors
        else:
            sub = errors[errors["precision"] == level] if len(errors) else errors
        n = len(sub)
        vals = sub["error_m"].dropna().to_numpy(float) if n else np.array([])
        if n == 0 and level != "all placed":
            continue
        verdict = (
            "no point: " + "; ".join(sorted(set(map(str, sub["name"])))[:3])
            if len(vals) == 0 and n
            else (f"too few rows to tell (n={n} < {min_rows})" if n < min_rows else "")
        )
        rows.append({
            "precision": level, "n_rows": n,
            "median_m": round(float(np.median(vals)), 1) if len(vals) else math.nan,
            "p90_m": round(float(np.percentile(vals, 90)), 1) if len(vals) else math.nan,
            "verdict": verdict,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["precision", "n_rows", "median_m", "p90_m", "verdict"])


# -------------------------------------------------------------------------------------------
# registry lists
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListSpec:
    """A facility list named by ``areas.yaml`` (``facility_lists:``) or imported by a user."""

    file: str
    crs: str | None = None
    sheet: str | None = None
    area: str | None = None  # None: rows go to the area their subdistrict / point names


def list_specs(entries: Iterable[Any], where: object = None) -> tuple[ListSpec, ...]:
    """Validate ``facility_lists`` entries: a path, or ``{file, crs, sheet}``."""
    out = []
    for k, e in enumerate(entries or ()):
        if isinstance(e, str):
            out.append(ListSpec(e))
        elif isinstance(e, Mapping) and isinstance(e.get("file"), str):
            out.append(ListSpec(str(e["file"]), e.get("crs"), e.get("sheet")))
        else:
            raise InputError("facility_lists entry must be a path or {file, crs, sheet}",
                             path=where, record=f"entry {k + 1}")  # fmt: skip
    return tuple(out)


# -------------------------------------------------------------------------------------------
# the stage
# -------------------------------------------------------------------------------------------
#: Where ``lifecircle facilities import`` remembers imported lists (inside ``out/``).
IMPORTS_FILE: str = "lists/imports.json"
#: Per-row results of every list (``out/facility_lists.csv``).
ROWS_FILE: str = "facility_lists.csv"
#: The rows behind the error table (``out/geocode_errors.csv``).
ERRORS_FILE: str = "geocode_errors.csv"


def area_info(registry: Registry, area: Area | str) -> AreaInfo:
    """Return the area's boundary and an :class:`AddressIndex` on its OSM files (or None)."""
    if isinstance(area, str):
        area = registry.get(area)
    boundary = registry.boundary(area)
    files = [*network_sources(registry, area)]
    for rel in area.features:
        p = registry.resolve(rel, what=f"feature file of area '{area.id}'")
        if p.resolve() not in [q.resolve() for q in files]:
            files.append(p)
    bbox = bbox_of(clip_polygon(boundary, 600.0))
    keys = (*FEATURE_KEYS, "addr:street", "addr:housenumber", "residential")
    osm = OsmData()
    for path in files:
        osm.extend(read_osm(path, bbox=bbox, keys=keys))
    roads = _geofabrik_roads(registry, bbox)
    if roads is not None:
        osm.extend(roads)
    index = AddressIndex(boundary, osm, name=area.id) if osm.ways or osm.points else None
    if index is not None and not index.roads and not index.compounds:
        index = None
    return AreaInfo(area.id, area.name_zh, boundary, index)


def read_imports(out: str | os.PathLike[str]) -> list[ListSpec]:
    """Return lists recorded by ``lifecircle facilities import`` in ``out/lists/imports.json``."""
    import json

    path = Path(out) / IMPORTS_FILE
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [ListSpec(r["file"], r.get("crs"), r.get("sheet"), r.get("area")) for r in raw]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"unreadable list of imports: {exc}", path=path,
                         hint="delete it and import the lists again") from None  # fmt: skip


def record_import(out: str | os.PathLike[str], spec: ListSpec) -> Path:
    """Remember an imported list (replacing an earlier import of the same file and area)."""
    import json
    from dataclasses import asdict

    specs = [s for s in read_imports(out) if (s.file, s.area) != (spec.file, spec.area)]
    specs.append(spec)
    text = json.dumps([asdict(s) for s in specs], ensure_ascii=False, indent=1)
    return write_text_atomic(Path(out) / IMPORTS_FILE, text)


def registry_lists(registry: Registry, areas: Iterable[Area]) -> list[tuple[ListSpec, Path]]:
    """Return the lists named by the chosen areas in ``areas.yaml`` (each file once), resolved."""
    out: list[tuple[ListSpec, Path]] = []
    seen: set[Path] = set()
    for a in areas:
        for spec in list_specs(a.facility_lists, where=registry.path):
            path = registry.resolve(spec.file, what=f"facility list of area '{a.id}'")
            if path.resolve() not in seen:
                seen.add(path.resolve())
                out.append((spec, path))
    return out


def load_subdistricts(registry: Registry) -> gpd.GeoDataFrame | None:
    """Every subdistrict polygon of the registry's boundary file (to name where a point is)."""
    rel = (registry.defaults.get("boundary") or {}).get("file")
    if not rel:
        return None
    try:
        gdf = gpd.read_file(registry.resolve(rel, what="boundary file"))
    except (LifeCircleError, OSError, ValueError):
        return None
    return gdf.to_crs(settings.STORAGE_CRS) if gdf.crs is not None else gdf


def list_stage(
    registry: Registry,
    areas: Sequence[Area],
    taxonomy: Taxonomy,
    *,
    out: str | os.PathLike[str] | None = None,
    extra: Sequence[ListSpec] = (),
    infos: Mapping[str, AreaInfo] | None = None,
) -> tuple[Any, list[PlacedList]]:
    """Read and place every list of the chosen areas (registry lists, imports, ``extra``).

    Rows of areas not chosen are left out; rows of the chosen areas are returned as one
    GeoDataFrame (:data:`LIST_COLUMNS`).

    Returns
    -------
    (GeoDataFrame, list of PlacedList)
    """
    ids = [a.id for a in areas]
    infos = dict(infos or {})
    for a in areas:
        if a.id not in infos:
            infos[a.id] = area_info(registry, a)
    chosen = [infos[i] for i in ids]
    subdistricts = load_subdistricts(registry)
    jobs: list[tuple[ListSpec, Path]] = registry_lists(registry, areas)
    seen = {(p.resolve(), s.area) for s, p in jobs}
    imported = [*(read_imports(out) if out is not None else []), *extra]
    for spec in imported:
        key = (Path(spec.file).resolve(), spec.area)
        if (spec.area is None or spec.area in ids) and key not in seen:
            seen.add(key)
            jobs.append((spec, Path(spec.file)))
    placed: list[PlacedList] = []
    frames = []
    for spec, path in jobs:
        flist = read_list(path, sheet=spec.sheet)
        res = place_list(flist, chosen, taxonomy, area=spec.area, crs=spec.crs,
                         subdistricts=subdistricts)  # fmt: skip
        keep = res.rows["area"].isin(ids) | (res.rows["area"] == "")
        if spec.area is None:  # a shared list: rows of other subdistricts are not ours
            keep = res.rows["area"].isin(ids)
        res.rows = res.rows[keep].reset_index(drop=True)
        res.warnings = [w for w in res.warnings if _row_of(w) in set(res.rows["list_row"])]
        placed.append(res)
        frames.append(res.rows)
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in LIST_COLUMNS if c != "geometry"})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=settings.STORAGE_CRS),
                                crs=settings.STORAGE_CRS), placed  # fmt: skip
    rows = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=settings.STORAGE_CRS)  # fmt: skip
    return rows, placed


def _row_of(warning: str) -> int:
    m = re.search(r"row (\d+)\)", warning)
    return int(m.group(1)) if m else -1


def write_list_outputs(
    out: str | os.PathLike[str],
    rows: gpd.GeoDataFrame,
    placed: Sequence[PlacedList],
    area_ids: Sequence[str] | None = None,
) -> Path:
    """Write ``out/facility_lists.csv`` and ``out/geocode_errors.csv``.

    ``facility_lists.csv``: every row, its placement and notes; ``geocode_errors.csv``: rows
    with both address and coordinates.

    With ``area_ids``, rows of other areas already in the files are kept (a run for some
    areas loses nothing).
    """
    out = Path(out)
    table = pd.DataFrame(rows.drop(columns="geometry"))
    pts = rows.geometry
    table["lon"] = [g.x if g is not None and not g.is_empty else math.nan for g in pts]
    table["lat"] = [g.y if g is not None and not g.is_empty else math.nan for g in pts]
    path = write_area_csv(out / ROWS_FILE, table, area_ids)
    write_area_csv(out / ERRORS_FILE, all_errors(placed), area_ids)
    return path


def write_area_csv(path: Path, table: pd.DataFrame, area_ids: Sequence[str] | None) -> Path:
    """Write a per-area CSV (UTF-8 with BOM), keeping the rows of areas not in ``area_ids``."""
    if area_ids is not None and path.exists():
        try:
            old = pd.read_csv(path, encoding="utf-8-sig", dtype={"area": str})
            keep = old[~old["area"].astype(str).isin(list(area_ids))]
            if len(keep):
                table = pd.concat([keep, table], ignore_index=True)
        except (OSError, ValueError, KeyError):
            pass  # an unreadable old file is replaced
    return write_atomic(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))


def all_errors(placed: Sequence[PlacedList]) -> pd.DataFrame:
    """Return the error rows of several lists as one table."""
    errs = [p.errors for p in placed if len(p.errors)]
    if not errs:
        return pd.DataFrame(columns=["area", "list_row", "name", "address", "precision",
                                     "error_m", "flag"])  # fmt: skip
    return pd.concat(errs, ignore_index=True)


def add_to_geocode_report(
    path: str | os.PathLike[str],
    rows: gpd.GeoDataFrame,
    errors: pd.DataFrame,
    area_ids: Sequence[str],
) -> pd.DataFrame:
    """Add list results to ``geocode_report.csv`` (written first by the plan geocoder).

    Each area row (``table = placement``) gets ``list_rows`` and one ``list_<precision>``
    count per :data:`LIST_PRECISIONS` plus ``list_flagged``; rows with ``table = error`` give
    the geocoder's error against the lists' own coordinates (:func:`error_table`) for the
    areas in ``areas``.
    """
    path = Path(path)
    rep = pd.read_csv(path, dtype={"area": str}, keep_default_na=False) if path.exists() else (
        pd.DataFrame({"area": list(area_ids)}))  # fmt: skip
    if "table" in rep.columns:
        rep = rep[rep["table"] != "error"].copy()
    rep["table"] = "placement"
    cols = ["list_rows", *(f"list_{p}" for p in LIST_PRECISIONS), "list_flagged"]
    for c in cols:
        old = rep[c] if c in rep.columns else 0
        rep[c] = pd.to_numeric(old, errors="coerce")
        rep[c] = rep[c].fillna(0).astype("int64")
    for a in area_ids:
        sub = rows[rows["area"].astype(str) == a] if len(rows) else rows
        counts = sub["precision"].value_counts() if len(sub) else pd.Series(dtype=int)
        if not (rep["area"] == a).any():
            rep = pd.concat([rep, pd.DataFrame({"area": [a], "table": ["placement"]})],
                            ignore_index=True)  # fmt: skip
        m = rep["area"] == a
        rep.loc[m, "list_rows"] = len(sub)
        for p in LIST_PRECISIONS:
            rep.loc[m, f"list_{p}"] = int(counts.get(p, 0))
        rep.loc[m, "list_flagged"] = int((sub["flag"].astype(str) != "").sum()) if len(sub) else 0
    err = error_table(errors)
    err.insert(0, "table", "error")
    err["areas"] = "+".join(area_ids)
    full = pd.concat([rep, err], ignore_index=True)
    lead = ["table", "area"]
    full = full[lead + [c for c in full.columns if c not in lead]]
    write_atomic(path, lambda p: full.to_csv(p, index=False, encoding="utf-8-sig"))
    return err
