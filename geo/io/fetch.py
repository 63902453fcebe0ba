"""Fetch an area's OSM data: Overpass through OSMnx, or a clip of a user's ``.osm.pbf``.

Downloads go to ``<data root>/osm/<area>/`` (git-ignored) and are then used before the
registry's files by :func:`geo.network.network_sources`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.io.areas import Area, Registry
from geo.io.files import remove_stale_tmp, write_atomic, write_text_atomic
from geo.io.geom import clip_polygon

#: Feature tags downloaded beside the highway network (facilities, buildings, land use).
FEATURE_TAGS: dict[str, bool | str | list[str]] = {
    "amenity": True, "shop": True, "leisure": True, "healthcare": True, "social_facility": True,
    "public_transport": True, "railway": ["station", "subway_entrance"], "building": True,
    "landuse": ["residential", "grass", "recreation_ground"], "office": ["government"],
}  # fmt: skip


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def fetch_overpass(
    polygon: Any,
    *,
    overpass_url: str | None = None,
    feature_tags: dict[str, bool | str | list[str]] | None = None,
) -> dict[str, Any]:
    """Download highway ways and feature tags inside a WGS-84 polygon via OSMnx's Overpass client.

    Returns one Overpass JSON document (``elements`` merged and de-duplicated).
    """
    import osmnx as ox
    from osmnx import _overpass

    saved = (ox.settings.overpass_url, ox.settings.overpass_rate_limit)
    if overpass_url:
        ox.settings.overpass_url = overpass_url
        ox.settings.overpass_rate_limit = False
    try:
        responses = list(_overpass._download_overpass_network(polygon, "all", '["highway"]'))
        responses += list(
            _overpass._download_overpass_features(polygon, feature_tags or FEATURE_TAGS)
        )
    except LifeCircleError:
        raise
    except Exception as exc:
        raise LifeCircleError(
            f"Overpass download failed: {type(exc).__name__}: {exc}".splitlines()[0],
            path=ox.settings.overpass_url,
        ) from None
    finally:
        ox.settings.overpass_url, ox.settings.overpass_rate_limit = saved
    seen: set[tuple[str, int]] = set()
    elements = []
    base = None
    for resp in responses:
        if resp.get("remark"):  # a runtime error: the response is partial
            raise InputError(
                f"Overpass reported an error, the download is incomplete: {resp['remark']}",
                path=overpass_url or saved[0],
                hint="try again later, or with a smaller area",
            )
        base = base or (resp.get("osm3s") or {}).get("timestamp_osm_base")
        for el in resp.get("elements", []):
            key = (el.get("type"), el.get("id"))
            if key not in seen:
                seen.add(key)
                elements.append(el)
    return {
        "version": 0.6,
        "generator": "lifecircle data fetch (Overpass via OSMnx)",
        "osm3s": {"timestamp_osm_base": base, "copyright": "© OpenStreetMap contributors, ODbL"},
        "elements": elements,
    }


def clip_pbf(src: Path, dest: Path, polygon: Any) -> Path:
    """Copy the part of an ``.osm.pbf`` inside a WGS-84 polygon's bounding box to ``dest``.

    Ways with at least one node in the box are kept whole, with all their nodes.
    """
    import osmium

    if not src.exists():
        raise LifeCircleError("PBF file not found", path=src)
    bounds: tuple[float, float, float, float] = polygon.bounds
    x0, y0, x1, y1 = bounds

    def inside(lon: float, lat: float) -> bool:
        return x0 <= lon <= x1 and y0 <= lat <= y1

    way_nodes: set[int] = set()
    try:
        for w in osmium.FileProcessor(str(src)).with_locations():
            if isinstance(w, osmium.osm.Way) and any(
                n.location.valid() and inside(n.lon, n.lat) for n in w.nodes
            ):
                way_nodes.update(n.ref for n in w.nodes)

        def write(tmp: Path) -> None:
            writer = osmium.SimpleWriter(str(tmp))
            try:
                for obj in osmium.FileProcessor(str(src)).with_locations():
                    if isinstance(obj, osmium.osm.Node):
                        loc = obj.location
                        if obj.id in way_nodes or (loc.valid() and inside(loc.lon, loc.lat)):
                            writer.add_node(obj)
                    elif (
                        isinstance(obj, osmium.osm.Way)
                        and obj.nodes
                        and obj.nodes[0].ref in way_nodes
                    ):
                        writer.add_way(obj)
            finally:
                writer.close()

        write_atomic(dest, write)
    except LifeCircleError:
        raise
    except Exception as exc:
        raise LifeCircleError(
            f"cannot read PBF: {type(exc).__name__}: {exc}".splitlines()[0], path=src
        ) from None
    return dest


def fetch_area(
    registry: Registry,
    area: Area,
    *,
    pbf: Path | None = None,
    overpass_url: str | None = None,
    dest_root: Path | None = None,
    buffer_m: float = settings.CLIP_BUFFER_M,
) -> Path:
    """Fetch OSM data for ``area`` into ``<dest_root>/osm/<area>/``; return the written file."""
    polygon = clip_polygon(registry.boundary(area), buffer_m)
    folder = (dest_root or settings.PROJECT_DATA_DIR) / "osm" / area.id
    remove_stale_tmp(folder)  # a killed fetch leaves a partial .tmp.pbf / .tmp.json
    if pbf is not None:
        return clip_pbf(Path(pbf), folder / f"{area.id}-clip-{_stamp()}.osm.pbf", polygon)
    doc = fetch_overpass(polygon, overpass_url=overpass_url)
    if not doc["elements"]:
        raise LifeCircleError(
            f"Overpass returned no elements for area '{area.id}'", path=overpass_url or "Overpass"
        )
    target = folder / f"{area.id}-overpass-{_stamp()}.json"
    write_text_atomic(target, json.dumps(doc, ensure_ascii=False))
    return target
