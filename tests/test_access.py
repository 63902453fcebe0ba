"""Access engine: exactness against NetworkX Dijkstra, snapping, counts, what-if, table."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo._errors import LifeCircleError
from geo.network.access import AccessEngine, Snapped, compute_access
from geo.network.network import WalkNetwork

TOL = 1e-6


# ---------------------------------------------------------------------------------------------
# reference: plain NetworkX Dijkstra on the network with every snapped point spliced into its
# edge (same snapping arithmetic: edge, offset along it, perpendicular access leg)
# ---------------------------------------------------------------------------------------------
def _add_min(g: nx.Graph, a, b, w: float) -> None:
    if not g.has_edge(a, b) or g[a][b]["weight"] > w:
        g.add_edge(a, b, weight=w)


def reference_graph(eng: AccessEngine, points: dict[str, Snapped]) -> nx.Graph:
    """Graph with nodes ('n', i), and per point a pendant ('p', kind, j) on its edge."""
    g = nx.Graph()
    g.add_nodes_from(("n", i) for i in range(eng.n_nodes))
    on_edge: dict[int, list[tuple[float, tuple]]] = {}
    for kind, s in points.items():
        for j in range(len(s)):
            pos = ("pos", kind, j)
            _add_min(g, pos, ("p", kind, j), float(s.access[j]))
            on_edge.setdefault(int(s.edge[j]), []).append((float(s.offset[j]), pos))
    for e in range(eng.n_edges):
        u, v, length = int(eng.edge_u[e]), int(eng.edge_v[e]), float(eng.edge_len[e])
        chain = sorted(on_edge.get(e, []), key=lambda t: t[0])
        prev_node, prev_off = ("n", u), 0.0
        for off, pos in chain:
            _add_min(g, prev_node, pos, off - prev_off)
            prev_node, prev_off = pos, off
        if prev_node != ("n", v):
            _add_min(g, prev_node, ("n", v), length - prev_off)
    return g


def reference_pairs(eng: AccessEngine, units: Snapped, facs: Snapped) -> np.ndarray:
    """Dense unit x facility walking distances (small inputs only)."""
    g = reference_graph(eng, {"u": units, "f": facs})
    out = np.full((len(units), len(facs)), np.inf)
    for f in range(len(facs)):
        d = nx.single_source_dijkstra_path_length(g, ("p", "f", f))
        for i in range(len(units)):
            out[i, f] = d.get(("p", "u", i), np.inf)
    return out


def reference_nearest(eng: AccessEngine, units: Snapped, facs: Snapped, bound: float):
    """NetworkX multi-source Dijkstra from all facilities; inf beyond ``bound``."""
    g = reference_graph(eng, {"u": units, "f": facs})
    src = [("p", "f", f) for f in range(len(facs))]
    d = nx.multi_source_dijkstra_path_length(g, src) if src else {}
    out = np.array([d.get(("p", "u", i), np.inf) for i in range(len(units))])
    out[out > bound] = np.inf
    return out


# ---------------------------------------------------------------------------------------------
# random inputs
# ---------------------------------------------------------------------------------------------
coord = st.floats(0, 100, allow_nan=False, allow_infinity=False)
point_coord = st.floats(-20, 120, allow_nan=False, allow_infinity=False)


#: Small integer coordinates: coincident nodes, zero-length edges and exact ties are common.
grid_coord = st.integers(0, 3).map(float)


@st.composite
def graphs(draw, max_nodes: int = 10, coords=coord):
    """A random multigraph (self-loops, parallel and zero-length edges allowed)."""
    n = draw(st.integers(2, max_nodes))
    x = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
    m = draw(st.integers(1, 2 * n))
    u = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)))
    v = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)))
    # length_m >= straight length (a geodesic/curved edge is never shorter than its chord)
    stretch = np.array(draw(st.lists(st.floats(1, 2), min_size=m, max_size=m)))
    length = np.hypot(x[u] - x[v], y[u] - y[v]) * stretch
    return AccessEngine.from_arrays(x, y, u, v, length)


#: Points on a half-unit lattice around the small integer graphs (many ties).
grid_point = st.integers(-1, 8).map(lambda k: k / 2)


@st.composite
def points(draw, min_size: int = 0, max_size: int = 8, coords=point_coord):
    k = draw(st.integers(min_size, max_size))
    px = draw(st.lists(coords, min_size=k, max_size=k))
    py = draw(st.lists(coords, min_size=k, max_size=k))
    return np.array(px, float), np.array(py, float)


FAST = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _brute_snap(eng: AccessEngine, px: float, py: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance to every edge and the projection parameter t (straight edges)."""
    x0, y0 = eng.node_x[eng.edge_u], eng.node_y[eng.edge_u]
    x1, y1 = eng.node_x[eng.edge_v], eng.node_y[eng.edge_v]
    dx, dy = x1 - x0, y1 - y0
    l2 = dx * dx + dy * dy
    t = np.clip(
        np.divide((px - x0) * dx + (py - y0) * dy, l2, out=np.zeros_like(l2), where=l2 > 0), 0, 1
    )
    return np.hypot(x0 + t * dx - px, y0 + t * dy - py), t


