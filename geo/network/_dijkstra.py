"""Compiled hot loops of the access engine (internal; see :mod:`geo.network.access`).

Everything here is numba ``@njit(cache=True, nogil=True)`` over plain arrays, so callers can
run independent searches in threads. The arrays travel in a few named tuples: :class:`Graph`,
:class:`Placed` (facilities), :class:`Units`, :class:`Workspace`, :class:`State` (what-if)
and :class:`Grid`. Inside compiled code a named tuple costs nothing; a call from Python pays
about 0.5 us per array to type it (~10 us for graph, units and facilities), so each what-if
step is one call. Conventions:

* the kernels see a graph of "nodes" and "edges"; the engine passes its junctions and its
  chains (contracted runs of degree-2 nodes), with every dead end folded into one sentinel
  node, the last, that never takes a distance (arcs into it have infinite length);
* the graph is a CSR over *arcs* (both directions of every undirected edge):
  ``indptr[n]:indptr[n+1]`` are node ``n``'s arcs, ``adj`` the head node, ``arc_w`` the length
  in metres and ``arc_edge`` the undirected edge the arc belongs to;
* an edge ``e`` runs from ``edge_u[e]`` to ``edge_v[e]`` with length ``edge_len[e]``;
* a placed point is ``(edge, pos, acc)``: position in metres from the ``u`` end, access the
  perpendicular leg. It reaches ``u`` after ``acc + pos`` and ``v`` after
  ``acc + (len - pos)``;
* units are grouped by edge in a CSR (``ptr`` over edges, ``order`` unit indices) with
  edge-sorted copies of their placement (``by_edge``);
* a point on a dead-end spur that hangs off the middle of an edge is placed on that edge at
  the spur's foot, its walk along the spur added to its access leg; ``spur, spur_pos,
  spur_acc`` name the spur (-1: none), the position along it and the plain access leg, for
  the direct walk between two points on the same spur (``_local``);
* ``dist`` / ``lab`` are per-node workspaces that hold ``inf`` / ``-1`` between searches; a search
  lists the nodes it touched so resetting costs only its reach.

Floating-point note: a node's distance is ``min`` over its neighbours of ``dist + w`` (all
additions of non-negative numbers), so the value a search finds does not depend on the bound,
the queue (heap or buckets) or which other sources are present: it is the smallest
left-to-right sum over the paths from the seeds. A multi-source value is exactly the minimum
of the single-source values. The incremental what-if relies on this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

import numba as nb
import numpy as np
from numpy.typing import NDArray

_INF = np.inf

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
#: Arc arrays (``adj``, ``arc_edge``) are int32 when the graph is small enough, else int64.
Idx = NDArray[np.signedinteger[Any]]

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(fn: _F) -> _F:
    """Compile once, cache on disk, release the GIL (searches run in threads).

    Typed as the identity, so mypy checks every call against the Python signature.
    """
    return cast(_F, nb.njit(cache=True, nogil=True)(fn))


def _jit_inline(fn: _F) -> _F:
    """As :func:`_jit`, and inlined into the caller by numba (LLVM does not inline it alone).

    For tiny helpers of hot loops: inlining :func:`_scan_cell` and :func:`_project` makes
    :func:`grid_nearest` a third faster, with the same arithmetic.
    """
    return cast(_F, nb.njit(cache=True, nogil=True, inline="always")(fn))


class Graph(NamedTuple):
    """The search graph: a CSR over arcs and its undirected edges (see the module notes)."""

    indptr: I64
    adj: Idx
    arc_w: F64
    arc_edge: Idx
    edge_u: I64
    edge_v: I64
    edge_len: F64


class Placed(NamedTuple):
    """Points placed on the search graph's edges (see the module notes)."""

    edge: I64
    pos: F64
    acc: F64
    spur: I64
    spur_pos: F64
    spur_acc: F64


class Units(NamedTuple):
    """Placed demand units, plus the same placement grouped by edge.

    ``order[ptr[e]:ptr[e + 1]]`` are the units on edge ``e``; ``by_edge`` is ``at`` in that
    order (the kernels read it sequentially).
    """

    at: Placed
    ptr: I64
    order: I64
    by_edge: Placed


class Workspace(NamedTuple):
    """Scratch arrays of :func:`facility_reach` (see :func:`workspace`)."""

    dist: F64
    lab: I64
    touched: I64
    stamp: I64
    out_i: I64
    out_d: F64


class State(NamedTuple):
    """What-if state of one category, updated in place (see :func:`whatif_add`).

    Per search node the distance to (``node_d``) and handle of (``node_f``) its nearest active
    facility; per unit the nearest distance, facility handle and the count within the radius.
    """

    node_d: F64
    node_f: I64
    nearest_m: F64
    nearest_fac: I64
    n_within: I64


