"""The ``lifecircle`` command line: one entry point for every stage.

Every command takes ``--out``, ``--area`` (repeatable; default all), ``--data-dir`` and
``--debug``; bad input ends with one clear line on stderr and a non-zero exit code.

The CLI sits above every stage (docs/ARCHITECTURE.md). Each command imports its stage inside
the function on purpose: the stages pull in numba, geopandas and Dash, and `lifecircle --help`
or `lifecircle data status` should not pay for all of them (0.2 s instead of 2 s).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.io import manifest, validate
from geo.io.files import remove_stale_tmp
from geo.io.validate import HEX_RANGE_M, FiniteFloat, InputWarning

if TYPE_CHECKING:
    from geo.io.areas import Area, Registry

_T = TypeVar("_T")

EXIT_BAD_INPUT = 2


@dataclass
class RunContext:
    """What every command needs: the registry, the chosen areas and where results go."""

    out: Path
    area_ids: tuple[str, ...] = ()
    data_dir: Path | None = None
    debug: bool = False
    as_json: bool = False
    progress: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def registry(self) -> Registry:
        """The study-area registry (read once, with ``--data-dir``)."""
        from geo.io.areas import load_registry

        return load_registry(data_dir=self.data_dir)

    @functools.cached_property
    def areas(self) -> list[Area]:
        """The chosen areas (every registry area without ``--area``)."""
        return self.registry.select(self.area_ids)

    @property
    def cache_dir(self) -> Path:
        """The walking-network cache folder under the results folder."""
        return self.out / "cache" / "network"


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--out --area --data-dir --debug`` and turn LifeCircleError into one line + exit 2."""

    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Results folder (default: ./out).",
    )
    @click.option(
        "--area",
        "areas",
        multiple=True,
        metavar="AREA",
        help="Area id (repeatable; default: all areas in data/osm/areas.yaml).",
    )
    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        envvar=settings.DATA_ENV,
        help="Data folder searched before data/ and the mirror.",
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @click.option("--no-progress", is_flag=True, help="Hide progress bars.")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        out: Path | None,
        areas: tuple[str, ...],
        data_dir: Path | None,
        debug: bool,
        no_progress: bool,
        **kwargs: Any,
    ) -> Any:
        ctx = RunContext(
            out=(out or settings.DEFAULT_OUT),
            area_ids=tuple(dict.fromkeys(a.strip() for a in areas)),  # repeated --area: once
            data_dir=data_dir,
            debug=debug,
            progress=not no_progress,
        )
        with console_errors(debug):
            remove_stale_tmp(ctx.out)  # temporary files of runs that were killed
            if kwargs.get("plan_file") is None:  # a --plan text may name any subdistrict
                _ = ctx.areas  # validate --area early
            if kwargs.get("as_json"):  # machine-readable output: no progress bars on stderr
                ctx.progress = False
            stage = STAGE_OF.get(func.__name__) if kwargs.get("plan_file") is None else None
            if stage is None:
                return func(ctx, *args, **kwargs)
            ids = [a.id for a in ctx.areas]
            manifest.check_inputs(ctx.out, stage, ids)  # refuse results of older runs
            before = manifest.result_files(ctx.out)
            result = func(ctx, *args, **kwargs)
            manifest.record(
                ctx.out,
                stage,
                ids,
                before=before,
                inputs=_external_inputs(ctx, kwargs),
                options={k: str(v) for k, v in kwargs.items() if v not in (None, (), False)},
            )
            return result

    return wrapper


#: Pipeline commands (by function name) and the manifest stage each one records.
STAGE_OF: dict[str, str] = {
    "plans_extract": "plans",
    "facilities_build": "facilities",
    "demand": "demand",
    "access": "access",
    "coverage": "coverage",
    "sites": "sites",
    "scenarios": "scenarios",
}


def _external_inputs(ctx: RunContext, kwargs: dict[str, Any]) -> list[Path]:
    """Return the files outside ``--out`` a stage may have read (hashed into the manifest).

    The registry, boundaries, OSM files, plans and option files.
    """
    from geo.io.areas import network_sources

    paths: list[Any] = [ctx.registry.path]
    for area in ctx.areas:
        with contextlib.suppress(LifeCircleError):
            paths.append(ctx.registry.resolve(area.boundary_file))
            paths.extend(network_sources(ctx.registry, area))
            paths.extend(ctx.registry.resolve(p) for p in area.plans)
    paths.extend(v for v in kwargs.values() if isinstance(v, Path))
    return manifest.input_files(paths)


