"""A synthetic study area (registry + boundary + OSM file) in a tmp folder (tests only)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests._osmfiles import write_xml

#: Synthetic boundary: a small square around the synthetic plus-shaped network.
SQUARE = [
    [121.4185, 31.1985],
    [121.4235, 31.1985],
    [121.4235, 31.2015],
    [121.4185, 31.2015],
    [121.4185, 31.1985],
]


def make_area(
    root: Path,
    *,
    network_writer=write_xml,
    network_name: str = "t.osm",
    relation: int = 1,
    extra_areas: list[dict] | None = None,
) -> Path:
    """Create ``root/areas.yaml`` and ``root/data/...``; return the registry path."""
    data = root / "data"
    (data / "boundaries").mkdir(parents=True, exist_ok=True)
    (data / "osm" / "synth").mkdir(parents=True, exist_ok=True)
    boundary = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"osm_relation_id_source": str(relation), "osm_name": "合成街道"},
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            }
        ],
    }
    (data / "boundaries" / "b.geojson").write_text(json.dumps(boundary), encoding="utf-8")
    if network_writer is not None:
        network_writer(data / "osm" / "synth" / network_name)
    areas = [
        {
            "id": "synth",
            "name_zh": "合成街道",
            "name_en": "Synthetic Subdistrict",
            "district": "测试区",
            "osm_relation": 1,
            "network": [f"osm/synth/{network_name}"] if network_writer is not None else [],
            "plans": [],
        },
        *(extra_areas or []),
    ]
    reg = {
        "defaults": {"boundary": {"file": "boundaries/b.geojson", "key": "osm_relation_id_source"}},
        "areas": areas,
    }
    path = root / "areas.yaml"
    path.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    return path
