"""Server-side what-if state: facilities a user adds on the map, per browser session.

Each session (a random id the page keeps in a ``dcc.Store``) has, per area and category, a
short list of added points. Coverage with those points comes from the access engine's
incremental update (:meth:`geo.access.WhatIf.add` / ``remove``): the engine state for the
current setting is kept and synchronised with the list, so one click costs one bounded
search. State is bounded (sessions, settings per session, points per list) and plain
Python objects only (no pickle, nothing written to disk).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from dashboard.data import DashboardData
from geo import settings
from geo._errors import LifeCircleError

SESSION_RE = re.compile(r"^[0-9a-f]{32}$")


class WhatIfError(LifeCircleError):
    """A what-if request that cannot be served; ``key`` names the user message (i18n)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


@dataclass
class Added:
    """One facility a user added: id (per session), WGS-84 and projected position."""

    id: int
    lon: float
    lat: float
    x: float
    y: float


@dataclass
class Evaluation:
    """Coverage of one setting before and after the added facilities."""

    cells: list[str]
    population: np.ndarray  # per cell
    before: np.ndarray  # share per cell (engine, without additions)
    after: np.ndarray  # share per cell (engine, with additions)
    area_before: float
    area_after: float
    threshold_m: float
    n_added: int


@dataclass
class _Context:
    whatif: Any
    base_covered: np.ndarray
    handles: dict[int, int] = field(default_factory=dict)


@dataclass
class _Session:
    lock: threading.Lock = field(default_factory=threading.Lock)
    added: dict[tuple[str, str], list[Added]] = field(default_factory=dict)
    next_id: int = 1
    contexts: OrderedDict[tuple[Any, ...], _Context] = field(default_factory=OrderedDict)


@dataclass
class _AreaModel:
    engine: Any
    units: Any
    arrays: Any
    boundary: Any  # projected, prepared
    facilities: dict[tuple[str, str], Any] = field(default_factory=dict)


_TO_UTM = Transformer.from_crs(settings.STORAGE_CRS, settings.PROJECTED_CRS, always_xy=True)