def warn_stale(ctx: RunContext) -> None:
    """Print one warning line per stale or partial result (export, dashboard)."""
    reasons = manifest.stale_reasons(ctx.out, manifest.DEPENDS, [a.id for a in ctx.areas])
    for reason in reasons[:5]:
        click.echo(f"warning: results may be stale: {reason}", err=True)
    if len(reasons) > 5:
        click.echo(f"warning: ... and {len(reasons) - 5} more stale results", err=True)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Input warnings as one ``warning:`` line on stderr; others as Python prints them."""
    if issubclass(category, InputWarning):
        click.echo(f"warning: {message}".replace("\n", " "), err=True)
    else:
        _PY_SHOWWARNING(message, category, filename, lineno, file, line)


_PY_SHOWWARNING = warnings.showwarning


def _os_error_line(exc: OSError) -> str:
    """One line for an OSError: the path, then what went wrong (EFBIG, EACCES, ENOSPC...)."""
    path = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno or 0, "")
    what = f"{reason} ({code})" if code else reason
    return f"{path}: cannot read or write: {what}" if path else f"i/o error: {what}"


@contextlib.contextmanager
def console_errors(debug: bool = False) -> Iterator[None]:
    """Map user-facing failures to one stderr line and an exit code; print input warnings.

    LifeCircleError and OSError (a read-only ``--out``, a full disk, EFBIG) exit 2 with one
    line naming the path; Ctrl+C exits 130. ``--debug`` re-raises for the traceback.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)
        warnings.showwarning = _show_warning
        try:
            yield
        except LifeCircleError as exc:
            if debug:
                raise
            click.echo(f"error: {exc}".replace("\n", " "), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except OSError as exc:
            if debug:
                raise
            click.echo(f"error: {_os_error_line(exc)}".replace("\n", " "), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except RecursionError:
            if debug:
                raise
            click.echo("error: input nested too deeply to read", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def progress(ctx: RunContext, iterable: Iterable[_T], desc: str, **kw: Any) -> Iterable[_T]:
    """Return a tqdm progress bar on stderr (hidden with --no-progress or --json)."""
    from tqdm import tqdm

    bar: Iterable[_T] = tqdm(
        iterable, desc=desc, disable=not ctx.progress, file=sys.stderr, dynamic_ncols=True, **kw
    )
    return bar


def echo_json(obj: Any) -> None:
    """Print JSON (UTF-8, Chinese kept as written)."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=1, default=str))


class _Main(click.Group):
    """The top group: a bad option or value is one ``error:`` line and exit 2 (no usage block)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            cmd = exc.ctx.command_path if exc.ctx is not None else "lifecircle"
            click.echo(f"error: {cmd}: {exc.format_message()}".replace("\n", " "), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # output piped into `head`: not an error
                sys.exit(0)
            click.echo(f"error: {_os_error_line(exc)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lifecircle")
def main() -> None:
    """15分钟社区生活圈规划工具 — 15-minute community life-circle planner for Shanghai.

    Stages: areas list|add, data status|fetch, plans extract, facilities build, access,
    coverage, sites, run (all stages), screen (every subdistrict, on Dask), dashboard, export.
    """


# -------------------------------------------------------------------------------------------
# data
# -------------------------------------------------------------------------------------------
@main.group()
def data() -> None:
    """Input data: network status and downloads / 数据状态与下载."""


def build_networks(ctx: RunContext) -> dict[str, Any]:
    """Build (or load cached) walking networks for the chosen areas; returns {area: net|None}."""
    from geo.network.network import build_area_network

    nets = {}
    for area in progress(ctx, ctx.areas, "walk networks / 步行路网"):
        nets[area.id] = build_area_network(ctx.registry, area, cache_dir=ctx.cache_dir)
    return nets


def status_rows(ctx: RunContext) -> list[dict[str, Any]]:
    """One network-status row per chosen area."""
    from geo.network.network import network_status

    nets = build_networks(ctx)
    return [network_status(ctx.registry, a, nets[a.id]) for a in ctx.areas]


def print_status_table(rows: list[dict[str, Any]]) -> None:
    """Print the network status table (bilingual header)."""
    click.echo(
        f"{'area 区域':<16}{'nodes 节点':>11}{'edges 边':>10}{'complete 完整度':>17}"
        f"{'largest comp. 最大连通':>22}  basis 依据"
    )
    for r in rows:
        click.echo(
            f"{r['area']:<16}{r['nodes']:>11}{r['edges']:>10}{r['completeness']:>17.1%}"
            f"{r['largest_component_share']:>22.1%}  {r['basis']}  {r['note']}"
        )
    click.echo("Network data © OpenStreetMap contributors (ODbL).")


@data.command("status")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def data_status(ctx: RunContext, as_json: bool) -> None:
    """Walking-network status per area: nodes, edges, completeness / 路网完整度."""
    rows = status_rows(ctx)
    if as_json:
        echo_json(rows)
    else:
        print_status_table(rows)


@data.command("fetch")
@common_options
@click.argument("area_id")
@click.option(
    "--pbf",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Clip this .osm.pbf extract to the area instead of downloading.",
)
@click.option("--overpass-url", default=None, help="Overpass endpoint (default: OSMnx's).")
def data_fetch(ctx: RunContext, area_id: str, pbf: Path | None, overpass_url: str | None) -> None:
    """Download an area's OSM data (Overpass via OSMnx) or clip a user's .osm.pbf / 下载数据."""
    from geo.io.fetch import fetch_area

    area = ctx.registry.get(area_id)
    target = fetch_area(
        ctx.registry,
        area,
        pbf=pbf,
        overpass_url=overpass_url,
        dest_root=ctx.data_dir or settings.PROJECT_DATA_DIR,
    )
    click.echo(f"wrote {target}")


# -------------------------------------------------------------------------------------------
# plans extract -- geo/plans.py
# -------------------------------------------------------------------------------------------
@main.group()
def plans() -> None:
    """Plan documents: facility mentions / 规划文本设施提取."""


def extract_mentions_for(ctx: RunContext, taxonomy: Any = None) -> Any:
    """Mentions of every plan of the chosen areas (with a progress bar)."""
    from geo.facilities.plans import extract_all

    return extract_all(
        ctx.registry, ctx.areas, taxonomy, progress=lambda it, desc: progress(ctx, it, desc)
    )


def plan_area(ctx: RunContext, name: str, text: str = "") -> tuple[str, list[str]]:
    """Return (area id, names of the other subdistricts) for a --plan text.

    The area may be a registry id, or any unit of the boundary file by id, Chinese name or
    relation id (no need to add it first); any other id is used as given (the text is read
    without a boundary), and the subdistrict the text names most often is taken as its own.
    """
    from geo.facilities.plans import other_subdistricts
    from geo.io.subdistricts import find_subdistrict, load_catalogue

    reg = ctx.registry
    if name in reg.areas:
        return name, other_subdistricts(reg, reg.areas[name])
    catalogue = load_catalogue(reg)
    try:
        sub = find_subdistrict(catalogue, name)
    except InputError:
        click.echo(f"note: '{name}' is not a known subdistrict; read as given", err=True)
        names = [s.name_zh for s in catalogue]
        counts = {n: text.count(n) for n in names}
        home = max(names, key=lambda n: counts[n], default=None)
        # named at least twice (a title and the text) to count as the text's own
        return name, [n for n in names if not (home and counts[home] >= 2 and n == home)]
    same = [a.id for a in reg if a.osm_relation == sub.osm_relation]
    return (same[0] if same else sub.area_id), [
        s.name_zh for s in catalogue if s.osm_relation != sub.osm_relation
    ]


@plans.command("extract")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print counts per plan and category as JSON.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read this plan (.txt UTF-8/GB18030 or .docx) for the one --area instead of the "
    "registry's plans.",
)
def plans_extract(ctx: RunContext, as_json: bool, plan_file: Path | None) -> None:
    """Extract facility mentions from the plans -> out/plan_mentions.csv / 提取规划设施."""
    from geo.facilities.plans import (
        extract_mentions,
        mentions_frame,
        plan_doc_id,
        read_plan,
        summarize,
    )
    from geo.facilities.taxonomy import load_taxonomy
    from geo.io.tables import MENTIONS, write_mentions

    tax = load_taxonomy()
    if plan_file is not None:
        if len(ctx.area_ids) != 1:
            raise InputError(
                "--plan needs exactly one --area (the subdistrict that wrote the plan)",
                hint="add a subdistrict first with `lifecircle areas add NAME`",
            )
        text = read_plan(plan_file)  # every check before anything is written
        area_id, others = plan_area(ctx, ctx.area_ids[0], text)
        doc = plan_doc_id(plan_file)
        ms = extract_mentions(text, doc, area_id, tax, other_places=others)
        df = mentions_frame(ms, tax)
        target = write_mentions(df, MENTIONS.path(ctx.out), replace_docs=[doc])
    else:
        df = extract_mentions_for(ctx, tax)
        target = write_mentions(df, MENTIONS.path(ctx.out), replace_areas=[a.id for a in ctx.areas])
    summary = summarize(df, tax)
    summary["file"] = str(target)
    # a plan that yields no facility mention is suspicious (wrong file, a scanned PDF's text
    # layer, another subdistrict): say so on the console instead of passing silently
    if plan_file is not None:
        plan_paths = [plan_file]
    else:
        plan_paths = []
        for a in ctx.areas:
            for rel in a.plans:
                with contextlib.suppress(LifeCircleError):
                    plan_paths.append(ctx.registry.resolve(rel))
    for path in plan_paths:
        if plan_doc_id(path) not in summary["plans"]:
            validate.warn(
                "no facility mention found in this plan; is it the right document?", path=path
            )
    if as_json:
        echo_json(summary)
        return
    for doc, p in summary["plans"].items():
        click.echo(f"{doc} ({p['area']}): {p['mentions']} mentions, {p['named']} named")
        for cat in p["categories"].values():
            click.echo(
                f"  {cat['label']:<40}{cat['mentions']:>4}  named {cat['named']:>3}  "
                f"new {cat['new']:>3}  upgrade {cat['upgrade']:>3}  "
                f"existing {cat['existing']:>3}  outside {cat['out_of_area']:>2}"
            )
    click.echo(f"wrote {target}")


# -------------------------------------------------------------------------------------------
# areas -- geo/io/subdistricts.py (the catalogue of every unit in the boundary file)
# -------------------------------------------------------------------------------------------
@main.group()
def areas() -> None:
    """Study areas: list every subdistrict, add one / 研究范围 (街道) 列表与添加."""


def area_rows(ctx: RunContext) -> list[dict[str, Any]]:
    """One row per catalogue unit and registry area: what data exist for it."""
    from geo.io.areas import network_sources
    from geo.io.subdistricts import load_catalogue

    reg = ctx.registry
    by_rel = {a.osm_relation: a for a in reg}
    rows = []
    for s in load_catalogue(reg):
        a = by_rel.pop(s.osm_relation, None)
        rows.append(_area_row(reg, s.area_id, s.name_zh, s.district, s.osm_relation, s.pop_2010, a))
    for a in by_rel.values():
        rows.append(_area_row(reg, a.id, a.name_zh, a.district, a.osm_relation, None, a))
    for r in rows:
        a = reg.areas.get(r["id"])
        if a is not None and a.osm_relation == r["osm_relation"]:
            r["network_files"] = len(network_sources(reg, a))
    return rows


def _wpad(text: str, width: int) -> str:
    """Left-align ``text`` in ``width`` terminal columns (a CJK character takes two)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)


def _area_row(
    reg: Registry, aid: str, name: str, district: str, rel: int, pop: Any, a: Area | None
) -> dict[str, Any]:
    local = a is not None and reg.path is not None and a.extra.get("added_by") is not None
    return {
        "id": a.id if a is not None else aid,
        "name_zh": name,
        "district": district,
        "osm_relation": rel,
        "registry": "no" if a is None else ("local" if local else "shipped"),
        "census_2010": pop if pop is not None else (a.extra.get("pop_census_2010") if a else None),
        "census_code_2010": a.census_code_2010 if a is not None else None,
        "network_files": 0,
        "plans": len(a.plans) if a is not None else 0,
    }


@areas.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def areas_list(ctx: RunContext, as_json: bool) -> None:
    """Every known subdistrict with its data status / 全部街道及数据情况."""
    rows = area_rows(ctx)
    if as_json:
        echo_json(rows)
        return
    click.echo(
        f"{'id':<18}{_wpad('name 名称', 14)}{_wpad('district', 10)}{'relation':>10}  "
        f"{'registry':<8}{'census2010':>11}{'network':>8}{'plans':>6}"
    )
    for r in rows:
        pop = f"{r['census_2010']:,}" if r["census_2010"] else "-"
        click.echo(
            f"{r['id']:<18}{_wpad(r['name_zh'], 14)}{_wpad(r['district'], 10)}"
            f"{r['osm_relation']:>10}  {r['registry']:<8}{pop:>11}{r['network_files']:>8}"
            f"{r['plans']:>6}"
        )
    n = sum(r["registry"] != "no" for r in rows)
    click.echo(
        f"{len(rows)} subdistricts, {n} in the registry; add one with `lifecircle areas add NAME`"
    )


@areas.command("add")
@common_options
@click.argument("name")
@click.option("--id", "area_id", default=None, help="Area id to use (default: pinyin of the name).")
def areas_add(ctx: RunContext, name: str, area_id: str | None) -> None:
    """Add a subdistrict by Chinese name or OSM relation id / 按名称添加街道.

    The entry goes to the local registry overlay (data/osm/areas.local.yaml, or
    <data dir>/osm/ with --data-dir / $LIFECIRCLE_DATA, or $LIFECIRCLE_AREAS_LOCAL), never to
    the committed data/osm/areas.yaml.
    """
    from geo.io.subdistricts import (
        area_entry,
        find_subdistrict,
        load_catalogue,
        overlay_path,
        read_overlay,
        write_overlay,
    )

    reg = ctx.registry
    sub = find_subdistrict(load_catalogue(reg), name)
    same = [a for a in reg if a.osm_relation == sub.osm_relation]
    if same:
        click.echo(f"{sub.name_zh} is already in the registry as '{same[0].id}'")
        return
    entry = area_entry(sub)
    if area_id:
        entry["id"] = area_id
    if entry["id"] in reg.areas:
        raise InputError(
            f"area id '{entry['id']}' is taken by {reg.areas[entry['id']].name_zh}",
            hint="choose another with --id",
        )
    path = overlay_path(ctx.data_dir)
    write_overlay(path, [*read_overlay(path), entry])
    pop = f"{sub.pop_2010:,}" if sub.census_code_2010 and sub.pop_2010 else "none (code changed)"
    click.echo(
        f"added {entry['id']}: {sub.name_zh} ({sub.district}, relation {sub.osm_relation}); "
        f"census 2010: {pop}; network: none yet (estimate basis; "
        f"`lifecircle data fetch {entry['id']}` for a complete one); wrote {path}"
    )


# -------------------------------------------------------------------------------------------
# facilities build -- geo/inventory.py
# -------------------------------------------------------------------------------------------
@main.group()
def facilities() -> None:
    """Facility inventory: OSM + plans / 设施清单."""


@facilities.command("build")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print counts per area as JSON.")
@click.option(
    "--geocoder",
    "geocoders",
    multiple=True,
    type=click.Choice(["nominatim", "amap"]),
    help="Also ask an online geocoder for named plan facilities (repeatable; off by "
    "default; answers cached under out/cache/geocode).",
)
@click.option(
    "--amap-key",
    envvar="LIFECIRCLE_AMAP_KEY",
    default=None,
    help="AMap web-service key for --geocoder amap (or $LIFECIRCLE_AMAP_KEY).",
)
def facilities_build(
    ctx: RunContext, as_json: bool, geocoders: tuple[str, ...], amap_key: str | None
) -> None:
    """OSM inventory + official lists + geocoded plan facilities -> out/facilities.gpkg.

    设施清单 (OSM + Geofabrik, de-duplicated), 官方名录 (areas.yaml facility_lists and
    `facilities import`; out/facility_lists.csv), 规划设施定位 (gazetteer -> POI -> street ->
    area, out/geocode_report.csv), one inventory with known_by = osm/list/plan
    (out/facility_sources.csv) and 规划与地图数量对照 (reconciliation CSV).
    """
    from geo.facilities.geocode import format_report, geocode_stage
    from geo.facilities.inventory import (
        build_facilities,
        reconcile,
        write_reconciliation,
    )
    from geo.facilities.lists import (
        add_to_geocode_report,
        all_errors,
        list_stage,
        write_area_csv,
        write_list_outputs,
    )
    from geo.facilities.merge import merge_sources, source_table
    from geo.facilities.providers import make_geocoders
    from geo.facilities.taxonomy import load_taxonomy
    from geo.io.tables import FACILITIES, write_facilities

    online = make_geocoders(geocoders, cache_dir=ctx.out / "cache" / "geocode", amap_key=amap_key)
    tax = load_taxonomy()
    ids = [a.id for a in ctx.areas]
    table = build_facilities(
        ctx.registry, ctx.areas, tax, progress=lambda it, desc: progress(ctx, it, desc)
    )
    mentions = extract_mentions_for(ctx, tax)
    _, plan_rows, geo_report, geo_path = geocode_stage(
        ctx.registry,
        mentions,
        table,
        ctx.out,
        area_ids=ids,
        geocoders=online,
        progress=lambda it, desc: progress(ctx, it, desc),
    )
    list_rows, lists = list_stage(ctx.registry, ctx.areas, tax, out=ctx.out)
    errors = add_to_geocode_report(geo_path, list_rows, all_errors(lists), ids)
    write_list_outputs(ctx.out, list_rows, lists, ids)
    combined = merge_sources(
        table,
        list_rows,
        plan_rows,
        mentions,
        area_names={a.id: a.name_zh for a in ctx.areas},
        boundaries={a.id: ctx.registry.boundary(a) for a in ctx.areas},
    )
    fac_path = write_facilities(FACILITIES.path(ctx.out), combined, replace_areas=ids)
    by_source = source_table(combined, ids, tax.keys)
    write_area_csv(ctx.out / "facility_sources.csv", by_source, ids)
    rec = reconcile(mentions, table, ctx.areas, tax)
    rec_path = write_reconciliation(
        rec, ctx.out / "inventory_reconciliation.csv", replace_areas=ids
    )
    rows: list[dict[str, Any]] = []
    for area_id in ids:
        sub = table[table["area"] == area_id]
        inside = sub[sub["in_area"].astype(bool)]
        rows.append(
            {
                "area": area_id,
                "facilities": len(sub),
                "in_area": len(inside),
                "by_category": {k: int(v) for k, v in inside["category"].value_counts().items()},
            }
        )
    if as_json:
        echo_json(
            {
                "areas": rows,
                "facilities": str(fac_path),
                "reconciliation": str(rec_path),
                "geocode": geo_report.to_dict("records"),
                "geocode_report": str(geo_path),
                "lists": [p.summary() for p in lists],
                "list_warnings": [w for p in lists for w in p.warnings],
                "geocode_errors": errors.to_dict("records"),
                "by_source": by_source.to_dict("records"),
            }
        )
        return
    for r in rows:
        cats = ", ".join(f"{k} {v}" for k, v in r["by_category"].items())
        click.echo(f"{r['area']}: {r['facilities']} facilities ({r['in_area']} inside): {cats}")
        src = by_source[by_source["area"] == r["area"]][["osm", "list", "plan", "several"]].sum()
        click.echo(
            f"  inside, by source / 来源 (counted once): osm {src['osm']}, list {src['list']}, "
            f"plan {src['plan']}, more than one {src['several']}"
        )
    click.echo("Plan facilities located / 规划设施定位 (precision 精度):")
    click.echo(format_report(geo_report))
    for placed in lists:
        for w in placed.warnings:
            click.echo(f"warning: {w}")
        print_list_summary(placed)
    if len(list_rows):
        print_error_table(errors)
    click.echo(f"wrote {fac_path}, {rec_path}, {geo_path} and {ctx.out / 'facility_lists.csv'}")
    click.echo("Facility data © OpenStreetMap contributors (ODbL).")


def print_list_summary(placed: Any, *, err: bool = False) -> None:
    """Rows read, placed per precision, area-only, unresolved and flagged, for one list."""
    s = placed.summary()
    per = ", ".join(f"{k} {v}" for k, v in s["placed"].items() if v) or "none"
    click.echo(
        f"{s['file']}: {s['rows']} rows read / 读取; placed / 已定位 {sum(s['placed'].values())} "
        f"({per}); area only / 仅区域 {s['area_only']}; unresolved / 未解析 {s['unresolved']}; "
        f"flagged / 待核查 {s['flagged']}; duplicates / 重复 {s['duplicates']}",
        err=err,
    )


def print_error_table(table: Any) -> None:
    """Print the geocoder's error against given coordinates, per precision level."""
    click.echo("Geocoder error vs the list's own coordinates / 地址定位误差 (m):")
    click.echo(f"  {'precision':<14}{'rows':>6}{'median':>9}{'p90':>9}  verdict")
    for r in table.itertuples():
        med = "" if r.median_m != r.median_m else f"{r.median_m:.0f}"
        p90 = "" if r.p90_m != r.p90_m else f"{r.p90_m:.0f}"
        click.echo(f"  {r.precision:<14}{r.n_rows:>6}{med:>9}{p90:>9}  {r.verdict}")


@facilities.command("import")
@common_options
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--crs",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    default=None,
    help="Coordinate system of rows without a crs/坐标系 cell (default wgs84).",
)
@click.option("--sheet", default=None, help="XLSX sheet name (default: the first sheet).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def facilities_import(
    ctx: RunContext, file: Path, crs: str | None, sheet: str | None, as_json: bool
) -> None:
    """Import an official facility list (CSV UTF-8/GB18030 or XLSX) / 导入设施名录.

    Columns are found by name (名称/name, 类别/category/类型, 地址/address, 经度/lon, 纬度/lat,
    坐标系/crs, 来源/source, 街道/subdistrict). Addresses are placed offline on the area's OSM
    data; given coordinates are converted to WGS-84 and checked. With one --area every row
    belongs to it; otherwise rows go to the area their subdistrict cell or point names. The
    list is remembered in out/lists/imports.json: `lifecircle facilities build` (and `run`)
    merge it into out/facilities.gpkg.
    """
    from geo.facilities.lists import (
        ListSpec,
        area_info,
        error_table,
        load_subdistricts,
        place_list,
        read_list,
        record_import,
    )
    from geo.facilities.taxonomy import load_taxonomy
    from geo.io.files import write_atomic

    flist = read_list(file, sheet=sheet)
    forced = ctx.area_ids[0] if len(ctx.area_ids) == 1 else None
    infos = [area_info(ctx.registry, a) for a in progress(ctx, ctx.areas, "OSM addresses / 地址")]
    placed = place_list(flist, infos, load_taxonomy(), area=forced, crs=crs,
                        subdistricts=load_subdistricts(ctx.registry))  # fmt: skip
    spec = ListSpec(str(file.resolve()), crs, sheet, forced)
    record_import(ctx.out, spec)
    rows = placed.rows
    target = ctx.out / "lists" / f"{file.stem}.csv"
    table = rows.drop(columns="geometry")
    table["lon"] = [g.x if g is not None else None for g in rows.geometry]
    table["lat"] = [g.y if g is not None else None for g in rows.geometry]
    write_atomic(target, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    errors = error_table(placed.errors)
    if as_json:
        echo_json({**placed.summary(), "warnings": placed.warnings, "rows_file": str(target),
                   "errors": errors.to_dict("records")})  # fmt: skip
        return
    for w in placed.warnings:
        click.echo(f"warning: {w}")
    print_list_summary(placed)
    if len(placed.errors):
        print_error_table(errors)
    click.echo(f"wrote {target}; run `lifecircle facilities build` (or `lifecircle run`) to merge "
               "it into out/facilities.gpkg")  # fmt: skip
    click.echo("Addresses placed on © OpenStreetMap contributors data (ODbL).")


# -------------------------------------------------------------------------------------------
# demand (population) -- geo/population.py, geo/neighbourhoods.py
# -------------------------------------------------------------------------------------------
def demand_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Return population options shared by ``demand`` and ``coverage``."""
    func = click.option(
        "--raster",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Population GeoTIFF (WorldPop/GHS-POP style), used instead of census totals.",
    )(func)
    func = click.option(
        "--population-total",
        "population_totals",
        multiple=True,
        metavar="AREA=N",
        help="Newer total for an area (repeatable); replaces the 2010 census total.",
    )(func)
    func = click.option(
        "--population-csv",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="CSV of totals: columns area, population.",
    )(func)
    func = click.option(
        "--neighbourhoods",
        "neighbourhood_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="居委 polygons (GeoPackage/GeoJSON) instead of the hexagon grid.",
    )(func)
    func = click.option(
        "--building-rule",
        type=click.Choice(["cell", "pool"]),
        default="cell",
        show_default=True,
        help="How census totals reach OSM buildings: within "
        "each 100 m cell, or pooled across cells by floor area.",
    )(func)
    return click.option(
        "--hex-m",
        type=FiniteFloat(*HEX_RANGE_M, unit="m"),
        default=None,
        help="Hexagon width across flats in metres, 50-2000 (default 400).",
    )(func)


def make_demand_from_options(
    ctx: RunContext,
    raster: Path | None,
    population_totals: tuple[str, ...],
    population_csv: Path | None,
    neighbourhood_file: Path | None,
    hex_m: float | None,
    building_rule: str = "cell",
) -> dict[str, Any]:
    """Run the demand stage for the chosen areas with the CLI's population options."""
    from geo.demand.population import make_demand, parse_population_totals

    totals = parse_population_totals(population_totals, population_csv)
    return make_demand(
        ctx.registry,
        ctx.areas,
        ctx.out,
        raster=raster,
        totals=totals,
        neighbourhood_file=neighbourhood_file,
        hex_m=hex_m,
        building_rule=building_rule,
        progress=lambda it, desc: progress(ctx, it, desc),
    )


@main.command("demand")
@common_options
@demand_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def demand(
    ctx: RunContext,
    raster: Path | None,
    population_totals: tuple[str, ...],
    population_csv: Path | None,
    neighbourhood_file: Path | None,
    hex_m: float | None,
    building_rule: str,
    as_json: bool,
) -> None:
    """Demand units and population per area / 人口需求单元 (out/demand/<area>.gpkg)."""
    results = make_demand_from_options(
        ctx, raster, population_totals, population_csv, neighbourhood_file, hex_m, building_rule
    )
    rows = [
        {
            "area": a,
            "units": len(r.units),
            "population": float(r.units["population"].sum()),
            "buildings": r.info["n_buildings"],
            "grid_cells": r.info["n_grid"],
            "method": r.info["method"],
        }
        for a, r in results.items()
    ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['area']:<16}{r['units']:>7} units {r['population']:>12,.0f} people  "
            f"({r['buildings']} buildings, {r['grid_cells']} grid cells; {r['method']})"
        )
    click.echo(f"wrote {ctx.out / 'demand'} and {ctx.out / 'neighbourhoods.gpkg'}")


# -------------------------------------------------------------------------------------------
# access -- geo/access.py
# -------------------------------------------------------------------------------------------
@main.command("access")
@common_options
@click.option(
    "--profile",
    type=click.Choice(sorted(settings.WALK_SPEEDS_KMH)),
    default="default",
    show_default=True,
    help="Walking profile: speed for nearest_min (default 4 km/h, elderly 3 km/h).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    default=("existing",),
    show_default=True,
    help="Facility status counted (repeatable: existing, planned, proposed).",
)
@click.option(
    "--facilities",
    "facilities_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Facilities GeoPackage (default: <out>/facilities.gpkg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one summary row per area as JSON.")
def access(
    ctx: RunContext,
    profile: str,
    statuses: tuple[str, ...],
    facilities_path: Path | None,
    as_json: bool,
) -> None:
    """Compute walking distance to the nearest facility per demand unit and category / 步行可达性.

    Writes out/access/<area>.parquet (other profiles: <area>.<profile>.parquet) with
    unit_id, category, nearest_m, nearest_min, n_within. Units come from out/demand/<area>.gpkg,
    or are the network nodes until demand exists. Areas without a network are skipped.
    """
    from geo.network.access import run_access

    nets = build_networks(ctx)
    rows = run_access(
        ctx.areas,
        nets,
        ctx.out,
        profile=profile,
        statuses=statuses,
        facilities_path=facilities_path,
        progress=lambda it, desc: progress(ctx, it, desc),
    )
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        if r["status"] == "skipped":
            click.echo(f"{r['area']:<16}skipped: {r['note']}")
            continue
        click.echo(
            f"{r['area']:<16}{r['units']:>7} units ({r['unit_source']}) "
            f"{r['facilities']:>5} facilities {r['categories']:>3} categories  "
            f"basis {r['basis']}  -> {r['path']}  {r['note']}"
        )
    click.echo("Network data © OpenStreetMap contributors (ODbL).")


# -------------------------------------------------------------------------------------------
# coverage (gaps, reconciliation) -- geo/coverage.py, geo/estimate.py
# -------------------------------------------------------------------------------------------
def print_coverage_summary(table: Any) -> None:
    """Area-level coverage at each category's standard threshold (default profile)."""
    sel = table[
        (table["unit"] == "ALL")
        & table["is_standard_tier"].astype(bool)
        & (table["profile"] == "default")
    ]
    click.echo(
        f"{'area 区域':<16}{'category 类别':<22}{'tier':>5}{'thr m':>7}"
        f"{'population':>12}{'covered':>12}{'share':>8}  basis"
    )
    for r in sel.itertuples():
        tier = "" if r.tier != r.tier else f"{r.tier:.0f}"
        thr = "" if r.threshold_m != r.threshold_m else f"{r.threshold_m:.0f}"
        share = "  n/a" if r.share != r.share else f"{r.share:.1%}"
        cov = (
            "n/a"
            if r.covered_population != r.covered_population
            else (f"{r.covered_population:,.0f}")
        )
        click.echo(
            f"{r.area:<16}{r.category:<22}{tier:>5}{thr:>7}{r.population:>12,.0f}"
            f"{cov:>12}{share:>8}  {r.basis}"
        )
    click.echo(
        "Map data © OpenStreetMap contributors (ODbL); population: 2010 census unless stated."
    )


@main.command("coverage")
@common_options
@click.option(
    "--scenario",
    default="baseline",
    show_default=True,
    help="Scenario whose access tables are read.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the area rows as JSON.")
def coverage(ctx: RunContext, scenario: str, as_json: bool) -> None:
    """Covered population by area, neighbourhood, category and tier; gaps / 覆盖率与缺口.

    Writes out/coverage.csv and out/gaps.gpkg. Areas with an incomplete or missing walking
    network get a labelled straight-line × detour-factor estimate (basis = estimate).
    """
    from geo.planning.coverage import run_coverage

    nets = build_networks(ctx)
    table, gaps = run_coverage(
        ctx.registry,
        ctx.areas,
        ctx.out,
        nets=nets,
        scenario=scenario,
        cache_dir=ctx.cache_dir,
        progress=lambda it, desc: progress(ctx, it, desc),
    )
    if as_json:
        echo_json(table[table["unit"] == "ALL"].to_dict(orient="records"))
        return
    print_coverage_summary(table)
    click.echo(
        f"wrote {ctx.out / 'coverage.csv'} ({len(table)} rows) and "
        f"{ctx.out / 'gaps.gpkg'} ({len(gaps)} gap polygons)"
    )


# -------------------------------------------------------------------------------------------
# sites and scenarios -- geo/sites.py, geo/scenarios.py
# -------------------------------------------------------------------------------------------
@main.command("sites")
@common_options
@click.option(
    "--candidates",
    "candidates_csv",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Candidate sites CSV (lon, lat, optional crs wgs84|gcj02|bd09, name, area) "
    "instead of network nodes.",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "milp", "greedy"]),
    default="auto",
    show_default=True,
    help="auto: exact MILP (HiGHS) up to the size limit, else greedy with its gap to the LP bound.",
)
@click.option(
    "--cell-m",
    type=FiniteFloat(1.0, 2000.0, unit="m"),
    default=50.0,
    show_default=True,
    help="Candidate thinning: one candidate per cell of this size (m, 1-2000).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sites as JSON.")
