"""Table contracts: one home for every table that passes between stages.

Each :class:`TableSpec` says a table's contract columns (in order), their dtypes, its CRS, its
file name under the results folder and the command that writes it. Readers validate what they
read against the spec; writers write atomically (temporary file, then rename). Column names are
the contract: stages may add columns freely, never rename or drop one. The fixed string values
(basis, source, status, precision, scenario, ...) are :class:`~enum.StrEnum` types here.

``docs/ARCHITECTURE.md`` lists these contracts; ``tests/test_architecture.py`` checks that the
document and this module agree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from geo import settings
from geo._errors import InputError, MissingStageError
from geo.io.files import write_atomic

if TYPE_CHECKING:
    import geopandas as gpd


# ---------------------------------------------------------------------------------------------
# fixed string values
# ---------------------------------------------------------------------------------------------
class Basis(StrEnum):
    """How distances of an area were obtained."""

    NETWORK = "network"  #: walking distance on a complete OSM network
    ESTIMATE = "estimate"  #: straight line x calibrated detour factor (labelled)
    NONE = "none"  #: no data: coverage unknown


class Source(StrEnum):
    """Where a facility row comes from."""

    OSM = "osm"
    PLAN = "plan"
    GAZETTEER = "gazetteer"
    LIST = "list"  #: an official facility list (``lifecircle facilities import``)
    RECOMMENDED = "recommended"


class Status(StrEnum):
    """A facility's state."""

    EXISTING = "existing"
    PLANNED = "planned"
    PROPOSED = "proposed"


class Precision(StrEnum):
    """How precisely a facility is placed, best first."""

    EXACT = "exact"
    ADDRESS = "address"
    POI = "poi"
    INTERPOLATED = "interpolated"
    INTERSECTION = "intersection"
    COMPOUND = "compound"
    STREET = "street"
    AREA = "area"
    UNRESOLVED = "unresolved"


#: Precisions that give no usable position (left out of every scenario).
UNPLACED_PRECISIONS: Final = frozenset({Precision.AREA.value, Precision.UNRESOLVED.value})


class Scenario(StrEnum):
    """Which facilities count: today's, plus the plans', plus the recommended sites."""

    BASELINE = "baseline"
    PLAN = "plan"
    PLAN_RECOMMENDED = "plan+recommended"


class Action(StrEnum):
    """What a plan does with a facility."""

    NEW = "new"
    UPGRADE = "upgrade"
    EXISTING = "existing"


class MentionKind(StrEnum):
    """A named facility or a generic one (``3 elderly canteens``)."""

    NAMED = "named"
    GENERIC = "generic"


