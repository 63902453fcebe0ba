"""Coverage maps for meetings (matplotlib): one area, one category, one setting.

Drawn in the projected CRS (metres), north up, with a legend, scale bar, north arrow and a
footer (data date, walking speed, basis, "© OpenStreetMap contributors"). Each layer has its
own ``_draw_*`` helper, in drawing order (the osmnx ``plot.py`` pattern).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle

from geo import settings
from geo._errors import LifeCircleError
from geo.reporting.results import (
    _NO_DATA_COLOUR,
    _SHARE_BREAKS,
    _SHARE_COLOURS,
    BASIS_LABELS,
    COMPOSITE,
    FACILITY_CLASSES,
    Results,
    area_gaps,
    area_summary,
    cell_shares,
    footer_line,
    scenario_facilities,
    share_legend,
    titles,
)

#: Landscape paper sizes in inches (ISO 216).
PAPERS: dict[str, tuple[float, float]] = {"A4": (11.69, 8.27), "A3": (16.54, 11.69)}
#: Preferred CJK font families (Debian ``fonts-noto-cjk``), best first.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Noto Sans CJK JP",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
)  # fmt: skip


def cjk_font_family() -> str:
    """Name of an installed CJK font family matplotlib can use (Noto Sans CJK preferred).

    Raises
    ------
    LifeCircleError
        When no CJK font is installed (Debian: ``apt-get install fonts-noto-cjk``).
    """

    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    cjk = sorted(n for n in names if "CJK" in n or "Hei" in n or "Song" in n)
    if cjk:
        return cjk[0]
    raise LifeCircleError(
        "no CJK font found for Chinese map text; install one (Debian/Ubuntu: "
        "`apt-get install fonts-noto-cjk`, see scripts/setup.sh)"
    )


def _nice_length(span_m: float) -> float:
    target = span_m / 5
    for n in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000):
        if n >= target:
            return float(n)
    return 5000.0


def _draw_scale_bar(ax: Any, x0: float, y0: float, span: float) -> None:
    """A two-part scale bar with its lower-left corner at ``(x0, y0)`` (projected metres)."""

    length = _nice_length(span)
    h = span * 0.008
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (x0 + i * length / 2, y0),
                length / 2,
                h,
                facecolor="black" if i == 0 else "white",
                edgecolor="black",
                linewidth=0.8,
                zorder=20,
            )
        )
    for frac, label in ((0, "0"), (0.5, f"{length / 2:g}"), (1, f"{length:g} m")):
        ax.text(
            x0 + frac * length, y0 + h * 1.8, label, ha="center", va="bottom", fontsize=7, zorder=20
        )
    ax.text(
        x0 + length + span * 0.02, y0, "比例尺 scale", ha="left", va="bottom", fontsize=7, zorder=20
    )


def _draw_north_arrow(fig: Any, x: float, y: float) -> None:
    """A north arrow at figure fraction ``(x, y)`` (the map is drawn north-up)."""

    fig.add_artist(
        FancyArrow(
            x,
            y,
            0,
            0.05,
            width=0.006,
            head_width=0.018,
            head_length=0.022,
            transform=fig.transFigure,
            color="black",
            zorder=20,
        )
    )
    fig.text(x, y + 0.078, "N 北", ha="center", va="bottom", fontsize=11, fontweight="bold")


def map_figure(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
    paper: str = "A4",
) -> Any:
    """A matplotlib Figure of the coverage map for one area and category (not saved).

    Drawn in the projected CRS (metres) with the area's streets, neighbourhood cells by
    share covered, gaps, facilities by source/status, legend, scale bar, north arrow and
    a footer with data date, walking speed, basis and the OSM credit.
    """

    family = cjk_font_family()

    crs = settings.PROJECTED_CRS
    info = results.area(area)
    summary = area_summary(results, area, category, tier=tier, scenario=scenario, profile=profile)
    basis = summary["basis"] if isinstance(summary["basis"], str) else info.basis
    with matplotlib.rc_context(
        {"font.family": [family, "DejaVu Sans"], "axes.unicode_minus": False}
    ):
        fig = Figure(figsize=PAPERS[paper])
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.08, 0.72, 0.80))
        ax.set_axis_off()
        ax.set_aspect("equal")
        title_zh, title_en = titles(results, area, category, tier, scenario, profile)
        fig.text(0.02, 0.955, title_zh, fontsize=17, fontweight="bold", va="center")
        fig.text(0.02, 0.915, title_en, fontsize=11, va="center", color="#333333")

        cells = results.neighbourhoods[results.neighbourhoods["area"] == area]
        shares = cell_shares(results, area, category, tier=tier, scenario=scenario, profile=profile)
        cells = cells.merge(shares, on="unit", how="left").to_crs(crs)
        cmap = ListedColormap(list(_SHARE_COLOURS))
        norm = BoundaryNorm([0.0, *_SHARE_BREAKS, 1.0001], cmap.N)
        if not cells.empty:
            has = cells["share"].notna()
            if has.any():
                cells[has].plot(
                    ax=ax,
                    column="share",
                    cmap=cmap,
                    norm=norm,
                    alpha=0.75,
                    edgecolor="white",
                    linewidth=0.6,
                    zorder=2,
                )
            if (~has).any():
                cells[~has].plot(
                    ax=ax,
                    facecolor=_NO_DATA_COLOUR,
                    edgecolor="white",
                    hatch="///",
                    linewidth=0.6,
                    alpha=0.8,
                    zorder=2,
                )
        streets = results.streets(area)
        if not streets.empty:
            streets.to_crs(crs).plot(ax=ax, color="#555555", linewidth=0.35, alpha=0.8, zorder=3)
        boundary = info.boundary
        if boundary is not None:
            b = gpd.GeoSeries([boundary], crs=settings.STORAGE_CRS).to_crs(crs)
            b.boundary.plot(ax=ax, color="black", linewidth=1.6, zorder=6)
            if basis != "network":  # thin data: a light grey hatch over the whole area
                with matplotlib.rc_context({"hatch.linewidth": 0.4, "hatch.color": "#8c8c8c"}):
                    b.plot(
                        ax=ax,
                        facecolor="none",
                        edgecolor="#8c8c8c",
                        hatch="\\",
                        linewidth=0,
                        zorder=5,
                    )
            xmin, ymin, xmax, ymax = b.total_bounds
        elif not cells.empty:
            xmin, ymin, xmax, ymax = cells.total_bounds
        else:
            xmin, ymin, xmax, ymax = 0.0, 0.0, 1000.0, 1000.0
        gaps = (
            area_gaps(results, area, category, scenario).to_crs(crs)
            if category != COMPOSITE
            else gpd.GeoDataFrame(geometry=[], crs=crs)
        )
        gap_label = "覆盖缺口 coverage gap"
        if not gaps.empty and "threshold_m" in gaps and gaps["threshold_m"].notna().any():
            # gaps are judged at the category's standard threshold, whatever tier is shown
            gap_label += f"\n（标准 standard {gaps['threshold_m'].dropna().iloc[0]:,.0f} m）"
        if not gaps.empty:
            with matplotlib.rc_context({"hatch.linewidth": 0.5, "hatch.color": "#b2182b"}):
                gaps.plot(
                    ax=ax,
                    facecolor="none",
                    edgecolor="#b2182b",
                    hatch="///",
                    linewidth=1.0,
                    zorder=4,
                )
            for i, row in enumerate(gaps.head(5).itertuples()):
                p = row.geometry.representative_point()
                ax.text(
                    p.x,
                    p.y,
                    f"缺口{i + 1}\n{row.population:,.0f}人",
                    fontsize=6.5,
                    ha="center",
                    va="center",
                    color="#67001f",
                    zorder=9,
                    bbox={
                        "boxstyle": "round,pad=0.2",
                        "fc": "white",
                        "ec": "#b2182b",
                        "alpha": 0.8,
                        "lw": 0.5,
                    },
                )
        fac = scenario_facilities(
            results, area, category if category != COMPOSITE else None, scenario
        )
        handles: list[Any] = []
        if not fac.empty:
            fac = fac.to_crs(crs)
        for key, lzh, len_, colour, marker in FACILITY_CLASSES:
            sub = fac[fac["klass"] == key] if not fac.empty else fac
            if len(sub):
                ax.scatter(
                    sub.geometry.x,
                    sub.geometry.y,
                    s=70 if marker == "*" else 34,
                    c=colour,
                    marker=marker,
                    edgecolors="black",
                    linewidths=0.5,
                    zorder=10,
                )
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker=marker,
                        linestyle="",
                        color=colour,
                        markeredgecolor="black",
                        markersize=7,
                        label=f"{lzh} {len_} ({len(sub)})",
                    )
                )
        span = max(xmax - xmin, ymax - ymin, 1.0)
        pad = span * 0.04
        # a strip below the area holds the scale bar, so it never covers the map
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymin - pad - span * 0.07, ymax + pad)
        _draw_scale_bar(ax, xmin, ymin - pad - span * 0.055, span)
        _draw_north_arrow(fig, 0.76, 0.80)
        if basis != "network":
            b_zh, b_en = BASIS_LABELS.get(basis, (basis, basis))
            comp = f" {info.completeness:.0%}" if info.completeness is not None else ""
            ax.text(
                0.02,
                0.97,
                f"{b_zh}\n{b_en}{comp}",
                transform=ax.transAxes,
                fontsize=10,
                va="top",
                color="#7f0000",
                zorder=21,
                bbox={"boxstyle": "round", "fc": "#fff5f0", "ec": "#7f0000"},
            )

        # legend panel
        lax = fig.add_axes((0.79, 0.09, 0.20, 0.78))
        lax.set_axis_off()
        share_handles = [
            Patch(facecolor=c, edgecolor="white", label=lab) for c, lab in share_legend()
        ]
        share_handles.append(
            Patch(
                facecolor=_NO_DATA_COLOUR, hatch="///", edgecolor="white", label="无数据 no figure"
            )
        )
        leg1 = lax.legend(
            handles=share_handles[::-1],
            loc="upper left",
            fontsize=8,
            title=f"覆盖率 share covered\n（{tier}分钟 min）",
            title_fontsize=9,
            frameon=False,
        )
        lax.add_artist(leg1)
        other = [*handles]
        other.append(Patch(facecolor="none", edgecolor="#b2182b", hatch="///", label=gap_label))
        if basis != "network":
            other.append(
                Patch(
                    facecolor="none",
                    edgecolor="#8c8c8c",
                    hatch="\\",
                    label="路网数据不完整 incomplete network",
                )
            )
        other.append(Line2D([], [], color="#555555", linewidth=1, label="步行路网 streets"))
        other.append(Line2D([], [], color="black", linewidth=1.6, label="街道边界 boundary"))
        lax.legend(
            handles=other,
            loc="lower left",
            fontsize=8,
            frameon=False,
            title="图例 legend",
            title_fontsize=9,
        )
        share = summary["share"]
        pop = summary["population"]
        stats = (
            f"全街道覆盖率 Area share: {share:.1%}\n"
            f"覆盖人口 Covered: {summary['covered_population']:,.0f} / {pop:,.0f}"
            if np.isfinite(share)
            else "全街道覆盖率 Area share: 无数据 n/a"
        )
        thr = summary["threshold_m"]
        if np.isfinite(thr):
            stats += f"\n步行距离阈值 Threshold: {thr:,.0f} m"
        lax.text(0.0, 0.60, stats, fontsize=9, va="top", transform=lax.transAxes)
        first, _, second = footer_line(results, area, profile, basis, sep="\t").rpartition("\t生成")
        fig.text(0.02, 0.045, first.replace("\t", "   ·   "), fontsize=7.5, color="#333333")
        fig.text(
            0.02, 0.025, ("生成" + second).replace("\t", "   ·   "), fontsize=7.5, color="#333333"
        )
        if summary.get("fallback"):
            fig.text(
                0.02,
                0.012,
                "注：结果中无此情景/步速，显示现状/一般步速。 Note: scenario/profile "
                "not in the results; showing baseline/default.",
                fontsize=7,
                color="#7f0000",
            )
    return fig