def sites(
    ctx: RunContext, candidates_csv: Path | None, method: str, cell_m: float, as_json: bool
) -> None:
    """Recommended sites for the plans' new facilities (max. covering) / 新增设施推荐选址.

    k per area and category = generic new facilities named in out/plan_mentions.csv. Sites
    maximise residents newly covered (not yet within the category's threshold of an existing
    or placed plan facility). Writes out/sites.gpkg (layer sites, WGS-84). Areas without a
    complete walking network use the labelled straight-line × detour estimate (basis estimate).
    """
    from geo.io.tables import read_facilities, read_mentions
    from geo.planning.sites import run_sites

    read_mentions(ctx.out)  # fail fast, before building networks
    read_facilities(ctx.out)
    nets = build_networks(ctx)
    res = run_sites(
        ctx.registry,
        ctx.areas,
        ctx.out,
        nets=nets,
        candidates_csv=candidates_csv,
        method=method,
        cell_m=cell_m,
        cache_dir=ctx.cache_dir,
        progress=lambda it, desc: progress(ctx, it, desc),
    )
    table = res.sites.drop(columns="geometry")
    if as_json:
        echo_json({"sites": table.to_dict(orient="records"), "skipped": res.skipped})
        return
    click.echo(
        f"{'area 区域':<16}{'category 类别':<20}{'k':>3}{'gain 新覆盖':>12}{'before':>10}"
        f"{'population':>12}  {'method':<7}{'gap':>7}  basis"
    )
    for key, g in table.groupby(["area", "category"], sort=False):
        area, cat = str(key[0]), str(key[1])
        r = g.iloc[0]
        click.echo(
            f"{area:<16}{cat:<20}{int(r['k']):>3}{g['gain_population'].sum():>12,.0f}"
            f"{r['covered_before']:>10,.0f}{r['population']:>12,.0f}  {r['method']:<7}"
            f"{r['gap']:>7.1%}  {r['basis']}"
        )
    for line in res.skipped:
        click.echo(f"skipped: {line}")
    if (table["basis"] == "estimate").any():
        click.echo(
            "basis estimate = straight-line × detour factor, not network distance / "
            "估算值（直线距离×绕行系数）"
        )
    click.echo(
        f"wrote {ctx.out / 'sites.gpkg'} ({len(table)} sites). "
        "Map data © OpenStreetMap contributors (ODbL)."
    )