class Grid(NamedTuple):
    """Snapping segments ``(x0, y0) -> (x1, y1)`` bucketed in a uniform grid of square cells.

    Cell ``(i, j)`` (index ``j * nx + i``) spans ``ox + i * cell`` ... and ``oy + j * cell`` ...;
    ``seg[ptr[c]:ptr[c + 1]]`` are the segments sampled in cell ``c``.
    """

    x0: F64
    y0: F64
    x1: F64
    y1: F64
    ox: float
    oy: float
    cell: float
    nx: int
    ny: int
    ptr: I64
    seg: I64


@_jit
def workspace(n_nodes: int, n_edges: int, n_units: int) -> Workspace:
    """Fresh :class:`Workspace`: node values ``inf``/``-1``, edge stamps ``-1``."""
    return Workspace(
        np.full(n_nodes, _INF),
        np.full(n_nodes, -1, np.int64),
        np.empty(n_nodes, np.int64),
        np.full(n_edges, -1, np.int64),
        np.empty(n_units, np.int64),
        np.empty(n_units, np.float64),
    )


@_jit
def _heap_push(hk: F64, hv: I64, size: int, key: float, val: int) -> int:
    """Push (key, val) on a binary min-heap stored in ``hk``/``hv``; capacity must suffice."""
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= key:
            break
        hk[i] = hk[p]
        hv[i] = hv[p]
        i = p
    hk[i] = key
    hv[i] = val
    return size + 1


