"""Command line: one clear line and exit code 2 for every class of bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from geo.cli import main
from tests._osmfiles import write_overpass_geom, write_xml
from tests._synth_area import make_area


def run(args, areas_file, data_dir):
    runner = CliRunner()
    return runner.invoke(
        main,
        [*args, "--data-dir", str(data_dir), "--no-progress"],
        env={"LIFECIRCLE_AREAS": str(areas_file)},
    )


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_status_json_lists_area_figures(tmp_path):
    areas = make_area(tmp_path)
    result = run(
        ["data", "status", "--json", "--out", str(tmp_path / "out")], areas, tmp_path / "data"
    )
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["area"], row["nodes"], row["edges"], row["largest_component_share"]) == (
        "synth",
        6,
        5,
        1.0,
    )
    assert set(row) >= {
        "area",
        "nodes",
        "edges",
        "completeness",
        "largest_component_share",
        "sources",
    }


def test_unknown_area(tmp_path):
    areas = make_area(tmp_path)
    line = one_error_line(run(["data", "status", "--area", "nowhere"], areas, tmp_path / "data"))
    assert line.startswith("error: ") and "unknown area 'nowhere'; known areas: synth" in line


def test_malformed_xml(tmp_path):
    def broken(path):
        path.write_text("<osm><node id='1' lat='31.2' lon='121.4'></osm>", encoding="utf-8")

    areas = make_area(tmp_path, network_writer=broken, network_name="broken.osm")
    line = one_error_line(
        run(["data", "status", "--out", str(tmp_path / "o")], areas, tmp_path / "data")
    )
    assert "broken.osm: malformed OSM file" in line


def test_malformed_json(tmp_path):
    def broken(path):
        path.write_text('{"elements": [', encoding="utf-8")

    areas = make_area(tmp_path, network_writer=broken, network_name="broken.json")
    line = one_error_line(
        run(["data", "status", "--out", str(tmp_path / "o")], areas, tmp_path / "data")
    )
    assert "broken.json: malformed JSON at line 1, column 15" in line


def test_gbk_file(tmp_path):
    def gbk(path):
        write_overpass_geom(path)
        path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))

    areas = make_area(tmp_path, network_writer=gbk, network_name="gbk.json")
    line = one_error_line(
        run(["data", "status", "--out", str(tmp_path / "o")], areas, tmp_path / "data")
    )
    assert "gbk.json: not valid UTF-8" in line and "GBK" in line


def test_empty_network(tmp_path):
    def empty(path):
        path.write_text('{"elements": []}', encoding="utf-8")

    areas = make_area(tmp_path, network_writer=empty, network_name="empty.json")
    line = one_error_line(
        run(["data", "status", "--out", str(tmp_path / "o")], areas, tmp_path / "data")
    )
    assert "empty.json: no walkable ways inside area 'synth'" in line


def test_fully_disconnected_network(tmp_path):
    def apart(path):
        nodes = {1: (121.419, 31.199), 2: (121.419, 31.2), 3: (121.421, 31.199), 4: (121.421, 31.2)}
        write_xml(
            path,
            nodes=nodes,
            ways=[(1, [1, 2], {"highway": "footway"}), (2, [3, 4], {"highway": "footway"})],
        )

    areas = make_area(tmp_path, network_writer=apart, network_name="apart.osm")
    line = one_error_line(
        run(["data", "status", "--out", str(tmp_path / "o")], areas, tmp_path / "data")
    )
    assert "apart.osm: network of area 'synth' is fully disconnected" in line


def test_missing_boundary(tmp_path):
    areas = make_area(tmp_path, relation=999)
    line = one_error_line(run(["data", "status"], areas, tmp_path / "data"))
    assert "b.geojson: no boundary for area 'synth' (OSM relation 1)" in line


def test_missing_input_lists_every_place_tried(tmp_path):
    areas = make_area(tmp_path)
    (tmp_path / "data" / "osm" / "synth" / "t.osm").unlink()
    line = one_error_line(run(["data", "status"], areas, tmp_path / "data"))
    assert "'osm/synth/t.osm' not found; tried: " in line
    assert line.count("osm/synth/t.osm") == 4  # the message + three data roots


def test_debug_shows_the_traceback(tmp_path):
    areas = make_area(tmp_path)
    result = run(["data", "status", "--area", "nowhere", "--debug"], areas, tmp_path / "data")
    assert result.exit_code != 0
    assert result.exception is not None


@pytest.mark.parametrize(
    "cmd",
    [["--help"], ["data", "status", "--help"], ["run", "--help"], ["data", "fetch", "--help"]],
)
def test_help(cmd):
    result = CliRunner().invoke(main, cmd)
    assert result.exit_code == 0 and "Usage" in result.output