class InArea(StrEnum):
    """Whether a plan mention lies in its subdistrict."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class Profile(StrEnum):
    """Walking profile (speeds in ``settings.WALK_SPEEDS_KMH``)."""

    DEFAULT = "default"
    ELDERLY = "elderly"


#: Scenarios in order: each one includes the facilities of the ones before it.
SCENARIOS: Final[tuple[str, ...]] = tuple(s.value for s in Scenario)
#: Walking profiles.
PROFILES: Final[tuple[str, ...]] = tuple(p.value for p in Profile)
#: Life-circle tiers (minutes of walking).
TIERS: Final[tuple[int, ...]] = (5, 10, 15)
#: Category label of the composite life-circle score rows.
COMPOSITE: Final = "composite"
#: ``unit`` label of the whole-area rows in ``coverage.csv``.
ALL: Final = "ALL"
#: Plan statuses (counted from the ``plan`` scenario on).
PLAN_STATUSES: Final[tuple[str, ...]] = (Status.PLANNED.value, Status.PROPOSED.value)
#: Encoding of every CSV the project writes (BOM so Excel reads the Chinese).
CSV_ENCODING: Final = "utf-8-sig"


# ---------------------------------------------------------------------------------------------
# table specs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableSpec:
    """The contract of one table.

    Attributes
    ----------
    name
        Short name (``facilities``).
    filename
        Path under the results folder; ``{area}`` and ``{scenario}`` are filled in by
        :meth:`path`.
    columns
        ``{column: kind}``, the contract columns in order (more may follow); kinds are
        ``str``, ``float``, ``int``, ``bool``, ``geometry``.
    command
        The command that writes it (named in "missing" errors).
    crs
        CRS of the geometry (GeoPackages), else None.
    layer
        GeoPackage layer name, else None.
    description
        One line for the architecture document.
    required
        Columns a reader cannot do without (default: every contract column); the others
        are filled by the stage that writes the table, but older or hand-made files may
        lack them.
    """

    name: str
    filename: str
    columns: Mapping[str, str]
    command: str
    crs: str | None = None
    layer: str | None = None
    description: str = ""
    required: tuple[str, ...] | None = None

    def path(self, out: str | os.PathLike[str], **parts: str) -> Path:
        """Where the table lives under ``out``."""
        return Path(out) / self.filename.format(**parts)

    @property
    def names(self) -> tuple[str, ...]:
        """The contract column names, in order."""
        return tuple(self.columns)

    def missing_columns(self, frame: pd.DataFrame, *, full: bool = False) -> list[str]:
        """Return required (``full``: all contract) columns absent from ``frame``."""
        need = self.names if full or self.required is None else self.required
        return [c for c in need if c not in frame.columns]

    def validate(
        self, frame: pd.DataFrame, path: object | None = None, *, full: bool = False
    ) -> pd.DataFrame:
        """Check that ``frame`` has the required (``full``: every contract) column.

        Returns ``frame`` unchanged.

        Raises
        ------
        InputError
            Naming the file and the missing columns.
        """
        missing = self.missing_columns(frame, full=full)
        if missing:
            raise InputError(
                f"{self.name} table lacks column(s) {', '.join(missing)}",
                path=path,
                hint=f"expected {', '.join(self.names)}; written by `{self.command}`",
            )
        return frame


def _columns(spec: str) -> dict[str, str]:
    """``"a:str b:float"`` -> ``{"a": "str", "b": "float"}`` (kept in order)."""
    return dict(item.split(":") for item in spec.split())


MENTIONS: Final = TableSpec(
    name="mentions",
    filename="plan_mentions.csv",
    columns=_columns(
        "doc:str area:str kind:str name:str category:str action:str quantity:int "
        "place_hint:str in_area:str start:int end:int sentence:str"
    ),
    command="lifecircle plans extract",
    description="facility mentions in the plans; start/end are character offsets of the "
    "evidence in the document",
)

FACILITIES: Final = TableSpec(
    name="facilities",
    filename="facilities.gpkg",
    columns=_columns(
        "facility_id:str area:str name:str category:str source:str status:str precision:str "
        "confidence:float osm_id:str mention_doc:str mention_start:int geometry:geometry"
    ),
    command="lifecircle facilities build",
    crs=settings.STORAGE_CRS,
    layer="facilities",
    description="OSM, list and plan facilities (WGS-84 points or polygons)",
    required=("category", "geometry"),
)

DEMAND: Final = TableSpec(
    name="demand",
    filename="demand/{area}.gpkg",
    columns=_columns("unit_id:str area:str population:float pop_source:str geometry:geometry"),
    command="lifecircle demand",
    crs=settings.STORAGE_CRS,
    layer="demand",
    description="residential buildings or grid cells with their resident population",
)

ACCESS: Final = TableSpec(
    name="access",
    filename="access/{area}.parquet",
    columns=_columns("unit_id:str category:str nearest_m:float nearest_min:float n_within:int"),
    command="lifecircle access",
    description="per demand unit and category, the walking distance to the nearest "
    "facility; estimates, scenarios and profiles live beside it (access_path)",
    required=("unit_id", "category", "nearest_m"),
)

COVERAGE: Final = TableSpec(
    name="coverage",
    filename="coverage.csv",
    columns=_columns(
        "area:str unit:str category:str tier:float threshold_m:float population:float "
        "covered_population:float share:float basis:str completeness:float profile:str "
        "scenario:str is_standard_tier:bool threshold_source:str n_units:int note:str "
        "category_zh:str category_en:str"
    ),
    command="lifecircle coverage",
    description="covered population per area or neighbourhood (unit), category, profile, "
    "tier and scenario",
)

GAPS: Final = TableSpec(
    name="gaps",
    filename="gaps.gpkg",
    columns=_columns(
        "gap_id:str area:str category:str population:float area_m2:float rank:int basis:str "
        "n_units:int threshold_m:float scenario:str geometry:geometry"
    ),
    command="lifecircle coverage",
    crs=settings.STORAGE_CRS,
    layer="gaps",
    description="contiguous uncovered residential areas, ranked by population",
)

SITES: Final = TableSpec(
    name="sites",
    filename="sites.gpkg",
    columns=_columns(
        "area:str category:str rank:int gain_population:float method:str gap:float "
        "bound_population:float k:int threshold_m:float basis:str covered_before:float "
        "population:float candidate:str x:float y:float"
    ),
    command="lifecircle sites",
    crs=settings.STORAGE_CRS,
    layer="sites",
    description="recommended sites for the plans' new facilities (maximal covering); "
    "x, y in EPSG:32651",
)

DELTAS: Final = TableSpec(
    name="deltas",
    filename="scenario_deltas.csv",
    columns=_columns(
        "area:str category:str scenario:str covered_population:float share:float "
        "delta_vs_baseline:float basis:str population:float delta_share:float "
        "threshold_m:float tier:float n_facilities:int n_added:int category_zh:str "
        "category_en:str scenario_zh:str scenario_en:str note:str"
    ),
    command="lifecircle scenarios",
    description="covered population per scenario and its change from the baseline",
)

#: Every table spec, in pipeline order.
SPECS: Final[tuple[TableSpec, ...]] = (
    MENTIONS,
    FACILITIES,
    DEMAND,
    ACCESS,
    COVERAGE,
    GAPS,
    SITES,
    DELTAS,
)


# ---------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------
def access_path(
    out: str | os.PathLike[str],
    area_id: str,
    basis: str = Basis.NETWORK,
    scenario: str = Scenario.BASELINE,
    profile: str = Profile.DEFAULT,
) -> Path:
    """Where an area's access table lives.

    ``<out>/access/<area>.parquet`` (network, baseline, default profile; ``lifecircle access``),
    ``<area>.<profile>.parquet`` for another profile, ``<area>.estimate.parquet`` for the
    straight-line estimate; other scenarios under ``<out>/scenarios/<scenario>/access/``.
    """
    folder = (
        Path(out) / "access"
        if scenario == Scenario.BASELINE
        else Path(out) / "scenarios" / scenario / "access"
    )
    if basis != Basis.NETWORK:
        return folder / f"{area_id}.estimate.parquet"
    if profile != Profile.DEFAULT:
        return folder / f"{area_id}.{profile}.parquet"
    return folder / f"{area_id}.parquet"


# ---------------------------------------------------------------------------------------------
# readers and writers
# ---------------------------------------------------------------------------------------------
def _require(spec: TableSpec, path: Path) -> None:
    if not path.exists():
        raise MissingStageError(f"{spec.name} table", path=path, command=spec.command)


def read_mentions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``plan_mentions.csv`` (a file, or a results folder holding one), types restored."""
    path = Path(path)
    if path.is_dir():
        path = MENTIONS.path(path)
    _require(MENTIONS, path)
    try:
        df = pd.read_csv(
            path,
            encoding=CSV_ENCODING,
            dtype={"place_hint": "string"},
            keep_default_na=False,
            na_values=[""],
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read mention table: {exc}", path=path) from None
    MENTIONS.validate(df, path)
    df["quantity"] = df["quantity"].astype("Int64")
    return df


def write_mentions(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    replace_areas: Iterable[str] | None = None,
    replace_docs: Iterable[str] | None = None,
) -> Path:
    """Write the mention table atomically (UTF-8 with BOM).

    With ``replace_areas``, rows of other areas already in the file are kept; with
    ``replace_docs``, rows of other documents are kept.
    """
    path = Path(path)
    MENTIONS.validate(df, path, full=True)
    if (replace_areas is not None or replace_docs is not None) and path.exists():
        old = read_mentions(path)
        drop = pd.Series(False, index=old.index)
        if replace_areas is not None:
            drop |= old["area"].isin(list(replace_areas))
        if replace_docs is not None:
            drop |= old["doc"].astype(str).isin(list(replace_docs))
        keep = old[~drop]
        df = pd.concat([keep, df], ignore_index=True) if not keep.empty else df
    return write_atomic(path, lambda p: df.to_csv(p, index=False, encoding=CSV_ENCODING))


def read_facilities(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read ``facilities.gpkg`` (a file, or a results folder holding one), layer ``facilities``.

    Raises
    ------
    MissingStageError
        When the file is absent (names ``lifecircle facilities build``).
    InputError
        When it cannot be read or lacks contract columns.
    """
    import geopandas as gpd  # heavy; most importers of this module never read a GeoPackage

    path = Path(path)
    if path.is_dir():
        path = FACILITIES.path(path)
    _require(FACILITIES, path)
    try:
        gdf = gpd.read_file(path, layer=FACILITIES.layer)
    except Exception as exc:  # pyogrio raises several types; all mean "unreadable file"
        raise InputError(f"cannot read facilities layer: {exc}", path=path) from None
    return FACILITIES.validate(gdf, path)


def write_facilities(
    path: str | os.PathLike[str],
    facilities: gpd.GeoDataFrame,
    replace_areas: Iterable[str] | None = None,
) -> Path:
    """Write ``facilities.gpkg`` (layer ``facilities``, WGS-84) atomically.

    With ``replace_areas`` the rows of other areas already in the file are kept, so a run for
    a subset of areas loses nothing.
    """
    import geopandas as gpd  # heavy; see read_facilities

    path = Path(path)
    gdf = facilities.to_crs(FACILITIES.crs)
    if replace_areas is not None and path.exists():
        old = read_facilities(path)
        keep = old[~old["area"].astype(str).isin(list(replace_areas))]
        if len(keep):
            gdf = gpd.GeoDataFrame(
                pd.concat([keep.to_crs(FACILITIES.crs), gdf], ignore_index=True),
                geometry="geometry",
                crs=FACILITIES.crs,
            )
    gdf = gdf.copy()
    for c in gdf.columns:  # missing text as NULL, not the string "nan"
        if c != "geometry" and str(gdf[c].dtype) in ("string", "object"):
            gdf[c] = gdf[c].astype(object).where(gdf[c].notna(), None)
    return write_atomic(path, lambda p: gdf.to_file(p, layer=FACILITIES.layer, driver="GPKG"))


def read_csv_table(
    spec: TableSpec, out: str | os.PathLike[str], *, required: bool = True
) -> pd.DataFrame | None:
    """Read a CSV table of ``out`` (``None`` when absent and not ``required``)."""
    path = spec.path(out)
    if not path.exists():
        if required:
            _require(spec, path)
        return None
    try:
        df = pd.read_csv(path, encoding=CSV_ENCODING)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {spec.name} table: {exc}", path=path) from None
    return spec.validate(df, path)


# ---------------------------------------------------------------------------------------------
# the one rule for which facility rows count
# ---------------------------------------------------------------------------------------------
def facility_scenario(source: str, status: str) -> str | None:
    """Return the first scenario a facility row counts in (None: in none of them).

    Parameters
    ----------
    source
        A :class:`Source` value.
    status
        A :class:`Status` value.

    Returns
    -------
    str or None
        ``baseline`` (existing), ``plan`` (planned or proposed) or ``plan+recommended``
        (recommended sites).
    """
    if source == Source.RECOMMENDED:
        return Scenario.PLAN_RECOMMENDED.value
    if status == Status.EXISTING:
        return Scenario.BASELINE.value
    if status in PLAN_STATUSES:
        return Scenario.PLAN.value
    return None


def placed_mask(facilities: gpd.GeoDataFrame) -> pd.Series:
    """Rows that are distinct facilities with a usable position.

    A row counts when it has a geometry and a category, is the one counted row of its
    facility (``counted``, see ``geo.facilities.geocode.counted_rows``) and is placed more
    precisely than the whole area (:data:`UNPLACED_PRECISIONS`).
    """
    keep: pd.Series = facilities.geometry.notna() & ~facilities.geometry.is_empty
    if "category" in facilities.columns:
        keep &= facilities["category"].notna()
    if "counted" in facilities.columns:
        keep &= facilities["counted"].astype(bool)
    if "precision" in facilities.columns:
        keep &= ~facilities["precision"].astype(str).isin(UNPLACED_PRECISIONS)
    return keep


def scenario_mask(facilities: gpd.GeoDataFrame, scenario: str) -> pd.Series:
    """Rows that count in ``scenario``: placed (:func:`placed_mask`) and in it or an earlier one.

    Every stage, the exports and the dashboard select facilities through this rule.
    """
    if scenario not in SCENARIOS:
        raise InputError(
            f"unknown scenario '{scenario}'", hint=f"expected one of {', '.join(SCENARIOS)}"
        )
    level = SCENARIOS.index(scenario)
    for col in ("source", "status"):
        if col not in facilities.columns:
            raise InputError(f"facilities table lacks column '{col}'")
    first = [
        facility_scenario(str(s), str(t))
        for s, t in zip(facilities["source"], facilities["status"], strict=True)
    ]
    within = pd.Series(
        [f is not None and SCENARIOS.index(f) <= level for f in first],
        index=facilities.index,
        dtype=bool,
    )
    mask: pd.Series = placed_mask(facilities) & within
    return mask