# ---------------------------------------------------------------------------------------------
# exactness (property tests)
# ---------------------------------------------------------------------------------------------
@FAST
@given(graphs(), points(1, 8))
def test_snap_finds_the_nearest_edge(eng, pts):
    s = eng.snap(*pts)
    for j in range(len(pts[0])):
        d, t = _brute_snap(eng, pts[0][j], pts[1][j])
        assert s.access[j] == pytest.approx(d.min(), abs=1e-9)
        e = s.edge[j]
        assert d[e] == pytest.approx(d.min(), abs=1e-9)
        assert s.offset[j] == pytest.approx(t[e] * eng.edge_len[e], abs=1e-9)


@FAST
@given(graphs(), points(1, 8), points(0, 6), st.floats(0, 400))
def test_nearest_matches_networkx(eng, upts, fpts, bound):
    units, facs = eng.snap(*upts), eng.snap(*fpts)
    ref = reference_nearest(eng, units, facs, math.inf)
    assume(np.all(np.abs(ref[np.isfinite(ref)] - bound) > 1e-6))
    ref[ref > bound] = np.inf
    d, f = eng.nearest(units, facs, bound)
    np.testing.assert_allclose(d, ref, rtol=0, atol=TOL)
    assert np.array_equal(np.isinf(d), f < 0)
    # the reported facility is at the reported distance
    pairs = reference_pairs(eng, units, facs)
    ok = f >= 0
    np.testing.assert_allclose(pairs[np.flatnonzero(ok), f[ok]], d[ok], rtol=0, atol=TOL)


@FAST
@given(
    graphs(6, grid_coord), points(1, 6, grid_point), points(0, 4, grid_point), st.floats(0.5, 9.5)
)
def test_nearest_and_counts_on_degenerate_graphs(eng, upts, fpts, radius):
    units, facs = eng.snap(*upts), eng.snap(*fpts)
    pairs = reference_pairs(eng, units, facs)
    assume(np.all(np.abs(pairs[np.isfinite(pairs)] - radius) > 1e-6))
    ref = pairs.min(axis=1, initial=np.inf)
    ref[ref > radius] = np.inf
    d, _ = eng.nearest(units, facs, radius)
    np.testing.assert_allclose(d, ref, rtol=0, atol=TOL)
    assert np.array_equal(eng.count_within(units, facs, radius), (pairs <= radius).sum(1))


@FAST
@given(graphs(), points(1, 8), points(0, 6), st.floats(0, 300))
def test_count_within_matches_networkx(eng, upts, fpts, radius):
    units, facs = eng.snap(*upts), eng.snap(*fpts)
    pairs = reference_pairs(eng, units, facs)
    assume(np.all(np.abs(pairs[np.isfinite(pairs)] - radius) > 1e-6))
    expected = (pairs <= radius).sum(axis=1)
    assert np.array_equal(eng.count_within(units, facs, radius), expected)


