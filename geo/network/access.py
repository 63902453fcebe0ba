"""Accessibility engine: walking distance from demand units to the nearest facility.

The walk network is compiled once into CSR arrays (:class:`AccessEngine`); demand units and
facilities are snapped to their nearest *edge* (:meth:`AccessEngine.snap`), and a unit's
distance to a facility is

    unit access leg + along its edge to an end node + network path
    + along the facility's edge from an end node + facility access leg,

or, when both lie on the same edge, the direct walk along that edge (whichever is shorter).

Offsets are measured along the edge geometry in the projected CRS and scaled so that a full
edge measures its ``length_m`` (geodesic). Access legs are plain projected metres.

How it is fast, and still exact:

* runs of degree-2 nodes (every OSM vertex is a node) are contracted into chains between
  junctions, and dead-end chains are left out of the search graph (no shortest path between
  other points runs through a dead end); junctions left with two chains (the foot of a
  cul-de-sac) are contracted again, a spur's points being placed at its foot with the walk
  along the spur added to their access leg (and walking directly to each other along it);
  a snapped point is placed by chain and position;
* junctions are numbered along a Z-order curve, and units are read chain by chain;
* snapping uses a uniform grid with an exact stopping rule (no per-segment Python objects);
* searches are compiled (numba, :mod:`geo.network._dijkstra`) bounded Dijkstras; categories and
  facility chunks run in threads.

Memory is linear in nodes + edges + units: nothing is dense in units x facilities.

Example
-------
>>> eng = AccessEngine.from_network(net)                       # doctest: +SKIP
>>> units = eng.snap(ux, uy); shops = eng.snap(fx, fy)          # doctest: +SKIP
>>> dist_m, which = eng.nearest(units, shops, max_m=1000.0)     # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geo import settings
from geo._errors import InputError, MissingStageError
from geo._types import ProgressFn
from geo.facilities.taxonomy import load_taxonomy
from geo.io.files import write_atomic
from geo.io.geom import to_projected
from geo.io.tables import DEMAND, FACILITIES, access_path, placed_mask, read_facilities
from geo.network import _dijkstra as _dj
from geo.network._dijkstra import F64, I64
from geo.network.network import WalkNetwork, basis_for

if TYPE_CHECKING:
    from geo.io.areas import Area

#: Threshold (m) used for a category the taxonomy does not know (15 min at 4 km/h).
DEFAULT_THRESHOLD_M: float = 1000.0

#: Nearest distances are searched up to this multiple of a category's threshold by default,
#: so ``nearest_m`` says how far beyond the threshold the nearest facility is.
SEARCH_FACTOR: float = 2.0

#: Nearest distances are searched at least this far (15 min at the fastest walking speed), so
#: every time tier of every profile has exact values.
MIN_SEARCH_M: float = 15.0 * max(settings.WALK_SPEEDS_KMH.values()) * 1000.0 / 60.0

#: Worker threads for independent searches (categories, facility chunks).
THREADS: int = max(1, min(8, os.cpu_count() or 1))

_T = TypeVar("_T")
_S = TypeVar("_S")
_G = TypeVar("_G", bound=np.generic)


@dataclass
class Snapped:
    """Points snapped to the nearest edge of an :class:`AccessEngine`.

    Attributes
    ----------
    edge
        int64 edge index (row of ``WalkNetwork.edges``).
    offset
        Metres from the edge's ``u`` end along the edge (0 ... ``length_m``).
    access
        Perpendicular access distance point -> edge, metres.
    """

    edge: I64
    offset: F64
    access: F64
    _cache: dict[int, _dj.Units] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        """Return the number of points."""
        return len(self.edge)

    def subset(self, index: ArrayLike) -> Snapped:
        """Return the snapped points at ``index`` (positions or a boolean mask)."""
        idx = np.asarray(index)
        return Snapped(self.edge[idx], self.offset[idx], self.access[idx])

    @classmethod
    def concat(cls, parts: Sequence[Snapped]) -> Snapped:
        """Concatenate snapped point sets (in order)."""
        if not parts:
            return _empty_snapped()
        return cls(
            np.concatenate([p.edge for p in parts]),
            np.concatenate([p.offset for p in parts]),
            np.concatenate([p.access for p in parts]),
        )


class Segments(NamedTuple):
    """Snapping segments (projected metres), each on one edge, oriented from its ``u`` end."""

    edge: I64
    x0: F64
    y0: F64
    x1: F64
    y1: F64
    #: projected distance of ``(x0, y0)`` from the edge's ``u`` end along the edge
    offset: F64
    #: projected segment length
    length: F64


def _empty_snapped() -> Snapped:
    return Snapped(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.float64))


class AccessEngine:
    """A walk network compiled to CSR arrays, with edge snapping and bounded searches.

    Build it with :meth:`from_network` (or :meth:`from_arrays`). Node ``i`` is row ``i`` of
    ``net.nodes``; edge ``e`` is row ``e`` of ``net.edges``.

    Internally, runs of degree-2 nodes (every OSM vertex is a node here, so most nodes) are
    contracted into *chains* between junctions and dead ends; searches run on that smaller
    graph and a snapped point is placed by its chain and position along the chain. The
    junction nodes are numbered along a Z-order curve for memory locality.
    """

    _tokens = itertools.count()

    def __init__(
        self,
        node_x: ArrayLike,
        node_y: ArrayLike,
        edge_u: ArrayLike,
        edge_v: ArrayLike,
        edge_len: ArrayLike,
        segments: Segments | None = None,
    ) -> None:
        """Compile arrays (node indices, not ids). See :meth:`from_arrays`."""
        self.node_x = np.ascontiguousarray(node_x, np.float64)
        self.node_y = np.ascontiguousarray(node_y, np.float64)
        self.edge_u = np.ascontiguousarray(edge_u, np.int64)
        self.edge_v = np.ascontiguousarray(edge_v, np.int64)
        self.edge_len = np.ascontiguousarray(edge_len, np.float64)
        n, m = len(self.node_x), len(self.edge_u)
        if len(self.edge_v) != m or len(self.edge_len) != m or len(self.node_y) != n:
            raise ValueError("AccessEngine: edge/node arrays differ in length")
        if m and (
            self.edge_u.min() < 0
            or self.edge_v.min() < 0
            or max(self.edge_u.max(), self.edge_v.max()) >= n
        ):
            raise ValueError("AccessEngine: edge end node index out of range")
        if m and not (np.isfinite(self.edge_len).all() and (self.edge_len >= 0).all()):
            bad = int(np.flatnonzero(~(np.isfinite(self.edge_len) & (self.edge_len >= 0)))[0])
            raise InputError(
                f"edge {bad} has length {self.edge_len[bad]!r}; expected a "
                "finite non-negative length_m",
                record=f"edge {bad}",
            )
        self._token = next(AccessEngine._tokens)
        # internal node numbers along a Z-order curve
        rank = np.empty(n, np.int64)
        rank[_zorder(self.node_x, self.node_y)] = np.arange(n)
        iu, iv = rank[self.edge_u], rank[self.edge_v]
        indptr, adj, _, arc_edge = _csr(iu, iv, self.edge_len, n)
        deg = np.diff(indptr)
        core = deg != 2
        core[iu[iu == iv]] = True
        chains = _dj.build_chains(indptr, adj, arc_edge, iu, iv, self.edge_len, core)
        del indptr, adj, arc_edge
        self._e_chain, self._e_pos, self._e_sign, ca, cb, c1len = chains
        self._c1len = c1len
        self._build_search_graph(core & (deg != 1), ca, cb, c1len)
        # one incident edge per node (for units placed on nodes)
        self._node_edge = np.full(n, -1, np.int64)
        self._node_edge[self.edge_u] = np.arange(m)
        self._node_edge[self.edge_v] = np.arange(m)
        # snapping segments: (edge, x0, y0, x1, y1, projected offset of (x0, y0) along the
        # edge, projected segment length); straight edges are one segment each
        self._straight = segments is None
        if segments is None:
            proj = np.hypot(
                self.node_x[self.edge_v] - self.node_x[self.edge_u],
                self.node_y[self.edge_v] - self.node_y[self.edge_u],
            )
            segments = Segments(
                np.arange(m),
                self.node_x[self.edge_u],
                self.node_y[self.edge_u],
                self.node_x[self.edge_v],
                self.node_y[self.edge_v],
                np.zeros(m),
                proj,
            )
        self._seg = segments
        self._edge_plen = np.bincount(segments.edge, weights=segments.length, minlength=m)
        self._index: _dj.Grid | None = None

    def _build_search_graph(self, kept: NDArray[np.bool_], ca: I64, cb: I64, c1len: F64) -> None:
        """Second contraction, sentinel and CSR of the search graph.

        ``kept``: the first-level chain ends that stay junctions (dead ends do not: no shortest
        path between other points runs through a dead-end chain). Junctions left with two
        chains (typically the foot of a cul-de-sac) are contracted again, and the points of a
        spur hanging off such a foot are placed on the merged chain at the foot, their walk
        along the spur added to their access leg. Dead ends become one sentinel node (the
        last) that never takes a distance.
        """
        n_kept = int(kept.sum())
        n1 = len(c1len)
        kid = np.where(kept, np.cumsum(kept) - 1, -1)
        ku, kv = kid[ca], kid[cb]
        live = (ku >= 0) & (kv >= 0)
        lv = np.flatnonzero(live)
        lu_, lv_ = ku[lv], kv[lv]
        ip2, adj2, _, ae2 = _csr(lu_, lv_, c1len[lv], n_kept)
        core2 = np.diff(ip2) != 2
        core2[lu_[lu_ == lv_]] = True
        ch2, pos2, sign2, a2, b2, len2 = _dj.build_chains(
            ip2, adj2, ae2, lu_, lv_, c1len[lv], core2
        )
        del ip2, adj2, ae2
        n2 = int(core2.sum())  # after build_chains: it marks one node per ring
        sent = n2
        k2 = np.where(core2, np.cumsum(core2) - 1, -1)
        # where each contracted junction sits on its merged chain
        node_m = np.full(n_kept, -1, np.int64)
        node_p = np.zeros(n_kept)
        at_u, at_v = ~core2[lu_], ~core2[lv_]
        node_m[lu_[at_u]] = ch2[at_u]
        node_p[lu_[at_u]] = pos2[at_u]
        node_m[lv_[at_v]] = ch2[at_v]
        node_p[lv_[at_v]] = pos2[at_v] + sign2[at_v] * c1len[lv][at_v]
        # per first-level chain: its search chain, and position p -> (off + sign * p) with an
        # extra access leg (x_off + x_sign * p) for spur points moved to their foot
        r_chain = np.empty(n1, np.int64)
        r_off, r_sign = np.zeros(n1), np.zeros(n1)
        x_off, x_sign = np.zeros(n1), np.zeros(n1)
        r_chain[lv], r_off[lv], r_sign[lv] = ch2, pos2, sign2
        base = np.where(ku >= 0, ku, kv)  # the kept end of a dead-end chain; -1: none
        moved = ~live & (base >= 0)
        moved[moved] = ~core2[base[moved]]
        stay = np.flatnonzero(~live & ~moved)  # spurs at a junction, isolated chains
        n_m = len(len2)
        r_chain[stay], r_sign[stay] = n_m + np.arange(len(stay)), 1.0
        mv = np.flatnonzero(moved)
        r_chain[mv], r_off[mv] = node_m[base[mv]], node_p[base[mv]]
        from_u = ku[mv] >= 0
        x_off[mv] = np.where(from_u, 0.0, c1len[mv])
        x_sign[mv] = np.where(from_u, 1.0, -1.0)
        self._r_chain, self._r_off, self._r_sign = r_chain, r_off, r_sign
        self._x_off, self._x_sign, self._moved = x_off, x_sign, moved
        # the search chains: merged chains, then the dead-end chains that stayed
        k2x = np.append(k2, sent)  # index -1 (a dead end) -> the sentinel
        su, sv = k2x[ku[stay]], k2x[kv[stay]]
        self._cu = np.concatenate([k2[a2], su]).astype(np.int64)
        self._cv = np.concatenate([k2[b2], sv]).astype(np.int64)
        self._clen = np.concatenate([len2, c1len[stay]])
        self.n_core = n2 + 1
        # CSR, both directions; a dead-end chain keeps only its arc from the live end, with
        # infinite length: searches never follow it, but the points on it are found from there
        nc = len(self._clen)
        src = np.concatenate([self._cu, self._cv])
        dst = np.concatenate([self._cv, self._cu])
        w = np.concatenate([self._clen, self._clen])
        w[(src == sent) | (dst == sent)] = np.inf
        keep = src != sent
        self.indptr, self.adj, self.arc_w, self.arc_edge = _csr_arcs(
            src[keep],
            dst[keep],
            w[keep],
            np.concatenate([np.arange(nc), np.arange(nc)])[keep],
            self.n_core,
        )
        self._g = _dj.Graph(
            self.indptr, self.adj, self.arc_w, self.arc_edge, self._cu, self._cv, self._clen
        )

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        node_x: ArrayLike,
        node_y: ArrayLike,
        edge_u: ArrayLike,
        edge_v: ArrayLike,
        edge_len: ArrayLike,
    ) -> AccessEngine:
        """Compile straight-segment edges given by node indices.

        Parameters
        ----------
        node_x, node_y
            Node coordinates, projected metres.
        edge_u, edge_v
            End node indices (0-based rows of ``node_x``) per undirected edge.
        edge_len
            Edge lengths, metres (offsets are scaled to them).

        Returns
        -------
        AccessEngine
        """
        return cls(node_x, node_y, edge_u, edge_v, edge_len)

    @classmethod
    def from_network(cls, net: WalkNetwork) -> AccessEngine:
        """Compile a :class:`geo.network.network.WalkNetwork` (nodes ``x, y`` in ``net.crs``).

        Straight 2-point edges use the node coordinates; other edge geometries are projected
        and split into their segments for snapping.

        Parameters
        ----------
        net
            The walk network.

        Returns
        -------
        AccessEngine
        """
        nodes, edges = net.nodes, net.edges
        index = pd.Index(nodes["node_id"].to_numpy())
        if not index.is_unique:
            raise InputError(
                f"network '{net.area}': node_id values are not unique", record="nodes.node_id"
            )
        u = index.get_indexer(edges["u"].to_numpy())
        v = index.get_indexer(edges["v"].to_numpy())
        if len(u) and (u.min() < 0 or v.min() < 0):
            bad = int(np.flatnonzero((u < 0) | (v < 0))[0])
            raise InputError(
                f"network '{net.area}': edge {bad} names a node missing from the nodes table",
                record=f"edge {bad}",
            )
        x = nodes["x"].to_numpy(np.float64)
        y = nodes["y"].to_numpy(np.float64)
        length = edges["length_m"].to_numpy(np.float64)
        segments = None
        if len(edges) and "geometry" in edges:
            ncoord = shapely.get_num_coordinates(edges.geometry.values)
            if (ncoord != 2).any():
                segments = _polyline_segments(net, u, v, x, y)
        return cls(x, y, u, v, length, segments)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_x)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.edge_u)

    # -- snapping -----------------------------------------------------------------------------
    def _grid(self) -> _dj.Grid:
        """Return the nearest-segment grid (built on first use)."""
        if self._index is None:
            _, x0, y0, x1, y1, _, seg_len = self._seg
            xs, ys = np.concatenate([x0, x1]), np.concatenate([y0, y1])
            ox, oy = float(xs.min()), float(ys.min())
            w, h = float(xs.max()) - ox, float(ys.max()) - oy
            # about one segment per cell, and never more cells than 4 per segment
            cell = max(float(np.median(seg_len)), float(np.sqrt(w * h / (4 * len(x0)))), 1e-3)
            nx, ny = int(w / cell) + 2, int(h / cell) + 2
            ptr, segs = _dj.grid_build(x0, y0, x1, y1, ox, oy, cell, nx, ny)
            self._index = _dj.Grid(x0, y0, x1, y1, ox, oy, cell, nx, ny, ptr, segs)
        return self._index

    def snap(self, x: ArrayLike, y: ArrayLike) -> Snapped:
        """Snap points to their nearest edge.

        Parameters
        ----------
        x, y
            Point coordinates in the network's projected CRS (EPSG:32651 metres).

        Returns
        -------
        Snapped
            Edge index, offset along the edge from its ``u`` end (scaled to ``length_m``) and
            the perpendicular access distance (m) per point.
        """
        px = np.atleast_1d(np.asarray(x, np.float64))
        py = np.atleast_1d(np.asarray(y, np.float64))
        if px.shape != py.shape:
            raise ValueError("AccessEngine.snap: x and y differ in length")
        if len(px) == 0:
            return _empty_snapped()
        if self.n_edges == 0:
            raise InputError(
                "cannot snap points to a network without edges", record="AccessEngine.snap"
            )
        if not (np.isfinite(px).all() and np.isfinite(py).all()):
            bad = int(np.flatnonzero(~(np.isfinite(px) & np.isfinite(py)))[0])
            raise InputError(
                f"point {bad} has no finite coordinates ({px[bad]}, {py[bad]})",
                record=f"point {bad}",
            )
        seg_edge, x0, y0, x1, y1, off0, proj_len = self._seg
        grid = self._grid()
        chunks = [c for c in np.array_split(np.arange(len(px)), THREADS) if len(c)]
        if len(px) < 10_000:
            chunks = [np.arange(len(px))]
        seg = np.concatenate(_run_threads(lambda c: _dj.grid_nearest(px[c], py[c], grid), chunks))
        t, acc = _dj.segment_project(px, py, x0[seg], y0[seg], x1[seg], y1[seg])
        e = seg_edge[seg]
        if self._straight:
            offset = t * self.edge_len[e]
        else:
            plen = self._edge_plen[e]
            along = off0[seg] + t * proj_len[seg]
            offset = np.divide(along * self.edge_len[e], plen, out=np.zeros(len(e)), where=plen > 0)
            offset = np.minimum(np.maximum(offset, 0.0), self.edge_len[e])
        return Snapped(e.astype(np.int64), offset, acc)

    def snap_nodes(self, nodes: ArrayLike) -> Snapped:
        """Place points exactly on nodes (row indices): zero access, offset 0 or ``length_m``.

        Parameters
        ----------
        nodes
            Node row indices.

        Returns
        -------
        Snapped
        """
        idx = np.asarray(nodes, np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_nodes):
            raise ValueError("AccessEngine.snap_nodes: node index out of range")
        e = self._node_edge[idx]
        if len(idx) and (e < 0).any():
            bad = int(idx[e < 0][0])
            raise InputError(f"node {bad} has no edge to snap to", record=f"node {bad}")
        offset = np.where(self.edge_u[e] == idx, 0.0, self.edge_len[e])
        return Snapped(e, offset, np.zeros(len(idx)))

    # -- queries ------------------------------------------------------------------------------
    def _check(self, pts: Snapped, what: str) -> None:
        if len(pts) and (pts.edge.min() < 0 or pts.edge.max() >= self.n_edges):
            raise ValueError(f"{what}: edge index out of range for this network")

    def _place(self, pts: Snapped) -> _dj.Placed:
        """Search placement and spur placement of snapped points.

        Per point the search chain, the position along it and the access leg (plus the walk
        along a spur for points moved to its foot); the spur (first-level chain, -1 when not
        moved), the position along it and the plain access leg.
        """
        e = np.asarray(pts.edge, np.int64)
        c = self._e_chain[e]
        p = self._e_pos[e] + self._e_sign[e] * np.asarray(pts.offset, np.float64)
        p = np.minimum(np.maximum(p, 0.0), self._c1len[c])
        acc = np.ascontiguousarray(pts.access, np.float64)
        r = self._r_chain[c]
        pos = np.minimum(np.maximum(self._r_off[c] + self._r_sign[c] * p, 0.0), self._clen[r])
        racc = acc + (self._x_off[c] + self._x_sign[c] * p)
        spur = np.where(self._moved[c], c, -1)
        return _dj.Placed(r, pos, racc, spur, p, acc)

    def _unit_args(self, units: Snapped) -> _dj.Units:
        """Placed units plus their CSR by search chain (cached on ``units``)."""
        cached = units._cache.get(self._token)
        if cached is None:
            self._check(units, "units")
            at = self._place(units)
            nc = len(self._clen)
            order = np.argsort(at.edge, kind="stable").astype(np.int64)
            ptr = np.zeros(nc + 1, np.int64)
            np.cumsum(np.bincount(at.edge, minlength=nc), out=ptr[1:])
            by_edge = _dj.Placed._make(a[order] for a in at)
            cached = _dj.Units(at, ptr, order, by_edge)
            units._cache[self._token] = cached
        return cached

    def _fac_args(self, fac: Snapped) -> _dj.Placed:
        self._check(fac, "facilities")
        return self._place(fac)

    @property
    def _big(self) -> bool:
        """Whether searches are long enough for threads to pay off (a city-sized network)."""
        return self.n_core >= 20_000

    def nearest(self, units: Snapped, facilities: Snapped, max_m: float) -> tuple[F64, I64]:
        """Find each unit's nearest facility by walking distance (one multi-source search).

        Parameters
        ----------
        units, facilities
            Snapped points (see :meth:`snap`).
        max_m
            Search bound, metres.

        Returns
        -------
        distance_m, facility
            Per unit: metres and the facility's index; ``inf`` and ``-1`` beyond ``max_m``.
        """
        return self.nearest_many(units, [facilities], [max_m])[0]

    def nearest_many(
        self, units: Snapped, facilities: Sequence[Snapped], max_m: Sequence[float] | float
    ) -> list[tuple[F64, I64]]:
        """:meth:`nearest` for several facility sets (categories), run in parallel threads.

        Parameters
        ----------
        units
            Snapped demand units.
        facilities
            One snapped facility set per category.
        max_m
            Search bound per category (or one for all), metres.

        Returns
        -------
        list of (distance_m, facility)
            As :meth:`nearest`, one pair per facility set.
        """
        if isinstance(max_m, int | float | np.integer | np.floating):
            bounds = [float(max_m)] * len(facilities)
        else:
            bounds = [float(b) for b in max_m]
        if len(bounds) != len(facilities):
            raise ValueError("AccessEngine.nearest_many: one bound per facility set expected")
        ua = self._unit_args(units)
        fas = [self._fac_args(f) for f in facilities]

        def job(k: int) -> tuple[F64, I64]:
            return _dj.nearest_kernel(self._g, ua, fas[k], bounds[k])

        return _run_threads(job, range(len(facilities)), parallel=self._big)

    def count_within(self, units: Snapped, facilities: Snapped, radius_m: float) -> I64:
        """Count the facilities within ``radius_m`` walking metres of each unit.

        Runs one bounded search per facility (cost: the sum of the facilities' reaches).

        Parameters
        ----------
        units, facilities
            Snapped points.
        radius_m
            Walking radius, metres (inclusive).

        Returns
        -------
        numpy.ndarray
            int64 count per unit.
        """
        counts, _ = self._counts(units, facilities, float(radius_m), 0.0, -1.0)
        return counts

    def gravity(self, units: Snapped, facilities: Snapped, beta: float, max_m: float) -> F64:
        """Gravity access: sum of ``exp(-beta * d)`` over facilities within ``max_m`` metres.

        Parameters
        ----------
        units, facilities
            Snapped points.
        beta
            Decay per metre (e.g. ``ln 2 / 500`` halves the weight every 500 m).
        max_m
            Facilities further than this (walking metres) add nothing.

        Returns
        -------
        numpy.ndarray
            float64 score per unit.
        """
        _, grav = self._counts(units, facilities, -1.0, float(beta), float(max_m))
        return grav

    def _counts(
        self, units: Snapped, facilities: Snapped, radius: float, beta: float, gmax: float
    ) -> tuple[I64, F64]:
        ua = self._unit_args(units)
        fa = self._fac_args(facilities)
        # threads pay off only with enough searches (each thread sums into its own arrays)
        n_chunks = THREADS if len(facilities) >= 200 and self._big else 1
        chunks = [c for c in np.array_split(np.arange(len(facilities)), n_chunks) if len(c)]

        def job(c: I64) -> tuple[I64, F64]:
            return _dj.count_kernel(self._g, ua, fa, c.astype(np.int64), radius, beta, gmax)

        parts = _run_threads(job, chunks)
        counts = np.zeros(len(units), np.int64)
        grav = np.zeros(len(units), np.float64)
        for c, w in parts:
            counts += c
            if len(w):
                grav += w
        return counts, grav

    def whatif(self, units: Snapped, facilities: Snapped, radius_m: float, max_m: float) -> WhatIf:
        """Incremental state for one category: add or remove facilities and update in place.

        Parameters
        ----------
        units, facilities
            Snapped points; facility handles start as their positions ``0 .. len - 1``.
        radius_m
            Radius for ``n_within``, metres.
        max_m
            Search bound for ``nearest_m``, metres.

        Returns
        -------
        WhatIf
        """
        return WhatIf(self, units, facilities, radius_m, max_m)


class WhatIf:
    """Nearest distances and counts for one category, updated incrementally.

    Attributes
    ----------
    nearest_m
        Per unit, metres to the nearest active facility (``inf`` beyond ``max_m``).
    nearest_fac
        Per unit, the handle of that facility (``-1`` when none).
    n_within
        Per unit, number of active facilities within ``radius_m``.

    Notes
    -----
    Besides the unit arrays, the state keeps each junction's distance to (and label of) its
    nearest facility. ``add`` runs one search from the new facility bounded by
    ``max(radius_m, max_m)`` and merges it; ``remove`` runs one search bounded by
    ``radius_m`` for the counts, re-grows only the removed facility's catchment (junctions it
    labelled, seeded from their neighbours) and recomputes only the units whose nearest it
    was. Results equal a full recomputation exactly (see :mod:`geo.network._dijkstra`).
    """

    def __init__(
        self,
        engine: AccessEngine,
        units: Snapped,
        facilities: Snapped,
        radius_m: float,
        max_m: float,
    ) -> None:
        """Compute the initial state (see :meth:`AccessEngine.whatif`)."""
        self.engine = engine
        self.units = units
        self.radius_m = float(radius_m)
        self.max_m = float(max_m)
        self._g = engine._g
        self._ua = engine._unit_args(units)
        # facility placements by handle, with room to grow (the first ``_n`` are in use)
        self._f = _dj.Placed._make(a.copy() for a in engine._fac_args(facilities))
        self._xe = np.asarray(facilities.edge, np.int64).copy()
        self._xo = np.asarray(facilities.offset, np.float64).copy()
        self._n = len(facilities)
        self._active = np.ones(self._n, np.bool_)
        self._token = 0
        fac = self._fac(self._n)
        self._node_d, self._node_f = _dj.nodes_kernel(
            self._g, fac, self._active, self.max_m
        )  # routing placement only: nodes are reached through the search graph
        n_units = len(units)
        self.nearest_m = np.empty(n_units, np.float64)
        self.nearest_fac = np.empty(n_units, np.int64)
        _dj.units_refresh(
            self._g,
            self._ua,
            fac,
            self._active,
            self.max_m,
            self._node_d,
            self._node_f,
            np.arange(n_units),
            self.nearest_m,
            self.nearest_fac,
        )
        self.n_within = engine.count_within(units, facilities, self.radius_m)
        self._ws = _dj.workspace(engine.n_core, len(engine._clen), n_units)
        self._st = _dj.State(
            self._node_d, self._node_f, self.nearest_m, self.nearest_fac, self.n_within
        )

    @property
    def handles(self) -> NDArray[np.int64]:
        """Handles of the active facilities."""
        return np.flatnonzero(self._active[: self._n])

    def facilities(self) -> Snapped:
        """Return the active facilities (in handle order; see :attr:`handles`)."""
        h = self.handles
        return Snapped(self._xe[h].copy(), self._xo[h].copy(), self._f.spur_acc[h].copy())

    def _fac(self, n: int) -> _dj.Placed:
        """Return the first ``n`` facilities' placement (see :meth:`AccessEngine._place`)."""
        return _dj.Placed._make(a[:n] for a in self._f)

    def _grow(self) -> None:
        """Double the facility arrays when they are full."""
        if self._n == len(self._active):
            cap = max(8, 2 * self._n)
            self._f = _dj.Placed._make(_resized(a, cap) for a in self._f)
            self._xe = _resized(self._xe, cap)
            self._xo = _resized(self._xo, cap)
            self._active = _resized(self._active, cap)

    def add(self, x: float, y: float) -> int:
        """Add a facility at projected ``(x, y)`` (EPSG:32651 m); arrays update in place.

        Parameters
        ----------
        x, y
            Facility position, projected metres.

        Returns
        -------
        int
            The new facility's handle (for :meth:`remove`).
        """
        return self.add_snapped(self.engine.snap([x], [y]))

    def add_snapped(self, point: Snapped) -> int:
        """Add one already snapped facility; returns its handle."""
        if len(point) != 1:
            raise ValueError("WhatIf.add_snapped: expected exactly one point")
        placed = self.engine._fac_args(point)
        self._grow()
        h = self._n
        for arr, value in zip(self._f, placed, strict=True):
            arr[h] = value[0]
        self._xe[h], self._xo[h] = point.edge[0], point.offset[0]
        self._active[h] = True
        self._n += 1
        self._token += 1
        _dj.whatif_add(
            self._g,
            self._ua,
            self._fac(self._n),
            h,
            self._token,
            self.radius_m,
            self.max_m,
            self._ws,
            self._st,
        )
        return h

    def remove(self, handle: int) -> None:
        """Remove facility ``handle``; recomputes only the units whose nearest it was.

        Parameters
        ----------
        handle
            A handle from :meth:`add` or an initial facility's position.
        """
        h = int(handle)
        if not (0 <= h < self._n) or not self._active[h]:
            raise InputError(f"no active facility with handle {h}", record="WhatIf")
        self._token += 1
        n = self._n
        _dj.whatif_remove(
            self._g,
            self._ua,
            self._fac(n),
            self._active[:n],
            h,
            self._token,
            self.radius_m,
            self.max_m,
            self._ws,
            self._st,
        )


