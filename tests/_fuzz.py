"""Helpers for the fuzz suite: run the CLI on a synthetic area, check one line + exit 2 and that
the results folder is byte-identical before and after (tests only; all data synthetic)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from geo.cli import main


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (empty when it does not exist)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_cli(args: list[str], areas_file: Path, data_dir: Path):
    """Invoke ``lifecircle`` in-process with a synthetic registry and data folder."""
    return CliRunner().invoke(
        main,
        [*args, "--data-dir", str(data_dir), "--no-progress"],
        env={"LIFECIRCLE_AREAS": str(areas_file)},
    )


def assert_refused(result, *names: str) -> str:
    """Exit 2, exactly one ``error:`` line on stderr naming each of ``names``; returns it."""
    assert result.exit_code == 2, (result.exit_code, result.output, repr(result.exception))
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def refused_unchanged(args: list[str], areas_file: Path, data_dir: Path, out: Path, *names: str):
    """Run, assert it was refused with one line naming ``names``, and ``out`` is unchanged."""
    before = snapshot(out)
    line = assert_refused(run_cli([*args, "--out", str(out)], areas_file, data_dir), *names)
    assert snapshot(out) == before
    return line