@FAST
@given(graphs(), points(1, 6), points(0, 5), st.floats(0.001, 0.05), st.floats(0, 300))
def test_gravity_matches_networkx(eng, upts, fpts, beta, max_m):
    units, facs = eng.snap(*upts), eng.snap(*fpts)
    pairs = reference_pairs(eng, units, facs)
    assume(np.all(np.abs(pairs[np.isfinite(pairs)] - max_m) > 1e-6))
    w = np.where(pairs <= max_m, np.exp(-beta * np.where(np.isfinite(pairs), pairs, 0)), 0.0)
    np.testing.assert_allclose(
        eng.gravity(units, facs, beta, max_m), w.sum(axis=1), rtol=1e-9, atol=1e-12
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(graphs(), graphs(6, grid_coord)),
    points(1, 8, grid_point),
    points(0, 5),
    st.lists(
        st.tuples(st.booleans(), point_coord, point_coord, st.integers(0, 20)),
        min_size=1,
        max_size=8,
    ),
    st.floats(0, 300),
    st.floats(0, 300),
)
def test_whatif_equals_recomputation(eng, upts, fpts, ops, radius, max_m):
    units = eng.snap(*upts)
    w = eng.whatif(units, eng.snap(*fpts), radius, max_m)
    for is_add, x, y, pick in ops:
        if is_add or len(w.handles) == 0:
            w.add(x, y)
        else:
            w.remove(int(w.handles[pick % len(w.handles)]))
        facs = w.facilities()
        d, _ = eng.nearest(units, facs, max_m)
        # bit-identical to a full recomputation, not merely close
        assert np.array_equal(w.nearest_m, d)
        assert np.array_equal(w.n_within, eng.count_within(units, facs, radius))
        # each unit's recorded facility is active and at the recorded distance
        handles = w.handles
        for i in np.flatnonzero(w.nearest_fac >= 0):
            h = w.nearest_fac[i]
            assert h in handles
            k = int(np.flatnonzero(handles == h)[0])
            dh, _ = eng.nearest(units.subset([i]), facs.subset([k]), max_m)
            assert dh[0] == w.nearest_m[i]
        assert np.all(w.nearest_fac[np.isinf(w.nearest_m)] == -1)


@FAST
@given(
    st.one_of(graphs(), graphs(6, grid_coord)),
    st.lists(st.integers(0, 50), min_size=1, max_size=4),
    st.lists(st.floats(0, 30), min_size=4, max_size=4),
    st.floats(0.5, 400),
)
def test_bucket_search_equals_heap_search_bit_for_bit(eng, seeds, seed_d, bound):
    from geo.network import _dijkstra

    n = eng.indptr.shape[0] - 1
    nodes = np.array([s % n for s in seeds], np.int64)
    sd = np.array(seed_d[: len(nodes)])
    runs = []
    for fn in (_dijkstra.search, _dijkstra.search_heap):
        dist, lab = np.full(n, np.inf), np.full(n, -1, np.int64)
        fn(
            eng.indptr,
            eng.adj,
            eng.arc_w,
            nodes,
            sd,
            np.arange(len(nodes)),
            bound,
            dist,
            lab,
            np.empty(n, np.int64),
        )
        runs.append(dist)
    assert np.array_equal(runs[0], runs[1])


# ---------------------------------------------------------------------------------------------
# small exact cases
# ---------------------------------------------------------------------------------------------
def _line() -> AccessEngine:
    """Nodes 0-1-2-3 on the x axis, 10 m apart."""
    return AccessEngine.from_arrays(
        np.array([0.0, 10, 20, 30]),
        np.zeros(4),
        np.array([0, 1, 2]),
        np.array([1, 2, 3]),
        np.array([10.0, 10, 10]),
    )


def test_distance_is_access_plus_offsets_plus_path():
    eng = _line()
    d, f = eng.nearest(eng.snap([1], [1]), eng.snap([12], [-3]), 100)
    # 1 (access) + 9 (to node 1) + 2 (to the facility's foot) + 3 (its access)
    assert d.tolist() == [15.0]
    assert f.tolist() == [0]