@main.command("scenarios")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the delta rows as JSON.")
def scenarios(ctx: RunContext, as_json: bool) -> None:
    """Coverage for baseline, plan and plan+recommended, and the deltas / 情景对比.

    Writes out/scenario_deltas.csv, the plan scenarios' access tables under
    out/scenarios/<scenario>/access/, and their rows in out/coverage.csv and out/gaps.gpkg.
    """
    from geo.io.tables import read_facilities
    from geo.planning.scenarios import run_scenarios

    read_facilities(ctx.out)  # fail fast, before building networks
    nets = build_networks(ctx)
    deltas = run_scenarios(
        ctx.registry,
        ctx.areas,
        ctx.out,
        nets=nets,
        cache_dir=ctx.cache_dir,
        progress=lambda it, desc: progress(ctx, it, desc),
    )
    if as_json:
        echo_json(deltas.to_dict(orient="records"))
        return
    wide = deltas.pivot_table(
        index=["area", "category"], columns="scenario", values="share", sort=False
    )
    basis = deltas.groupby(["area", "category"], sort=False)["basis"].first()
    click.echo(
        f"{'area 区域':<16}{'category 类别':<20}{'baseline':>10}{'plan':>10}"
        f"{'+recommended':>14}  basis"
    )
    for key, r in wide.iterrows():
        area, cat = str(key[0]), str(key[1])  # type: ignore[index]
        vals = [r.get(s, float("nan")) for s in ("baseline", "plan", "plan+recommended")]
        cells = ["n/a" if v != v else f"{v:.1%}" for v in vals]
        click.echo(
            f"{area:<16}{cat:<20}{cells[0]:>10}{cells[1]:>10}{cells[2]:>14}  {basis[(area, cat)]}"
        )
    click.echo(f"wrote {ctx.out / 'scenario_deltas.csv'} ({len(deltas)} rows)")