def _resized(a: NDArray[_G], cap: int) -> NDArray[_G]:
    """Copy ``a`` into a zero-filled array of ``cap`` items."""
    new = np.zeros(cap, a.dtype)
    new[: len(a)] = a
    return new


def _csr(u: I64, v: I64, w: F64, n: int) -> tuple[I64, _dj.Idx, F64, _dj.Idx]:
    """CSR over arcs (both directions of every edge): ``indptr, adj, arc_w, arc_edge``."""
    m = len(u)
    return _csr_arcs(
        np.concatenate([u, v]),
        np.concatenate([v, u]),
        np.concatenate([w, w]),
        np.concatenate([np.arange(m), np.arange(m)]),
        n,
    )


def _csr_arcs(src: I64, dst: I64, w: F64, edge: I64, n: int) -> tuple[I64, _dj.Idx, F64, _dj.Idx]:
    """CSR of arcs ``src -> dst`` grouped by source: ``indptr, adj, arc_w, arc_edge``."""
    idx_t: type[np.signedinteger[Any]] = np.int32 if max(n, len(edge)) < 2**31 - 1 else np.int64
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(idx_t), w[order], edge[order].astype(idx_t)


def _run_threads(fn: Callable[[_S], _T], items: Iterable[_S], parallel: bool = True) -> list[_T]:
    items = list(items)
    if len(items) <= 1 or THREADS == 1 or not parallel:
        return [fn(it) for it in items]
    with ThreadPoolExecutor(max_workers=min(THREADS, len(items))) as pool:
        return list(pool.map(fn, items))


