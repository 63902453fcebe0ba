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
import shapely
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle
from numpy.typing import NDArray

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
    data_status_label,
    footer_line,
    share_legend,
    titles,
)
from geo.reporting.view import WHATIF_LABEL, View, make_view

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
    """Draw a two-part scale bar with its lower-left corner at ``(x0, y0)`` (projected metres)."""
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
    """Draw a north arrow at figure fraction ``(x, y)`` (the map is drawn north-up)."""
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


#: Colours of the map layers.
GAP_COLOUR = "#b2182b"
WHATIF_COLOUR = "#e7298a"
STREET_COLOUR = "#555555"
ESTIMATE_EDGE = "#3f3f3f"
#: Named streets labelled on a map (the longest first).
MAX_STREET_LABELS = 14


def _draw_cells(ax: Any, results: Results, view: View, crs: str) -> None:
    """Draw neighbourhood cells by share covered.

    Cells without a figure grey and hatched (the only meaning of hatching); estimate cells
    with a dotted outline (the estimate symbol).
    """
    cells = results.neighbourhoods[results.neighbourhoods["area"] == view.area]
    if cells.empty:
        return
    cells = cells.merge(view.cells[["unit", "share"]], on="unit", how="left").to_crs(crs)
    estimate = view.basis == "estimate"
    edge = (
        {"edgecolor": ESTIMATE_EDGE, "linestyle": ":", "linewidth": 0.8}
        if estimate
        else {"edgecolor": "white", "linewidth": 0.6}
    )
    has = cells["share"].notna()
    if has.any():
        cmap = ListedColormap(list(_SHARE_COLOURS))
        norm = BoundaryNorm([0.0, *_SHARE_BREAKS, 1.0001], cmap.N)
        cells[has].plot(ax=ax, column="share", cmap=cmap, norm=norm, alpha=0.75, zorder=2, **edge)
    if (~has).any():
        with matplotlib.rc_context({"hatch.linewidth": 0.5, "hatch.color": "#8c8c8c"}):
            cells[~has].plot(
                ax=ax, facecolor=_NO_DATA_COLOUR, hatch="///", alpha=0.8, zorder=2, **edge
            )


def _draw_streets(ax: Any, results: Results, area: str, crs: str, labels: bool = True) -> None:
    """Draw the walking network, with the longest named streets labelled along their course."""
    segs = results.street_lines(area)
    if not segs:
        return
    ax.add_collection(
        LineCollection(segs, colors=STREET_COLOUR, linewidths=0.35, alpha=0.8, zorder=3)
    )
    if not labels:
        return
    for lab in results.street_labels(area, MAX_STREET_LABELS):
        ax.text(
            lab.x,
            lab.y,
            lab.name,
            fontsize=6,
            rotation=lab.angle,
            rotation_mode="anchor",
            ha="center",
            va="center",
            color="#222222",
            zorder=8,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
        )


def _draw_boundary(ax: Any, results: Results, area: str, crs: str) -> tuple[float, ...]:
    """Draw the area outline; return its projected bounds (or the cells')."""
    info = results.area(area)
    if info.boundary is not None:
        b = gpd.GeoSeries([info.boundary], crs=settings.STORAGE_CRS).to_crs(crs)
        b.boundary.plot(ax=ax, color="black", linewidth=1.6, zorder=6)
        return tuple(float(v) for v in b.total_bounds)
    cells = results.neighbourhoods[results.neighbourhoods["area"] == area]
    if not cells.empty:
        return tuple(float(v) for v in cells.to_crs(crs).total_bounds)
    return (0.0, 0.0, 1000.0, 1000.0)


def _draw_gaps(ax: Any, view: View, crs: str, n_labels: int = 5) -> None:
    """Draw gap outlines, the largest labelled with their population.

    Outer rings only: covered holes inside a gap are not outlined.
    """
    if view.gaps.empty:
        return
    gaps = view.gaps.to_crs(crs)
    rings = gpd.GeoSeries(shapely.get_exterior_ring(_polygons(gaps.geometry.values)), crs=crs)
    rings.plot(ax=ax, color=GAP_COLOUR, linewidth=1.1, linestyle="--", zorder=7)
    for i, row in enumerate(gaps.head(n_labels).itertuples()):
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
                "ec": GAP_COLOUR,
                "alpha": 0.8,
                "lw": 0.5,
            },
        )


def _polygons(geoms: np.ndarray) -> np.ndarray:
    """Every polygon part of ``geoms`` (multi-polygons exploded)."""
    parts: NDArray[np.object_] = shapely.get_parts(geoms)
    return parts


