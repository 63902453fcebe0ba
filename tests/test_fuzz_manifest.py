"""Run manifest: lineage per stage and area, stale and partial results refused or warned about.

Synthetic result files written by the test (no pipeline run, no mirror data).
"""

from __future__ import annotations

import json

import pytest

from geo._errors import InputError
from geo.io import manifest


def _stage(out, stage, areas, files):
    """Run a fake stage: write ``files`` ({relpath: text}) into ``out`` and record it."""
    before = manifest.result_files(out)
    for rel, text in files.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return manifest.record(out, stage, areas, before=before)


def test_record_lists_outputs_lineage_and_code(tmp_path):
    out = tmp_path / "out"
    d = _stage(out, "demand", ["a"], {"demand/a.gpkg": "pop 100"})
    f = _stage(out, "facilities", ["a"], {"facilities.gpkg": "f"})
    _stage(out, "access", ["a"], {"access/a.parquet": "dist"})
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    rec = doc["stages"]["access"]["areas"]["a"]
    assert rec["upstream"] == {"demand": d, "facilities": f}
    assert doc["stages"]["access"]["outputs"] == ["access/a.parquet"]
    assert doc["files"]["demand/a.gpkg"]["stage"] == "demand"
    assert rec["code"] and rec["time"]


def test_a_stage_refuses_results_made_from_an_older_run(tmp_path):
    out = tmp_path / "out"
    _stage(out, "demand", ["a", "b"], {"demand/a.gpkg": "pop 100", "demand/b.gpkg": "pop 7"})
    _stage(out, "facilities", ["a", "b"], {"facilities.gpkg": "f"})
    _stage(out, "access", ["a", "b"], {"access/a.parquet": "d", "access/b.parquet": "d"})
    manifest.check_inputs(out, "coverage", ["a", "b"])  # all fresh
    _stage(out, "demand", ["a"], {"demand/a.gpkg": "pop 200"})  # a new census total for a
    with pytest.raises(
        InputError, match="access results of area 'a' were made before the latest demand run"
    ):
        manifest.check_inputs(out, "coverage", ["a"])
    manifest.check_inputs(out, "coverage", ["b"])  # area b is untouched


def test_partial_rewrite_is_reported(tmp_path):
    out = tmp_path / "out"
    _stage(out, "coverage", ["a"], {"coverage.csv": "a,1.0"})
    (out / "coverage.csv").write_text("a,0.5 (half written by a killed run)", encoding="utf-8")
    (reason,) = manifest.stale_reasons(out, ["coverage"], ["a"])
    assert "coverage.csv changed after the coverage run" in reason


def test_later_stage_rewriting_a_shared_file_is_not_partial(tmp_path):
    out = tmp_path / "out"
    _stage(out, "coverage", ["a"], {"coverage.csv": "baseline rows"})
    _stage(out, "scenarios", ["a"], {"coverage.csv": "baseline rows + plan rows"})
    assert manifest.stale_reasons(out, manifest.DEPENDS, ["a"]) == []


@pytest.mark.parametrize("text", ["", "{", "[]", '{"stages": 3}', "[" * 100_000])
def test_damaged_manifest_is_one_error_naming_it(tmp_path, text):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"manifest\.json"):
        manifest.check_inputs(out, "coverage", ["a"])


def test_export_warns_on_stale_results(tmp_path):
    """The CLI's reader commands print the reasons as warning lines."""
    from click.testing import CliRunner

    from geo.cli import main
    from tests._synth_area import make_area

    areas = make_area(tmp_path)
    out = tmp_path / "out"
    _stage(out, "demand", ["synth"], {"demand/synth.gpkg": "1"})
    _stage(out, "facilities", ["synth"], {"facilities.gpkg": "f"})
    _stage(out, "access", ["synth"], {"access/synth.parquet": "d"})
    _stage(out, "demand", ["synth"], {"demand/synth.gpkg": "2"})
    result = CliRunner().invoke(
        main,
        ["export", "--area", "synth", "--category", "x", "--out", str(out), "--no-progress"],
        env={"LIFECIRCLE_AREAS": str(areas), "LIFECIRCLE_DATA": str(tmp_path / "data")},
    )
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert any("access results of area 'synth'" in w for w in warnings), result.stderr
