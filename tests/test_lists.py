"""Facility lists: reading CSV/XLSX, column names, classification, coordinates and bad input."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from geo._errors import InputError
from geo.facilities.address import AddressIndex
from geo.facilities.coords import wgs84_to_gcj02
from geo.facilities.lists import AreaInfo, error_table, match_columns, place_list, read_list
from geo.facilities.taxonomy import load_taxonomy
from tests import _synth_addresses as synth


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


@pytest.fixture(scope="module")
def area() -> AreaInfo:
    b = synth.boundary()
    return AreaInfo("synth", "合成街道", b, AddressIndex(b, synth.town(), name="synth"))


def write_csv(path, header, rows, encoding="utf-8"):
    lines = [",".join(header)] + [",".join(map(str, r)) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def gcj(x, y):
    lon, lat = synth.lonlat(x, y)
    gx, gy = wgs84_to_gcj02(lon, lat)
    return float(gx), float(gy)


def test_columns_are_matched_by_chinese_and_english_names():
    cols = match_columns(["机构名称", "类型", "详细地址", "经度", "纬度", "坐标系", "数据来源"])
    assert cols == {"name": "机构名称", "category": "类型", "address": "详细地址", "lon": "经度",
                    "lat": "纬度", "crs": "坐标系", "source": "数据来源"}  # fmt: skip
    assert match_columns(["Name", "Type", "Address", "Lng", "LAT"])["lon"] == "Lng"


def test_gb18030_csv_is_read_and_classified_by_its_type_text(tmp_path, tax, area):
    path = write_csv(tmp_path / "民政.csv", ["名称", "类型", "地址"],
                     [["幸福之家", "长者照护之家", "东西路21号"], ["阳光长者食堂", "", "南北路"]],
                     encoding="gb18030")  # fmt: skip
    placed = place_list(read_list(path), [area], tax, area="synth")
    rows = placed.rows.set_index("name")
    assert rows.loc["幸福之家", "category"] == "elderly_care"
    assert rows.loc["阳光长者食堂", "category"] == "meal_service"  # from the name's head noun
    assert rows.loc["幸福之家", "precision"] == "address"
    assert rows.loc["阳光长者食堂", "precision"] == "street"
    assert rows.loc["幸福之家", "list_row"] == 2
    assert rows.loc["幸福之家", "facility_id"] == "list:民政:2"
    assert placed.warnings == []


def test_xlsx_sheet_and_missing_sheet(tmp_path, tax, area):
    path = tmp_path / "list.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"name": ["A站"], "category": ["health"], "address": ["东西路22号"]}).to_excel(
            xw, sheet_name="卫生", index=False
        )
    placed = place_list(read_list(path, sheet="卫生"), [area], tax, area="synth")
    assert placed.rows["precision"].tolist() == ["interpolated"]
    with pytest.raises(InputError, match="no sheet '养老'; sheets: 卫生"):
        read_list(path, sheet="养老")


def test_no_name_column_lists_the_accepted_names(tmp_path):
    path = write_csv(tmp_path / "x.csv", ["foo", "地址"], [["a", "b"]])
    with pytest.raises(InputError, match=r"no name column .*accepted names: 名称, 机构名称"):
        read_list(path)


def test_undecodable_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x81\x30\xff\xff\xfe")
    with pytest.raises(InputError, match="cannot decode the file; expected UTF-8 or GB18030"):
        read_list(path)


def test_gcj02_given_as_wgs84_is_flagged_and_the_address_used(tmp_path, tax, area):
    lon, lat = gcj(300, 600)  # a point on 南北路, shifted by GCJ-02 but declared WGS-84
    path = write_csv(tmp_path / "c.csv", ["name", "category", "address", "lon", "lat", "crs"],
                     [["站", "health", "南北路与东西路交叉口", lon, lat, "wgs84"]])  # fmt: skip
    placed = place_list(read_list(path), [area], tax, area="synth")
    row = placed.rows.iloc[0]
    assert row["flag"] == "440 m from 南北路: looks like GCJ-02 read as WGS-84"
    assert row["precision"] == "intersection"
    assert placed.warnings == [f"{path} (row 2): point is 440 m from 南北路: looks like GCJ-02 "
                               "read as WGS-84"]  # fmt: skip


def test_declared_gcj02_is_converted(tmp_path, tax, area):
    lon, lat = gcj(300, 600)
    path = write_csv(tmp_path / "c.csv", ["name", "category", "address", "lon", "lat", "crs"],
                     [["站", "health", "南北路", lon, lat, "GCJ-02"]])  # fmt: skip
    row = place_list(read_list(path), [area], tax, area="synth").rows.iloc[0]
    assert row["precision"] == "coordinates"
    assert row["flag"] == ""
    assert synth.metres(row.geometry.x, row.geometry.y) == pytest.approx((300, 600), abs=0.01)


def test_error_table_against_given_coordinates(tmp_path, tax, area):
    rows = []
    for k, (addr, x, y) in enumerate([("东西路21号", 500, 520), ("东西路11号", 300, 530)]):
        lon, lat = synth.lonlat(x, y)
        rows.append([f"F{k}", "health", addr, lon, lat, "wgs84"])
    path = write_csv(tmp_path / "e.csv", ["name", "category", "address", "lon", "lat", "crs"], rows)
    placed = place_list(read_list(path), [area], tax, area="synth")
    table = error_table(placed.errors).set_index("precision")
    assert table.loc["address", "median_m"] == 10.0
    assert table.loc["interpolated", "median_m"] == 20.0
    assert table.loc["all placed", "n_rows"] == 2
    assert table.loc["all placed", "verdict"] == "too few rows to tell (n=2 < 10)"


def test_bad_rows_are_kept_with_one_line_each(tmp_path, tax, area):
    far_lon, far_lat = synth.lonlat(3000, 3000)
    path = write_csv(tmp_path / "bad.csv", ["名称", "类别", "地址", "经度", "纬度"], [
        ["甲", "health", "", "200.5", "31.2"],  # outside Shanghai
        ["乙", "health", "", far_lon, far_lat],  # outside the area
        ["丙", "health", "三楼东侧", "", ""],  # unreadable address
        ["丁", "health", "东西路21号", "", ""],
        ["丁", "health", "东西路21号", "", ""],  # duplicate
        ["", "health", "东西路1号", "", ""],  # no name
    ])  # fmt: skip
    placed = place_list(read_list(path), [area], tax, area="synth")
    w = placed.warnings
    assert (
        w[0] == f"{path} (row 2): lon/lat (200.5, 31.2) is outside Shanghai; coordinates not used"
    )
    assert w[1].startswith(f"{path} (row 3): coordinates (") and "not in 合成街道" in w[1]
    assert w[2] == (f"{path} (row 6): duplicate of list:bad:5 (same name, address and category); "
                    "kept, not counted twice")  # fmt: skip
    assert (
        w[3] == f"{path} (row 7): empty name; row kept, placed by its address or coordinates only"
    )
    rows = placed.rows
    assert len(rows) == 6
    assert rows["precision"].tolist() == ["area", "area", "unresolved", "address", "address",
                                          "address"]  # fmt: skip
    assert "address not read: no road" in rows.iloc[2]["note"]
    s = placed.summary()
    assert (s["rows"], s["unresolved"], s["area_only"], s["duplicates"]) == (6, 1, 2, 1)
    assert s["placed"]["address"] == 3
    assert math.isnan(rows.iloc[0]["uncertainty_m"])


@pytest.mark.integration
def test_import_command_on_the_mirror_list(mirror, tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    src = mirror / "facilities_official" / "facility_list_4_subdistricts.csv"
    res = CliRunner().invoke(main, ["facilities", "import", str(src), "--area", "xinhualu",
                                    "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "40 rows read / 读取" in res.output
    assert "subdistrict '五角场街道' is not 新华路街道" in res.output
    assert (tmp_path / "lists" / "imports.json").exists()
    rows = pd.read_csv(tmp_path / "lists" / "facility_list_4_subdistricts.csv")
    assert len(rows) == 40 and set(rows["area"]) == {"xinhualu"}


@pytest.mark.integration
def test_import_command_without_a_name_column_exits_2(mirror, tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    path = write_csv(tmp_path / "x.csv", ["foo", "地址"], [["a", "b"]])
    res = CliRunner().invoke(main, ["facilities", "import", str(path), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "no name column" in res.output


def test_geocode_report_rows_are_replaced_not_stacked(tmp_path, tax, area):
    from geo.facilities.lists import add_to_geocode_report

    path = write_csv(tmp_path / "l.csv", ["name", "category", "address"],
                     [["站", "health", "东西路21号"]])  # fmt: skip
    placed = place_list(read_list(path), [area], tax, area="synth")
    report = tmp_path / "geocode_report.csv"
    pd.DataFrame({"area": ["synth", "other"], "named": [1, 2]}).to_csv(report, index=False)
    for _ in range(2):  # a second build reads the first one's report
        add_to_geocode_report(report, placed.rows, placed.errors, ["synth"])
    rep = pd.read_csv(report)
    place = rep[rep["table"] == "placement"].set_index("area")
    assert place.loc["synth", "list_address"] == 1 and place.loc["other", "list_rows"] == 0
    assert list(rep[rep["table"] == "error"]["precision"]) == ["all placed"]
