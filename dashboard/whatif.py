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
from scipy.spatial import cKDTree

from dashboard.data import DashboardData
from geo import settings
from geo._errors import LifeCircleError
from geo.network.access import AccessEngine
from geo.reporting.results import scenario_facilities
from geo.reporting.view import WhatIfOverlay, WhatIfPoint

SESSION_RE = re.compile(r"^[0-9a-f]{32}$")


class WhatIfError(LifeCircleError):
    """A what-if request that cannot be served; ``key`` names the user message (i18n)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


@dataclass
class Added:
    """One facility a user added, with its position and the nearest named street.

    Ids count 1, 2, ... per area and category, again from 1 after "clear all"; the position is
    kept in WGS-84 and projected.
    """

    id: int
    lon: float
    lat: float
    x: float
    y: float
    street: str = ""

    def label(self, lang: str) -> str:
        """``番禺路附近 #1`` / ``near 番禺路 #1`` (``#1`` without a named street nearby)."""
        if not self.street:
            return f"#{self.id}"
        return f"near {self.street} #{self.id}" if lang == "en" else f"{self.street}附近 #{self.id}"


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
    method: str = "network"  # or "estimate" (straight line x detour factor)
    factor: float = 1.0
    nearest_m: np.ndarray | None = None  # per demand unit, with the additions
    added: tuple[Added, ...] = ()

    def overlay(self) -> WhatIfOverlay:
        """Return the simulated facilities and distances as the reporting layer draws them."""
        pts = tuple(WhatIfPoint(a.lon, a.lat, a.label("zh"), a.label("en")) for a in self.added)
        near = self.nearest_m if self.nearest_m is not None else np.zeros(0)
        return WhatIfOverlay(pts, near, self.method, self.factor)


@dataclass
class _Context:
    whatif: Any
    base_nearest: np.ndarray  # the scenario's access table (the coverage figures' basis)
    handles: dict[int, int] = field(default_factory=dict)


@dataclass
class _Session:
    lock: threading.Lock = field(default_factory=threading.Lock)
    added: dict[tuple[str, str], list[Added]] = field(default_factory=dict)
    next_id: dict[tuple[str, str], int] = field(default_factory=dict)
    contexts: OrderedDict[tuple[Any, ...], _Context] = field(default_factory=OrderedDict)


@dataclass
class _AreaModel:
    method: str  # "network" (access engine) or "estimate" (straight line x detour factor)
    arrays: Any
    boundary: Any  # projected, prepared
    engine: Any = None
    units: Any = None  # snapped demand units (network)
    factor: float = 1.0  # detour factor (estimate)
    facilities: dict[tuple[str, str], Any] = field(default_factory=dict)