def _zorder(x: F64, y: F64) -> I64:
    """Permutation sorting points along a Z-order (Morton) curve."""
    if len(x) == 0:
        return np.zeros(0, np.int64)

    def spread(a: NDArray[np.uint64]) -> NDArray[np.uint64]:
        a = (a | (a << np.uint64(8))) & np.uint64(0x00FF00FF)
        a = (a | (a << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        a = (a | (a << np.uint64(2))) & np.uint64(0x33333333)
        out: NDArray[np.uint64] = (a | (a << np.uint64(1))) & np.uint64(0x55555555)
        return out

    def quantise(a: F64) -> NDArray[np.uint64]:
        lo, hi = float(a.min()), float(a.max())
        return ((a - lo) * (65535.0 / (hi - lo)) if hi > lo else np.zeros(len(a))).astype(np.uint64)

    code = spread(quantise(x)) | (spread(quantise(y)) << np.uint64(1))
    return np.argsort(code, kind="stable").astype(np.int64)


def _polyline_segments(net: WalkNetwork, u: I64, v: I64, x: F64, y: F64) -> Segments:
    """Split projected edge geometries into segments oriented from ``u`` to ``v``."""
    geoms = net.edges.geometry.values
    coords, gi = shapely.get_coordinates(geoms, return_index=True)
    px, py = to_projected(coords[:, 0], coords[:, 1], net.crs)
    px, py = np.asarray(px), np.asarray(py)
    counts = np.bincount(gi, minlength=len(geoms))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    end = start + counts - 1
    # orient each geometry from u to v (reverse where its first vertex is nearer v)
    d_u = np.hypot(px[start] - x[u], py[start] - y[u])
    d_v = np.hypot(px[start] - x[v], py[start] - y[v])
    rev = d_v < d_u
    pos = np.arange(len(px)) - start[gi]
    src = np.where(rev[gi], end[gi] - pos, start[gi] + pos)
    px, py = px[src], py[src]
    keep = np.ones(len(px), bool)
    keep[end] = False  # a segment starts at every vertex but the last of its edge
    i0 = np.flatnonzero(keep)
    seg_edge = gi[i0].astype(np.int64)
    sx0, sy0, sx1, sy1 = px[i0], py[i0], px[i0 + 1], py[i0 + 1]
    seg_len = np.hypot(sx1 - sx0, sy1 - sy0)
    cum = np.cumsum(seg_len)
    edge_first = np.searchsorted(seg_edge, np.arange(len(geoms)))
    before = cum - seg_len
    off0 = before - before[edge_first[seg_edge]]
    return Segments(seg_edge, sx0, sy0, sx1, sy1, off0, seg_len)


# ---------------------------------------------------------------------------------------------
# the access table
# ---------------------------------------------------------------------------------------------
def compute_access(
    net: WalkNetwork,
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    thresholds: Mapping[str, float],
    speed_kmh: float = settings.WALK_SPEEDS_KMH["default"],
    max_m: float | None = None,
    *,
    engine: AccessEngine | None = None,
    gravity_beta: float | None = None,
) -> pd.DataFrame:
    """Build the access table: nearest facility and counts per demand unit and category.

    Parameters
    ----------
    net
        Walk network of the area.
    units
        ``unit_id, x, y`` (EPSG:32651 metres).
    facilities
        ``category, x, y`` (EPSG:32651 metres).
    thresholds
        Walking threshold (m) per category; ``n_within`` counts facilities within it. A
        facility category missing here uses :data:`DEFAULT_THRESHOLD_M`. Every category named
        here gets rows, even without facilities.
    speed_kmh
        Walking speed for ``nearest_min`` (default 4 km/h; elderly 3 km/h,
        ``settings.WALK_SPEEDS_KMH``).
    max_m
        Search bound for ``nearest_m`` (m), at least the threshold. Default:
        ``SEARCH_FACTOR`` x the category threshold, and at least :data:`MIN_SEARCH_M`.
    engine
        A compiled engine of ``net`` to reuse.
    gravity_beta
        When given, add a ``gravity`` column: sum of ``exp(-beta * d)`` over facilities within
        the search bound.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, category, nearest_m, nearest_min, n_within, threshold_m, search_m``
        (+ ``gravity``); one row per unit and category, category-major. ``nearest_m`` is
        ``inf`` (and ``nearest_min`` too) when no facility is within ``search_m``.
    """
    for col in ("unit_id", "x", "y"):
        if col not in units.columns:
            raise InputError(
                f"units table lacks column '{col}' (expected unit_id, x, y)", record="units"
            )
    for col in ("category", "x", "y"):
        if col not in facilities.columns:
            raise InputError(
                f"facilities table lacks column '{col}' (expected category, x, y)",
                record="facilities",
            )
    if speed_kmh <= 0:
        raise InputError(
            f"walking speed must be positive, got {speed_kmh} km/h", record="speed_kmh"
        )
    eng = engine if engine is not None else AccessEngine.from_network(net)
    us = eng.snap(units["x"].to_numpy(float), units["y"].to_numpy(float))
    cats = list(thresholds)
    cats += sorted(c for c in facilities["category"].dropna().unique() if c not in thresholds)
    thr = {c: float(thresholds.get(c, DEFAULT_THRESHOLD_M)) for c in cats}
    bound = {
        c: max(thr[c], float(max_m)) if max_m is not None else _search_bound(thr[c]) for c in cats
    }
    fac_sets = []
    for c in cats:
        sub = facilities[facilities["category"] == c]
        fac_sets.append(eng.snap(sub["x"].to_numpy(float), sub["y"].to_numpy(float)))
    near = eng.nearest_many(us, fac_sets, [bound[c] for c in cats])
    m_per_min = speed_kmh * 1000.0 / 60.0
    frames = []
    for c, fs, (d, _) in zip(cats, fac_sets, near, strict=True):
        part = {
            "unit_id": units["unit_id"].to_numpy(),
            "category": np.full(len(us), c, dtype=object),
            "nearest_m": d,
            "nearest_min": d / m_per_min,
            "n_within": eng.count_within(us, fs, thr[c]),
            "threshold_m": np.full(len(us), thr[c]),
            "search_m": np.full(len(us), bound[c]),
        }
        if gravity_beta is not None:
            part["gravity"] = eng.gravity(us, fs, gravity_beta, bound[c])
        frames.append(pd.DataFrame(part))
    if not frames:
        cols = [
            "unit_id",
            "category",
            "nearest_m",
            "nearest_min",
            "n_within",
            "threshold_m",
            "search_m",
        ]
        return pd.DataFrame({c: [] for c in cols})
    return pd.concat(frames, ignore_index=True)


def category_thresholds(default_m: float = DEFAULT_THRESHOLD_M) -> dict[str, float]:
    """Return the walking threshold (m) per category from the taxonomy.

    Parameters
    ----------
    default_m
        Threshold for a taxonomy category that states none.

    Returns
    -------
    dict
        ``{category: metres}`` in taxonomy order.
    """
    return {
        str(k): float(v) if v is not None else default_m
        for k, v in load_taxonomy().thresholds().items()
    }


def demand_points(
    out: str | os.PathLike[str], area_id: str, net: WalkNetwork
) -> tuple[pd.DataFrame, str]:
    """Demand units of an area as ``unit_id, x, y`` (EPSG:32651), and where they came from.

    Reads ``<out>/demand/<area>.gpkg`` (layer ``demand``; its ``x, y`` representative points,
    or the geometries' representative points) when present; otherwise every network node is a
    unit (``unit_id`` = ``node_id``).

    Returns
    -------
    units, source
        ``source`` is ``"demand"`` or ``"nodes"``.
    """
    path = DEMAND.path(out, area=area_id)
    if not path.exists():
        nodes = net.nodes
        return (
            pd.DataFrame(
                {
                    "unit_id": nodes["node_id"].to_numpy(),
                    "x": nodes["x"].to_numpy(float),
                    "y": nodes["y"].to_numpy(float),
                }
            ),
            "nodes",
        )
    try:
        gdf = gpd.read_file(path, layer=DEMAND.layer)
    except Exception as exc:  # pyogrio raises several types; all mean "unreadable file"
        raise InputError(f"cannot read layer 'demand': {exc}", path=path) from None
    if "unit_id" not in gdf.columns:
        raise InputError("demand layer lacks column 'unit_id'", path=path)
    if {"x", "y"} <= set(gdf.columns) and np.isfinite(gdf[["x", "y"]].to_numpy(float)).all():
        x, y = gdf["x"].to_numpy(float), gdf["y"].to_numpy(float)
    else:
        if gdf.crs is None:
            raise InputError("demand layer has no CRS (expected WGS-84)", path=path)
        pts = gdf.to_crs(net.crs).geometry.representative_point()
        x, y = pts.x.to_numpy(float), pts.y.to_numpy(float)
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            uid = gdf["unit_id"].iloc[int(np.flatnonzero(bad)[0])]
            raise InputError(
                "demand unit without a usable geometry", path=path, record=f"unit_id {uid}"
            )
    return pd.DataFrame({"unit_id": gdf["unit_id"].to_numpy(), "x": x, "y": y}), "demand"


def facility_points(
    path: str | os.PathLike[str],
    statuses: Sequence[str] = ("existing",),
    crs: str = settings.PROJECTED_CRS,
) -> pd.DataFrame:
    """Facilities as ``category, x, y`` (projected) from ``facilities.gpkg``.

    Only distinct, placed rows count (:func:`geo.io.tables.placed_mask`: geometry, category,
    ``counted``, placed more precisely than the whole area) whose ``status`` is in
    ``statuses``; polygons count at their representative point.
    """
    gdf = read_facilities(path)
    keep = placed_mask(gdf)
    if "status" in gdf.columns:
        keep &= gdf["status"].isin(list(statuses))
    gdf = gdf[keep]
    if gdf.empty:
        return pd.DataFrame({"category": pd.Series([], dtype=object), "x": [], "y": []})
    if gdf.crs is None:
        raise InputError("facilities layer has no CRS (expected WGS-84)", path=path)
    pts = gdf.to_crs(crs).geometry.representative_point()
    return pd.DataFrame(
        {
            "category": gdf["category"].astype(str).to_numpy(),
            "x": pts.x.to_numpy(float),
            "y": pts.y.to_numpy(float),
        }
    )


def run_access(
    areas: Sequence[Area],
    nets: Mapping[str, WalkNetwork | None],
    out: str | os.PathLike[str],
    *,
    profile: str = "default",
    statuses: Sequence[str] = ("existing",),
    facilities_path: str | os.PathLike[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    progress: ProgressFn | None = None,
) -> list[dict[str, Any]]:
    """Run the access stage: write ``out/access/<area>.parquet`` for every area with a network.

    Parameters
    ----------
    areas
        Study areas (``.id``).
    nets
        ``{area id: WalkNetwork or None}``; areas without a network are skipped (their
        coverage is estimated elsewhere).
    out
        Results folder: reads ``demand/<area>.gpkg`` and ``facilities.gpkg``.
    profile
        Walking profile (``settings.WALK_SPEEDS_KMH``) for ``nearest_min``.
    statuses
        Facility statuses counted (default existing only).
    facilities_path
        Facilities GeoPackage (default ``<out>/facilities.gpkg``).
    thresholds
        ``{category: metres}``; default from the taxonomy (:func:`category_thresholds`).
    progress
        ``progress(iterable, description)`` wrapper (e.g. a tqdm bar).

    Returns
    -------
    list of dict
        One summary row per area (``area, status, units, unit_source, facilities,
        categories, path, seconds, note``).
    """
    if profile not in settings.WALK_SPEEDS_KMH:
        raise InputError(
            f"unknown walking profile '{profile}'; known: {', '.join(settings.WALK_SPEEDS_KMH)}",
            record="profile",
        )
    speed = settings.WALK_SPEEDS_KMH[profile]
    fac_path = Path(facilities_path) if facilities_path else FACILITIES.path(out)
    if not fac_path.exists():
        raise MissingStageError(
            "facilities table", path=fac_path, command="lifecircle facilities build"
        )
    fac_all = facility_points(fac_path, statuses)
    thr = dict(thresholds) if thresholds is not None else category_thresholds()
    rows: list[dict[str, Any]] = []
    todo = list(areas)
    for area in progress(todo, "access / 可达性") if progress else todo:
        net = nets.get(area.id)
        if net is None or net.n_edges == 0:
            rows.append(
                {
                    "area": area.id,
                    "status": "skipped",
                    "units": 0,
                    "unit_source": "",
                    "facilities": 0,
                    "categories": 0,
                    "path": "",
                    "note": "no walking network / 无步行路网数据: coverage uses the "
                    "straight-line estimate",
                }
            )
            continue
        t0 = time.perf_counter()
        units, source = demand_points(out, area.id, net)
        cats = list(thr) + sorted(set(fac_all["category"]) - set(thr))
        bounds = [_search_bound(thr.get(c, DEFAULT_THRESHOLD_M)) for c in cats]
        # facilities further than the search bound from the network's extent cannot count
        b = max(bounds, default=0.0)
        nx_, ny_ = net.nodes["x"].to_numpy(), net.nodes["y"].to_numpy()
        near = fac_all[
            fac_all["x"].between(nx_.min() - b, nx_.max() + b)
            & fac_all["y"].between(ny_.min() - b, ny_.max() + b)
        ]
        table = compute_access(
            net, units, near, {c: thr.get(c, DEFAULT_THRESHOLD_M) for c in cats}, speed_kmh=speed
        )
        table.insert(0, "area", area.id)
        table["profile"] = profile
        table["speed_kmh"] = speed
        table["unit_source"] = source
        target = access_path(out, area.id, profile=profile)
        write_atomic(target, functools.partial(_write_parquet, table))
        comp = float(net.info.get("completeness", 0.0))
        rows.append(
            {
                "area": area.id,
                "status": "written",
                "units": len(units),
                "unit_source": source,
                "facilities": len(near),
                "categories": len(cats),
                "rows": len(table),
                "path": str(target),
                "basis": basis_for(comp),
                "seconds": round(time.perf_counter() - t0, 2),
                "note": ""
                if source == "demand"
                else "no demand units yet: network nodes used / 暂无需求单元, 以路网节点计",
            }
        )
    return rows


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    table.to_parquet(path, index=False)


def _search_bound(threshold_m: float) -> float:
    """Default search bound: twice the threshold and at least 15 min at the fastest speed."""
    return max(SEARCH_FACTOR * threshold_m, MIN_SEARCH_M, threshold_m)