# -------------------------------------------------------------------------------------------
# dashboard and export
# -------------------------------------------------------------------------------------------
@main.command("dashboard")
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8050, show_default=True, help="Port to bind."
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Server worker threads (waitress).",
)
def dashboard(ctx: RunContext, host: str, port: int, threads: int) -> None:
    """Serve the dashboard on the results in --out / 启动仪表盘 (http://127.0.0.1:8050)."""
    from dashboard.app import create_app, serve
    from geo.city.screen import has_city

    if not ctx.out.is_dir():
        raise LifeCircleError("results folder not found; run `lifecircle run` first", path=ctx.out)
    warn_stale(ctx)
    click.echo("loading results / 读取结果 ...", err=True)
    if has_city(ctx.out):  # a city screen: the city view at /city/ (geo/city, dashboard/city)
        click.echo(f"city view / 全市: http://{host}:{port}/city/", err=True)
        serve(city_server(ctx), host=host, port=port, threads=threads)
        return
    app = create_app(ctx.out, registry=ctx.registry, areas=ctx.area_ids or None)
    click.echo(f"dashboard / 仪表盘: http://{host}:{port}/  (Ctrl+C to stop)", err=True)
    serve(app, host=host, port=port, threads=threads)


def city_server(ctx: RunContext) -> Any:
    """Return the city view and subdistrict views of a screen in ``ctx.out`` (+ ``run`` results)."""
    from dashboard.app import create_app
    from dashboard.city import create_city_server
    from geo.city.catalogue import load_catalogue
    from geo.city.screen import read_city

    table, polygons, facts = read_city(ctx.out)
    root = None
    if (ctx.out / "coverage.csv").exists():
        root = create_app(ctx.out, registry=ctx.registry, areas=ctx.area_ids or None)
    return create_city_server(
        ctx.out, table, polygons, registry=load_catalogue(ctx.registry), facts=facts, root=root
    )


