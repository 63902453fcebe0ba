"""Compiled hot loops of the access engine (internal; see :mod:`geo.access`).

Everything here is numba ``@njit(cache=True, nogil=True)`` over plain arrays, so callers can
run independent searches in threads. Conventions:

* the kernels see a graph of "nodes" and "edges"; the engine passes its junctions and its
  chains (contracted runs of degree-2 nodes), with every dead end folded into one sentinel
  node, the last, that never takes a distance (arcs into it have infinite length);
* the graph is a CSR over *arcs* (both directions of every undirected edge):
  ``indptr[n]:indptr[n+1]`` are node ``n``'s arcs, ``adj`` the head node, ``arc_w`` the length
  in metres and ``arc_edge`` the undirected edge the arc belongs to;
* an edge ``e`` runs from ``edge_u[e]`` to ``edge_v[e]`` with length ``edge_len[e]``;
* a snapped point is ``(edge, offset, access)``: offset in metres from the ``u`` end, access the
  perpendicular leg. It reaches ``u`` after ``access + offset`` and ``v`` after
  ``access + (len - offset)``;
* units are grouped by edge in a CSR (``u_ptr`` over edges, ``u_ord`` unit indices) with
  edge-sorted copies of their positions and access legs (``s_pos``, ``s_acc``);
* a point on a dead-end spur that hangs off the middle of an edge is placed on that edge at
  the spur's foot, its walk along the spur added to its access leg; ``ul, ulp, ula`` (units)
  and ``fl, flp, fla`` (facilities) name the spur (-1: none), the position along it and the
  plain access leg, for the direct walk between two points on the same spur (``_local``);
* ``dist`` / ``lab`` are per-node workspaces that hold ``inf`` / ``-1`` between searches; a search
  lists the nodes it touched so resetting costs only its reach.

Floating-point note: a node's distance is ``min`` over its neighbours of ``dist + w`` (all
additions of non-negative numbers), so the value a search finds does not depend on the bound,
the queue (heap or buckets) or which other sources are present: it is the smallest
left-to-right sum over the paths from the seeds. A multi-source value is exactly the minimum
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


#: Target bucket width (m) of the bounded searches' queue, and the most buckets allowed.
BUCKET_M = 1.0
MAX_BUCKETS = 8192
#: Widest bucket (m) for which the bucket queue is used; beyond it, the binary heap.
MAX_BUCKET_M = 5.0


@_jit
def search(indptr, adj, arc_w, seed_node, seed_dist, seed_lab, bound, dist, lab, touched):
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
    nt = 0
    sentinel = indptr.shape[0] - 2
    for s in range(seed_node.shape[0]):
        n = seed_node[s]
        d = seed_dist[s]
        if d <= bound and d < dist[n] and n != sentinel:
            if dist[n] == _INF:
                touched[nt] = n
                nt += 1
            dist[n] = d
            lab[n] = seed_lab[s]
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
def search_heap(indptr, adj, arc_w, seed_node, seed_dist, seed_lab, bound, dist, lab, touched):
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
    nt = 0
    sentinel = indptr.shape[0] - 2
    for s in range(seed_node.shape[0]):
        n = seed_node[s]
        d = seed_dist[s]
        if d <= bound and d < dist[n] and n != sentinel:
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
def _via(e, pos, acc, edge_u, edge_v, edge_len, dist):
    """A point's distance through its edge's end nodes; returns (d, 0 for u | 1 for v)."""
    d1 = acc + pos + dist[edge_u[e]]
    d2 = acc + (edge_len[e] - pos) + dist[edge_v[e]]
    if d1 <= d2:
        return d1, 0
    return d2, 1


@_jit
def _direct(pos, acc, f, fo, fa):
    """Distance between a point and facility ``f`` on the same edge, along that edge."""
    return acc + abs(pos - fo[f]) + fa[f]


@_jit
def _local(lpos, lacc, f, flp, fla):
    """Distance along a dead-end spur between a point and facility ``f`` on the same spur."""
    return lacc + abs(lpos - flp[f]) + fla[f]


@_jit
def units_from_nodes(ue, uo, ua, edge_u, edge_v, edge_len, dist, lab, out_d, out_f, units):
    """Set ``out_d/out_f`` of ``units`` from node distances/labels (end-node routes only)."""
    for j in range(units.shape[0]):
        i = units[j]
        e = ue[i]
        d, side = _via(e, uo[i], ua[i], edge_u, edge_v, edge_len, dist)
        out_d[i] = d
        if d == _INF:
            out_f[i] = -1
        elif side == 0:
            out_f[i] = lab[edge_u[e]]
        else:
            out_f[i] = lab[edge_v[e]]


@_jit
def nearest_kernel(
    indptr,
    adj,
    arc_w,
    arc_edge,
    edge_u,
    edge_v,
    edge_len,
    ue,
    uo,
    ua,
    u_ptr,
    u_ord,
    s_pos,
    s_acc,
    ul,
    ulp,
    ula,
    s_l,
    s_lp,
    s_la,
    fe,
    fo,
    fa,
    fl,
    flp,
    fla,
    bound,
):
    """Nearest facility per unit: one multi-source search plus same-edge shortcuts.

    Units are read edge by edge from the edge-sorted copies ``s_pos``/``s_acc`` (sequential
    memory); units on edges with no reached end stay unreached unless a facility shares their
    edge. Returns ``(distance, facility index)`` per unit;
    ``inf`` / ``-1`` beyond ``bound``.
    """
    n_nodes = indptr.shape[0] - 1
    n_units = ue.shape[0]
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    fidx = np.arange(fe.shape[0])
    sn, sd, sl = _seeds(edge_u, edge_v, edge_len, fe, fo, fa, fidx)
    search(indptr, adj, arc_w, sn, sd, sl, bound, dist, lab, touched)
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
    for f in range(fe.shape[0]):
        e = fe[f]
        lf = fl[f]
        for k in range(u_ptr[e], u_ptr[e + 1]):
            d = _direct(s_pos[k], s_acc[k], f, fo, fa)
            if lf >= 0 and s_l[k] == lf:
                dl = _local(s_lp[k], s_la[k], f, flp, fla)
                if dl < d:
                    d = dl
            i = u_ord[k]
            if d < out_d[i] and d <= bound:
                out_d[i] = d
                out_f[i] = f
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
def facility_reach(
    indptr,
    adj,
    arc_w,
    arc_edge,
    edge_u,
    edge_v,
    edge_len,
    ue,
    uo,
    ua,
    u_ptr,
    u_ord,
    s_pos,
    s_acc,
    ul,
    ulp,
    ula,
    s_l,
    s_lp,
    s_la,
    fe,
    fo,
    fa,
    fl,
    flp,
    fla,
    f,
    token,
    bound,
    dist,
    lab,
    touched,
    stamp,
    out_i,
    out_d,
    reset,
):
    """Units within ``bound`` of facility ``f``: fills ``out_i``/``out_d``.

    ``stamp`` (per edge) must not hold ``token`` on entry. ``out_i``/``out_d`` need room for
    every unit. With ``reset`` the node workspaces come back all ``inf``/``-1``; otherwise the
    caller reads ``dist[touched[:nt]]`` and resets them. Returns ``(n_units, nt)``.
    """
    sn, sd, sl = _seeds(edge_u, edge_v, edge_len, fe, fo, fa, np.array([f]))
    nt = search(indptr, adj, arc_w, sn, sd, sl, bound, dist, lab, touched)
    cnt = 0
    e_f = fe[f]
    # units on the facility's own edge (reachable directly even when no end node is)
    stamp[e_f] = token
    lf = fl[f]
    for k in range(u_ptr[e_f], u_ptr[e_f + 1]):
        d, _ = _via(e_f, s_pos[k], s_acc[k], edge_u, edge_v, edge_len, dist)
        dd = _direct(s_pos[k], s_acc[k], f, fo, fa)
        if dd < d:
            d = dd
        if lf >= 0 and s_l[k] == lf:
            dl = _local(s_lp[k], s_la[k], f, flp, fla)
            if dl < d:
                d = dl
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
    indptr,
    adj,
    arc_w,
    arc_edge,
    edge_u,
    edge_v,
    edge_len,
    ue,
    uo,
    ua,
    u_ptr,
    u_ord,
    s_pos,
    s_acc,
    ul,
    ulp,
    ula,
    s_l,
    s_lp,
    s_la,
    fe,
    fo,
    fa,
    fl,
    flp,
    fla,
    fidx,
    radius,
    beta,
    gmax,
):
    """Facility-centred counts: per unit, facilities within ``radius`` and a gravity sum.

    Gravity adds ``exp(-beta * d)`` for every facility within ``gmax`` (skipped when
    ``gmax < 0``). Cost is the sum of the facilities' reaches, never units x facilities.
    """
    n_nodes = indptr.shape[0] - 1
    n_units = ue.shape[0]
    dist = np.full(n_nodes, _INF)
    lab = np.full(n_nodes, -1, np.int64)
    touched = np.empty(n_nodes, np.int64)
    stamp = np.full(edge_u.shape[0], -1, np.int64)
    out_i = np.empty(n_units, np.int64)
    out_d = np.empty(n_units, np.float64)
    counts = np.zeros(n_units, np.int64)
    grav = np.zeros(n_units if gmax >= 0 else 0, np.float64)
    bound = max(radius, gmax)
    for j in range(fidx.shape[0]):
        f = fidx[j]
        cnt, _ = facility_reach(
            indptr,
            adj,
            arc_w,
            arc_edge,
            edge_u,
            edge_v,
            edge_len,
            ue,
            uo,
            ua,
            u_ptr,
            u_ord,
            s_pos,
            s_acc,
            ul,
            ulp,
            ula,
            s_l,
            s_lp,
            s_la,
            fe,
            fo,
            fa,
            fl,
            flp,
            fla,
            f,
            f,
            bound,
            dist,
            lab,
            touched,
            stamp,
            out_i,
            out_d,
            True,
        )
        for k in range(cnt):
            i = out_i[k]
            d = out_d[k]
            if d <= radius:
                counts[i] += 1
            if d <= gmax:
                grav[i] += np.exp(-beta * d)
    return counts, grav


@_jit
def repair_kernel(
    indptr,
    adj,
    arc_w,
    arc_edge,
    edge_u,
    edge_v,
    edge_len,
    fe,
    fo,
    fa,
    active,
    removed,
    bound,
    dist,
    lab,
):
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
def units_refresh(
    units,
    ue,
    uo,
    ua,
    ul,
    ulp,
    ula,
    edge_u,
    edge_v,
    edge_len,
    dist,
    lab,
    fe,
    fo,
    fa,
    fl,
    flp,
    fla,
    active,
    bound,
    out_d,
    out_f,
):
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
            d = _direct(uo[i], ua[i], f, fo, fa)
            if fl[f] >= 0 and ul[i] == fl[f]:
                dl = _local(ulp[i], ula[i], f, flp, fla)
                if dl < d:
                    d = dl
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


@_jit
def build_chains(indptr, adj, arc_edge, eu, ev, elen, core):
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
def grid_build(x0, y0, x1, y1, ox, oy, cell, nx, ny):
    """Bucket segments into grid cells by samples spaced at most ``cell`` along each segment.

    Every point of a segment lies within ``cell / 2`` of one of its samples, which is what
    :func:`grid_nearest` needs for its exact stopping rule. Returns ``(cell_ptr, cell_seg)``.
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
def _n_samples(x0, y0, x1, y1, cell):
    """Samples at both ends and at most ``cell`` apart."""
    return int(np.ceil(np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2) / cell)) + 1


