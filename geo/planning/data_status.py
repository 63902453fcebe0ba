"""No data is not zero: which coverage figures rest on facility data.

The composite leaves out the categories that have none.

A coverage share of 0 % can mean "nobody is within reach of a facility" or "we know of no
facility at all". The second is an artefact of the input (OpenStreetMap maps almost no
养老/助餐 facilities in Shanghai), not a finding. Each coverage row therefore gets a
``data_status`` (:data:`DATA_STATUS`), decided per area, category and scenario from the
facilities table (OSM inventory, official lists, plan mentions):

* ``ok`` — at least one facility of the category counts in the scenario and lies within the
  area or its :data:`geo.settings.CLIP_BUFFER_M` buffer; the coverage figure is computed from
  the placed facilities.
* ``not_placed`` — facilities of the category are known for the area (named in a list or plan,
  or counted only from a later scenario) but none has a usable position in this scenario; the
  figure is left empty.
* ``no_facility_data`` — no source searched knows any facility of the category in the area
  plus its buffer; the figure is left empty.

For the composite rows (the life-circle score) ``data_status`` is ``ok`` when at least one
category is averaged; the score averages only ``ok`` categories and ``n_categories`` says how
many (the note lists those left out). Every scenario of an area averages the categories that
are ``ok`` in its baseline, so composites of scenarios compare. Because the composite is the
population-weighted mean of per-unit shares, it equals the mean of the averaged categories'
covered populations, so it is recomputed here from the category rows. Gap polygons are not
drawn for categories that are not ``ok``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.io.geom import project_geom
from geo.io.tables import COMPOSITE, scenario_mask

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

    from geo.io.areas import Area

#: Every ``data_status`` value and what it means (also written into the coverage README).
DATA_STATUS: dict[str, str] = {
    "ok": "facilities of the category are placed within the area or its 1 km buffer; coverage "
    "is computed from them",
    "not_placed": "facilities of the category are known for the area (named in a list or plan, "
    "or counted only from a later scenario) but none has a usable position in this scenario; "
    "coverage is unknown and left empty, not 0 %",
    "no_facility_data": "no source searched (OSM inventory, official lists, plan mentions) knows "
    "any facility of the category in the area or its 1 km buffer; coverage is unknown and left "
    "empty, not 0 %; the composite leaves the category out",
}

#: Bilingual labels for displays and exports.
DATA_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "ok": ("有设施数据", "facility data"),
    "not_placed": ("设施未定位", "facilities not placed"),
    "no_facility_data": ("无设施数据", "no facility data"),
}

#: Columns added to coverage rows.
STATUS_COLUMNS: tuple[str, ...] = ("data_status", "n_categories", "sources_searched")


def category_status(
    facilities: gpd.GeoDataFrame | None,
    area_id: str,
    boundary: BaseGeometry,
    categories: Iterable[str],
    scenario: str = "baseline",
    *,
    buffer_m: float = settings.CLIP_BUFFER_M,
) -> dict[str, str]:
    """``{category: data_status}`` of one area in one scenario.

    Parameters
    ----------
    facilities
        The facilities table (``facilities.gpkg``) or None.
    area_id, boundary
        The area and its WGS-84 polygon.
    categories
        Category keys to report.
    scenario
        Scenario whose counting rule decides what is placed
        (:func:`geo.io.tables.scenario_mask`).
    buffer_m
        Facilities this far outside the boundary count (m).
    """
    cats = list(categories)
    if facilities is None or len(facilities) == 0:
        return dict.fromkeys(cats, "no_facility_data")
    fac = facilities.to_crs(settings.STORAGE_CRS) if facilities.crs is not None else facilities
    zone = shapely.buffer(project_geom(boundary), buffer_m)
    mask = scenario_mask(fac, scenario)
    placed: set[str] = set()
    if mask.any():
        sub = fac[mask]
        pts = sub.geometry.representative_point().to_crs(settings.PROJECTED_CRS)
        inside = shapely.contains_xy(zone, pts.x.to_numpy(), pts.y.to_numpy())
        placed = set(sub["category"].astype(str)[inside])
    known = set(fac.loc[fac["area"].astype(str) == area_id, "category"].astype(str))
    out = {}
    for c in cats:
        out[c] = "ok" if c in placed else ("not_placed" if c in known else "no_facility_data")
    return out


def sources_searched(area: Area, facilities: gpd.GeoDataFrame | None = None) -> str:
    """Return what was searched for an area's facilities, for notes and displays."""
    parts = ["OSM (area files + Geofabrik POIs)"]
    lists: list[str] = []
    for e in getattr(area, "facility_lists", ()) or ():
        f = e if isinstance(e, str) else (e.get("file") if isinstance(e, Mapping) else None)
        if f:
            lists.append(Path(str(f)).name)
    if facilities is not None and len(facilities) and "list_file" in facilities.columns:
        sub = facilities[facilities["area"].astype(str) == area.id]
        lists += [str(v) for v in sub["list_file"].dropna().unique() if str(v)]
    lists = list(dict.fromkeys(lists))
    parts.append("lists: " + (", ".join(lists) if lists else "none"))
    plans = [Path(str(p)).name for p in getattr(area, "plans", ()) or ()]
    parts.append("plans: " + (", ".join(plans) if plans else "none"))
    return "; ".join(parts)


