"""Fuzz suite, command-line options and file-system faults: one line, exit 2, out/ unchanged.

Every input here is synthetic (tests/_synth_area.py); no mirror data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import settings as geo_settings
from tests._fuzz import assert_refused, refused_unchanged, run_cli, snapshot
from tests._synth_area import make_area


@pytest.fixture
def area(tmp_path):
    """(registry file, data folder, out folder with one earlier result file)."""
    areas = make_area(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "network_status.json").write_text("[]", encoding="utf-8")
    return areas, tmp_path / "data", out


def test_repeated_area_is_used_once(area):
    areas, data, out = area
    result = run_cli(
        ["data", "status", "--json", "--area", "synth", "--area", "synth", "--out", str(out)],
        areas,
        data,
    )
    assert result.exit_code == 0, result.stderr
    assert [r["area"] for r in json.loads(result.stdout)] == ["synth"]


@pytest.mark.parametrize(
    ("value", "why"),
    [("nan", "finite"), ("inf", "finite"), ("3", "[50, 2000]"), ("1e9", "[50, 2000]"), ("x", "")],
)
def test_hex_m_out_of_range(area, value, why):
    areas, data, out = area
    line = refused_unchanged(["demand", "--hex-m", value], areas, data, out, "--hex-m", why)
    assert value in line


@pytest.mark.parametrize("value", ["1e30", "nan", "-5", "inf", "12.5", "1,0e9"])
def test_population_total_out_of_range(area, value):
    areas, data, out = area
    refused_unchanged(
        ["demand", "--population-total", f"synth={value}"], areas, data, out, "--population-total"
    )


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_hex_m_any_float_is_accepted_only_in_range(area, value):
    areas, data, out = area
    if 50 <= value <= 2000:
        return  # valid: the demand stage would run (covered by the demand tests)
    refused_unchanged(["demand", "--hex-m", repr(value)], areas, data, out, "--hex-m")


@pytest.mark.parametrize("value", ["nan", "inf", "0.5", "1e9", "-inf"])
def test_sites_cell_m_must_be_finite_and_in_range(area, value):
    areas, data, out = area
    refused_unchanged(["sites", "--cell-m", value], areas, data, out, "--cell-m", "[1, 2000]")


def test_out_under_a_file_is_one_line(area, tmp_path):
    areas, data, _ = area
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run_cli(["data", "status", "--out", str(blocker / "out")], areas, data)
    assert_refused(result, str(blocker))


def test_write_failure_efbig_is_one_line(area, tmp_path):
    """A file-size limit makes writes fail with EFBIG: one line naming the file, exit 2."""
    areas, data, out = area
    before = snapshot(out)
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))
        from geo.cli import main
        sys.argv = ["lifecircle", "run", "--out", {str(out)!r}, "--data-dir", {str(data)!r},
                    "--no-progress"]
        main()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"LIFECIRCLE_AREAS": str(areas), "PYTHONPATH": str(geo_settings.PROJECT_ROOT)},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(out) in errors[0] and "EFBIG" in errors[0]
    assert snapshot(out) == before


def test_stale_tmp_files_of_dead_runs_are_removed(area):
    areas, data, out = area
    dead = out / ".coverage.csv.999999999-abcd.tmp.csv"  # pid that cannot exist
    dead.write_text("partial", encoding="utf-8")
    (out / "access").mkdir()
    dead_nested = out / "access" / ".synth.parquet.999999999-x.tmp.parquet"
    dead_nested.write_bytes(b"")
    result = run_cli(["data", "status", "--out", str(out)], areas, data)
    assert result.exit_code == 0, result.stderr
    assert not dead.exists() and not dead_nested.exists()


def test_plan_without_any_facility_mention_is_a_warning(tmp_path):
    import yaml

    areas = make_area(tmp_path)
    (tmp_path / "data" / "plans").mkdir()
    (tmp_path / "data" / "plans" / "synthetic_plan.txt").write_text(
        "今天天气很好。会议于上午九点开始。\n", encoding="utf-8"
    )
    reg = yaml.safe_load(areas.read_text(encoding="utf-8"))
    reg["areas"][0]["plans"] = ["plans/synthetic_plan.txt"]
    areas.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    result = run_cli(
        ["plans", "extract", "--area", "synth", "--out", str(tmp_path / "out")],
        areas,
        tmp_path / "data",
    )
    assert result.exit_code == 0, result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "synthetic_plan.txt" in warnings[0], result.stderr
    assert "no facility mention" in warnings[0]