@_jit
def _heap_pop(hk: F64, hv: I64, size: int) -> tuple[float, int, int]:
    """Pop the smallest (key, val); returns (key, val, new size)."""
    key = hk[0]
    val = hv[0]
    size -= 1
    if size > 0:
        lk = hk[size]
        lv = hv[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hk[c + 1] < hk[c]:
                c += 1
            if hk[c] >= lk:
                break
            hk[i] = hk[c]
            hv[i] = hv[c]
            i = c
        hk[i] = lk
        hv[i] = lv
    return key, val, size


#: Target bucket width (m) of the bounded searches' queue, and the most buckets allowed.
BUCKET_M = 1.0
MAX_BUCKETS = 8192
#: Widest bucket (m) for which the bucket queue is used; beyond it, the binary heap.
MAX_BUCKET_M = 5.0


@_jit
def search(
    indptr: I64,
    adj: Idx,
    arc_w: F64,
    seed_node: I64,
    seed_dist: F64,
    seed_lab: I64,
    bound: float,
    dist: F64,
    lab: I64,
    touched: I64,
) -> int:
    """Multi-source Dijkstra bounded by ``bound`` metres; see :func:`search_heap`.

    Bounded searches (every search of the engine in practice) use a bucket queue: distances
    go into buckets of about ``BUCKET_M`` metres, scanned in order until the queue is empty;
    inside a bucket a node is re-scanned if it improves again (label-correcting). The fixed
    point, and so every distance bit for bit, is the one the heap version finds: each value
    is the smallest left-to-right sum over paths from the seeds.
    """
    nb = min(max(int(bound / BUCKET_M) + 2, 64), MAX_BUCKETS) if bound < 1e12 else 2
    if bound <= 0.0 or bound / (nb - 1) > MAX_BUCKET_M:
        return search_heap(
            indptr, adj, arc_w, seed_node, seed_dist, seed_lab, bound, dist, lab, touched
        )
    inv = (nb - 1) / bound
    head = np.full(nb, -1, np.int64)
    pending = 0
    cap = 1024
    e_node = np.empty(cap, np.int64)
    e_dist = np.empty(cap, np.float64)
    e_next = np.empty(cap, np.int64)
    ne = 0
    seeded, nt = _apply_seeds(indptr, seed_node, seed_dist, seed_lab, bound, dist, lab, touched)
    for s in seeded:
        n = seed_node[s]
        d = seed_dist[s]
        if ne == cap:
            cap *= 2
            e_node = _grow_i(e_node, cap)
            e_dist = _grow_f(e_dist, cap)
            e_next = _grow_i(e_next, cap)
        b = min(int(d * inv), nb - 1)
        e_node[ne] = n
        e_dist[ne] = d
        e_next[ne] = head[b]
        head[b] = ne
        ne += 1
        pending += 1
    for b in range(nb):
        if pending == 0:
            break
        while head[b] >= 0:
            idx = head[b]
            head[b] = e_next[idx]
            pending -= 1
            n = e_node[idx]
            d = e_dist[idx]
            if d > dist[n]:
                continue  # stale: n improved after this entry
            ln = lab[n]
            for k in range(indptr[n], indptr[n + 1]):
                m = adj[k]
                nd = d + arc_w[k]
                if nd < dist[m] and nd <= bound:
                    if dist[m] == _INF:
                        touched[nt] = m
                        nt += 1
                    dist[m] = nd
                    lab[m] = ln
                    if ne == cap:
                        cap *= 2
                        e_node = _grow_i(e_node, cap)
                        e_dist = _grow_f(e_dist, cap)
                        e_next = _grow_i(e_next, cap)
                    bb = min(int(nd * inv), nb - 1)
                    e_node[ne] = m
                    e_dist[ne] = nd
                    e_next[ne] = head[bb]
                    head[bb] = ne
                    ne += 1
                    pending += 1
    return nt


@_jit
def search_heap(
    indptr: I64,
    adj: Idx,
    arc_w: F64,
    seed_node: I64,
    seed_dist: F64,
    seed_lab: I64,
    bound: float,
    dist: F64,
    lab: I64,
    touched: I64,
) -> int:
    """Multi-source Dijkstra bounded by ``bound`` metres (lazy-deletion binary heap).

    The last node is a sentinel standing for every dead end: it has no arcs and never takes a
    value, so seeds on it are ignored. ``dist``/``lab`` are updated in place (a node keeps its
    value when a seed or relaxation is not strictly smaller, so existing values act as extra
    sources). Nodes that go from ``inf`` to finite are appended to ``touched``. Returns the
    number of touched nodes.
    """
    cap = 1024
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    size = 0
    seeded, nt = _apply_seeds(indptr, seed_node, seed_dist, seed_lab, bound, dist, lab, touched)
    for s in seeded:
        if size == cap:
            cap *= 2
            hk = _grow_f(hk, cap)
            hv = _grow_i(hv, cap)
        size = _heap_push(hk, hv, size, seed_dist[s], seed_node[s])
    while size > 0:
        d, n, size = _heap_pop(hk, hv, size)
        if d > dist[n]:
            continue
        ln = lab[n]
        for k in range(indptr[n], indptr[n + 1]):
            m = adj[k]
            nd = d + arc_w[k]
            if nd < dist[m] and nd <= bound:
                if dist[m] == _INF:
                    touched[nt] = m
                    nt += 1
                dist[m] = nd
                lab[m] = ln
                if size == cap:
                    cap *= 2
                    hk = _grow_f(hk, cap)
                    hv = _grow_i(hv, cap)
                size = _heap_push(hk, hv, size, nd, m)
    return nt


@_jit
def _apply_seeds(
    indptr: I64,
    seed_node: I64,
    seed_dist: F64,
    seed_lab: I64,
    bound: float,
    dist: F64,
    lab: I64,
    touched: I64,
) -> tuple[I64, int]:
    """Set the seeds that improve their node; returns their indices (in order) and ``nt``.

    A seed counts when it is within ``bound``, strictly below its node's value and not on the
    sentinel (the last node). Both queues then enqueue exactly these seeds, in this order.
    """
    sentinel = indptr.shape[0] - 2
    seeded = np.empty(seed_node.shape[0], np.int64)
    k = 0
    nt = 0
    for s in range(seed_node.shape[0]):
        n = seed_node[s]
        d = seed_dist[s]
        if d <= bound and d < dist[n] and n != sentinel:
            if dist[n] == _INF:
                touched[nt] = n
                nt += 1
            dist[n] = d
            lab[n] = seed_lab[s]
            seeded[k] = s
            k += 1
    return seeded[:k], nt


@_jit
def _search(
    g: Graph, sn: I64, sd: F64, sl: I64, bound: float, dist: F64, lab: I64, touched: I64
) -> int:
    """:func:`search` on a :class:`Graph`."""
    return search(g.indptr, g.adj, g.arc_w, sn, sd, sl, bound, dist, lab, touched)


@_jit
def _grow_i(a: I64, cap: int) -> I64:
    """Copy ``a`` into a larger int64 array of ``cap`` items."""
    b = np.empty(cap, np.int64)
    b[: a.shape[0]] = a
    return b


@_jit
def _grow_f(a: F64, cap: int) -> F64:
    """Copy ``a`` into a larger float64 array of ``cap`` items."""
    b = np.empty(cap, np.float64)
    b[: a.shape[0]] = a
    return b


# ---------------------------------------------------------------------------------------------
# facilities and units on edges
# ---------------------------------------------------------------------------------------------
@_jit
def _seeds(g: Graph, fac: Placed, fidx: I64) -> tuple[I64, F64, I64]:
    """Seed nodes/distances/labels for facilities ``fidx`` (two seeds each)."""
    edge_u, edge_v, edge_len = g.edge_u, g.edge_v, g.edge_len
    fe, fo, fa = fac.edge, fac.pos, fac.acc
    k = fidx.shape[0]
    sn = np.empty(2 * k, np.int64)
    sd = np.empty(2 * k, np.float64)
    sl = np.empty(2 * k, np.int64)
    for j in range(k):
        f = fidx[j]
        e = fe[f]
        sn[2 * j] = edge_u[e]
        sd[2 * j] = fa[f] + fo[f]
        sn[2 * j + 1] = edge_v[e]
        sd[2 * j + 1] = fa[f] + (edge_len[e] - fo[f])
        sl[2 * j] = f
        sl[2 * j + 1] = f
    return sn, sd, sl


@_jit
def _via(g: Graph, e: int, pos: float, acc: float, dist: F64) -> tuple[float, int]:
    """Route a point through its edge's end nodes; returns (d, 0 for u | 1 for v)."""
    d1 = acc + pos + dist[g.edge_u[e]]
    d2 = acc + (g.edge_len[e] - pos) + dist[g.edge_v[e]]
    if d1 <= d2:
        return d1, 0
    return d2, 1


@_jit
def _direct(pos: float, acc: float, fac: Placed, f: int) -> float:
    """Distance between a point and facility ``f`` on the same edge, along that edge."""
    return float(acc + abs(pos - fac.pos[f]) + fac.acc[f])


@_jit
def _local(spur_pos: float, spur_acc: float, fac: Placed, f: int) -> float:
    """Distance along a dead-end spur between a point and facility ``f`` on the same spur."""
    return float(spur_acc + abs(spur_pos - fac.spur_pos[f]) + fac.spur_acc[f])


@_jit
def _same_edge(pts: Placed, k: int, fac: Placed, f: int) -> float:
    """Distance from point ``k`` to facility ``f`` on its edge: direct, or along their spur."""
    d = _direct(pts.pos[k], pts.acc[k], fac, f)
    lf = fac.spur[f]
    if lf >= 0 and pts.spur[k] == lf:
        dl = _local(pts.spur_pos[k], pts.spur_acc[k], fac, f)
        if dl < d:
            d = dl
    return d


@_jit
def units_from_nodes(
    g: Graph, units: Units, dist: F64, lab: I64, out_d: F64, out_f: I64, idx: I64
) -> None:
    """Set ``out_d/out_f`` of units ``idx`` from node distances/labels (end-node routes only)."""
    at = units.at
    for j in range(idx.shape[0]):
        i = idx[j]
        e = at.edge[i]
        d, side = _via(g, e, at.pos[i], at.acc[i], dist)
        out_d[i] = d
        if d == _INF:
            out_f[i] = -1
        elif side == 0:
            out_f[i] = lab[g.edge_u[e]]
        else:
            out_f[i] = lab[g.edge_v[e]]


# ---------------------------------------------------------------------------------------------
# the engine's queries
# ---------------------------------------------------------------------------------------------
@_jit
def nearest_kernel(g: Graph, units: Units, fac: Placed, bound: float) -> tuple[F64, I64]:
    """Nearest facility per unit: one multi-source search plus same-edge shortcuts.

    Units are read edge by edge from the edge-sorted copies ``units.by_edge`` (sequential
    memory); units on edges with no reached end stay unreached unless a facility shares their
    edge. Returns ``(distance, facility index)`` per unit;
    ``inf`` / ``-1`` beyond ``bound``.
    """
    edge_u, edge_v, edge_len = g.edge_u, g.edge_v, g.edge_len
    u_ptr, u_ord, s_pos, s_acc = units.ptr, units.order, units.by_edge.pos, units.by_edge.acc
    n_nodes = g.indptr.shape[0] - 1
    n_units = u_ord.shape[0]
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    fidx = np.arange(fac.edge.shape[0])
    sn, sd, sl = _seeds(g, fac, fidx)
    _search(g, sn, sd, sl, bound, dist, lab, touched)
    # one sequential sweep over the edges beats following the touched nodes' arcs: the edge
    # arrays and the edge-sorted unit arrays are then read in memory order; every unit is
    # written exactly once (no separate fill of the outputs)
    out_d = np.empty(n_units, np.float64)
    out_f = np.empty(n_units, np.int64)
    for e in range(edge_u.shape[0]):
        du = dist[edge_u[e]]
        dv = dist[edge_v[e]]
        if du == _INF and dv == _INF:
            for k in range(u_ptr[e], u_ptr[e + 1]):
                i = u_ord[k]
                out_d[i] = _INF
                out_f[i] = -1
            continue
        lu = lab[edge_u[e]]
        lv = lab[edge_v[e]]
        ln = edge_len[e]
        for k in range(u_ptr[e], u_ptr[e + 1]):
            # same arithmetic as _via, with the edge's values held in registers
            acc = s_acc[k]
            pos = s_pos[k]
            d1 = acc + pos + du
            d2 = acc + (ln - pos) + dv
            i = u_ord[k]
            if d1 <= d2 and d1 <= bound:
                out_d[i] = d1
                out_f[i] = lu
            elif d2 < d1 and d2 <= bound:
                out_d[i] = d2
                out_f[i] = lv
            else:
                out_d[i] = _INF
                out_f[i] = -1
    for f in range(fac.edge.shape[0]):
        e = fac.edge[f]
        for k in range(u_ptr[e], u_ptr[e + 1]):
            d = _same_edge(units.by_edge, k, fac, f)
            i = u_ord[k]
            if d < out_d[i] and d <= bound:
                out_d[i] = d
                out_f[i] = f
    return out_d, out_f


@_jit
def nodes_kernel(g: Graph, fac: Placed, active: NDArray[np.bool_], bound: float) -> tuple[F64, I64]:
    """Node distances/labels of a multi-source search from the ``active`` facilities."""
    n_nodes = g.indptr.shape[0] - 1
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    fidx = np.flatnonzero(active)
    sn, sd, sl = _seeds(g, fac, fidx)
    _search(g, sn, sd, sl, bound, dist, lab, touched)
    return dist, lab


@_jit
def facility_reach(
    g: Graph,
    units: Units,
    fac: Placed,
    f: int,
    token: int,
    bound: float,
    ws: Workspace,
    reset: bool,
) -> tuple[int, int]:
    """Units within ``bound`` of facility ``f``: fills ``ws.out_i``/``ws.out_d``.

    ``ws.stamp`` (per edge) must not hold ``token`` on entry; ``ws.out_i``/``ws.out_d`` need
    room for every unit. With ``reset`` the node workspaces come back all ``inf``/``-1``;
    otherwise the caller reads ``ws.dist[ws.touched[:nt]]`` and resets them. Returns
    ``(n_units, nt)``.
    """
    indptr, arc_edge = g.indptr, g.arc_edge
    edge_u, edge_v, edge_len = g.edge_u, g.edge_v, g.edge_len
    u_ptr, u_ord, s_pos, s_acc = units.ptr, units.order, units.by_edge.pos, units.by_edge.acc
    dist, lab, touched, stamp, out_i, out_d = ws
    sn, sd, sl = _seeds(g, fac, np.array([f]))
    nt = _search(g, sn, sd, sl, bound, dist, lab, touched)
    cnt = 0
    e_f = fac.edge[f]
    # units on the facility's own edge (reachable directly even when no end node is)
    stamp[e_f] = token
    for k in range(u_ptr[e_f], u_ptr[e_f + 1]):
        d, _ = _via(g, e_f, s_pos[k], s_acc[k], dist)
        dd = _same_edge(units.by_edge, k, fac, f)
        if dd < d:
            d = dd
        if d <= bound:
            out_i[cnt] = u_ord[k]
            out_d[cnt] = d
            cnt += 1
    for t in range(nt):
        n = touched[t]
        for a in range(indptr[n], indptr[n + 1]):
            e = arc_edge[a]
            if stamp[e] == token:
                continue
            stamp[e] = token
            du = dist[edge_u[e]]
            dv = dist[edge_v[e]]
            ln = edge_len[e]
            for k in range(u_ptr[e], u_ptr[e + 1]):
                acc = s_acc[k]
                pos = s_pos[k]
                d = min(acc + pos + du, acc + (ln - pos) + dv)  # as _via
                if d <= bound:
                    out_i[cnt] = u_ord[k]
                    out_d[cnt] = d
                    cnt += 1
    if reset:
        for t in range(nt):
            n = touched[t]
            dist[n] = _INF
            lab[n] = -1
    return cnt, nt


@_jit
def count_kernel(
    g: Graph, units: Units, fac: Placed, fidx: I64, radius: float, beta: float, gmax: float
) -> tuple[I64, F64]:
    """Facility-centred counts: per unit, facilities within ``radius`` and a gravity sum.

    Gravity adds ``exp(-beta * d)`` for every facility within ``gmax`` (skipped when
    ``gmax < 0``). Cost is the sum of the facilities' reaches, never units x facilities.
    """
    n_units = units.order.shape[0]
    ws = workspace(g.indptr.shape[0] - 1, g.edge_u.shape[0], n_units)
    counts = np.zeros(n_units, np.int64)
    grav = np.zeros(n_units if gmax >= 0 else 0, np.float64)
    bound = max(radius, gmax)
    for j in range(fidx.shape[0]):
        f = fidx[j]
        cnt, _ = facility_reach(g, units, fac, f, f, bound, ws, True)
        for k in range(cnt):
            i = ws.out_i[k]
            d = ws.out_d[k]
            if d <= radius:
                counts[i] += 1
            if d <= gmax:
                grav[i] += np.exp(-beta * d)
    return counts, grav


@_jit
def repair_kernel(
    g: Graph,
    fac: Placed,
    active: NDArray[np.bool_],
    removed: int,
    bound: float,
    dist: F64,
    lab: I64,
) -> I64:
    """Recompute node distances whose label was facility ``removed`` (already inactive).

    Affected nodes are reset and re-seeded from their unaffected neighbours and from active
    facilities on their incident edges; the search then only improves affected nodes (others
    already hold the minimum over the remaining facilities). Returns the affected node indices.
    """
    indptr, adj, arc_w, arc_edge = g.indptr, g.adj, g.arc_w, g.arc_edge
    edge_u, edge_v, edge_len = g.edge_u, g.edge_v, g.edge_len
    fe, fo, fa = fac.edge, fac.pos, fac.acc
    n_nodes = indptr.shape[0] - 1
    aff = np.flatnonzero(lab == removed)
    is_aff = np.zeros(n_nodes, np.bool_)
    for n in aff:
        is_aff[n] = True
        dist[n] = _INF
        lab[n] = -1
    # facilities grouped by edge, for the incident-edge seeds
    m = edge_u.shape[0]
    f_cnt = np.zeros(m + 1, np.int64)
    for f in range(fe.shape[0]):
        if active[f]:
            f_cnt[fe[f] + 1] += 1
    f_ptr = np.cumsum(f_cnt)
    f_ord = np.empty(f_ptr[m], np.int64)
    fill = f_ptr[:-1].copy()
    for f in range(fe.shape[0]):
        if active[f]:
            f_ord[fill[fe[f]]] = f
            fill[fe[f]] += 1
    ns = 0
    cap = 4 * aff.shape[0] + 16
    sn = np.empty(cap, np.int64)
    sd = np.empty(cap, np.float64)
    sl = np.empty(cap, np.int64)
    for n in aff:
        for a in range(indptr[n], indptr[n + 1]):
            b = adj[a]
            if not is_aff[b] and dist[b] < _INF:
                if ns == cap:
                    cap *= 2
                    sn = _grow_i(sn, cap)
                    sd = _grow_f(sd, cap)
                    sl = _grow_i(sl, cap)
                sn[ns] = n
                sd[ns] = dist[b] + arc_w[a]
                sl[ns] = lab[b]
                ns += 1
            e = arc_edge[a]
            for k in range(f_ptr[e], f_ptr[e + 1]):
                f = f_ord[k]
                if ns + 2 > cap:
                    cap *= 2
                    sn = _grow_i(sn, cap)
                    sd = _grow_f(sd, cap)
                    sl = _grow_i(sl, cap)
                # n may be either end (both for a self-loop)
                if n == edge_u[e]:
                    sn[ns] = n
                    sd[ns] = fa[f] + fo[f]
                    sl[ns] = f
                    ns += 1
                if n == edge_v[e]:
                    sn[ns] = n
                    sd[ns] = fa[f] + (edge_len[e] - fo[f])
                    sl[ns] = f
                    ns += 1
    touched = np.empty(n_nodes, np.int64)
    _search(g, sn[:ns], sd[:ns], sl[:ns], bound, dist, lab, touched)
    return aff


@_jit
def units_refresh(
    g: Graph,
    units: Units,
    fac: Placed,
    active: NDArray[np.bool_],
    bound: float,
    dist: F64,
    lab: I64,
    idx: I64,
    out_d: F64,
    out_f: I64,
) -> None:
    """Recompute units ``idx`` from node values plus active facilities on their own edge."""
    units_from_nodes(g, units, dist, lab, out_d, out_f, idx)
    # same-edge facilities: small per edge, so a sorted edge list and a binary search suffice
    at = units.at
    act = np.flatnonzero(active)
    order = act[np.argsort(fac.edge[act], kind="mergesort")]
    keys = fac.edge[order]
    for j in range(idx.shape[0]):
        i = idx[j]
        e = at.edge[i]
        lo = np.searchsorted(keys, e, side="left")
        hi = np.searchsorted(keys, e, side="right")
        for k in range(lo, hi):
            f = order[k]
            d = _same_edge(at, i, fac, f)
            if d < out_d[i]:
                out_d[i] = d
                out_f[i] = f
        if out_d[i] > bound:
            out_d[i] = _INF
            out_f[i] = -1


@_jit
def whatif_add(
    g: Graph,
    units: Units,
    fac: Placed,
    h: int,
    token: int,
    radius: float,
    max_m: float,
    ws: Workspace,
    st: State,
) -> None:
    """Merge newly added facility ``h`` into the what-if state ``st`` (in place).

    One search bounded by ``max(radius, max_m)``; junction and unit values improve only within
    ``max_m`` (as a full search would hold them) and every unit within ``radius`` counts one
    more. ``ws.stamp`` must not hold ``token``; the node workspaces come back reset.
    """
    cnt, nt = facility_reach(g, units, fac, h, token, max(radius, max_m), ws, False)
    for t in range(nt):
        n = ws.touched[t]
        d = ws.dist[n]
        if d < st.node_d[n] and d <= max_m:
            st.node_d[n] = d
            st.node_f[n] = h
        ws.dist[n] = _INF
        ws.lab[n] = -1
    for k in range(cnt):  # every unit at most once
        i = ws.out_i[k]
        d = ws.out_d[k]
        if d < st.nearest_m[i] and d <= max_m:
            st.nearest_m[i] = d
            st.nearest_fac[i] = h
        if d <= radius:
            st.n_within[i] += 1


@_jit
def whatif_remove(
    g: Graph,
    units: Units,
    fac: Placed,
    active: NDArray[np.bool_],
    h: int,
    token: int,
    radius: float,
    max_m: float,
    ws: Workspace,
    st: State,
) -> None:
    """Take active facility ``h`` out of the what-if state ``st`` (in place).

    One search bounded by ``radius`` for the counts; then the junctions ``h`` labelled are
    re-grown (:func:`repair_kernel`) and only the units whose nearest it was are recomputed.
    Sets ``active[h]`` to False.
    """
    cnt, _ = facility_reach(g, units, fac, h, token, radius, ws, True)
    for k in range(cnt):  # every unit at most once
        if ws.out_d[k] <= radius:
            st.n_within[ws.out_i[k]] -= 1
    active[h] = False
    repair_kernel(g, fac, active, h, max_m, st.node_d, st.node_f)
    # the units whose nearest it was, in order, listed in the spare ws.out_i (one pass, no
    # temporaries: numba's flatnonzero(a == h) is slower than numpy's on a million units)
    na = 0
    for i in range(st.nearest_fac.shape[0]):
        if st.nearest_fac[i] == h:
            ws.out_i[na] = i
            na += 1
    if na > 0:
        units_refresh(
            g,
            units,
            fac,
            active,
            max_m,
            st.node_d,
            st.node_f,
            ws.out_i[:na],
            st.nearest_m,
            st.nearest_fac,
        )


# ---------------------------------------------------------------------------------------------
# building the engine
# ---------------------------------------------------------------------------------------------
@_jit
def build_chains(
    indptr: I64, adj: Idx, arc_edge: Idx, eu: I64, ev: I64, elen: F64, core: NDArray[np.bool_]
) -> tuple[I64, F64, F64, I64, I64, F64]:
    """Contract runs of degree-2 nodes into chains between core nodes.

    ``core`` (bool per node, updated in place) marks nodes kept in the search graph: junctions,
    dead ends, nodes on a self-loop; one node of every ring without any is added. Returns
    ``(e_chain, e_pos, e_sign, ca, cb, clen)``: per edge its chain, the chain position of its
    ``u`` end and +1/-1 when the chain runs u->v / v->u; per chain its end nodes and length.
    A point at ``offset`` on edge ``e`` sits at chain position ``e_pos + e_sign * offset``.
    """
    n = indptr.shape[0] - 1
    m = eu.shape[0]
    e_chain = np.full(m, -1, np.int64)
    e_pos = np.zeros(m, np.float64)
    e_sign = np.ones(m, np.float64)
    ca = np.empty(m, np.int64)
    cb = np.empty(m, np.int64)
    clen = np.empty(m, np.float64)
    nc = 0
    for phase in range(2):
        for start in range(n if phase == 0 else m):
            if phase == 0:
                a = start
                if not core[a]:
                    continue
            else:
                if e_chain[start] >= 0:
                    continue
                a = eu[start]  # a ring of degree-2 nodes: make one of them core
                core[a] = True
            for k in range(indptr[a], indptr[a + 1]):
                e = arc_edge[k]
                if e_chain[e] >= 0:
                    continue
                prev = a
                cur = adj[k]
                pos = 0.0
                while True:
                    e_chain[e] = nc
                    if eu[e] == prev:
                        e_pos[e] = pos
                        e_sign[e] = 1.0
                    else:
                        e_pos[e] = pos + elen[e]
                        e_sign[e] = -1.0
                    pos += elen[e]
                    if core[cur]:
                        break
                    k0 = indptr[cur]
                    kk = k0 if arc_edge[k0] != e else k0 + 1
                    prev = cur
                    e = arc_edge[kk]
                    cur = adj[kk]
                ca[nc] = a
                cb[nc] = cur
                clen[nc] = pos
                nc += 1
    return e_chain, e_pos, e_sign, ca[:nc], cb[:nc], clen[:nc]


# ---------------------------------------------------------------------------------------------
# nearest-segment index: a uniform grid, exact by construction
# ---------------------------------------------------------------------------------------------
@_jit
def grid_build(
    x0: F64, y0: F64, x1: F64, y1: F64, ox: float, oy: float, cell: float, nx: int, ny: int
) -> tuple[I64, I64]:
    """Bucket segments into grid cells by samples spaced at most ``cell`` along each segment.

    Every point of a segment lies within ``cell / 2`` of one of its samples, which is what
    :func:`grid_nearest` needs for its exact stopping rule. Returns ``(ptr, seg)`` of
    :class:`Grid`.
    """
    ns = x0.shape[0]
    ncell = nx * ny
    counts = np.zeros(ncell + 1, np.int64)
    for s in range(ns):
        k = _n_samples(x0[s], y0[s], x1[s], y1[s], cell)
        last = -1
        for j in range(k):
            c = _sample_cell(x0[s], y0[s], x1[s], y1[s], j, k, ox, oy, cell, nx, ny)
            if c != last:
                counts[c + 1] += 1
                last = c
    ptr = np.cumsum(counts)
    fill = ptr[:-1].copy()
    out = np.empty(ptr[ncell], np.int64)
    for s in range(ns):
        k = _n_samples(x0[s], y0[s], x1[s], y1[s], cell)
        last = -1
        for j in range(k):
            c = _sample_cell(x0[s], y0[s], x1[s], y1[s], j, k, ox, oy, cell, nx, ny)
            if c != last:
                out[fill[c]] = s
                fill[c] += 1
                last = c
    return ptr, out


@_jit
def _n_samples(x0: float, y0: float, x1: float, y1: float, cell: float) -> int:
    """Count the samples of a segment: both ends, and at most ``cell`` apart."""
    return int(np.ceil(np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2) / cell)) + 1