@main.command("export")
@common_options
@click.option("--category", required=True, help="Category key (or 'composite').")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "pdf", "html", "xlsx"]),
    default="png",
    show_default=True,
    help="Map (png/pdf/html) or table (xlsx).",
)
@click.option(
    "--tier",
    type=click.Choice(["5", "10", "15"]),
    default="15",
    show_default=True,
    help="Walking minutes.",
)
@click.option(
    "--scenario",
    type=click.Choice(["baseline", "plan", "plan+recommended"]),
    default="baseline",
    show_default=True,
)
@click.option(
    "--profile",
    type=click.Choice(["default", "elderly"]),
    default="default",
    show_default=True,
    help="Walking profile (speed).",
)
@click.option(
    "--paper",
    type=click.Choice(["A4", "A3"]),
    default="A4",
    show_default=True,
    help="Landscape paper size (png/pdf).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the written paths as JSON.")
def export_cmd(
    ctx: RunContext,
    category: str,
    fmt: str,
    tier: str,
    scenario: str,
    profile: str,
    paper: str,
    as_json: bool,
) -> None:
    """Export a map or table for meetings into <out>/exports/ / 导出地图与表格."""
    from geo.reporting.export import export
    from geo.reporting.results import load_results

    if not ctx.area_ids:
        raise LifeCircleError("give the area to export with --area (e.g. --area xinhualu)")
    warn_stale(ctx)
    results = load_results(ctx.out, registry=ctx.registry)
    written = []
    for area in progress(ctx, [a.id for a in ctx.areas], "export / 导出"):
        written.append(
            str(
                export(
                    results,
                    area,
                    category,
                    fmt,
                    tier=int(tier),
                    scenario=scenario,
                    profile=profile,
                    paper=paper,
                )
            )
        )
    if as_json:
        echo_json(written)
    else:
        for path in written:
            click.echo(f"wrote {path}")


