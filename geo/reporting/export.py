"""Exports for meetings: one entry point, :func:`export`, that writes one file.

- ``png`` / ``pdf``: a titled matplotlib map (:mod:`geo.reporting.maps`), A4 or A3 landscape;
- ``html``: a standalone offline map (:mod:`geo.reporting.html`);
- ``xlsx``: the neighbourhood figures (:mod:`geo.reporting.xlsx`).

Exports go only to ``<out>/exports/`` under generated names; nothing here reads or writes a
path a user typed. Nothing here recomputes the pipeline.
"""

from __future__ import annotations

import datetime as _dt
import re
import secrets
from pathlib import Path

from geo.io.files import write_atomic
from geo.reporting.html import write_html
from geo.reporting.maps import PAPERS, map_figure
from geo.reporting.results import (
    OSM_CREDIT,
    PROFILES,
    SCENARIOS,
    TIERS,
    Results,
    check_choice,
)
from geo.reporting.view import WhatIfOverlay, make_view
from geo.reporting.xlsx import write_xlsx

#: Export formats.
FORMATS: tuple[str, ...] = ("png", "pdf", "html", "xlsx")


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", value).strip("-") or "x"


def export_path(
    out_dir: str | Path,
    area: str,
    category: str,
    fmt: str,
    *,
    tier: int,
    scenario: str,
    profile: str,
    paper: str | None = None,
    whatif: bool = False,
) -> Path:
    """Return a new generated file name under ``<out_dir>/exports/`` (never user-supplied)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parts = [area, category, scenario.replace("+", "-"), f"{tier}min", profile]
    if whatif:
        parts.append("whatif")
    if paper and fmt in ("png", "pdf"):
        parts.append(paper)
    name = "_".join(_slug(p) for p in parts) + f"_{stamp}_{secrets.token_hex(3)}.{fmt}"
    return Path(out_dir) / "exports" / name


# -------------------------------------------------------------------------------------------
# the export entry point
# -------------------------------------------------------------------------------------------
def export(
    results: Results,
    area: str,
    category: str,
    fmt: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
    paper: str = "A4",
    whatif: WhatIfOverlay | None = None,
) -> Path:
    """Write one export for a meeting and return its path under ``<out>/exports/``.

    Parameters
    ----------
    results
        From :func:`load_results`.
    area, category
        Area id and category key (``composite`` allowed); unknown values raise.
    fmt
        ``png`` | ``pdf`` (map, ``paper`` landscape) | ``html`` (offline map) | ``xlsx``.
    tier
        Walking minutes: 5, 10 or 15.
    scenario, profile
        ``baseline|plan|plan+recommended`` and ``default|elderly``.
    paper
        ``A4`` or ``A3`` (png/pdf).
    whatif
        Simulated facilities (the dashboard's what-if): the file shows them, labelled
        "模拟 / what-if", with the figures they give.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    results.area(area)
    results.category(category)
    check_choice(fmt, FORMATS, "format")
    check_choice(int(tier), TIERS, "tier")
    check_choice(scenario, SCENARIOS, "scenario")
    check_choice(profile, PROFILES, "walking profile")
    check_choice(paper, PAPERS, "paper size")
    view = make_view(
        results, area, category, tier=int(tier), scenario=scenario, profile=profile, whatif=whatif
    )
    target = export_path(
        results.out_dir,
        area,
        category,
        fmt,
        tier=int(tier),
        scenario=scenario,
        profile=profile,
        paper=paper,
        whatif=view.simulated,
    )
    if fmt in ("png", "pdf"):
        fig = map_figure(results, area, category, paper=paper, view=view)
        dpi = 200 if fmt == "png" else 150
        write_atomic(
            target,
            lambda p: fig.savefig(p, format=fmt, dpi=dpi, metadata=_pdf_meta(fmt, results, area)),
        )
    elif fmt == "html":
        write_atomic(target, lambda p: write_html(results, view, p))
    else:
        write_atomic(target, lambda p: write_xlsx(results, view, p))
    return target


def _pdf_meta(fmt: str, results: Results, area: str) -> dict[str, str] | None:
    if fmt != "pdf":
        return None
    return {
        "Title": f"15-minute life circle — {results.areas[area].name_en}",
        "Creator": "lifecircle",
        "Subject": OSM_CREDIT,
    }