@_jit
def _sample_cell(x0, y0, x1, y1, j, k, ox, oy, cell, nx, ny):
    t = j / (k - 1) if k > 1 else 0.0
    ci = min(max(int((x0 + t * (x1 - x0) - ox) / cell), 0), nx - 1)
    cj = min(max(int((y0 + t * (y1 - y0) - oy) / cell), 0), ny - 1)
    return cj * nx + ci


@_jit
def _seg_dist2(px, py, x0, y0, x1, y1):
    dx = x1 - x0
    dy = y1 - y0
    l2 = dx * dx + dy * dy
    t = 0.0
    if l2 > 0.0:
        t = ((px - x0) * dx + (py - y0) * dy) / l2
        t = min(max(t, 0.0), 1.0)
    qx = x0 + t * dx - px
    qy = y0 + t * dy - py
    return qx * qx + qy * qy


@_jit
def _scan_cell(c, px, py, x0, y0, x1, y1, cell_ptr, cell_seg, best, bs):
    for k in range(cell_ptr[c], cell_ptr[c + 1]):
        sg = cell_seg[k]
        d2 = _seg_dist2(px, py, x0[sg], y0[sg], x1[sg], y1[sg])
        if d2 < best or (d2 == best and sg < bs):
            best = d2
            bs = sg
    return best, bs