@main.command("report")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the written paths as JSON.")
def report_cmd(ctx: RunContext, as_json: bool) -> None:
    """Meeting report (multi-page A4 PDF) per area into <out>/reports/ / 会议报告."""
    from geo.reporting.report import write_report
    from geo.reporting.results import load_results

    if not ctx.area_ids:
        raise LifeCircleError("give the area to report on with --area (e.g. --area xinhualu)")
    warn_stale(ctx)
    results = load_results(ctx.out, registry=ctx.registry)
    written = [
        str(write_report(results, area))
        for area in progress(ctx, [a.id for a in ctx.areas], "report / 报告")
    ]
    if as_json:
        echo_json(written)
    else:
        for path in written:
            click.echo(f"wrote {path}")


# -------------------------------------------------------------------------------------------
# screen -- geo/city/
# -------------------------------------------------------------------------------------------
@main.command("screen")
@click.option("--all", "all_areas", is_flag=True, help="Every subdistrict of the boundary file.")
@click.option(
    "--district",
    "districts",
    multiple=True,
    metavar="D",
    help="Subdistricts of a district (repeatable): 杨浦区, 杨浦 or Yangpu.",
)
@click.option(
    "--area", "area_ids", multiple=True, metavar="ID", help="A subdistrict id (repeatable)."
)
@click.option(
    "--pbf",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A .osm.pbf extract: read once; each subdistrict's part gives its network.",
)
@click.option(
    "--scheduler", default=None, metavar="ADDRESS", help="A running Dask scheduler (tcp://...)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=2,
    show_default=True,
    help="Worker processes of the local Dask cluster.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Results folder (default: ./out).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar=settings.DATA_ENV,
    help="Data folder searched before data/ and the mirror.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the run facts as JSON.")
