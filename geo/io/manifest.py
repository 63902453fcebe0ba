"""The run manifest ``out/manifest.json``: which run of which stage made each result, from what.

Every stage, when it finishes, records (atomically, under a lock) per area: a run id, the time,
the code version, the run ids of the earlier stages it read (its lineage), a content hash of
each external input file it was given, and a content hash of every result file it wrote. A stage
refuses results whose lineage is out of date (an earlier stage was run again since they were
made), and readers (``export``, the dashboard) warn about stale or partial results.

Stages and what they read (their dependencies) are listed in :data:`DEPENDS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import secrets
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from geo import settings
from geo._errors import InputError
from geo.io.files import fingerprint, write_text_atomic

MANIFEST = "manifest.json"
VERSION = 1

#: Pipeline stages and the earlier stages whose results each one reads.
DEPENDS: dict[str, tuple[str, ...]] = {
    "plans": (),
    "facilities": (),
    "demand": (),
    "access": ("demand", "facilities"),
    "coverage": ("access", "demand", "facilities"),
    "sites": ("plans", "facilities", "demand"),
    "scenarios": ("plans", "facilities", "demand", "sites"),
}

#: Result folders that are not stage outputs (caches, exports, the manifest itself).
_SKIP = ("cache", "exports", "reports", "test-artifacts")


def code_version() -> str:
    """Return the package version plus the git commit of the code, when it is a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("lifecircle")
    except PackageNotFoundError:
        ver = "0"
    try:
        head = subprocess.run(
            ["git", "-C", str(settings.PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return f"{ver}+{head}" if head else ver


def result_files(out: Path) -> dict[str, int]:
    """``relpath -> mtime_ns`` of every result file under ``out`` (no caches, exports, temps)."""
    found: dict[str, int] = {}
    if not out.is_dir():
        return found
    for p in out.rglob("*"):
        rel = p.relative_to(out)
        if rel.parts[0] in _SKIP or p.name.startswith(".") or p.name == MANIFEST:
            continue
        with contextlib.suppress(OSError):
            if p.is_file():
                found[str(rel)] = p.stat().st_mtime_ns
    return found


def read(out: Path) -> dict[str, Any]:
    """Return the manifest of ``out`` (empty when absent); a damaged one is an error naming it."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return {"version": VERSION, "stages": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        raise InputError(
            "run manifest is unreadable",
            path=path,
            hint="delete it and run `lifecircle run` again",
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
        raise InputError("run manifest has no 'stages' object", path=path)
    return doc


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".manifest.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def record(
    out: Path,
    stage: str,
    areas: Sequence[str],
    *,
    before: dict[str, int],
    inputs: Iterable[Path] = (),
    options: dict[str, Any] | None = None,
) -> str:
    """Record a finished stage for ``areas``; returns its run id.

    ``before`` is :func:`result_files` taken when the stage started: files written since are
    its outputs. ``inputs`` are the external files it read (hashed by content).
    """
    out = Path(out)
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    after = result_files(out)
    written = sorted(k for k, m in after.items() if before.get(k) != m)
    hashes = {k: fingerprint(out / k) for k in written}
    ins = {}
    for p in inputs:
        with contextlib.suppress(InputError):  # a missing optional input: not recorded
            ins[str(p)] = fingerprint(p)
    with _locked(out):
        doc = read(out)
        stages = doc.setdefault("stages", {})
        entry = stages.setdefault(stage, {"areas": {}, "outputs": []})
        for a in areas:
            entry["areas"][a] = {
                "run": run_id,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "code": code_version(),
                "upstream": {
                    dep: stages.get(dep, {}).get("areas", {}).get(a, {}).get("run")
                    for dep in DEPENDS.get(stage, ())
                },
                "inputs": ins,
                "options": options or {},
            }
        entry["outputs"] = sorted(set(entry.get("outputs") or []) | set(hashes))
        # one record per file: its last writer (scenarios adds rows to coverage.csv)
        files = doc.setdefault("files", {})
        for rel, h in hashes.items():
            files[rel] = {"hash": h, "stage": stage, "run": run_id}
        doc["version"] = VERSION
        write_text_atomic(out / MANIFEST, json.dumps(doc, ensure_ascii=False, indent=1))
    return run_id


def stale_reasons(
    out: Path, stages: Iterable[str], areas: Sequence[str], *, check_outputs: bool = True
) -> list[str]:
    """Why the results of ``stages`` for ``areas`` cannot be trusted ([] when they can).

    - lineage: a stage's results for an area were made from an earlier run of a stage it
      reads (that stage was run again since, e.g. with a new population total);
    - partial: a result file no longer has the content its stage recorded (an interrupted
      run rewrote part of it, or it was edited).
    """
    doc = read(Path(out))
    recorded = doc.get("stages", {})
    reasons: list[str] = []
    stages = list(stages)
    for stage in stages:
        entry = recorded.get(stage)
        if not entry:
            continue
        for a in areas:
            rec = entry.get("areas", {}).get(a)
            if rec is None:
                continue
            for dep, run in (rec.get("upstream") or {}).items():
                current = recorded.get(dep, {}).get("areas", {}).get(a, {}).get("run")
                if current is not None and current != run:
                    reasons.append(
                        f"the {stage} results of area '{a}' were made before the latest "
                        f"{dep} run; run `lifecircle {_command(stage)}` again"
                    )
                    break
    if check_outputs:
        wanted = set(stages)
        for rel, f in (doc.get("files") or {}).items():
            p = Path(out) / rel
            if f.get("stage") in wanted and p.exists() and fingerprint(p) != f.get("hash"):
                reasons.append(
                    f"{rel} changed after the {f['stage']} run that wrote it (an interrupted "
                    f"run?); run `lifecircle {_command(f['stage'])}` again"
                )
    return list(dict.fromkeys(reasons))


def check_inputs(out: Path, stage: str, areas: Sequence[str]) -> None:
    """Refuse to run ``stage`` on results whose lineage is out of date (one line, exit 2)."""
    reasons = stale_reasons(out, DEPENDS.get(stage, ()), areas)
    if reasons:
        raise InputError(
            f"stale results: {reasons[0]}"
            + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""),
            path=Path(out) / MANIFEST,
        )


def _command(stage: str) -> str:
    return {"plans": "plans extract", "facilities": "facilities build"}.get(stage, stage)


def input_files(paths: Iterable[Any]) -> list[Path]:
    """Existing files among ``paths`` (None and folders skipped), in order, once each."""
    seen: dict[str, Path] = {}
    for p in paths:
        if p is None:
            continue
        q = Path(p)
        with contextlib.suppress(OSError):
            if q.is_file():
                seen.setdefault(str(q), q)
    return list(seen.values())


def manifest_path(out: Path) -> Path:
    """Where the manifest of ``out`` lives."""
    return Path(out) / MANIFEST


__all__ = [
    "DEPENDS",
    "MANIFEST",
    "check_inputs",
    "code_version",
    "input_files",
    "manifest_path",
    "read",
    "record",
    "result_files",
    "stale_reasons",
]
