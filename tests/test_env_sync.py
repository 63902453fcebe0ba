"""environment.yml (conda) lists the same dependencies as pyproject.toml (pip)."""

from __future__ import annotations

import re
import tomllib

import yaml

from geo import settings

CONDA_NAMES = {
    "osmium": "pyosmium",
    "h3": "h3-py",
    "types-pyyaml": "types-pyyaml",
    "xxhash": "python-xxhash",
}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ []", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_every_pyproject_dependency():
    py = tomllib.loads((settings.PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {_name(r) for r in py["project"]["dependencies"]}
    for extra in py["project"]["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((settings.PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))
    have: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            have |= {_name(d) for d in dep.get("pip", [])}
        else:
            have.add(_name(dep))
    missing = sorted(n for n in wanted if CONDA_NAMES.get(n, n) not in have)
    assert missing == []