@_jit
def _sample_cell(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    j: int,
    k: int,
    ox: float,
    oy: float,
    cell: float,
    nx: int,
    ny: int,
) -> int:
    """Return the cell of sample ``j`` of ``k`` along the segment (clamped to the grid)."""
    t = j / (k - 1) if k > 1 else 0.0
    ci = min(max(int((x0 + t * (x1 - x0) - ox) / cell), 0), nx - 1)
    cj = min(max(int((y0 + t * (y1 - y0) - oy) / cell), 0), ny - 1)
    return cj * nx + ci


@_jit_inline
def _project(
    px: float, py: float, x0: float, y0: float, x1: float, y1: float
) -> tuple[float, float]:
    """Projection of a point on a segment: ``(t in [0, 1], squared distance)``."""
    dx = x1 - x0
    dy = y1 - y0
    l2 = dx * dx + dy * dy
    t = 0.0
    if l2 > 0.0:
        t = ((px - x0) * dx + (py - y0) * dy) / l2
        t = min(max(t, 0.0), 1.0)
    qx = x0 + t * dx - px
    qy = y0 + t * dy - py
    return t, qx * qx + qy * qy


@_jit
def segment_project(px: F64, py: F64, x0: F64, y0: F64, x1: F64, y1: F64) -> tuple[F64, F64]:
    """Project points on segments: returns (t in [0, 1], distance) per point."""
    n = px.shape[0]
    t = np.empty(n, np.float64)
    d = np.empty(n, np.float64)
    for i in range(n):
        t[i], d2 = _project(px[i], py[i], x0[i], y0[i], x1[i], y1[i])
        d[i] = np.sqrt(d2)
    return t, d


