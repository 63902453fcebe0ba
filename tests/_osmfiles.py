"""Writers for tiny synthetic OSM files in the three formats the readers accept (tests only)."""

from __future__ import annotations

import json
from pathlib import Path

#: A synthetic plus-shaped street network near 新华路 (lon, lat); not real data.
#: Node 1 is the centre; ways 100 (W-E) and 101 (S-N) cross there; 102 is a motorway,
#: 103 is foot=no, 104 access=private, 105 a dead-end footway from node 3.
NODES: dict[int, tuple[float, float]] = {
    1: (121.4200, 31.2000),
    2: (121.4190, 31.2000),
    3: (121.4210, 31.2000),
    4: (121.4200, 31.1990),
    5: (121.4200, 31.2010),
    6: (121.4220, 31.2000),
    7: (121.4210, 31.2010),
    8: (121.4230, 31.2000),
}
WAYS: list[tuple[int, list[int], dict[str, str]]] = [
    (100, [2, 1, 3], {"highway": "residential", "name": "合成路"}),
    (101, [4, 1, 5], {"highway": "footway"}),
    (102, [3, 6], {"highway": "motorway"}),
    (103, [6, 8], {"highway": "footway", "foot": "no"}),
    (104, [5, 7], {"highway": "service", "access": "private"}),
    (105, [3, 7], {"highway": "footway"}),
]
POINT_TAGS = {1: {"amenity": "community_centre", "name": "合成睦邻中心"}}


def write_xml(path: Path, nodes=NODES, ways=WAYS) -> Path:
    """Write an OSM XML file."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        tags = POINT_TAGS.get(nid, {})
        if tags:
            lines.append(f' <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">')
            lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
            lines.append(" </node>")
        else:
            lines.append(f' <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        lines.append(f' <way id="{wid}" version="1">')
        lines += [f'  <nd ref="{r}"/>' for r in refs]
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_overpass_geom(path: Path, nodes=NODES, ways=WAYS) -> Path:
    """Write Overpass JSON in the `out geom` shape: way geometry, no node ids."""
    elements = []
    for nid, tags in POINT_TAGS.items():
        lon, lat = nodes[nid]
        elements.append({"type": "node", "id": nid, "lat": lat, "lon": lon, "tags": tags})
    for wid, refs, tags in ways:
        geom = [{"lat": nodes[r][1], "lon": nodes[r][0]} for r in refs]
        elements.append({"type": "way", "id": wid, "geometry": geom, "tags": tags})
    doc = {
        "version": 0.6,
        "osm3s": {"timestamp_osm_base": "2026-01-01T00:00:00Z"},
        "elements": elements,
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_pbf(path: Path, nodes=NODES, ways=WAYS) -> Path:
    """Write an .osm.pbf with pyosmium."""
    import osmium

    if path.exists():
        path.unlink()
    writer = osmium.SimpleWriter(str(path))
    try:
        for nid, (lon, lat) in nodes.items():
            writer.add_node(
                osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=POINT_TAGS.get(nid, {}))
            )
        for wid, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    finally:
        writer.close()
    return path