def test_same_edge_points_walk_directly():
    eng = _line()
    d, _ = eng.nearest(eng.snap([22], [2]), eng.snap([27], [1]), 100)
    assert d.tolist() == [8.0]  # 2 + |2 - 7| + 1, not via a node


def test_beyond_bound_is_inf_and_minus_one():
    eng = _line()
    d, f = eng.nearest(eng.snap([1], [0]), eng.snap([29], [0]), 27.9)
    assert np.isinf(d[0])
    assert f[0] == -1


def _ring_with_spur() -> AccessEngine:
    """A 10 m square 0-1-2-3 with a diagonal 0-2, node 4 halfway along 0-1 and a spur 4-5."""
    x = np.array([0.0, 10, 10, 0, 5, 5])
    y = np.array([0.0, 0, 10, 10, 0, -10])
    u, v = np.array([0, 4, 1, 2, 3, 4, 0]), np.array([4, 1, 2, 3, 0, 5, 2])
    return AccessEngine.from_arrays(x, y, u, v, np.hypot(x[u] - x[v], y[u] - y[v]))


def test_points_on_one_spur_walk_along_it():
    eng = _ring_with_spur()
    assert eng._moved.any()  # the spur's foot (node 4) is contracted away
    d, _ = eng.nearest(eng.snap([5], [-8]), eng.snap([5], [-3]), 100)
    assert d.tolist() == [5.0]  # along the spur, not down to its foot and back (11 m)


def test_spur_point_reaches_the_network_through_its_foot():
    eng = _ring_with_spur()
    d, _ = eng.nearest(eng.snap([5, 6], [-8, 0]), eng.snap([10], [5]), 100)
    assert d.tolist() == [18.0, 9.0]  # 8 up the spur + 5 to node 1 + 5; 4 + 5


def test_offset_is_scaled_to_length_m():
    eng = AccessEngine.from_arrays(
        np.array([0.0, 10]), np.zeros(2), np.array([0]), np.array([1]), np.array([12.0])
    )
    s = eng.snap([2.5], [4])
    assert s.offset.tolist() == [3.0]
    assert s.access.tolist() == [4.0]


def test_snap_nodes_gives_zero_access_at_the_node():
    eng = _line()
    s = eng.snap_nodes([0, 3, 2])
    assert s.access.tolist() == [0.0, 0.0, 0.0]
    d, _ = eng.nearest(s, eng.snap_nodes([1]), 100)
    assert d.tolist() == [10.0, 20.0, 10.0]


def test_empty_facilities_give_inf_and_zero_counts():
    eng = _line()
    units = eng.snap([5], [0])
    d, f = eng.nearest(units, eng.snap([], []), 100)
    assert np.isinf(d).all()
    assert f.tolist() == [-1]
    assert eng.count_within(units, eng.snap([], []), 100).tolist() == [0]


def test_count_within_counts_each_facility_once():
    eng = _line()
    units = eng.snap([10], [0])
    facs = eng.snap([0, 11, 20, 30], [0, 0, 0, 0])
    assert eng.count_within(units, facs, 10.0).tolist() == [3]


def test_nearest_many_runs_each_category():
    eng = _line()
    units = eng.snap([0, 30], [0, 0])
    out = eng.nearest_many(units, [eng.snap([5], [0]), eng.snap([25], [0])], [100, 100])
    assert [d.tolist() for d, _ in out] == [[5.0, 25.0], [25.0, 5.0]]


def test_whatif_add_and_remove_update_in_place():
    eng = _line()
    w = eng.whatif(eng.snap([0, 30], [0, 0]), eng.snap([5], [0]), radius_m=10, max_m=100)
    h = w.add(28, 0)
    assert w.nearest_m.tolist() == [5.0, 2.0]
    assert w.nearest_fac.tolist() == [0, h]
    assert w.n_within.tolist() == [1, 1]
    w.remove(0)
    assert w.nearest_m.tolist() == [28.0, 2.0]
    assert w.nearest_fac.tolist() == [h, h]
    assert w.n_within.tolist() == [0, 1]