class EstimateWhatIf:
    """Straight-line x detour-factor what-if, with the engine's ``WhatIf`` interface.

    Used where the walking network is incomplete or missing, like the coverage estimate of
    :mod:`geo.estimate` (distance = factor x straight-line distance), and labelled so.

    Parameters
    ----------
    x, y
        Demand units, EPSG:32651 metres.
    fx, fy
        Facilities of the setting, EPSG:32651 metres.
    factor
        Detour factor (network / straight-line distance).
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, fx: np.ndarray, fy: np.ndarray, factor: float
    ) -> None:
        self.x, self.y, self.factor = x, y, float(factor)
        if len(fx):
            d, _ = cKDTree(np.column_stack([fx, fy])).query(np.column_stack([x, y]), k=1)
            self._base = np.asarray(d, float) * self.factor
        else:
            self._base = np.full(len(x), np.inf)
        self._added: dict[int, np.ndarray] = {}
        self._next = 0
        self.nearest_m = self._base.copy()

    def add(self, x: float, y: float) -> int:
        """Add a facility at projected ``(x, y)``; returns its handle."""
        d = np.hypot(self.x - x, self.y - y) * self.factor
        h = self._next
        self._next += 1
        self._added[h] = d
        np.minimum(self.nearest_m, d, out=self.nearest_m)
        return h

    def remove(self, handle: int) -> None:
        """Remove an added facility by handle."""
        self._added.pop(int(handle))
        self.nearest_m = self._base.copy()
        for d in self._added.values():
            np.minimum(self.nearest_m, d, out=self.nearest_m)


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

    # -- per-area model ------------------------------------------------------------------
    def model(self, area: str) -> _AreaModel | None:
        """Return the what-if model of an area (None without demand units).

        The access engine where the network is complete, else the labelled straight-line
        estimate.
        """
        with self._model_lock:
            if area in self._models:
                return self._models[area]
            arrays = self.data.area_arrays(area)
            model = None
            if len(arrays.x):
                proj = self.data.results.projected_boundary(area)
                model = self._network_model(area, arrays, proj)
                if model is None:
                    model = _AreaModel("estimate", arrays, proj, factor=self._detour_factor())
            self._models[area] = model
            return model

    def _network_model(self, area: str, arrays: Any, proj: Any) -> _AreaModel | None:
        if self.data.results.areas[area].basis != "network":
            return None
        net = self.data.results.network(area)
        if net is None or net.n_edges == 0:
            return None
        try:
            engine = AccessEngine.from_network(net)
            units = engine.snap(arrays.x, arrays.y)
        except Exception as exc:  # the map must work even when the engine does not
            self.data.results.missing.append(f"what-if engine for {area}: {exc}")
            return None
        return _AreaModel("network", arrays, proj, engine=engine, units=units)

    def _detour_factor(self) -> float:
        return self.data.results.detour_factor()

    def preload(self) -> None:
        """Build every area's model now (so the first click does not wait)."""
        warmed = False
        for area in self.data.results.areas:
            model = self.model(area)
            if (
                model is None
                or model.method != "network"
                or warmed
                or not self.data.results.categories
            ):
                continue
            # run one add/remove so the engine's JIT kernels are loaded before any click
            cat = next(iter(self.data.results.categories))
            try:
                wi = self._new_whatif(model, area, cat, "baseline", 500.0)
                wi.remove(wi.add(float(model.arrays.x[0]), float(model.arrays.y[0])))
            except Exception as exc:
                self.data.results.missing.append(f"what-if engine warm-up: {exc}")
            warmed = True

    def _new_whatif(
        self, model: _AreaModel, area: str, category: str, scenario: str, thr: float
    ) -> Any:
        fac = self._facilities(model, area, category, scenario)
        if model.method == "network":
            return model.engine.whatif(model.units, fac, radius_m=thr, max_m=thr)
        return EstimateWhatIf(model.arrays.x, model.arrays.y, fac[0], fac[1], model.factor)

    def _facilities(self, model: _AreaModel, area: str, category: str, scenario: str) -> Any:
        key = (category, scenario)
        if key not in model.facilities:
            fac = scenario_facilities(self.data.results, area, category, scenario)
            pts = fac.to_crs(settings.PROJECTED_CRS).geometry
            fx, fy = pts.x.to_numpy(float), pts.y.to_numpy(float)
            if model.method == "network":
                model.facilities[key] = model.engine.snap(fx, fy)
            else:
                model.facilities[key] = (fx, fy)
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
            ``whatif_composite`` (not a single category), ``whatif_nodemand`` (no units),
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
            raise WhatIfError("whatif_nodemand", f"no demand units for '{area}'")
        x, y = _TO_UTM.transform(lon_f, lat_f)
        if model.boundary is not None and not shapely.contains_xy(model.boundary, x, y):
            raise WhatIfError("whatif_outside", f"({lon_f:.5f}, {lat_f:.5f}) is outside '{area}'")
        sess = self._session(session_id)
        with sess.lock:
            lst = sess.added.setdefault((area, category), [])
            if len(lst) >= self.max_added:
                raise WhatIfError("whatif_limit", f"at most {self.max_added} added facilities")
            key = (area, category)
            n = sess.next_id.get(key, 1)
            street = self.data.results.nearest_street(area, float(x), float(y))
            item = Added(n, lon_f, lat_f, float(x), float(y), street)
            sess.next_id[key] = n + 1
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
            sess.next_id[(area, category)] = 1  # numbering restarts after "clear all"

    # -- evaluation ----------------------------------------------------------------------
    def threshold(self, area: str, category: str, tier: int, profile: str) -> float:
        """Return walking threshold (m) of a setting, as ``coverage.csv`` states it."""
        return self.data.results.threshold(area, category, tier, profile)

    def evaluate(
        self, session_id: Any, area: str, category: str, tier: int, scenario: str, profile: str
    ) -> Evaluation | None:
        """Coverage per neighbourhood before/after the session's added facilities.

        Returns None when the session added nothing for this area and category (the
        dashboard then shows ``coverage.csv``) or when the area has no demand units.
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
                wi = self._new_whatif(model, area, category, scenario, thr)
                base = self.data.results.nearest(area, category, scenario)
                if base is None or len(base) != len(wi.nearest_m):
                    base = wi.nearest_m.copy()  # no access table: the engine's own figures
                ctx = _Context(wi, base)
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
            # the figures without additions are those of coverage.csv (its access table); an
            # addition can only bring a unit closer
            nearest = np.minimum(ctx.base_nearest, ctx.whatif.nearest_m)
            before = ctx.base_nearest <= thr + 1e-9
            after = nearest <= thr + 1e-9
            arr = model.arrays
            ev = _shares(arr.cells, arr.cell_idx, arr.population, before, after, thr, len(added))
            ev.method, ev.factor = model.method, model.factor
            ev.nearest_m, ev.added = nearest, tuple(added)
            return ev


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