@_jit
def grid_nearest(px, py, x0, y0, x1, y1, ox, oy, cell, nx, ny, cell_ptr, cell_seg):
    """Index of the nearest segment per point (lowest index among exact ties).

    Scans rings of cells outwards. After ring ``r`` every unseen sample is at least
    ``r * cell`` away, so every unseen segment at least ``r * cell - cell / 2``: stop once
    the best distance is below that.
    """
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
                        best, bs = _scan_cell(
                            j * nx + i, px[q], py[q], x0, y0, x1, y1, cell_ptr, cell_seg, best, bs
                        )
                else:  # elsewhere only its two side columns
                    if 0 <= cx - r <= nx - 1:
                        best, bs = _scan_cell(
                            j * nx + cx - r,
                            px[q],
                            py[q],
                            x0,
                            y0,
                            x1,
                            y1,
                            cell_ptr,
                            cell_seg,
                            best,
                            bs,
                        )
                    if r > 0 and 0 <= cx + r <= nx - 1:
                        best, bs = _scan_cell(
                            j * nx + cx + r,
                            px[q],
                            py[q],
                            x0,
                            y0,
                            x1,
                            y1,
                            cell_ptr,
                            cell_seg,
                            best,
                            bs,
                        )
            lim = r * cell - 0.5 * cell
            if bs >= 0 and lim > 0 and best < lim * lim:
                break
            r += 1
        out[q] = bs
    return out