def screen(
    all_areas: bool,
    districts: tuple[str, ...],
    area_ids: tuple[str, ...],
    pbf: Path | None,
    scheduler: str | None,
    workers: int,
    out: Path | None,
    data_dir: Path | None,
    debug: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """City-wide screen: every chosen subdistrict through the run stages, on Dask / 全市筛查.

    One Dask task per subdistrict (network or labelled estimate, facilities, demand, access,
    coverage) into out/areas/<id>/; the city table out/city/coverage_by_subdistrict.parquet
    (+ .csv) and out/city/subdistricts.gpkg. A failed subdistrict is reported with its reason
    and the others go on; a rerun redoes only failed or changed subdistricts.
    """
    from geo.city.catalogue import load_catalogue, select_areas
    from geo.city.screen import check_pbf, rank_areas, run_screen

    target = out or settings.DEFAULT_OUT
    ctx = RunContext(out=target, data_dir=data_dir, debug=debug, progress=not no_progress)
    try:
        if pbf is not None:
            check_pbf(pbf)  # before any work
        catalogue = load_catalogue(data_dir=data_dir)
        chosen = select_areas(
            catalogue, area_ids=area_ids, districts=districts, all_areas=all_areas
        )

        def bar(it: Any, total: int, initial: int) -> Any:
            return progress(ctx, it, "subdistricts / 街道", total=total, initial=initial)

        res = run_screen(
            catalogue,
            chosen,
            target,
            pbf=pbf,
            scheduler=scheduler,
            workers=workers,
            echo=lambda line: click.echo(line, err=True),
            progress=None if as_json else bar,
        )
    except LifeCircleError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}".replace("\n", " "), err=True)
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        echo_json({k: v for k, v in res.facts.items() if k != "per_area"})
        return
    ok = len(res.results) - len(res.failed)
    click.echo(
        f"{ok} of {len(res.results)} subdistricts screened ({res.facts.get('reused', 0)} "
        f"unchanged) in {res.facts['wall_seconds']:.0f} s; {len(res.failed)} failed"
    )
    ranked = rank_areas(res.table)
    shown = ranked[ranked["share"].notna()]
    if len(shown):
        click.echo("composite, standard thresholds / 综合得分 (best and worst):")
        n = len(shown)
        top_bottom = shown.iloc[[*range(min(5, n)), *range(max(5, n - 5), n)]]
        for r in top_bottom.to_dict("records"):
            click.echo(
                f"  {int(r['rank']):>4}  {r['name_zh']:<12}{r['district']:<6}"
                f"{r['share']:>7.1%}  {r['basis']}  {r['area_status']}"
            )
    for fail in res.failed:
        click.echo(f"failed / 失败: {fail['area']}: {fail.get('reason', '')}")
    click.echo(f"wrote {', '.join(str(p) for p in res.paths.values())}")
    click.echo("Map data © OpenStreetMap contributors (ODbL); population: 2010 census.")


# -------------------------------------------------------------------------------------------
# run
# -------------------------------------------------------------------------------------------
#: The stages of `lifecircle run`, in pipeline order: (label, command path, extra options).
RUN_STAGES: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("plan mentions / 规划设施提取", ("plans", "extract"), {}),
    ("facilities + geocoding / 设施清单与定位", ("facilities", "build"), {}),
    ("demand + population / 人口需求单元", ("demand",), {}),
    ("walking access / 步行可达性", ("access",), {}),
    ("coverage + gaps / 覆盖率与缺口", ("coverage",), {}),
    ("recommended sites / 推荐选址", ("sites",), {}),
    ("scenarios / 情景对比", ("scenarios",), {}),
)


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = main
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.commands.get(name)
        if found is None:  # pragma: no cover - a programming error, not user input
            raise LifeCircleError(f"no command {' '.join(path)}")
        cmd = found
    return cmd


def demand_areas(ctx: RunContext) -> tuple[str, ...]:
    """Return the areas whose demand units a run builds: the chosen ones plus the calibration area.

    An estimate-basis area needs the detour calibration, which is fitted on the residents of
    ``settings.CALIBRATION_AREA``; the coverage stage reads them but never builds them.
    """
    ids = ctx.area_ids
    cal = settings.CALIBRATION_AREA
    if ids and cal not in ids and cal in ctx.registry.ids():
        return (*ids, cal)
    return ids


@main.command("run")
@common_options
@click.option("--serve", is_flag=True, help="Serve the dashboard when the run is done.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Dashboard address.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8050, show_default=True, help="Dashboard port."
)
def run(ctx: RunContext, serve: bool, host: str, port: int) -> None:
    """Run every stage for the chosen areas, with progress / 运行全部流程.

    networks -> plan mentions -> facilities (+ geocoding) -> demand -> access -> coverage
    and gaps -> recommended sites -> scenarios; then, with --serve, the dashboard.
    """
    import time

    from geo.io.files import write_text_atomic

    started = time.perf_counter()
    total = len(RUN_STAGES) + 1
    click.echo(f"[1/{total}] walking networks / 步行路网", err=True)
    rows = status_rows(ctx)
    print_status_table(rows)
    ctx.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        ctx.out / "network_status.json", json.dumps(rows, ensure_ascii=False, indent=1)
    )
    base = {
        "out": ctx.out,
        "areas": ctx.area_ids,
        "data_dir": ctx.data_dir,
        "debug": ctx.debug,
        "no_progress": not ctx.progress,
    }
    click_ctx = click.get_current_context()
    for i, (label, path, extra) in enumerate(RUN_STAGES, start=2):
        click.echo(f"[{i}/{total}] {label}", err=True)
        args = {**base, **extra}
        if path == ("demand",):  # estimates are calibrated on the calibration area's residents
            args["areas"] = demand_areas(ctx)
        click_ctx.invoke(_command(path), **args)
    click.echo(f"done in {time.perf_counter() - started:.0f} s; results in {ctx.out}", err=True)
    if serve:
        click_ctx.invoke(_command(("dashboard",)), **base, host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    main()
