"""Compiled hot loops of the access engine (internal; see :mod:`geo.access`).

Everything here is numba ``@njit(cache=True, nogil=True)`` over plain arrays, so callers can
run independent searches in threads. Conventions:

* the graph is a CSR over *arcs* (both directions of every undirected edge):
  ``indptr[n]:indptr[n+1]`` are node ``n``'s arcs, ``adj`` the head node, ``arc_w`` the length
  in metres and ``arc_edge`` the undirected edge the arc belongs to;
* an edge ``e`` runs from ``edge_u[e]`` to ``edge_v[e]`` with length ``edge_len[e]``;
* a snapped point is ``(edge, offset, access)``: offset in metres from the ``u`` end, access the
  perpendicular leg. It reaches ``u`` after ``access + offset`` and ``v`` after
  ``access + (len - offset)``;
* units are grouped by edge in a CSR (``u_ptr`` over edges, ``u_ord`` unit indices);
* ``dist`` / ``lab`` are per-node workspaces that hold ``inf`` / ``-1`` between searches; a search
  lists the nodes it touched so resetting costs only its reach.

Floating-point note: a node's distance is ``min`` over its neighbours of ``dist + w`` (all
additions of non-negative numbers), so the value a search finds does not depend on the bound,
the heap order or which other sources are present. A multi-source value is exactly the minimum
of the single-source values. The incremental what-if relies on this.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

_INF = np.inf

#: Compile once, cache on disk, release the GIL (searches run in threads). Typed ``Any`` so
#: mypy does not try to type numba's dispatchers.
_jit: Any = nb.njit(cache=True, nogil=True)


@_jit
def _heap_push(hk, hv, size, key, val):
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
def _heap_pop(hk, hv, size):
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


@_jit
def search(indptr, adj, arc_w, seed_node, seed_dist, seed_lab, bound, dist, lab, touched):
    """Multi-source Dijkstra bounded by ``bound`` metres (lazy-deletion binary heap).

    ``dist``/``lab`` are updated in place (a node keeps its value when a seed or relaxation is
    not strictly smaller, so existing values act as extra sources). Nodes that go from ``inf``
    to finite are appended to ``touched``. Returns the number of touched nodes.
    """
    cap = 1024
    hk = np.empty(cap, np.float64)
    hv = np.empty(cap, np.int64)
    size = 0
    nt = 0
    for s in range(seed_node.shape[0]):
        n = seed_node[s]
        d = seed_dist[s]
        if d <= bound and d < dist[n]:
            if dist[n] == _INF:
                touched[nt] = n
                nt += 1
            dist[n] = d
            lab[n] = seed_lab[s]
            if size == cap:
                cap *= 2
                hk2 = np.empty(cap, np.float64)
                hv2 = np.empty(cap, np.int64)
                hk2[:size] = hk[:size]
                hv2[:size] = hv[:size]
                hk = hk2
                hv = hv2
            size = _heap_push(hk, hv, size, d, n)
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
                    hk2 = np.empty(cap, np.float64)
                    hv2 = np.empty(cap, np.int64)
                    hk2[:size] = hk[:size]
                    hv2[:size] = hv[:size]
                    hk = hk2
                    hv = hv2
                size = _heap_push(hk, hv, size, nd, m)
    return nt


@_jit
def _seeds(edge_u, edge_v, edge_len, fe, fo, fa, fidx):
    """Seed nodes/distances/labels for facilities ``fidx`` (two seeds each)."""
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
def _via_nodes(i, ue, uo, ua, edge_u, edge_v, edge_len, dist):
    """Unit ``i``'s distance through its edge's end nodes; returns (d, 0 for u | 1 for v)."""
    e = ue[i]
    d1 = ua[i] + uo[i] + dist[edge_u[e]]
    d2 = ua[i] + (edge_len[e] - uo[i]) + dist[edge_v[e]]
    if d1 <= d2:
        return d1, 0
    return d2, 1


@_jit
def _direct(i, f, uo, ua, fo, fa):
    """Distance between unit ``i`` and facility ``f`` on the same edge, along that edge."""
    return ua[i] + abs(uo[i] - fo[f]) + fa[f]


@_jit
def units_from_nodes(ue, uo, ua, edge_u, edge_v, edge_len, dist, lab, out_d, out_f, units):
    """Set ``out_d/out_f`` of ``units`` from node distances/labels (end-node routes only)."""
    for j in range(units.shape[0]):
        i = units[j]
        d, side = _via_nodes(i, ue, uo, ua, edge_u, edge_v, edge_len, dist)
        e = ue[i]
        out_d[i] = d
        if d == _INF:
            out_f[i] = -1
        elif side == 0:
            out_f[i] = lab[edge_u[e]]
        else:
            out_f[i] = lab[edge_v[e]]


@_jit
def nearest_kernel(indptr, adj, arc_w, edge_u, edge_v, edge_len, ue, uo, ua, u_ptr, u_ord,
                   fe, fo, fa, bound):
    """Nearest facility per unit: one multi-source search plus same-edge shortcuts.

    Returns ``(distance, facility index)`` per unit; ``inf`` / ``-1`` beyond ``bound``.
    """
    n_nodes = indptr.shape[0] - 1
    n_units = ue.shape[0]
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    fidx = np.arange(fe.shape[0])
    sn, sd, sl = _seeds(edge_u, edge_v, edge_len, fe, fo, fa, fidx)
    search(indptr, adj, arc_w, sn, sd, sl, bound, dist, lab, touched)
    out_d = np.empty(n_units, np.float64)
    out_f = np.empty(n_units, np.int64)
    units_from_nodes(ue, uo, ua, edge_u, edge_v, edge_len, dist, lab, out_d, out_f,
                     np.arange(n_units))
    for f in range(fe.shape[0]):
        e = fe[f]
        for k in range(u_ptr[e], u_ptr[e + 1]):
            i = u_ord[k]
            d = _direct(i, f, uo, ua, fo, fa)
            if d < out_d[i]:
                out_d[i] = d
                out_f[i] = f
    for i in range(n_units):
        if out_d[i] > bound:
            out_d[i] = _INF
            out_f[i] = -1
    return out_d, out_f


@_jit
def nodes_kernel(indptr, adj, arc_w, edge_u, edge_v, edge_len, fe, fo, fa, active, bound):
    """Node distances/labels of a multi-source search from the ``active`` facilities."""
    n_nodes = indptr.shape[0] - 1
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    fidx = np.flatnonzero(active)
    sn, sd, sl = _seeds(edge_u, edge_v, edge_len, fe, fo, fa, fidx)
    search(indptr, adj, arc_w, sn, sd, sl, bound, dist, lab, touched)
    return dist, lab


@_jit
def facility_reach(indptr, adj, arc_w, arc_edge, edge_u, edge_v, edge_len, ue, uo, ua,
                   u_ptr, u_ord, fe, fo, fa, f, token, bound, dist, lab, touched, stamp,
                   out_i, out_d, reset):
    """Units within ``bound`` of facility ``f``: fills ``out_i``/``out_d``.

    ``stamp`` (per unit) must not hold ``token`` on entry. ``out_i``/``out_d`` need room for
    every unit. With ``reset`` the node workspaces come back all ``inf``/``-1``; otherwise the
    caller reads ``dist[touched[:nt]]`` and resets them. Returns ``(n_units, nt)``.
    """
    sn, sd, sl = _seeds(edge_u, edge_v, edge_len, fe, fo, fa, np.array([f]))
    nt = search(indptr, adj, arc_w, sn, sd, sl, bound, dist, lab, touched)
    cnt = 0
    e_f = fe[f]
    # units on the facility's own edge (reachable directly even when no end node is)
    for k in range(u_ptr[e_f], u_ptr[e_f + 1]):
        i = u_ord[k]
        stamp[i] = token
        d, _ = _via_nodes(i, ue, uo, ua, edge_u, edge_v, edge_len, dist)
        dd = _direct(i, f, uo, ua, fo, fa)
        if dd < d:
            d = dd
        if d <= bound:
            out_i[cnt] = i
            out_d[cnt] = d
            cnt += 1
    for t in range(nt):
        n = touched[t]
        for a in range(indptr[n], indptr[n + 1]):
            e = arc_edge[a]
            for k in range(u_ptr[e], u_ptr[e + 1]):
                i = u_ord[k]
                if stamp[i] == token:
                    continue
                stamp[i] = token
                d, _ = _via_nodes(i, ue, uo, ua, edge_u, edge_v, edge_len, dist)
                if d <= bound:
                    out_i[cnt] = i
                    out_d[cnt] = d
                    cnt += 1
    if reset:
        for t in range(nt):
            n = touched[t]
            dist[n] = _INF
            lab[n] = -1
    return cnt, nt


@_jit
def count_kernel(indptr, adj, arc_w, arc_edge, edge_u, edge_v, edge_len, ue, uo, ua,
                 u_ptr, u_ord, fe, fo, fa, fidx, radius, beta, gmax):
    """Facility-centred counts: per unit, facilities within ``radius`` and a gravity sum.

    Gravity adds ``exp(-beta * d)`` for every facility within ``gmax`` (skipped when
    ``gmax < 0``). Cost is the sum of the facilities' reaches, never units x facilities.
    """
    n_nodes = indptr.shape[0] - 1
    n_units = ue.shape[0]
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    stamp = np.full(n_units, -1, np.int64)
    out_i = np.empty(n_units, np.int64)
    out_d = np.empty(n_units, np.float64)
    counts = np.zeros(n_units, np.int64)
    grav = np.zeros(n_units, np.float64)
    bound = max(radius, gmax)
    for j in range(fidx.shape[0]):
        f = fidx[j]
        cnt, _ = facility_reach(indptr, adj, arc_w, arc_edge, edge_u, edge_v, edge_len, ue,
                                uo, ua, u_ptr, u_ord, fe, fo, fa, f, f, bound, dist, lab,
                                touched, stamp, out_i, out_d, True)
        for k in range(cnt):
            i = out_i[k]
            d = out_d[k]
            if d <= radius:
                counts[i] += 1
            if d <= gmax:
                grav[i] += np.exp(-beta * d)
    return counts, grav


@_jit
def repair_kernel(indptr, adj, arc_w, arc_edge, edge_u, edge_v, edge_len, fe, fo, fa, active,
                  removed, bound, dist, lab):
    """Recompute node distances whose label was facility ``removed`` (already inactive).

    Affected nodes are reset and re-seeded from their unaffected neighbours and from active
    facilities on their incident edges; the search then only improves affected nodes (others
    already hold the minimum over the remaining facilities). Returns the affected node indices.
    """
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
    search(indptr, adj, arc_w, sn[:ns], sd[:ns], sl[:ns], bound, dist, lab, touched)
    return aff


@_jit
def _grow_i(a, cap):
    b = np.empty(cap, np.int64)
    b[: a.shape[0]] = a
    return b


@_jit
def _grow_f(a, cap):
    b = np.empty(cap, np.float64)
    b[: a.shape[0]] = a
    return b


@_jit
def units_refresh(units, ue, uo, ua, edge_u, edge_v, edge_len, dist, lab, fe, fo, fa, active,
                  bound, out_d, out_f):
    """Recompute ``units`` from node values plus active facilities on their own edge."""
    units_from_nodes(ue, uo, ua, edge_u, edge_v, edge_len, dist, lab, out_d, out_f, units)
    # same-edge facilities: small per edge, so a sorted edge list and a binary search suffice
    act = np.flatnonzero(active)
    order = act[np.argsort(fe[act], kind="mergesort")]
    keys = fe[order]
    for j in range(units.shape[0]):
        i = units[j]
        e = ue[i]
        lo = np.searchsorted(keys, e, side="left")
        hi = np.searchsorted(keys, e, side="right")
        for k in range(lo, hi):
            f = order[k]
            d = _direct(i, f, uo, ua, fo, fa)
            if d < out_d[i]:
                out_d[i] = d
                out_f[i] = f
        if out_d[i] > bound:
            out_d[i] = _INF
            out_f[i] = -1


@_jit
def segment_project(px, py, x0, y0, x1, y1):
    """Project points on segments: returns (t in [0, 1], distance) per point."""
    n = px.shape[0]
    t = np.empty(n, np.float64)
    d = np.empty(n, np.float64)
    for i in range(n):
        dx = x1[i] - x0[i]
        dy = y1[i] - y0[i]
        l2 = dx * dx + dy * dy
        tt = 0.0
        if l2 > 0.0:
            tt = ((px[i] - x0[i]) * dx + (py[i] - y0[i]) * dy) / l2
            tt = min(max(tt, 0.0), 1.0)
        qx = x0[i] + tt * dx - px[i]
        qy = y0[i] + tt * dy - py[i]
        t[i] = tt
        d[i] = np.sqrt(qx * qx + qy * qy)
    return t, d
