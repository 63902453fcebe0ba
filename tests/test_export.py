"""Exports for meetings (geo.export) on a small SYNTHETIC results folder.

The synthetic folder (dashboard.synthetic) has three fake 1 km areas; coverage there is the
grid-street (Manhattan) distance, so the expected figures below can be checked by hand:
e.g. synthetic_a, health_station, 10 min (666.67 m), baseline: the existing facilities at
local (150, 150) and (150, 450) reach 686 of 1,099 residents.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dashboard.synthetic import synthetic_registry, synthetic_taxonomy, to_wgs, write_synthetic
from geo import settings
from geo._errors import LifeCircleError
from geo.reporting.export import export, export_path
from geo.reporting.html import facility_popup_html
from geo.reporting.maps import cjk_font_family
from geo.reporting.results import (
    area_summary,
    cell_shares,
    coverage_rows,
    load_results,
    neighbourhood_table,
    scenario_facilities,
    share_colour,
)

A = "synthetic_a"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Paths of a synthetic data + results folder (written once per module)."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def results(synthetic):
    """The synthetic results, read once."""
    return load_results(
        synthetic["out"], registry=synthetic_registry(synthetic), taxonomy=synthetic_taxonomy()
    )


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


# -- reading results ----------------------------------------------------------------------
def test_load_results_reads_every_synthetic_table(results):
    assert list(results.areas) == ["synthetic_a", "synthetic_b", "synthetic_c"]
    assert list(results.categories) == ["health_station", "meal_service"]
    assert results.missing == []


def test_load_results_names_basis_and_completeness(results):
    b = results.areas["synthetic_b"]
    assert (b.name_zh, b.basis, b.completeness) == ("合成乙街道", "estimate", 0.65)


def test_load_results_can_keep_only_some_areas(synthetic):
    res = load_results(
        synthetic["out"],
        registry=synthetic_registry(synthetic),
        taxonomy=synthetic_taxonomy(),
        areas=["synthetic_b"],
    )
    assert list(res.areas) == ["synthetic_b"]


def test_load_results_tolerates_a_missing_folder(tmp_path):
    res = load_results(tmp_path / "nothing", registry=None, taxonomy=[])
    assert res.areas == {}
    assert any("results folder not found" in m for m in res.missing)


def test_cell_shares_are_the_coverage_figures(results):
    shares = cell_shares(results, A, "health_station", tier=10)
    assert shares["unit"].tolist() == [f"{A}-n{i}" for i in (1, 2, 3, 4)]
    assert shares["covered_population"].tolist() == [275.0, 133.0, 243.0, 35.0]
    assert shares["share"].tolist() == [1.0, 0.4854, 0.8869, 0.1268]


def test_area_summary_per_scenario(results):
    got = [
        area_summary(results, A, "health_station", tier=10, scenario=s)["covered_population"]
        for s in ("baseline", "plan", "plan+recommended")
    ]
    assert got == [686.0, 903.0, 1099.0]


def test_area_summary_elderly_uses_slower_threshold(results):
    s = area_summary(results, A, "health_station", tier=10, profile="elderly")
    assert (s["threshold_m"], s["covered_population"]) == (500.0, 560.0)


def test_coverage_rows_fall_back_to_baseline_when_scenario_missing(results):
    base_only = results.coverage[results.coverage["scenario"] == "baseline"]
    res = load_results(results.out_dir, registry=results.registry, taxonomy=synthetic_taxonomy())
    res.coverage = base_only
    rows = coverage_rows(
        res, A, tier=10, scenario="plan", profile="default", category="health_station"
    )
    assert rows["fallback"].all()
    assert rows[rows["unit"] == "ALL"]["covered_population"].tolist() == [686.0]


def test_neighbourhood_table_has_uncovered_population(results):
    table = neighbourhood_table(results, A, tier=10)
    row = table[(table["unit"] == f"{A}-n4") & (table["category"] == "health_station")]
    assert row["uncovered_population"].tolist() == [241.0]
    assert row["label_zh"].tolist() == ["社区卫生服务站"]


def test_share_colour_classes():
    assert [share_colour(s) for s in (0.1, 0.5, 0.97, float("nan"))] == [
        "#d73027",
        "#fee08b",
        "#1a9850",
        "#bdbdbd",
    ]


# -- facilities -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scenario", "classes"),
    [
        ("baseline", ["osm", "plan_existing"]),
        ("plan", ["osm", "plan_existing", "plan_new"]),
        # the facility row with source recommended and the area's site of sites.gpkg, as
        # in the pipeline (geo.planning.scenarios.scenario_facilities)
        ("plan+recommended", ["osm", "plan_existing", "plan_new", "recommended", "recommended"]),
    ],
)
def test_scenario_facilities_by_source_and_status(results, scenario, classes):
    assert scenario_facilities(results, A, "health_station", scenario)["klass"].tolist() == classes


def test_scenario_facilities_follow_the_pipeline_rule(results):
    res = load_results(results.out_dir, registry=results.registry, taxonomy=synthetic_taxonomy())
    fac = res.facilities.copy()
    fac["counted"] = fac["source"] != "osm"  # a repeated OSM row does not count
    fac.loc[fac["status"] == "planned", "precision"] = "area"  # position unknown
    res.facilities = fac
    got = scenario_facilities(res, A, "health_station", "plan")["klass"].tolist()
    assert got == ["plan_existing"]


def test_recommended_sites_come_from_sites_gpkg_when_facilities_have_none(results):
    res = load_results(results.out_dir, registry=results.registry, taxonomy=synthetic_taxonomy())
    res.facilities = res.facilities[res.facilities["source"] != "recommended"]
    rec = scenario_facilities(res, A, "health_station", "plan+recommended")
    rec = rec[rec["klass"] == "recommended"]
    assert rec["gain_population"].tolist() == [120.0]


def test_popup_escapes_names(results):
    fac = scenario_facilities(results, A, "meal_service", "baseline")
    popup = facility_popup_html(next(fac.itertuples()))
    assert "合成食堂&lt;b&gt;" in popup
    assert "合成食堂<b>" not in popup


def test_plan_popup_shows_sentence_document_and_precision(results):
    fac = scenario_facilities(results, A, "health_station", "plan")
    popup = facility_popup_html(next(fac[fac["klass"] == "plan_new"].itertuples()))
    assert "在合成路新建社区卫生服务站1处" in popup
    assert "synthetic_plan.txt" in popup
    assert "precision: street" in popup


# -- exports -------------------------------------------------------------------------------
def test_cjk_font_is_noto_sans_cjk():
    assert cjk_font_family() == "Noto Sans CJK SC"


def test_missing_cjk_font_is_a_clear_error(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    with pytest.raises(LifeCircleError, match="fonts-noto-cjk"):
        cjk_font_family()


def test_export_path_is_generated_under_exports(tmp_path):
    p = export_path(
        tmp_path,
        A,
        "health_station",
        "pdf",
        tier=10,
        scenario="plan+recommended",
        profile="elderly",
        paper="A3",
    )
    assert p.parent == tmp_path / "exports"
    assert re.fullmatch(
        r"synthetic_a_health_station_plan-recommended_10min_elderly_A3_"
        r"\d{8}-\d{6}_[0-9a-f]{6}\.pdf",
        p.name,
    )


def test_export_png_is_a4_landscape_at_200_dpi(results, artifacts):
    path = export(results, A, "health_station", "png", tier=10)
    assert path.parent == results.out_dir / "exports"
    assert _png_size(path) == (2338, 1654)
    (artifacts / "export_synthetic_a4.png").write_bytes(path.read_bytes())


def test_export_pdf_a3_landscape_with_embedded_cjk_font(results, artifacts):
    path = export(results, "synthetic_b", "meal_service", "pdf", paper="A3")
    data = path.read_bytes()
    assert b"/MediaBox [ 0 0 1190.88 841.68 ]" in data
    assert b"NotoSansCJKsc" in data
    (artifacts / "export_synthetic_a3.pdf").write_bytes(data)


def test_export_html_is_standalone_with_credit(results):
    text = export(results, A, "health_station", "html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img)[^>]*(src|href)=", text)  # nothing from a CDN
    assert "L.map(" in text and "Leaflet 1.9.4" in text
    assert "© OpenStreetMap contributors" in text
    assert "合成甲街道 · 社区卫生服务站 · 15分钟步行覆盖率" in text


def test_export_xlsx_neighbourhood_figures(results):
    path = export(results, A, "health_station", "xlsx", tier=10)
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == [
        "health_station 社区单元",
        "all 全部类别",
        "area 街道汇总",
        "gaps 缺口",
        "facilities 设施",
        "plan-vs-map 规划对照",
        "about 说明",
    ]
    chosen = sheets["health_station 社区单元"]
    assert chosen["覆盖人口 covered"].tolist() == [275.0, 133.0, 243.0, 35.0]
    assert "© OpenStreetMap contributors" in sheets["about 说明"]["value 值"].tolist()
    fac = sheets["facilities 设施"]
    assert fac["定位精度 precision"].tolist() == ["exact", "street"]
    assert sheets["gaps 缺口"]["阈值 threshold (m)"].nunique() <= 1


def test_export_xlsx_sheets_have_autofilters(results):
    from openpyxl import load_workbook

    book = load_workbook(export(results, A, "health_station", "xlsx"))
    assert all(ws.auto_filter.ref for ws in book.worksheets)


def test_view_gaps_follow_the_tier(results):
    from geo.reporting.view import view_gaps

    pops = {
        t: view_gaps(results, A, "health_station", tier=t, scenario="baseline", profile="default")[
            "population"
        ].sum()
        for t in (5, 15)
    }
    cov = results.coverage
    uncovered = {
        t: float(
            cov[
                (cov["area"] == A)
                & (cov["unit"] == "ALL")
                & (cov["category"] == "health_station")
                & (cov["tier"] == t)
                & (cov["scenario"] == "baseline")
                & (cov["profile"] == "default")
            ]
            .eval("population - covered_population")
            .iloc[0]
        )
        for t in (5, 15)
    }
    assert pops == pytest.approx(uncovered)
    assert pops[5] > pops[15]


def test_export_carries_the_whatif(results):
    from geo.reporting.view import WhatIfOverlay, WhatIfPoint

    dem = results.demand(A)
    near = np.zeros(len(dem))  # every unit next to a simulated facility
    lon, lat = to_wgs(A, 500.0, 500.0)
    wi = WhatIfOverlay((WhatIfPoint(lon, lat, "合成路附近 #1", "near 合成路 #1"),), near)
    path = export(results, A, "health_station", "xlsx", whatif=wi)
    assert "whatif" in path.name
    sheets = pd.read_excel(path, sheet_name=None)
    assert "what-if 模拟" in sheets
    assert sheets["health_station 社区单元"]["覆盖率 share"].tolist() == [1.0, 1.0, 1.0, 1.0]
    about = sheets["about 说明"].set_index("item 项目")["value 值"].to_dict()
    assert "模拟 / what-if" in about
    html_text = export(results, A, "health_station", "html", whatif=wi).read_text("utf-8")
    assert "· 模拟" in html_text and "合成路附近 #1" in html_text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"area": "../etc"}, "unknown area '../etc'; known areas: synthetic_a"),
        ({"category": "casino"}, "unknown category 'casino'"),
        ({"fmt": "exe"}, "unknown format 'exe'"),
        ({"tier": 7}, "unknown tier '7'"),
        ({"paper": "Letter"}, "unknown paper size 'Letter'"),
    ],
)
def test_export_rejects_bad_input(results, kwargs, message):
    args = {"area": A, "category": "health_station", "fmt": "png", **kwargs}
    with pytest.raises(LifeCircleError, match=re.escape(message)):
        export(results, args.pop("area"), args.pop("category"), args.pop("fmt"), **args)


# -- command line ---------------------------------------------------------------------------
@pytest.fixture
def cli_env(synthetic, monkeypatch):
    """Point the CLI's registry at the synthetic one."""
    monkeypatch.setattr(settings, "AREAS_FILE", synthetic["areas_file"])
    monkeypatch.setattr("geo.reporting.results._load_taxonomy_categories", lambda: ({}, None))
    return ["--out", str(synthetic["out"]), "--data-dir", str(synthetic["data"])]