def apply_data_status(
    table: pd.DataFrame,
    status: Mapping[str, str],
    searched: str = "",
    *,
    composite_status: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Add ``data_status``, blank the figures of categories without data, redo the composite.

    Parameters
    ----------
    table
        Coverage rows of ONE area and scenario (:func:`geo.planning.coverage.coverage_table`).
    status
        ``{category: data_status}`` (:func:`category_status`).
    searched
        :func:`sources_searched` text, copied to ``sources_searched``.
    composite_status
        The statuses that decide which categories the composite averages (default
        ``status``). Scenarios pass the baseline's, so every scenario of an area averages the
        same categories and composites compare; a category a plan adds shows in its own rows.

    Returns
    -------
    pandas.DataFrame
        ``table`` plus :data:`STATUS_COLUMNS`; ``covered_population`` and ``share`` empty for
        category rows that are not ``ok``; composite rows averaging only ``ok`` categories.
    """
    out = table.copy()
    cat = out["category"].astype(str)
    is_comp = (cat == COMPOSITE).to_numpy()
    st = cat.map(lambda c: status.get(c, "ok")).to_numpy(dtype=object)
    comp_st = composite_status if composite_status is not None else status
    ok_cats = [
        c for c in pd.unique(cat[~is_comp]) if comp_st.get(c, "ok") == status.get(c, "ok") == "ok"
    ]
    left_out = [
        f"{c} ({_why_left_out(status.get(c, 'ok'), comp_st.get(c, 'ok'))})"
        for c in pd.unique(cat[~is_comp])
        if c not in ok_cats
    ]
    st[is_comp] = "ok" if ok_cats else "no_facility_data"
    out["data_status"] = st
    out["sources_searched"] = searched
    out["n_categories"] = np.where(is_comp, len(ok_cats), np.nan)
    bad = (~is_comp) & (st != "ok")
    if bad.any():
        out.loc[bad, ["covered_population", "share"]] = math.nan
        labels = out.loc[bad, "data_status"].map(lambda s: "/".join(DATA_STATUS_LABELS[s]))
        tail = f" (searched: {searched})" if searched else ""
        out.loc[bad, "note"] = [
            _join(n, f"{lab}{tail}") for n, lab in zip(out.loc[bad, "note"], labels, strict=True)
        ]
    if is_comp.any():
        _redo_composite(out, is_comp, ok_cats, left_out)
    return out


def _why_left_out(own: str, composite: str) -> str:
    """Why a category is not averaged: its own status, or the baseline's."""
    if own != "ok":
        return "/".join(DATA_STATUS_LABELS[own])
    return "no data in the baseline / 现状" + DATA_STATUS_LABELS[composite][0]


def _join(a: object, b: str) -> str:
    a = "" if a is None or (isinstance(a, float) and math.isnan(a)) else str(a)
    return f"{a}; {b}" if a else b


def _redo_composite(out: pd.DataFrame, is_comp: np.ndarray, ok_cats: Sequence[str],
                    left_out: Sequence[str]) -> None:  # fmt: skip
    """Composite = mean covered population of the ``ok`` categories at the same thresholds."""
    cats = out[~is_comp & out["category"].isin(ok_cats)]
    std = cats["is_standard_tier"].astype(bool)
    key_cols = ["area", "unit", "profile", "scenario"]
    # the standard composite judges each category at its own tier; the tier rows at that tier
    by_std = cats[std].groupby(key_cols)["covered_population"].mean()
    by_tier = cats.groupby([*key_cols, "tier"])["covered_population"].mean()
    text = f"averages {len(ok_cats)} of {len(ok_cats) + len(left_out)} categories"
    if left_out:
        text += "; left out: " + ", ".join(left_out)
    c_cov = int(out.columns.get_loc("covered_population"))  # type: ignore[arg-type]
    c_share = int(out.columns.get_loc("share"))  # type: ignore[arg-type]
    c_note = int(out.columns.get_loc("note"))  # type: ignore[arg-type]
    idx = np.flatnonzero(is_comp)
    comp = out.iloc[idx]
    if ok_cats:
        # one look-up per row, written back in one go (row-by-row writes into Arrow-backed
        # columns copy the column each time: minutes for a large area)
        on_std = by_std.reindex(pd.MultiIndex.from_frame(comp[key_cols])).to_numpy(dtype=float)
        on_tier = by_tier.reindex(pd.MultiIndex.from_frame(comp[[*key_cols, "tier"]])).to_numpy(
            dtype=float
        )
        cov = np.where(comp["is_standard_tier"].astype(bool).to_numpy(), on_std, on_tier)
    else:
        cov = np.full(len(idx), math.nan)
    known = np.array(
        [not (isinstance(v, float) and math.isnan(v)) for v in comp["covered_population"]],
        dtype=bool,
    )
    write = known | (not ok_cats)
    pop = comp["population"].to_numpy(dtype=float)[write]
    out.iloc[idx[write], c_cov] = cov[write]
    with np.errstate(divide="ignore", invalid="ignore"):
        out.iloc[idx[write], c_share] = np.where(pop > 0, cov[write] / pop, math.nan)
    out.iloc[idx, c_note] = [_join(n, text) for n in comp["note"]]


def drop_gaps(gaps: gpd.GeoDataFrame | None, status: Mapping[str, str]) -> gpd.GeoDataFrame | None:
    """Gap polygons of ``ok`` categories only (no red gap where there is no data)."""
    if gaps is None or len(gaps) == 0:
        return gaps
    keep = gaps["category"].astype(str).map(lambda c: status.get(c, "ok") == "ok")
    return gaps[keep.to_numpy()]


def readme_text() -> str:
    """Return the ``data_status`` section of ``coverage_README.txt``."""
    lines = ["data_status (per row; categories without facility data are not 0 %):"]
    for k, v in DATA_STATUS.items():
        zh, en = DATA_STATUS_LABELS[k]
        lines.append(f"  {k} ({zh} / {en}): {v}.")
    lines.append(
        "  composite rows: ok when at least one category is averaged; n_categories = how many "
        "categories the score averages (only ok ones); the note lists those left out."
    )
    lines.append("sources_searched: what was searched for the area's facilities.")
    return "\n".join(lines) + "\n"
