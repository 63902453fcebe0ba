"""Site recommendation (MCLP): the solver against brute force and spopt, greedy gaps, I/O."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp

from geo import sites
from geo._errors import LifeCircleError
from geo.sites import greedy_mclp, lp_bound, online_bound, reduce_problem, solve_mclp


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