@_jit_inline
def _scan_cell(grid: Grid, c: int, px: float, py: float, best: float, bs: int) -> tuple[float, int]:
    """Return the nearer of segment ``bs`` (squared distance ``best``) and cell ``c``'s."""
    x0, y0, x1, y1 = grid.x0, grid.y0, grid.x1, grid.y1
    for k in range(grid.ptr[c], grid.ptr[c + 1]):
        sg = grid.seg[k]
        _, d2 = _project(px, py, x0[sg], y0[sg], x1[sg], y1[sg])
        if d2 < best or (d2 == best and sg < bs):
            best = d2
            bs = sg
    return best, bs


@_jit
def grid_nearest(px: F64, py: F64, grid: Grid) -> I64:
    """Index of the nearest segment per point (lowest index among exact ties).

    Scans rings of cells outwards. After ring ``r`` every unseen sample is at least
    ``r * cell`` away, so every unseen segment at least ``r * cell - cell / 2``: stop once
    the best distance is below that.
    """
    ox, oy, cell, nx, ny = grid.ox, grid.oy, grid.cell, grid.nx, grid.ny
    n = px.shape[0]
    out = np.full(n, -1, np.int64)
    for q in range(n):
        fx = min(max((px[q] - ox) / cell, -1e12), 1e12)
        fy = min(max((py[q] - oy) / cell, -1e12), 1e12)
        cx = int(np.floor(fx))
        cy = int(np.floor(fy))
        # first ring that touches the grid
        gx = 0
        if cx < 0:
            gx = -cx
        elif cx > nx - 1:
            gx = cx - (nx - 1)
        gy = 0
        if cy < 0:
            gy = -cy
        elif cy > ny - 1:
            gy = cy - (ny - 1)
        r = max(gx, gy)
        rmax = max(r, max(abs(cx), abs(cx - (nx - 1))), max(abs(cy), abs(cy - (ny - 1))))
        best = np.inf
        bs = -1
        while r <= rmax:
            i0 = max(cx - r, 0)
            i1 = min(cx + r, nx - 1)
            j0 = max(cy - r, 0)
            j1 = min(cy + r, ny - 1)
            for j in range(j0, j1 + 1):
                if j == cy - r or j == cy + r:  # the ring's top and bottom rows in full
                    for i in range(i0, i1 + 1):
                        best, bs = _scan_cell(grid, j * nx + i, px[q], py[q], best, bs)
                else:  # elsewhere only its two side columns
                    if 0 <= cx - r <= nx - 1:
                        best, bs = _scan_cell(grid, j * nx + cx - r, px[q], py[q], best, bs)
                    if r > 0 and 0 <= cx + r <= nx - 1:
                        best, bs = _scan_cell(grid, j * nx + cx + r, px[q], py[q], best, bs)
            lim = r * cell - 0.5 * cell
            if bs >= 0 and lim > 0 and best < lim * lim:
                break
            r += 1
        out[q] = bs
    return out