def test_cli_export_writes_xlsx(cli_env):
    from geo.cli import main

    res = CliRunner().invoke(
        main,
        [
            "export",
            *cli_env,
            "--area",
            A,
            "--category",
            "health_station",
            "--format",
            "xlsx",
            "--json",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    paths = [Path(p) for p in __import__("json").loads(res.stdout)]
    assert len(paths) == 1
    assert paths[0].suffix == ".xlsx"
    assert paths[0].exists()


def test_cli_export_requires_an_area(cli_env):
    from geo.cli import main

    res = CliRunner().invoke(main, ["export", *cli_env, "--category", "health_station"])
    assert res.exit_code == 2
    assert "give the area to export with --area" in res.output


def test_cli_export_unknown_category_exits_2(cli_env):
    from geo.cli import main

    res = CliRunner().invoke(
        main, ["export", *cli_env, "--area", A, "--category", "casino", "--no-progress"]
    )
    assert res.exit_code == 2
    assert "unknown category 'casino'" in res.output


@pytest.mark.integration
def test_exports_say_no_facility_data(pipeline_out):
    """A category without facility data: no gaps, and the exports say so (issue 11)."""
    from geo.reporting.results import load_results
    from geo.reporting.view import make_view

    cov = pd.read_csv(pipeline_out / "coverage.csv")
    rows = cov[(cov["data_status"] == "no_facility_data") & (cov["unit"] == "ALL")]
    r = rows[(rows["scenario"] == "baseline") & (rows["category"] != "composite")].iloc[0]
    results = load_results(pipeline_out)
    view = make_view(results, r["area"], r["category"])
    assert view.summary["data_status"] == "no_facility_data"
    assert view.gaps.empty
    path = export(results, r["area"], r["category"], "html")
    assert "无设施数据 / no facility data" in path.read_text(encoding="utf-8")


def test_report_is_a_multi_page_pdf_with_embedded_fonts(results, tmp_path):
    from geo.reporting.report import write_report

    path = write_report(results, A, png_dir=tmp_path / "pages")
    assert path.parent == results.out_dir / "reports"
    pdf = path.read_bytes()
    # cover, locator, one page per category (2), plan vs map, sites + deltas, method
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 7
    assert b"/FontFile2" in pdf and b"NotoSansCJK" in pdf
    assert len(list((tmp_path / "pages").glob("page-*.png"))) == 7


def test_report_cli_requires_an_area(cli_env):
    from geo.cli import main

    res = CliRunner().invoke(main, ["report", *cli_env, "--no-progress"])
    assert res.exit_code == 2
    assert "give the area to report on with --area" in res.output
