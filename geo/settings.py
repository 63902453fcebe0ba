"""Project-wide settings: one place for defaults (cf. ``osmnx.settings``).

Values here are defaults; the command line and callers may override them per run.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Project root (the folder holding ``geo/``, ``data/``, ``dashboard/``).
PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent

#: Environment variable naming a user data folder (searched first after ``--data-dir``).
DATA_ENV: str = "LIFECIRCLE_DATA"

#: The team's read-only data mirror, beside the project.
MIRROR_DIR: Path = PROJECT_ROOT.parent / "shared" / "data"

#: The project's own data folder (committed registry files + git-ignored downloads).
PROJECT_DATA_DIR: Path = PROJECT_ROOT / "data"

#: Study-area registry (``$LIFECIRCLE_AREAS`` names another registry file).
AREAS_FILE: Path = PROJECT_DATA_DIR / "osm" / "areas.yaml"
AREAS_ENV: str = "LIFECIRCLE_AREAS"

#: Default results folder (git-ignored).
DEFAULT_OUT: Path = PROJECT_ROOT / "out"

#: Projected CRS for all distance work in Shanghai (UTM zone 51N).
PROJECTED_CRS: str = "EPSG:32651"

#: Storage CRS for every geometry written to disk.
STORAGE_CRS: str = "EPSG:4326"

#: Clip buffer around a subdistrict so residents near the edge reach facilities across it (m).
CLIP_BUFFER_M: float = 1000.0

#: Completeness: share of the area within this distance of a walkable way (m).
COMPLETENESS_RADIUS_M: float = 50.0

#: Walking speeds (km/h). 4 km/h makes 15 min ~ 1000 m, matching GB 50180-2018's 800-1000 m.
WALK_SPEEDS_KMH: dict[str, float] = {"default": 4.0, "elderly": 3.0}

#: Highway values kept for walking (and their ``_link`` variants for the road classes).
WALK_HIGHWAYS: frozenset[str] = frozenset(
    {
        "footway", "path", "pedestrian", "steps", "living_street", "residential", "service",
        "unclassified", "tertiary", "secondary", "primary",
        "tertiary_link", "secondary_link", "primary_link",
        "track", "corridor", "road",
    }
)  # fmt: skip

#: Highway values kept only when explicitly open to walkers (``foot=yes|designated|permissive``).
WALK_IF_FOOT_TAGGED: frozenset[str] = frozenset({"cycleway", "trunk", "trunk_link", "bridleway"})

#: Split ways only at junctions (True) or at every OSM vertex (False: straight-segment edges).
SIMPLIFY_NETWORK: bool = False

#: Memory guard (MB): work estimated above this is refused with a message instead of being
#: OOM-killed (``$LIFECIRCLE_MEMORY_LIMIT_MB`` overrides it).
MEMORY_LIMIT_MB: float = 4096.0

#: Code version salt for caches: bump when a cached table's meaning changes.
CACHE_VERSION: str = "net-3"


def user_data_dir() -> Path | None:
    """Return the folder named by ``LIFECIRCLE_DATA``, if set."""
    value = os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


#: The complete-network area whose walking distances calibrate the straight-line estimate.
CALIBRATION_AREA: str = "xinhualu"