def test_whatif_remove_reseeds_from_facility_on_incident_edge():
    # node 1 is nearer h (x=9) than g (x=15, on edge 1-2); after removing h it must get g's
    # own seed (5 m), not the route round by node 2 (15 m)
    eng = AccessEngine.from_arrays(
        np.array([0.0, 10, 20]),
        np.zeros(3),
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([10.0, 10]),
    )
    w = eng.whatif(eng.snap([0], [0]), eng.snap([15, 9], [0, 0]), radius_m=20, max_m=100)
    assert w.nearest_fac.tolist() == [1]
    w.remove(1)
    assert w.nearest_m.tolist() == [15.0]
    assert w.nearest_fac.tolist() == [0]
    assert w.n_within.tolist() == [1]


def test_whatif_remove_unknown_handle_raises():
    eng = _line()
    w = eng.whatif(eng.snap([0], [0]), eng.snap([5], [0]), 10, 100)
    w.remove(0)
    with pytest.raises(LifeCircleError, match="handle 0"):
        w.remove(0)


# ---------------------------------------------------------------------------------------------
# WalkNetwork input and the access table
# ---------------------------------------------------------------------------------------------
def _walknet(
    coords_xy: list[list[tuple[float, float]]],
    lengths: list[float],
    uv: list[tuple[int, int]],
    node_xy: list[tuple[float, float]],
) -> WalkNetwork:
    from geo.io.geom import project_geom

    nodes = pd.DataFrame(
        {
            "node_id": np.arange(100, 100 + len(node_xy)),
            "x": [p[0] for p in node_xy],
            "y": [p[1] for p in node_xy],
        }
    )
    geoms = [project_geom(shapely.LineString(c), inverse=True) for c in coords_xy]
    edges = gpd.GeoDataFrame(
        {
            "u": [100 + a for a, _ in uv],
            "v": [100 + b for _, b in uv],
            "length_m": lengths,
            "highway": "footway",
            "name": "",
            "osm_id": 0,
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    return WalkNetwork("synthetic", nodes, edges)


X0, Y0 = 350_000.0, 3_450_000.0


def test_from_network_follows_polyline_geometry():
    # an L-shaped edge 100 m + 100 m; length_m 400 doubles every projected metre
    net = _walknet(
        [[(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100)]],
        [400.0],
        [(0, 1)],
        [(X0, Y0), (X0 + 100, Y0 + 100)],
    )
    eng = AccessEngine.from_network(net)
    s = eng.snap([X0 + 103], [Y0 + 50])
    assert s.edge.tolist() == [0]
    assert s.offset[0] == pytest.approx(300.0, abs=1e-6)
    assert s.access[0] == pytest.approx(3.0, abs=1e-6)


def test_from_network_orients_reversed_geometry():
    net = _walknet(
        [[(X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0)]],
        [200.0],
        [(0, 1)],
        [(X0, Y0), (X0 + 100, Y0 + 100)],
    )
    s = AccessEngine.from_network(net).snap([X0 + 20], [Y0 - 1])
    assert s.offset[0] == pytest.approx(20.0, abs=1e-6)


def test_from_network_rejects_unknown_node():
    net = _walknet([[(X0, Y0), (X0 + 10, Y0)]], [10.0], [(0, 5)], [(X0, Y0), (X0 + 10, Y0)])
    with pytest.raises(LifeCircleError, match="missing from the nodes table"):
        AccessEngine.from_network(net)


def _straight_net() -> WalkNetwork:
    pts = [(X0, Y0), (X0 + 500, Y0), (X0 + 1500, Y0)]
    return _walknet([[pts[0], pts[1]], [pts[1], pts[2]]], [500.0, 1000.0], [(0, 1), (1, 2)], pts)


def test_compute_access_table_columns_and_times():
    units = pd.DataFrame({"unit_id": ["a", "b"], "x": [X0, X0 + 1500], "y": [Y0, Y0]})
    facs = pd.DataFrame(
        {
            "category": ["clinic", "clinic", "park"],
            "x": [X0 + 400, X0 + 900, X0 + 500],
            "y": [Y0, Y0, Y0],
        }
    )
    t = compute_access(
        _straight_net(), units, facs, {"clinic": 1000.0, "park": 500.0}, speed_kmh=3.0
    )
    assert list(t.columns[:5]) == ["unit_id", "category", "nearest_m", "nearest_min", "n_within"]
    assert t["category"].tolist() == ["clinic", "clinic", "park", "park"]
    assert t["nearest_m"].tolist() == pytest.approx([400.0, 600.0, 500.0, 1000.0])
    assert t["nearest_min"].tolist() == pytest.approx([8.0, 12.0, 10.0, 20.0])  # 50 m/min
    assert t["n_within"].tolist() == [2, 1, 1, 0]


def test_compute_access_category_without_facilities():
    units = pd.DataFrame({"unit_id": [1], "x": [X0], "y": [Y0]})
    facs = pd.DataFrame({"category": pd.Series([], dtype=object), "x": [], "y": []})
    t = compute_access(_straight_net(), units, facs, {"school": 1000.0})
    assert t["category"].tolist() == ["school"]
    assert np.isinf(t["nearest_m"].iloc[0])
    assert t["n_within"].tolist() == [0]


def test_compute_access_search_bound_defaults_to_twice_threshold():
    units = pd.DataFrame({"unit_id": [1], "x": [X0], "y": [Y0]})
    facs = pd.DataFrame({"category": ["shop"], "x": [X0 + 1500], "y": [Y0]})
    t = compute_access(_straight_net(), units, facs, {"shop": 800.0})
    assert t["nearest_m"].iloc[0] == pytest.approx(1500.0)
    assert t["search_m"].iloc[0] == 1600.0
    assert t["n_within"].iloc[0] == 0


def test_compute_access_search_bound_is_at_least_15_minutes():
    units = pd.DataFrame({"unit_id": [1], "x": [X0], "y": [Y0]})
    facs = pd.DataFrame({"category": ["shop"], "x": [X0 + 900], "y": [Y0]})
    t = compute_access(_straight_net(), units, facs, {"shop": 300.0})
    assert t["search_m"].iloc[0] == 1000.0  # 15 min at 4 km/h, not 2 x 300 m
    assert t["nearest_m"].iloc[0] == pytest.approx(900.0)


def test_compute_access_missing_column_names_it():
    units = pd.DataFrame({"id": [1], "x": [X0], "y": [Y0]})
    with pytest.raises(LifeCircleError, match="unit_id"):
        compute_access(_straight_net(), units, pd.DataFrame(columns=["category", "x", "y"]), {})


# ---------------------------------------------------------------------------------------------
# the real xinhualu network
# ---------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_xinhualu_matches_networkx(xinhualu_net):
    eng = AccessEngine.from_network(xinhualu_net)
    rng = np.random.default_rng(5)
    x, y = xinhualu_net.nodes["x"].to_numpy(), xinhualu_net.nodes["y"].to_numpy()

    def rand(k):
        return rng.uniform(x.min(), x.max(), k), rng.uniform(y.min(), y.max(), k)

    units, facs = eng.snap(*rand(400)), eng.snap(*rand(12))
    d, _ = eng.nearest(units, facs, 1500.0)
    ref = reference_nearest(eng, units, facs, 1500.0)
    np.testing.assert_allclose(d, ref, rtol=0, atol=TOL)
    assert np.isfinite(d).sum() > 300  # most units reach a facility: the test bites
    pairs = reference_pairs(eng, units, facs)
    assert np.array_equal(eng.count_within(units, facs, 1000.0), (pairs <= 1000.0).sum(1))


@pytest.mark.integration
def test_xinhualu_offsets_use_geodesic_length(xinhualu_net):
    eng = AccessEngine.from_network(xinhualu_net)
    units = eng.snap_nodes(np.arange(eng.n_nodes))
    # an edge's far end is exactly length_m from its near end
    e = 7
    u, v = int(eng.edge_u[e]), int(eng.edge_v[e])
    d, _ = eng.nearest(units.subset([v]), eng.snap_nodes([u]), 5000.0)
    assert d[0] <= xinhualu_net.edges["length_m"].iloc[e] + 1e-9
