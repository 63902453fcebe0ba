"""The package's shape: data flows one way, no import circles, one home per table contract.

Stages in order (docs/ARCHITECTURE.md): level 0 (``geo._errors``, ``geo.settings``) ->
``geo.io`` -> ``geo.facilities`` -> ``geo.network`` -> ``geo.demand`` -> ``geo.planning`` ->
``geo.reporting`` -> ``geo.city`` -> ``dashboard`` -> ``geo.cli`` (the entry point).
A module may import its own stage and earlier ones, never a later one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from geo.io import tables

ROOT = Path(__file__).resolve().parent.parent

#: Stage rank by module prefix (longest prefix wins).
RANKS: dict[str, int] = {
    "geo": 0,
    "geo._errors": 0,
    "geo._types": 0,
    "geo.settings": 0,
    "geo.io": 1,
    "geo.facilities": 2,
    "geo.network": 3,
    "geo.demand": 4,
    "geo.planning": 5,
    "geo.reporting": 6,
    "geo.city": 7,
    "dashboard": 8,
    "geo.cli": 9,
}

#: Modules that import their stages inside functions on purpose (documented in the module):
#: the command line loads only the stage a command needs.
LOCAL_IMPORTS_ALLOWED = ("geo.cli",)

#: What the dashboard may use of geo: the reporting read model, the access engine's public API
#: (what-if), table constants, settings and errors.
DASHBOARD_ALLOWED = (
    "geo",
    "geo._errors",
    "geo._types",
    "geo.settings",
    "geo.io.tables",
    "geo.reporting",
    "geo.network.access",
    "geo.city",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("geo", "dashboard"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _rank(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for prefix, rank in RANKS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > best[0]
        ):
            best = (len(prefix), rank)
    return None if best is None else best[1]


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """Project modules named by a ``from ... import ...`` statement."""
    if node.level:
        base = module.split(".")
        if MODULES[module].name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported project module, line, at module top)`` of one module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top_level = {id(n) for n in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks count as top level
        if isinstance(node, ast.If):
            top_level.update(id(n) for n in node.body)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = _resolve(module, node)
        for name in names:
            if name.split(".")[0] in ("geo", "dashboard"):
                found.append((name, node.lineno, id(node) in top_level))
    return found


def test_the_shape_is_what_the_test_expects():
    assert _rank("geo.planning.context") == 5
    assert _rank("geo.io.tables") == 1
    assert _rank("dashboard.app") == 8
    assert "geo.planning.context" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_later_stage(module):
    own = _rank(module)
    assert own is not None, f"{module} is in no stage; add it to RANKS and docs/ARCHITECTURE.md"
    later = [
        f"{name} (line {line})" for name, line, _ in _imports(module) if (_rank(name) or 0) > own
    ]
    assert later == [], f"{module} imports later stages: {later}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("dashboard")))
def test_dashboard_uses_only_the_reporting_read_model_and_the_engine(module):
    bad = [
        f"{name} (line {line})"
        for name, line, _ in _imports(module)
        if name.startswith("geo")
        and not any(name == a or name.startswith(a + ".") for a in DASHBOARD_ALLOWED)
    ]
    assert bad == [], f"{module} reaches into pipeline stages: {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in LOCAL_IMPORTS_ALLOWED))
def test_project_imports_are_at_module_top(module):
    inner = [f"{name} (line {line})" for name, line, top in _imports(module) if not top]
    assert inner == [], f"{module} imports project modules inside functions: {inner}"


def test_there_is_no_import_circle():
    graph = {m: {n for n, _, _ in _imports(m) if n in MODULES and n != m} for m in MODULES}
    # a package's __init__ importing its own submodules is not a circle of the flow
    for m in graph:
        graph[m] = {n for n in graph[m] if not m.startswith(n + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                circles.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert circles == []


def test_architecture_doc_lists_every_table_contract():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for spec in tables.SPECS:
        row = re.search(rf"^\| `{re.escape(spec.filename)}` \|(.*)$", doc, re.M)
        assert row is not None, f"docs/ARCHITECTURE.md has no row for {spec.filename}"
        cols = re.findall(r"`([a-z_0-9]+)`", row.group(1))
        assert cols[: len(spec.names)] == list(spec.names), spec.name


def test_code_cites_the_repository_doc_not_the_old_design_file():
    stale = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in MODULES.values()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "DESIGN" in line and "ARCHITECTURE" not in line
    ]
    assert stale == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("SCENARIOS", tables.SCENARIOS), ("TIERS", tables.TIERS), ("PROFILES", tables.PROFILES)],
)
def test_fixed_value_lists_are_defined_once(name, value):
    pattern = re.compile(rf"^{name}\b[^=\n]*=", re.M)
    homes = [
        str(p.relative_to(ROOT))
        for p in MODULES.values()
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert homes == ["geo/io/tables.py"], f"{name} ({value}) is defined in {homes}"
