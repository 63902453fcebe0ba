"""OSM readers: OSM XML (``.osm``), ``.osm.pbf`` (both via pyosmium) and Overpass JSON.

Every reader returns the same :class:`OsmData`: tagged ways with their coordinates (and node
ids where the file has them) plus tagged point features. Coordinates are WGS-84 lon/lat.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo._errors import InputError, LifeCircleError
from geo.io import validate
from geo.io.files import check_utf8_file, read_json

#: Keys that make a way or node interesting to the project (network or map features).
FEATURE_KEYS: tuple[str, ...] = (
    "highway", "amenity", "leisure", "shop", "healthcare", "building", "landuse", "office",
    "public_transport", "railway", "social_facility", "sport", "natural", "water", "tourism",
    "club", "community_centre", "craft", "place",
)  # fmt: skip

#: OSM stores coordinates at 1e-7 degree precision; coordinates join at this precision.
COORD_SCALE: float = 1e7


@dataclass
class OsmWay:
    """A tagged OSM way: ``coords`` is an (n, 2) array of lon/lat; ``refs`` node ids or None."""

    id: int
    tags: dict[str, str]
    coords: np.ndarray
    refs: np.ndarray | None = None

    @property
    def closed(self) -> bool:
        """True for a ring (first and last coordinate equal, at least 4 points)."""
        return len(self.coords) >= 4 and bool(np.all(self.coords[0] == self.coords[-1]))


@dataclass
class OsmPoint:
    """A tagged point feature (an OSM node, or a way/relation reduced to a point)."""

    osm_type: str
    id: int
    tags: dict[str, str]
    lon: float
    lat: float


@dataclass
class OsmData:
    """The contents of one or more OSM files."""

    ways: list[OsmWay] = field(default_factory=list)
    points: list[OsmPoint] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)

    def extend(self, other: OsmData) -> None:
        """Merge ``other`` in; a way/point id already present wins (earlier = higher priority)."""
        seen_w = {w.id for w in self.ways}
        seen_p = {(p.osm_type, p.id) for p in self.points}
        self.ways.extend(w for w in other.ways if w.id not in seen_w)
        self.points.extend(p for p in other.points if (p.osm_type, p.id) not in seen_p)
        self.sources.extend(other.sources)
        self.timestamps.extend(other.timestamps)


def osm_format(path: str | os.PathLike[str]) -> str:
    """Return the reader for a file name: ``xml``, ``pbf`` or ``json``."""
    name = Path(path).name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".osm.xml", ".xml", ".osm.bz2", ".osm.gz")):
        return "xml"
    if name.endswith((".json", ".geojson")):
        return "json"
    raise LifeCircleError("unknown OSM file type; expected .osm, .osm.pbf or .json", path=path)


def read_osm(
    path: str | os.PathLike[str],
    bbox: tuple[float, float, float, float] | None = None,
    keys: Iterable[str] = FEATURE_KEYS,
) -> OsmData:
    """Read one OSM file of any supported format.

    Parameters
    ----------
    path
        ``.osm`` / ``.osm.pbf`` / Overpass ``.json`` file.
    bbox
        Optional (min_lon, min_lat, max_lon, max_lat): ways wholly outside it are skipped.
    keys
        Only ways and nodes with at least one of these tag keys are kept.
    """
    fmt = osm_format(path)
    reader = read_overpass_json if fmt == "json" else read_osmium
    data = reader(path, keys=keys)
    if bbox is not None:
        data = _filter_bbox(data, bbox)
    return data


# --------------------------------------------------------------------------------------------
# pyosmium: .osm (XML) and .osm.pbf
# --------------------------------------------------------------------------------------------
def read_osmium(path: str | os.PathLike[str], keys: Iterable[str] = FEATURE_KEYS) -> OsmData:
    """Read an OSM XML or PBF file with pyosmium (node locations resolved on ways)."""
    import osmium

    path = Path(path)
    if not path.exists():
        raise LifeCircleError("OSM file not found", path=path)
    if osm_format(path) == "xml" and path.suffix.lower() in (".osm", ".xml"):
        check_utf8_file(path)
    keyset = frozenset(keys)
    out = OsmData(sources=[str(path)])
    try:
        proc = osmium.FileProcessor(str(path)).with_locations()
        ts = proc.header.get("osmosis_replication_timestamp") or proc.header.get("timestamp")
        if ts:
            out.timestamps.append(str(ts))
        for obj in proc:
            if isinstance(obj, osmium.osm.Node):
                if not obj.tags:
                    continue
                tags = {t.k: t.v for t in obj.tags}
                if keyset.isdisjoint(tags):
                    continue
                if not obj.location.valid():
                    _refuse_location(obj.location, path, f"node/{obj.id}")
                    continue
                out.points.append(
                    OsmPoint("node", obj.id, tags, obj.location.lon, obj.location.lat)
                )
            elif isinstance(obj, osmium.osm.Way):
                tags = {t.k: t.v for t in obj.tags}
                if keyset.isdisjoint(tags):
                    continue
                refs = []
                coords = []
                for nd in obj.nodes:
                    loc = nd.location
                    if not loc.valid():
                        # a node missing from the extract: keep the part we have; a node
                        # with a location outside lon/lat ranges: refuse the file
                        _refuse_location(loc, path, f"way/{obj.id} node/{nd.ref}")
                        continue
                    refs.append(nd.ref)
                    coords.append((loc.lon, loc.lat))
                if len(coords) < 2:
                    continue
                out.ways.append(
                    OsmWay(
                        obj.id,
                        tags,
                        np.asarray(coords, dtype=float),
                        np.asarray(refs, dtype=np.int64),
                    )
                )
    except LifeCircleError:
        raise
    except (RuntimeError, ValueError, OSError, osmium.InvalidLocationError) as exc:
        # osmium reports parse errors as RuntimeError, bad coordinates as InvalidLocationError
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LifeCircleError(f"malformed OSM file: {msg}", path=path) from None
    return out


_UNDEFINED_COORD = 2147483647  # osmium's "no location" (a node missing from the extract)


def _refuse_location(loc: Any, path: Path, record: str) -> None:
    """Raise for a defined but out-of-range location (lat 95); return for a missing one."""
    if loc.x == _UNDEFINED_COORD and loc.y == _UNDEFINED_COORD:
        return
    raise InputError(
        f"coordinates ({loc.x / COORD_SCALE:g}, {loc.y / COORD_SCALE:g}) are outside "
        "lon [-180, 180] / lat [-90, 90]",
        path=path,
        record=record,
        hint="expected WGS-84 longitude/latitude in degrees",
    )


# --------------------------------------------------------------------------------------------
# Overpass JSON (`out geom` / `out body geom` / `out center`)
# --------------------------------------------------------------------------------------------
def _find_elements(doc: Any) -> Iterator[dict[str, Any]]:
    """Yield Overpass elements, including ones nested in wrapper objects (recorded queries)."""
    if isinstance(doc, dict):
        elems = doc.get("elements")
        if isinstance(elems, list):
            for e in elems:
                if isinstance(e, dict) and "type" in e and "id" in e:
                    yield e
        for k, v in doc.items():
            if k != "elements" and isinstance(v, dict | list):
                yield from _find_elements(v)
    elif isinstance(doc, list):
        for v in doc:
            if isinstance(v, dict | list):
                yield from _find_elements(v)


def read_overpass_json(path: str | os.PathLike[str], keys: Iterable[str] = FEATURE_KEYS) -> OsmData:
    """Read an Overpass JSON file.

    Ways with ``geometry`` (``out geom``) need no node ids: ways join where they share a
    coordinate. Ways with ``center`` (``out center``) become points.
    """
    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict | list):
        raise LifeCircleError("expected an Overpass JSON object", path=path)
    keyset = frozenset(keys)
    out = OsmData(sources=[str(path)])
    if isinstance(doc, dict) and doc.get("remark"):
        # Overpass puts runtime errors ("Query timed out", "out of memory") in `remark` and
        # returns what it had so far: an incomplete download must not pass as a complete one
        raise InputError(
            f"Overpass reported an error, the data is incomplete: {str(doc['remark']).strip()}",
            path=path,
            record="remark",
            hint="download it again (a smaller area or a longer timeout)",
        )
    if isinstance(doc, dict):
        ts = (doc.get("osm3s") or {}).get("timestamp_osm_base")
        if ts:
            out.timestamps.append(str(ts))
    elements = list(_find_elements(doc))
    # `out body` / `out;` responses carry way node ids and (untagged) nodes with coordinates
    node_xy: dict[int, tuple[float, float]] = {}
    for el in elements:
        if el.get("type") == "node" and "lat" in el and "lon" in el:
            try:
                node_xy[int(el["id"])] = (float(el["lon"]), float(el["lat"]))
            except (TypeError, ValueError):
                raise LifeCircleError(
                    "node with non-numeric id or coordinates",
                    path=path,
                    record=f"node/{el.get('id')}",
                ) from None
    found_any = False
    for i, el in enumerate(elements):
        found_any = True
        etype = el.get("type")
        tags = el.get("tags") or {}
        if not isinstance(tags, dict):
            raise LifeCircleError(
                "element tags are not an object",
                path=path,
                record=f"element {i} {etype}/{el.get('id')}",
            )
        if keyset.isdisjoint(tags):
            continue
        try:
            if etype == "node" and "lat" in el:
                out.points.append(
                    OsmPoint("node", int(el["id"]), tags, float(el["lon"]), float(el["lat"]))
                )
            elif etype in ("way", "relation"):
                geom = el.get("geometry")
                if etype == "way" and isinstance(geom, list) and len(geom) >= 2:
                    pts = [(float(g["lon"]), float(g["lat"])) for g in geom if g]
                    refs = el.get("nodes")
                    ref_arr = (
                        np.asarray(refs, dtype=np.int64)
                        if isinstance(refs, list) and len(refs) == len(pts)
                        else None
                    )
                    out.ways.append(OsmWay(int(el["id"]), tags, np.asarray(pts), ref_arr))
                elif etype == "way" and isinstance(el.get("nodes"), list):
                    refs = [int(r) for r in el["nodes"] if int(r) in node_xy]
                    if len(refs) >= 2:
                        pts = [node_xy[r] for r in refs]
                        out.ways.append(
                            OsmWay(
                                int(el["id"]),
                                tags,
                                np.asarray(pts),
                                np.asarray(refs, dtype=np.int64),
                            )
                        )
                center = el.get("center")
                if center is None and etype == "relation" and el.get("bounds"):
                    b = el["bounds"]
                    center = {
                        "lon": (b["minlon"] + b["maxlon"]) / 2,
                        "lat": (b["minlat"] + b["maxlat"]) / 2,
                    }
                if center is not None and (etype == "relation" or not geom):
                    out.points.append(
                        OsmPoint(
                            etype, int(el["id"]), tags, float(center["lon"]), float(center["lat"])
                        )
                    )
        except (KeyError, TypeError, ValueError) as exc:
            raise LifeCircleError(
                f"malformed element: {exc!r}",
                path=path,
                record=f"element {i} {etype}/{el.get('id')}",
            ) from None
    if not found_any and not (isinstance(doc, dict) and "elements" in doc):
        raise LifeCircleError("no Overpass 'elements' list found", path=path)
    _check_coordinates(out, path)
    return out


def _check_coordinates(data: OsmData, path: Path) -> None:
    """Refuse NaN or out-of-range coordinates, naming the first bad element."""
    for w in data.ways:
        c = w.coords
        if c.ndim != 2 or c.shape[1] != 2:
            raise InputError(
                "way geometry is not a list of lon/lat", path=path, record=f"way/{w.id}"
            )
        if not (
            np.isfinite(c).all()
            and (np.abs(c[:, 0]) <= 180).all()
            and (np.abs(c[:, 1]) <= 90).all()
        ):
            validate.check_lonlat(c[:, 0], c[:, 1], path=path, record=f"way/{w.id}")
    if data.points:
        lon = np.array([p.lon for p in data.points], dtype=float)
        lat = np.array([p.lat for p in data.points], dtype=float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
        if bad.any():
            p = data.points[int(np.flatnonzero(bad)[0])]
            validate.check_lonlat(p.lon, p.lat, path=path, record=f"{p.osm_type}/{p.id}")


#: A way with a vertex this far (degrees) outside the area's box is refused as broken.
FAR_DEG: float = 2.0


def _filter_bbox(data: OsmData, bbox: tuple[float, float, float, float]) -> OsmData:
    x0, y0, x1, y1 = bbox
    ways = []
    for w in data.ways:
        c = w.coords
        if c[:, 0].max() < x0 or c[:, 0].min() > x1 or c[:, 1].max() < y0 or c[:, 1].min() > y1:
            continue
        if (
            c[:, 0].min() < x0 - FAR_DEG
            or c[:, 0].max() > x1 + FAR_DEG
            or c[:, 1].min() < y0 - FAR_DEG
            or c[:, 1].max() > y1 + FAR_DEG
        ):
            # a way reaching the area from hundreds of km away is broken data (a swapped
            # lon/lat, a node at 0,0); its length would be counted as walkable street
            i = int(
                np.argmax(
                    np.maximum(np.abs(c[:, 0] - (x0 + x1) / 2), np.abs(c[:, 1] - (y0 + y1) / 2))
                )
            )
            raise InputError(
                f"way runs from the area to ({c[i, 0]:g}, {c[i, 1]:g}), more than {FAR_DEG:g} "
                "degrees away",
                path=data.sources[0] if data.sources else None,
                record=f"way/{w.id}",
                hint="check for swapped lon/lat or a node at 0,0",
            )
        ways.append(w)
    points = [p for p in data.points if x0 <= p.lon <= x1 and y0 <= p.lat <= y1]
    return OsmData(ways, points, list(data.sources), list(data.timestamps))


def read_many(paths: Iterable[str | os.PathLike[str]], **kwargs: Any) -> OsmData:
    """Read and merge several files; earlier files win on duplicate OSM ids."""
    merged = OsmData()
    for p in paths:
        merged.extend(read_osm(p, **kwargs))
    return merged