def _draw_facilities(ax: Any, view: View, crs: str, small: bool = False) -> list[Any]:
    """Facilities by source/status class; returns legend handles."""
    fac = view.facilities
    handles: list[Any] = []
    if not fac.empty:
        fac = fac.to_crs(crs)
    for key, lzh, len_, colour, marker in FACILITY_CLASSES:
        sub = fac[fac["klass"] == key] if not fac.empty else fac
        if not len(sub):
            continue
        size = (70 if marker == "*" else 34) * (0.5 if small else 1.0)
        ax.scatter(
            sub.geometry.x,
            sub.geometry.y,
            s=size,
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
    return handles


def _draw_whatif(ax: Any, view: View, crs: str) -> list[Any]:
    """Draw simulated facilities (magenta diamonds, numbered); return legend handles."""
    if not view.simulated or view.whatif is None:
        return []
    pts = gpd.GeoSeries(
        gpd.points_from_xy(
            [p.lon for p in view.whatif.points], [p.lat for p in view.whatif.points]
        ),
        crs=settings.STORAGE_CRS,
    ).to_crs(crs)
    ax.scatter(
        pts.x,
        pts.y,
        s=90,
        c=WHATIF_COLOUR,
        marker="D",
        edgecolors="black",
        linewidths=0.8,
        zorder=11,
    )
    for p, pt in zip(view.whatif.points, pts, strict=True):
        ax.annotate(
            p.label_zh,
            (pt.x, pt.y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=7,
            color="#7a0177",
            zorder=12,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": WHATIF_COLOUR, "lw": 0.5},
        )
    zh, en = WHATIF_LABEL
    return [
        Line2D(
            [],
            [],
            marker="D",
            linestyle="",
            color=WHATIF_COLOUR,
            markeredgecolor="black",
            markersize=7,
            label=f"{zh}新增 / {en} ({len(view.whatif.points)})",
        )
    ]


def _draw_basis_badge(ax: Any, results: Results, view: View) -> None:
    """One badge naming the basis where the figures are not from a complete network."""
    if view.basis == "network":
        return
    info = results.area(view.area)
    b_zh, b_en = BASIS_LABELS.get(view.basis, (view.basis, view.basis))
    comp = (
        f"（路网完整度 completeness {info.completeness:.0%}）"
        if info.completeness is not None
        else ""
    )
    ax.text(
        0.02,
        0.97,
        f"≈ {b_zh}\n{b_en}\n{comp}".strip(),
        transform=ax.transAxes,
        fontsize=9,
        va="top",
        color="#7f0000",
        zorder=21,
        bbox={"boxstyle": "round", "fc": "#fff5f0", "ec": "#7f0000"},
    )


def draw_view(
    ax: Any, results: Results, view: View, *, street_labels: bool = True
) -> tuple[float, ...]:
    """Draw one view's map layers on ``ax`` (projected metres); returns the area's bounds."""
    crs = settings.PROJECTED_CRS
    ax.set_axis_off()
    ax.set_aspect("equal")
    _draw_cells(ax, results, view, crs)
    _draw_streets(ax, results, view.area, crs, labels=street_labels)
    bounds = _draw_boundary(ax, results, view.area, crs)
    _draw_gaps(ax, view, crs)
    return bounds


def _legend(lax: Any, view: View, handles: list[Any]) -> None:
    share_handles = [Patch(facecolor=c, edgecolor="white", label=lab) for c, lab in share_legend()]
    share_handles.append(
        Patch(facecolor=_NO_DATA_COLOUR, hatch="///", edgecolor="#8c8c8c", label="无数据 no figure")
    )
    leg1 = lax.legend(
        handles=share_handles[::-1],
        loc="upper left",
        fontsize=8,
        frameon=False,
        title=f"覆盖率 share covered\n（{view.tier}分钟 min）",
        title_fontsize=9,
    )
    lax.add_artist(leg1)
    other = [*handles]
    if view.category != COMPOSITE:
        other.append(
            Line2D(
                [],
                [],
                color=GAP_COLOUR,
                linestyle="--",
                linewidth=1.1,
                label="覆盖缺口 coverage gap",
            )
        )
    if view.basis == "estimate":
        other.append(
            Patch(
                facecolor="none",
                edgecolor=ESTIMATE_EDGE,
                linestyle=":",
                label="≈ 估算（直线×绕行系数）\nestimate (straight line × detour)",
            )
        )
    other.append(Line2D([], [], color=STREET_COLOUR, linewidth=1, label="步行路网 streets"))
    other.append(Line2D([], [], color="black", linewidth=1.6, label="街道边界 boundary"))
    lax.legend(
        handles=other,
        loc="lower left",
        fontsize=8,
        frameon=False,
        title="图例 legend",
        title_fontsize=9,
    )


def view_stats(view: View) -> str:
    """Return the area figure of a view as bilingual text (threshold stated once, here)."""
    s = view.summary
    share = s["share"]
    if np.isfinite(share):
        text = (
            f"全街道覆盖率 Area share: {share:.1%}\n"
            f"覆盖人口 Covered: {s['covered_population']:,.0f} / {s['population']:,.0f}"
        )
    else:
        text = "全街道覆盖率 Area share: 无数据 n/a"
    if s.get("data_status", "ok") != "ok":  # no facility data is not 0 % (issue 11)
        text = f"全街道覆盖率 Area share: {data_status_label(s['data_status'])}"
        if s.get("sources_searched"):
            text += f"\n已检索 searched: {s['sources_searched']}"
    if view.simulated and view.before:
        b = view.before.get("share", float("nan"))
        zh, en = WHATIF_LABEL
        text += f"\n{zh} {en}: {b:.1%} → {share:.1%}" if np.isfinite(b) else ""
    if np.isfinite(view.threshold_m):
        text += f"\n步行距离阈值 Threshold: {view.threshold_m:,.0f} m"
    return text


def map_figure(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
    paper: str = "A4",
    view: View | None = None,
) -> Any:
    """Return a matplotlib Figure of the coverage map for one view (not saved).

    Drawn in the projected CRS (metres): cells by share covered, streets with names, the
    boundary, the view's gaps, facilities by source/status, simulated facilities, legend,
    scale bar, north arrow and a footer with data date, walking speed, basis and the OSM
    credit. ``view`` (see :func:`geo.reporting.view.make_view`) defaults to the results'
    view of the other arguments.
    """
    if view is None:
        view = make_view(results, area, category, tier=tier, scenario=scenario, profile=profile)
    family = cjk_font_family()
    crs = settings.PROJECTED_CRS
    with matplotlib.rc_context(
        {"font.family": [family, "DejaVu Sans"], "axes.unicode_minus": False, "pdf.fonttype": 42}
    ):
        fig = Figure(figsize=PAPERS[paper])
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.08, 0.72, 0.80))
        title_zh, title_en = titles(
            results, view.area, view.category, view.tier, view.scenario, view.profile
        )
        if view.simulated:
            title_zh += f" · {WHATIF_LABEL[0]}"
            title_en += f" · {WHATIF_LABEL[1]}"
        fig.text(0.02, 0.955, title_zh, fontsize=17, fontweight="bold", va="center")
        fig.text(0.02, 0.915, title_en, fontsize=11, va="center", color="#333333")
        xmin, ymin, xmax, ymax = draw_view(ax, results, view)
        handles = _draw_facilities(ax, view, crs, small=view.category == COMPOSITE)
        handles += _draw_whatif(ax, view, crs)
        span = max(xmax - xmin, ymax - ymin, 1.0)
        pad = span * 0.04
        # a strip below the area holds the scale bar, so it never covers the map
        ax.set_xlim(xmin - pad, xmax + pad)
        ax.set_ylim(ymin - pad - span * 0.07, ymax + pad)
        _draw_scale_bar(ax, xmin, ymin - pad - span * 0.055, span)
        _draw_north_arrow(fig, 0.76, 0.80)
        _draw_basis_badge(ax, results, view)
        lax = fig.add_axes((0.79, 0.09, 0.20, 0.78))
        lax.set_axis_off()
        _legend(lax, view, handles)
        lax.text(0.0, 0.60, view_stats(view), fontsize=9, va="top", transform=lax.transAxes)
        first, _, second = footer_line(
            results, view.area, view.profile, view.basis, sep="\t"
        ).rpartition("\t生成")
        fig.text(0.02, 0.045, first.replace("\t", "   ·   "), fontsize=7.5, color="#333333")
        fig.text(
            0.02, 0.025, ("生成" + second).replace("\t", "   ·   "), fontsize=7.5, color="#333333"
        )
        if view.summary.get("fallback"):
            fig.text(
                0.02,
                0.012,
                "注：结果中无此情景/步速，显示现状/一般步速。 Note: scenario/profile "
                "not in the results; showing baseline/default.",
                fontsize=7,
                color="#7f0000",
            )
    return fig