class WhatIfService:
    """Per-session what-if facilities and their coverage, bounded in memory.

    Parameters
    ----------
    data
        The dashboard data (results, unit arrays).
    max_sessions
        Sessions kept (least recently used dropped first).
    max_added
        Facilities a session may add per area and category.
    max_contexts
        Engine states (settings) kept per session.
    """

    def __init__(
        self,
        data: DashboardData,
        *,
        max_sessions: int = 128,
        max_added: int = 20,
        max_contexts: int = 2,
    ) -> None:
        self.data = data
        self.max_sessions = max_sessions
        self.max_added = max_added
        self.max_contexts = max_contexts
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()
        self._models: dict[str, _AreaModel | None] = {}
        self._model_lock = threading.Lock()

    # -- per-area engine -----------------------------------------------------------------
    def model(self, area: str) -> _AreaModel | None:
        """The access engine and snapped demand units of an area (None without a network)."""
        with self._model_lock:
            if area in self._models:
                return self._models[area]
            net = self.data.results.network(area)
            arrays = self.data.area_arrays(area)
            model = None
            if net is not None and net.n_edges > 0 and len(arrays.x):
                try:
                    model = self._build_model(area, net, arrays)
                except Exception as exc:  # the map must work even when the engine does not
                    self.data.results.missing.append(f"what-if engine for {area}: {exc}")
                    model = None
            self._models[area] = model
            return model

    def _build_model(self, area: str, net: Any, arrays: Any) -> _AreaModel:
        from geo.access import AccessEngine

        engine = AccessEngine.from_network(net)
        boundary = self.data.results.areas[area].boundary
        proj = None
        if boundary is not None:
            from geo.network import project_geom

            proj = project_geom(boundary)
            shapely.prepare(proj)
        return _AreaModel(engine, engine.snap(arrays.x, arrays.y), arrays, proj)

    def preload(self) -> None:
        """Compile every area's engine now (so the first click does not wait)."""
        warmed = False
        for area in self.data.results.areas:
            model = self.model(area)
            if model is None or warmed or not self.data.results.categories:
                continue
            # run one add/remove so the engine's JIT kernels are loaded before any click
            cat = next(iter(self.data.results.categories))
            try:
                fac = self._facilities(model, area, cat, "baseline")
                wi = model.engine.whatif(model.units, fac, radius_m=500.0, max_m=500.0)
                wi.remove(wi.add(float(model.arrays.x[0]), float(model.arrays.y[0])))
            except Exception as exc:
                self.data.results.missing.append(f"what-if engine warm-up: {exc}")
            warmed = True

    def _facilities(self, model: _AreaModel, area: str, category: str, scenario: str) -> Any:
        key = (category, scenario)
        if key not in model.facilities:
            from geo.export import scenario_facilities

            fac = scenario_facilities(self.data.results, area, category, scenario)
            if len(fac):
                pts = fac.to_crs(settings.PROJECTED_CRS).geometry
                snapped = model.engine.snap(pts.x.to_numpy(), pts.y.to_numpy())
            else:
                snapped = model.engine.snap(np.zeros(0), np.zeros(0))
            model.facilities[key] = snapped
        return model.facilities[key]

    # -- sessions ------------------------------------------------------------------------
    def _session(self, session_id: Any) -> _Session:
        if not isinstance(session_id, str) or not SESSION_RE.match(session_id):
            raise WhatIfError("bad_input", "invalid session id")
        with self._lock:
            sess = self._sessions.get(session_id)
            if sess is None:
                sess = _Session()
                self._sessions[session_id] = sess
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(session_id)
            return sess

    @property
    def n_sessions(self) -> int:
        """Number of sessions held."""
        return len(self._sessions)

    def added(self, session_id: Any, area: str, category: str) -> list[Added]:
        """Facilities the session added for ``area`` and ``category`` (a copy)."""
        sess = self._session(session_id)
        with sess.lock:
            return list(sess.added.get((area, category), []))

    def add(self, session_id: Any, area: str, category: str, lon: Any, lat: Any) -> Added:
        """Add a facility at WGS-84 ``lon, lat``; raises WhatIfError for bad input.

        Raises
        ------
        WhatIfError
            ``whatif_composite`` (not a single category), ``whatif_nonet`` (no network),
            ``whatif_outside`` (not inside the area), ``whatif_limit`` (too many points),
            ``bad_input`` (not numbers).
        """
        if category not in self.data.results.categories:
            raise WhatIfError("whatif_composite", f"category '{category}' cannot be added")
        try:
            lon_f, lat_f = float(lon), float(lat)
        except (TypeError, ValueError):
            raise WhatIfError("bad_input", f"coordinates ({lon}, {lat}) are not numbers") from None
        if (
            not (np.isfinite(lon_f) and np.isfinite(lat_f))
            or not (-180 <= lon_f <= 180)
            or not (-90 <= lat_f <= 90)
        ):
            raise WhatIfError("bad_input", f"coordinates ({lon}, {lat}) are out of range")
        model = self.model(area)
        if model is None:
            raise WhatIfError("whatif_nonet", f"no walking network for '{area}'")
        x, y = _TO_UTM.transform(lon_f, lat_f)
        if model.boundary is not None and not shapely.contains_xy(model.boundary, x, y):
            raise WhatIfError("whatif_outside", f"({lon_f:.5f}, {lat_f:.5f}) is outside '{area}'")
        sess = self._session(session_id)
        with sess.lock:
            lst = sess.added.setdefault((area, category), [])
            if len(lst) >= self.max_added:
                raise WhatIfError("whatif_limit", f"at most {self.max_added} added facilities")
            item = Added(sess.next_id, lon_f, lat_f, float(x), float(y))
            sess.next_id += 1
            lst.append(item)
            return item

    def remove(self, session_id: Any, area: str, category: str, added_id: Any) -> bool:
        """Remove an added facility by id; returns False when it was not there."""
        sess = self._session(session_id)
        with sess.lock:
            lst = sess.added.get((area, category), [])
            keep = [a for a in lst if a.id != added_id]
            sess.added[(area, category)] = keep
            return len(keep) != len(lst)

    def clear(self, session_id: Any, area: str, category: str) -> None:
        """Remove every facility the session added for ``area`` and ``category``."""
        sess = self._session(session_id)
        with sess.lock:
            sess.added[(area, category)] = []

    # -- evaluation ----------------------------------------------------------------------
    def threshold(self, area: str, category: str, tier: int, profile: str) -> float:
        """Walking threshold (m) of a setting: from ``coverage.csv``, else tier x speed."""
        cov = self.data.results.coverage
        rows = cov[
            (cov["area"] == area)
            & (cov["category"] == category)
            & (cov["tier"] == tier)
            & (cov["profile"] == profile)
        ]
        if not rows.empty and "threshold_m" in rows and rows["threshold_m"].notna().any():
            return float(rows["threshold_m"].dropna().iloc[0])
        return tier * settings.WALK_SPEEDS_KMH[profile] * 1000.0 / 60.0

    def evaluate(
        self, session_id: Any, area: str, category: str, tier: int, scenario: str, profile: str
    ) -> Evaluation | None:
        """Coverage per neighbourhood before/after the session's added facilities.

        Returns None when the session added nothing for this area and category (the
        dashboard then shows ``coverage.csv``) or when there is no engine for the area.
        """
        if category not in self.data.results.categories:
            return None
        sess = self._session(session_id)
        with sess.lock:
            added = list(sess.added.get((area, category), []))
            if not added:
                return None
            model = self.model(area)
            if model is None:
                return None
            thr = self.threshold(area, category, tier, profile)
            key = (area, category, tier, scenario, profile)
            ctx = sess.contexts.get(key)
            if ctx is None:
                fac = self._facilities(model, area, category, scenario)
                wi = model.engine.whatif(model.units, fac, radius_m=thr, max_m=thr)
                ctx = _Context(wi, wi.nearest_m <= thr + 1e-9)
                sess.contexts[key] = ctx
                while len(sess.contexts) > self.max_contexts:
                    sess.contexts.popitem(last=False)
            else:
                sess.contexts.move_to_end(key)
            # synchronise the engine state with the list: one bounded search per change
            want = {a.id: a for a in added}
            for aid in [h for h in ctx.handles if h not in want]:
                ctx.whatif.remove(ctx.handles.pop(aid))
            for aid, a in want.items():
                if aid not in ctx.handles:
                    ctx.handles[aid] = ctx.whatif.add(a.x, a.y)
            after = ctx.whatif.nearest_m <= thr + 1e-9
            arr = model.arrays
            return _shares(
                arr.cells, arr.cell_idx, arr.population, ctx.base_covered, after, thr, len(added)
            )


def _shares(
    cells: list[str],
    idx: np.ndarray,
    pop: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    thr: float,
    n_added: int,
) -> Evaluation:
    ok = idx >= 0
    n = len(cells)
    p = np.bincount(idx[ok], weights=pop[ok], minlength=n)
    b = np.bincount(idx[ok], weights=(pop * before)[ok], minlength=n)
    a = np.bincount(idx[ok], weights=(pop * after)[ok], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        sb = np.where(p > 0, b / p, np.nan)
        sa = np.where(p > 0, a / p, np.nan)
    total = float(pop.sum())
    ab = float((pop * before).sum() / total) if total > 0 else float("nan")
    aa = float((pop * after).sum() / total) if total > 0 else float("nan")
    return Evaluation(cells, p, sb, sa, ab, aa, thr, n_added)
