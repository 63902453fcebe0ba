"""Any plan text: .txt in UTF-8 or GB18030, .docx; bad input is one line and exit 2.

`lifecircle plans extract --plan FILE --area ID` on a synthetic plan written by the test.
"""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

from geo._errors import InputError
from geo.cli import main
from geo.facilities.plans import read_plan
from geo.io.tables import read_mentions

PLAN = "一、2025年工作计划\n新建“乐享”文化盒子1处，改造提升滨河步道。\n"


def test_utf8_with_bom_and_gb18030_read_the_same(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(PLAN.encode("utf-8-sig"))
    b.write_bytes(PLAN.encode("gb18030"))
    assert read_plan(a) == read_plan(b) == PLAN


def test_docx_paragraphs_and_table_rows(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("新建枫溪书房。")
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text = "1"
    t.rows[0].cells[1].text = "改造南塘菜市场"
    d.save(str(tmp_path / "p.docx"))
    assert read_plan(tmp_path / "p.docx") == "新建枫溪书房。\n1|改造南塘菜市场"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\r\n ", "empty"),
        (b"\x00\x01binary\x00", "binary"),
        (b"%PDF-1.7 ...", "binary"),
        (random.Random(7).randbytes(3000).replace(b"\x00", b"\x01"), "known encoding"),
        ("Новый центр".encode("koi8-r"), "known encoding"),
    ],
)
def test_bad_plan_files_raise_input_error(tmp_path, data, message):
    p = tmp_path / "plan.txt"
    p.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_plan(p)


def test_broken_docx_is_an_input_error(tmp_path):
    p = tmp_path / "p.docx"
    p.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(InputError, match=r"cannot read \.docx"):
        read_plan(p)


def test_cli_plan_file_for_a_registry_area(tmp_path, mirror):
    plan = tmp_path / "newtown_2025.txt"
    plan.write_bytes(PLAN.encode("gb18030"))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["plans", "extract", "--plan", str(plan), "--area", "xinhualu", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output + (res.stderr or "")
    df = read_mentions(out / "plan_mentions.csv")
    assert set(df["doc"]) == {"newtown_2025"} and set(df["area"]) == {"xinhualu"}
    assert sorted(zip(df["name"], df["action"], strict=True)) == [
        ("乐享文化盒子", "new"),
        ("滨河步道", "upgrade"),
    ]


def test_cli_bad_plan_is_one_line_exit_2_and_out_is_kept(tmp_path, mirror):
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan_mentions.csv").write_text("keep me", encoding="utf-8")
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    res = CliRunner().invoke(
        main, ["plans", "extract", "--plan", str(bad), "--area", "xinhualu", "--out", str(out)]
    )
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "empty" in res.stderr
    assert (out / "plan_mentions.csv").read_text(encoding="utf-8") == "keep me"


def test_cli_plan_needs_one_area(tmp_path, mirror):
    plan = tmp_path / "p.txt"
    plan.write_text(PLAN, encoding="utf-8")
    res = CliRunner().invoke(main, ["plans", "extract", "--plan", str(plan)])
    assert res.exit_code == 2 and "exactly one --area" in res.stderr


@pytest.mark.parametrize(
    ("area", "want"),
    [("四平路街道", "sipinglu"), ("sipinglu", "sipinglu"), ("qibaotown", "qibaotown")],
)
def test_cli_plan_for_any_subdistrict_without_adding_it(tmp_path, mirror, monkeypatch, area, want):
    """A catalogue unit by name or id, or any other id as given: the text needs no boundary."""
    monkeypatch.setenv("LIFECIRCLE_AREAS_LOCAL", str(tmp_path / "none.yaml"))
    plan = tmp_path / "p.txt"
    plan.write_text("学习控江路街道星光睦邻中心经验，新建松风书房。", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["plans", "extract", "--plan", str(plan), "--area", area, "--out", str(out)]
    )
    assert res.exit_code == 0, res.output + (res.stderr or "")
    df = read_mentions(out / "plan_mentions.csv")
    assert set(df["area"]) == {want}
    assert sorted(zip(df["name"], df["in_area"], strict=True)) == [
        ("控江路街道星光睦邻中心", "no"),
        ("松风书房", "yes"),
    ]


def test_cli_plan_with_an_unknown_id_takes_the_most_named_subdistrict_as_home(
    tmp_path, mirror, monkeypatch
):
    monkeypatch.setenv("LIFECIRCLE_AREAS_LOCAL", str(tmp_path / "none.yaml"))
    plan = tmp_path / "p.txt"
    plan.write_text(
        "四平路街道2025年工作计划。依托四平路街道星光睦邻中心开展活动。"
        "学习控江路街道阳光睦邻中心经验。",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["plans", "extract", "--plan", str(plan), "--area", "x1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output + (res.stderr or "")
    df = read_mentions(out / "plan_mentions.csv")
    assert sorted(zip(df["name"], df["in_area"], strict=True)) == [
        ("四平路街道星光睦邻中心", "yes"),
        ("控江路街道阳光睦邻中心", "no"),
    ]
