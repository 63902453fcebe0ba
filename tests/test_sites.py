"""Site recommendation (MCLP): the solver against brute force and spopt, greedy gaps, I/O."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from geo._errors import LifeCircleError
from geo.planning import sites
from geo.planning.sites import (
    greedy_mclp,
    lp_bound,
    online_bound,
    plan_requirements,
    reduce_problem,
    solve_mclp,
)
from tests._sites_synth import (
    TAXONOMY,
    UNIT_X,
    X0,
    Y0,
    Area,
    Registry,
    box,
    demand_units,
    facilities_table,
    line_network,
    mentions_table,
    to_lonlat,
)


def brute_force(w: np.ndarray, A: np.ndarray, k: int, covered: np.ndarray) -> float:
    """The best newly covered weight over every k-subset of candidates."""
    open_w = np.where(covered, 0.0, w)
    best = 0.0
    for combo in itertools.combinations(range(A.shape[0]), k):
        best = max(best, float(open_w @ (A[list(combo)].max(axis=0) > 0)))
    return best


# A hand-built instance where greedy is suboptimal: candidate 0 covers the two heavy middle
# units (6), candidates 1 and 2 each cover one heavy and one light unit (5 each).
# Greedy takes 0 (6) then 1 (+2) = 8; the optimum {1, 2} covers everything = 10.
TRAP_W = np.array([2.0, 3.0, 3.0, 2.0])
TRAP_A = np.array([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=float)


# ---------------------------------------------------------------------------------------------
# exactness
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_milp_equals_brute_force_on_small_random_instances(seed):
    rng = np.random.default_rng(seed)
    m, n = 7, 12
    A = (rng.random((m, n)) < 0.3).astype(float)
    w = rng.integers(0, 20, n).astype(float)
    covered = rng.random(n) < 0.2
    k = 1 + seed % 4
    result = solve_mclp(w, sp.csr_matrix(A), k, covered, method="milp", fill=False)
    assert result.objective == brute_force(w, A, k, covered)
    assert result.optimal


def test_milp_matches_spopt_mclp_objective_on_medium_instance():
    pulp = pytest.importorskip("pulp")
    from spopt.locate import MCLP

    rng = np.random.default_rng(7)
    demand = rng.uniform(0, 1000, (60, 2))
    cands = rng.uniform(0, 1000, (30, 2))
    cost = np.hypot(*(demand[:, None, :] - cands[None, :, :]).transpose(2, 0, 1))  # 60 × 30
    w = rng.integers(1, 50, 60).astype(float)
    radius, k = 250.0, 4
    model = MCLP.from_cost_matrix(cost, w, service_radius=radius, p_facilities=k)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_value = pulp.value(model.problem.objective)

    result = solve_mclp(w, sp.csr_matrix(radius >= cost.T), k, method="milp")
    assert result.objective == spopt_value
    assert result.optimal


def test_greedy_gap_on_instance_where_greedy_is_suboptimal():
    result = solve_mclp(TRAP_W, TRAP_A, 2, method="greedy")
    assert (result.method, result.objective, result.bound) == ("greedy", 8.0, 10.0)
    assert result.gap == pytest.approx(0.2)
    assert not result.optimal


def test_milp_beats_greedy_on_the_same_instance():
    result = solve_mclp(TRAP_W, TRAP_A, 2, method="milp")
    assert sorted(result.chosen.tolist()) == [1, 2]
    assert (result.objective, result.gap, result.optimal) == (10.0, 0.0, True)


def test_lp_bound_of_trap_instance():
    assert lp_bound(TRAP_W, TRAP_A, 2) == pytest.approx(10.0)


def test_lp_bound_exceeds_integer_optimum_when_relaxation_splits_sites():
    # units are the 6 pairs of 4 candidates (each unit reached by its two candidates), k = 2:
    # two sites reach 5 units; the relaxation takes x = 1/2 everywhere and reaches all 6
    pairs = list(itertools.combinations(range(4), 2))
    A = np.zeros((4, 6))
    for i, (a, b) in enumerate(pairs):
        A[[a, b], i] = 1.0
    assert lp_bound(np.ones(6), A, 2) == pytest.approx(6.0)
    assert solve_mclp(np.ones(6), A, 2, method="milp").objective == 5.0


def test_online_bound_adds_k_largest_remaining_gains():
    # after greedy on the trap instance (units 0,1,2 covered), unit 3 (weight 2) is left
    A = sp.csr_matrix(TRAP_A)
    resid = np.array([0.0, 0.0, 0.0, 2.0])
    assert online_bound(A, resid, 8.0, 2) == 10.0


# ---------------------------------------------------------------------------------------------
# covered demand, ranking and filling
# ---------------------------------------------------------------------------------------------
def test_already_covered_units_add_nothing():
    # candidate 0 reaches the big unit, but it is already covered
    A = np.array([[1, 0, 0], [0, 1, 1]], dtype=float)
    w = np.array([100.0, 10.0, 5.0])
    result = solve_mclp(w, A, 1, np.array([True, False, False]))
    assert (result.chosen.tolist(), result.gains.tolist()) == ([1], [15.0])


def test_sites_are_ranked_by_marginal_gain():
    A = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=float)
    w = np.array([4.0, 3.0, 3.0, 1.0])
    result = solve_mclp(w, A, 3, method="milp")
    assert result.chosen.tolist() == [1, 0, 2]
    assert result.gains.tolist() == [6.0, 4.0, 1.0]


def test_fill_places_zero_gain_sites_where_most_people_live():
    # one site covers everyone uncovered; the second adds nothing and goes where most people are
    A = np.array([[1, 1, 0], [0, 0, 1], [0, 1, 1]], dtype=float)
    w = np.array([1.0, 2.0, 50.0])
    covered = np.array([False, False, True])
    result = solve_mclp(w, A, 2, covered)
    assert result.chosen.tolist() == [0, 2]
    assert result.gains.tolist() == [3.0, 0.0]


def test_without_fill_only_useful_sites_are_returned():
    A = np.array([[1, 1, 0], [0, 0, 1]], dtype=float)
    result = solve_mclp(np.ones(3), A, 3, np.array([False, False, True]), fill=False)
    assert result.chosen.tolist() == [0]


def test_greedy_mclp_breaks_ties_by_lowest_index():
    A = np.array([[0, 1], [1, 0]], dtype=float)
    chosen, gains = greedy_mclp(np.array([5.0, 5.0]), A, 1)
    assert (chosen.tolist(), gains.tolist()) == ([0], [5.0])


def test_reduce_problem_merges_units_reached_by_the_same_candidates():
    A = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=float))
    red = reduce_problem(np.array([1.0, 2.0, 4.0, 8.0]), A, np.zeros(4, bool))
    # units {0,1} share candidate 0 -> one group of weight 3; candidates 1 and 2 are identical
    assert sorted(red.w.tolist()) == [3.0, 4.0, 8.0]
    assert red.rows.tolist() == [0, 1]


def test_drop_dominated_removes_strict_subsets():
    A = sp.csr_matrix(np.array([[1, 1, 1], [0, 1, 0], [0, 0, 1]], dtype=float))
    red = sites.drop_dominated(reduce_problem(np.ones(3), A, np.zeros(3, bool)))
    assert red.rows.tolist() == [0]


# ---------------------------------------------------------------------------------------------
# limits and bad input
# ---------------------------------------------------------------------------------------------
def test_auto_uses_greedy_above_size_limit():
    result = solve_mclp(TRAP_W, TRAP_A, 2, method="auto", max_milp_nnz=3)
    assert (result.method, result.objective, result.bound) == ("greedy", 8.0, 10.0)


def test_highs_call_is_killed_at_the_time_limit(monkeypatch):
    def slow(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(sites, "_highs_run", slow)
    monkeypatch.setattr(sites, "IN_PROCESS_MAX_NNZ", 0)
    red = reduce_problem(TRAP_W, sp.csr_matrix(TRAP_A), np.zeros(4, bool))
    t0 = time.perf_counter()
    assert sites._highs(red, 2, integral=True, time_limit=0.2) is None
    assert time.perf_counter() - t0 < 10


def test_time_out_keeps_greedy_with_its_bound(monkeypatch):
    monkeypatch.setattr(sites, "_highs", lambda *a, **kw: None)
    result = solve_mclp(TRAP_W, TRAP_A, 2, method="milp")
    # no LP bound: the online bound (greedy 8 + best remaining gain 2) is reported
    assert (result.method, result.objective, result.bound) == ("greedy", 8.0, 10.0)


def test_mismatched_shapes_raise():
    with pytest.raises(LifeCircleError, match="3 demand columns but there are 2 weights"):
        solve_mclp(np.ones(2), np.ones((2, 3)), 1)


def test_negative_weights_raise():
    with pytest.raises(LifeCircleError, match="non-negative"):
        solve_mclp(np.array([1.0, -1.0]), np.ones((1, 2)), 1)


# ---------------------------------------------------------------------------------------------
# k from the plans
# ---------------------------------------------------------------------------------------------
def test_plan_requirements_sum_distinct_generic_new_statements():
    m = mentions_table(
        [
            ("synth", "generic", "meal_service", "new", 2, "yes", "助餐点"),
            ("synth", "generic", "meal_service", "new", 2, "yes", "助餐点"),  # repeated statement
            ("synth", "generic", "meal_service", "new", None, "yes", "社区食堂"),  # counts 1
            ("synth", "generic", "meal_service", "upgrade", 3, "yes", "助餐点"),
            ("synth", "named", "meal_service", "new", None, "yes", "长馨睦邻小厨"),
            ("synth", "generic", "meal_service", "new", 5, "no", "长者食堂"),
        ]
    )
    req = plan_requirements(m)
    assert req[["area", "category", "k", "n_statements", "n_unquantified"]].values.tolist() == [
        ["synth", "meal_service", 3, 2, 1]
    ]
    assert req["statements"].iloc[0] == "助餐点×2、社区食堂×1?"


def test_plan_requirements_skip_rows_not_counted():
    m = mentions_table([("synth", "generic", "sports", "new", 4, "yes", "健身点")])
    m["counted"] = False
    assert plan_requirements(m).empty


def test_plan_requirements_missing_column_raises():
    with pytest.raises(LifeCircleError, match="lacks columns \\['in_area'\\]"):
        plan_requirements(mentions_table([]).drop(columns="in_area"))


# ---------------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------------
def test_thin_points_keeps_the_point_nearest_each_cell_centre():
    x = np.array([10.0, 24.0, 60.0, 149.0])
    y = np.array([10.0, 26.0, 10.0, 10.0])
    # cell (0,0): points 0 (dist 21.2) and 1 (1.4) -> 1; cell (1,0): 2; cell (2,0): 3
    assert sites.thin_points(x, y, 50.0).tolist() == [1, 2, 3]


def test_network_candidates_are_thinned_nodes_inside_the_area():
    net = line_network()
    poly = box(X0 + 150, Y0 - 10, X0 + 720, Y0 + 10)  # nodes 2..7 inside
    cand = sites.network_candidates(net, poly, cell_m=200.0)
    # 200 m cells (by absolute x): nodes 200|300 -> 300 (cell centre +100), 400|500 -> 500,
    # 600|700 -> 700 ... cells are anchored at multiples of 200 m of the projected x
    cells = np.floor(net.nodes["x"].to_numpy()[cand["node"]] / 200.0)
    assert len(set(cells)) == len(cand) == 3
    assert cand["node"].tolist() == sorted(cand["node"].tolist())
    assert set(cand["node"]) <= {2, 3, 4, 5, 6, 7}


def test_grid_candidates_are_cell_centres_inside_the_area():
    poly = box(X0, Y0, X0 + 100, Y0 + 50)
    cand = sites.grid_candidates(poly, cell_m=50.0)
    assert len(cand) == 2
    assert np.allclose(np.sort(cand["x"].to_numpy() - X0), [25.0, 75.0], atol=0.5)


def test_read_candidates_converts_gcj02_rows(tmp_path):
    from geo.facilities.coords import to_wgs84
    from geo.io.geom import to_projected

    path = tmp_path / "cand.csv"
    path.write_text("name,lon,lat,crs\n甲,121.43,31.20,gcj02\n乙,121.44,31.21,\n", encoding="utf-8")
    cand = sites.read_candidates(path)
    lon, lat = to_wgs84([121.43], [31.20], "gcj02")
    x, y = to_projected(lon, lat)
    assert cand["name"].tolist() == ["甲", "乙"]
    assert cand["x"].iloc[0] == pytest.approx(float(x[0]), abs=1e-6)
    assert cand["y"].iloc[0] == pytest.approx(float(y[0]), abs=1e-6)
    x2, _ = to_projected([121.44], [31.21])
    assert cand["x"].iloc[1] == pytest.approx(float(x2[0]), abs=1e-6)  # blank crs = WGS-84


def test_read_candidates_names_the_bad_line(tmp_path):
    path = tmp_path / "cand.csv"
    path.write_text("lon,lat\n121.43,31.2\n121.44,abc\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"cand.csv \(line 3\): lon/lat must be numbers"):
        sites.read_candidates(path)


def test_read_candidates_without_lat_column_raises(tmp_path):
    path = tmp_path / "cand.csv"
    path.write_text("lon,y\n121.43,31.2\n", encoding="utf-8")
    with pytest.raises(LifeCircleError, match="lacks column 'lat'"):
        sites.read_candidates(path)


# ---------------------------------------------------------------------------------------------
# coverage matrices
# ---------------------------------------------------------------------------------------------
def test_network_coverage_counts_access_leg_and_walk_along_the_street():
    from geo.network.access import AccessEngine

    net = line_network()
    eng = AccessEngine.from_network(net)
    units = eng.snap(X0 + UNIT_X, np.full(4, Y0 + 5.0))
    cand = eng.snap_nodes(np.array([0, 2, 6, 10]))
    A = sites.network_coverage(eng, cand, units, 50.0).toarray()
    # unit at 40 m is 5 + 40 = 45 m from node 0 and 5 + 60 = 65 m from node 1
    assert A.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    assert sites.network_coverage(eng, cand, units, 44.0).nnz == 0


def test_estimate_coverage_divides_radius_by_detour_factor():
    cand = np.array([[0.0, 0.0]])
    units = np.array([[30.0, 0.0], [41.0, 0.0], [0.0, -39.0]])
    # 1.25 × straight line <= 50 m  <=>  straight line <= 40 m
    assert sites.estimate_coverage(cand, units, 50.0, 1.25).toarray().tolist() == [[1, 0, 1]]


# ---------------------------------------------------------------------------------------------
# the stage on a synthetic area
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def synth_out(tmp_path):
    """A results folder with demand, facilities and plan mentions of the synthetic area."""
    out = tmp_path / "out"
    (out / "demand").mkdir(parents=True)
    demand_units().to_file(out / "demand" / "synth.gpkg", layer="demand", driver="GPKG")
    facilities_table(
        [
            ("meal_service", "osm", "existing", "exact", 1000.0),  # covers the unit at 960 m
            ("meal_service", "plan", "planned", "area", 640.0),  # not placed: ignored
        ]
    ).to_file(out / "facilities.gpkg", layer="facilities", driver="GPKG")
    mentions_table([("synth", "generic", "meal_service", "new", 2, "yes", "助餐点")]).to_csv(
        out / "plan_mentions.csv", index=False, encoding="utf-8-sig"
    )
    return out


def test_run_sites_on_network_picks_the_two_best_uncovered_units(synth_out):
    res = sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    got = sites.read_sites(synth_out)
    assert got["rank"].tolist() == [1, 2]
    assert got["candidate"].tolist() == ["node-6", "node-2"]
    assert got["gain_population"].tolist() == [35.0, 20.0]
    assert got[["k", "basis", "covered_before", "population"]].iloc[0].tolist() == [
        2,
        "network",
        40.0,
        105.0,
    ]
    assert (got["gap"] == 0.0).all()
    lon, lat = to_lonlat([X0 + 600.0], [Y0])
    assert got.geometry.iloc[0].x == pytest.approx(lon[0], abs=1e-9)
    assert got.geometry.iloc[0].y == pytest.approx(lat[0], abs=1e-9)
    assert res.skipped == []


def test_run_sites_without_network_uses_labelled_estimate(synth_out, monkeypatch):
    from geo.network.estimate import DetourCalibration
    from geo.planning import context

    cal = DetourCalibration(factor=1.0, n_pairs=0, area="synth")
    monkeypatch.setattr(context, "detour_factor", lambda *a, **kw: cal)
    sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": None}, taxonomy=TAXONOMY, cell_m=100.0
    )
    got = sites.read_sites(synth_out)
    assert got["basis"].unique().tolist() == ["estimate"]
    assert got["gain_population"].tolist() == [35.0, 20.0]
    assert "straight-line" in got["note"].iloc[0]


def test_run_sites_skips_area_without_plan_statements(synth_out):
    mentions_table([]).to_csv(synth_out / "plan_mentions.csv", index=False)
    res = sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    assert res.sites.empty
    assert res.skipped == ["synth: the plans name no generic new facility / 规划无新增设施"]
    assert len(sites.read_sites(synth_out)) == 0


def test_run_sites_with_user_candidates(synth_out, tmp_path):
    lon, lat = to_lonlat(X0 + np.array([240.0, 500.0]), np.full(2, Y0))
    path = tmp_path / "cand.csv"
    pd.DataFrame({"id": ["A", "B"], "lon": lon, "lat": lat}).to_csv(path, index=False)
    sites.run_sites(
        Registry(),
        [Area()],
        synth_out,
        nets={"synth": line_network()},
        taxonomy=TAXONOMY,
        candidates_csv=path,
    )
    got = sites.read_sites(synth_out)
    # B (500 m) reaches nobody: only A adds people; the second site is filled with gain 0
    assert got["candidate"].tolist() == ["A", "B"]
    assert got["gain_population"].tolist() == [20.0, 0.0]
    assert got["candidate_source"].unique().tolist() == ["user"]


def test_write_sites_keeps_other_areas(synth_out):
    sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    got = sites.read_sites(synth_out)
    other = got.assign(area="other")
    sites.write_sites(other, synth_out, ["other"])
    both = sites.read_sites(synth_out)
    assert sorted(both["area"].tolist()) == ["other", "other", "synth", "synth"]


def test_cli_sites_without_plan_mentions_exits_2(tmp_path):
    from click.testing import CliRunner

    from geo.cli import main

    res = CliRunner().invoke(main, ["sites", "--out", str(tmp_path), "--no-progress"])
    assert res.exit_code == 2
    assert "run `lifecircle plans extract` first" in res.output


def test_sites_of_a_category_without_placed_facilities_say_they_assume_none(synth_out):
    import geopandas as gpd

    path = synth_out / "facilities.gpkg"
    fac = gpd.read_file(path, layer="facilities")
    cat = str(fac["category"].iloc[0])
    fac[fac["category"] != cat].to_file(path, layer="facilities", driver="GPKG")
    sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    got = sites.read_sites(synth_out)
    mine = got[got["category"] == cat]
    assert len(mine) == 2
    assert mine["note"].str.contains("sites assume none exist").all()


def test_sites_of_a_category_with_facilities_carry_no_such_note(synth_out):
    sites.run_sites(
        Registry(), [Area()], synth_out, nets={"synth": line_network()}, taxonomy=TAXONOMY
    )
    got = sites.read_sites(synth_out)
    assert not got["note"].fillna("").str.contains("assume none exist").any()
