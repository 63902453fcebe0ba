"""Site recommendation: a maximal covering location problem (MCLP) per area and category.

For each generic planned facility in a plan ("新增1个社区食堂" → ``meal_service``, k = 1) choose k
sites that maximise the population *newly* covered: residents not already within the category's
walking threshold of an existing or placed planned facility.

The solver (:func:`solve_mclp`) works on plain arrays and knows nothing of files:

* demand weights ``w`` (n,), a sparse coverage matrix ``A`` (m candidates × n demand units,
  ``A[j, i] = 1`` when candidate j reaches unit i within the threshold), a mask of units already
  covered, and k;
* an exact MILP via :func:`scipy.optimize.milp` (HiGHS) when the reduced problem has at most
  :data:`MILP_MAX_NNZ` coverage pairs (it then finishes in a few seconds; see the constant);
* otherwise lazy greedy, with its gap to the LP-relaxation bound reported.

The network part (:func:`coverage_matrix`, :func:`recommend_area`) builds ``A`` from walking
distances: candidates are network nodes inside the area (thinned to one per
:data:`CANDIDATE_CELL_M` cell) or a user's candidate list, demand units are snapped to the
nearest edge. Results go to ``out/sites.gpkg`` (layer ``sites``, WGS-84).
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.facilities.coords import to_wgs84
from geo.io import validate
from geo.io.files import write_atomic
from geo.io.geom import project_geom, to_projected
from geo.io.tables import SITES, read_facilities, read_mentions
from geo.network.access import Snapped
from geo.planning import data_status
from geo.planning.context import category_specs, scenario_facilities
from geo.planning.coverage import stage_context

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from scipy.optimize import Bounds, LinearConstraint
    from shapely.geometry.base import BaseGeometry

    from geo._types import ProgressFn
    from geo.io.areas import Area, Registry
    from geo.network.access import AccessEngine
    from geo.network.network import WalkNetwork

#: Largest reduced problem solved exactly: nonzeros of the coverage matrix after merging
#: identical demand units and candidates and dropping dominated candidates. Measured with
#: ``scripts/bench_sites.py`` (synthetic street grids 1.5-2.7 km square, 2,250-7,290 units,
#: 736-2,296 candidates every 50 m, radius 300-1000 m, k = 1..8) on the project's 2-core
#: machine under load: up to this size the exact path (LP relaxation, often integral, then
#: branch and bound) finished in 0.3-7 s in 30 of 32 runs; the two hard ones (fractional LP,
#: k = 8, 500 m, 215 k nonzeros) took 13 s and hit the 20 s limit (gap 2.4 % reported). Above
#: it, the LP relaxation alone took 4-40 s, so greedy with the LP bound is used. The four
#: study areas' problems have at most 150 k nonzeros and solve in under 3 s.
MILP_MAX_NNZ: int = 600_000

#: Dominated candidates (reach a strict subset of another's) are dropped up to this many
#: nonzeros (the sparse product it needs took 3.5 s at 1.8 M).
DOMINANCE_MAX_NNZ: int = 2_500_000

#: Wall-clock limit handed to HiGHS (s). On a time-out the better of the MILP incumbent and
#: greedy is kept and the gap to the best proven bound is reported.
MILP_TIME_LIMIT_S: float = 20.0

#: Problems up to this many nonzeros are solved in-process (they take milliseconds); larger
#: ones in a child process that is killed at the time limit.
IN_PROCESS_MAX_NNZ: int = 20_000

#: Candidate thinning: at most one candidate network node per square cell of this size (m).
CANDIDATE_CELL_M: float = 50.0

#: Threshold used when a category has none in the taxonomy (m; GB 50180-2018 15-min scope).
DEFAULT_THRESHOLD_M: float = 1000.0


#: Layer name in ``sites.gpkg``.


#: Further columns: provenance of the solution and labels.
EXTRA_SITE_COLUMNS: tuple[str, ...] = (
    "optimal",
    "objective",
    "candidate_source",
    "n_candidates",
    "problem_size",
    "seconds",
    "category_zh",
    "category_en",
    "statements",
    "note",
)


# ---------------------------------------------------------------------------------------------
# core solver on arrays
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MclpResult:
    """The answer of :func:`solve_mclp`.

    Attributes
    ----------
    chosen
        Candidate indices (rows of the coverage matrix) in rank order: each site has the largest
        marginal gain given the sites ranked before it. Sites that add nothing come last.
    gains
        Newly covered weight added by each chosen site, in rank order (sums to ``objective``).
    objective
        Total newly covered weight (population).
    method
        The algorithm whose answer is kept: ``"milp"`` (HiGHS; its LP relaxation is solved
        first and is often integral) or ``"greedy"``. Whether the answer is proven optimal is
        ``optimal`` (greedy is, for k = 1 or when it meets the LP bound).
    bound
        Upper bound on the optimum: the optimum itself when proven, else the lowest of the LP
        relaxation, the HiGHS dual bound (after a MILP time-out) and the submodular bound
        of the greedy solution (:func:`online_bound`).
    gap
        ``(bound - objective) / bound`` (0 when the bound is 0).
    seconds
        Solve time (s).
    size
        Nonzeros of the reduced coverage matrix (the figure compared with ``MILP_MAX_NNZ``).
    optimal
        Whether ``objective`` is proven optimal.
    """

    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    method: str
    bound: float
    gap: float
    seconds: float = 0.0
    size: int = 0
    optimal: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Reduced:
    """A coverage problem restricted to useful demand and distinct candidates."""

    A: sp.csr_matrix  # distinct candidates × merged demand groups
    w: np.ndarray  # weight per demand group
    rows: np.ndarray  # original candidate index of each reduced row


def _as_csr(coverage: Any) -> sp.csr_matrix:
    A = sp.csr_matrix(coverage, dtype=np.float64)
    A.data[:] = 1.0
    A.eliminate_zeros()
    A.sum_duplicates()
    A.data[:] = 1.0
    return A


def _check_inputs(
    weights: Any, coverage: Any, k: int, covered: Any
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise LifeCircleError(f"demand weights must be a 1-D array, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise LifeCircleError("demand weights must be finite and non-negative")
    A = _as_csr(coverage)
    if A.shape[1] != len(w):
        raise LifeCircleError(
            f"coverage matrix has {A.shape[1]} demand columns but there are {len(w)} weights"
        )
    if k < 0:
        raise LifeCircleError(f"number of sites k must be >= 0, got {k}")
    cov = np.zeros(len(w), dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    if cov.shape != w.shape:
        raise LifeCircleError(f"covered mask has shape {cov.shape}, expected {w.shape}")
    return w, A, cov


def _group_identical(mat: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Group identical rows of a 0/1 CSR matrix: (first row of each group, group of each row)."""
    keys: dict[bytes, int] = {}
    group = np.empty(mat.shape[0], dtype=np.int64)
    first: list[int] = []
    ip, ix = mat.indptr, mat.indices
    for r in range(mat.shape[0]):
        key = ix[ip[r] : ip[r + 1]].tobytes()
        g = keys.get(key)
        if g is None:
            g = keys[key] = len(first)
            first.append(r)
        group[r] = g
    return np.asarray(first, dtype=np.int64), group


def reduce_problem(weights: np.ndarray, A: sp.csr_matrix, covered: np.ndarray) -> _Reduced:
    """Drop covered/empty/unreachable demand, merge identical demand columns and candidate rows.

    Merging keeps the optimum: demand units reached by the same candidates are interchangeable
    (their weights add), and of two candidates that reach the same units one is enough.
    """
    active = (weights > 0) & ~covered & (np.asarray(A.sum(axis=0)).ravel() > 0)
    cols = np.flatnonzero(active)
    At = A[:, cols].T.tocsr()  # demand × candidates
    At.sort_indices()
    first_col, col_group = _group_identical(At)
    w = np.bincount(col_group, weights=weights[cols], minlength=len(first_col))
    # merged matrix: candidate j covers group g if it covers any (= every) member
    M = At[first_col].T.tocsr()  # candidates × groups
    M.sort_indices()
    nonempty = np.flatnonzero(np.diff(M.indptr) > 0)
    M = M[nonempty]
    first_row, _ = _group_identical(M)
    rows = nonempty[first_row]
    return _Reduced(A=M[first_row].tocsr(), w=w, rows=rows)


def drop_dominated(red: _Reduced) -> _Reduced:
    """Drop candidates whose reach is a strict subset of another's (the optimum is unchanged).

    Identical candidates must already be merged (:func:`reduce_problem`).
    """
    M = red.A
    if M.shape[0] < 2:
        return red
    size = np.diff(M.indptr)
    overlap = (M @ M.T).tocoo()
    sub = (
        (overlap.row != overlap.col)
        & (overlap.data == size[overlap.row])
        & (size[overlap.col] > size[overlap.row])
    )
    dominated = np.unique(overlap.row[sub])
    if len(dominated) == 0:
        return red
    keep = np.setdiff1d(np.arange(M.shape[0]), dominated)
    return _Reduced(A=M[keep].tocsr(), w=red.w, rows=red.rows[keep])


def greedy_mclp(
    weights: Any, coverage: Any, k: int, covered: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Lazy greedy for the MCLP: repeatedly add the candidate with the largest marginal gain.

    Parameters
    ----------
    weights
        Demand weight per unit (population), shape (n,).
    coverage
        Sparse 0/1 matrix (m candidates × n units).
    k
        Number of sites.
    covered
        Boolean mask (n,) of units already covered (they add nothing).

    Returns
    -------
    (chosen, gains)
        Candidate indices in pick order and the marginal gain of each. Stops early when no
        candidate adds anything (so fewer than k sites may be returned). Ties go to the lowest
        candidate index.
    """
    w, A, cov = _check_inputs(weights, coverage, k, covered)
    resid = np.where(cov, 0.0, w)
    return _lazy_greedy(A, resid, k)


def _lazy_greedy(A: sp.csr_matrix, resid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    resid = resid.copy()
    gains0 = A @ resid
    heap = [(-g, j) for j, g in enumerate(gains0) if g > 0]
    heapq.heapify(heap)
    ip, ix = A.indptr, A.indices
    chosen: list[int] = []
    gains: list[float] = []
    while len(chosen) < k and heap:
        _, j = heapq.heappop(heap)
        cols = ix[ip[j] : ip[j + 1]]
        g = float(resid[cols].sum())
        if g <= 0:
            continue
        # stale heap values are upper bounds, so a fresh value that still leads is the best
        if heap and (-g, j) > heap[0]:
            heapq.heappush(heap, (-g, j))
            continue
        chosen.append(j)
        gains.append(g)
        resid[cols] = 0.0
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def _milp_arrays(
    red: _Reduced, k: int
) -> tuple[NDArray[np.float64], list[LinearConstraint], Bounds]:
    """Objective, constraints and bounds: max w·y s.t. y_i <= sum_j A_ji x_j, sum x <= k."""
    from scipy.optimize import Bounds, LinearConstraint

    m, n = red.A.shape
    c = np.concatenate([np.zeros(m), -red.w])
    cover = sp.hstack([-red.A.T, sp.identity(n, format="csr")], format="csr")
    budget = sp.csr_matrix(np.concatenate([np.ones(m), np.zeros(n)])[None, :])
    cons = [
        LinearConstraint(cover, -np.inf, 0.0),
        LinearConstraint(budget, -np.inf, float(k)),
    ]
    bounds = Bounds(np.zeros(m + n), np.ones(m + n))
    return c, cons, bounds


@dataclass(frozen=True)
class _HighsAnswer:
    status: int  # scipy.optimize.milp status (0 optimal, 1 limit reached, ...)
    x: np.ndarray | None  # candidate part of the solution
    value: float | None  # objective (maximised weight)
    dual_bound: float | None  # best proven upper bound (MILP)


def _highs_run(red: _Reduced, k: int, integral: bool, time_limit: float) -> _HighsAnswer:
    from scipy.optimize import linprog, milp

    m, n = red.A.shape
    c, cons, bounds = _milp_arrays(red, k)
    if not integral:
        # measured: interior point (with crossover, so a vertex comes back) is 2-5x faster than
        # dual simplex up to ~0.8 M nonzeros; beyond, dual simplex wins
        lp_method = "highs-ipm" if red.A.nnz <= 800_000 else "highs-ds"
        a_ub = sp.vstack([cons[0].A, cons[1].A], format="csr")
        b_ub = np.concatenate([np.zeros(n), [float(k)]])
        res = linprog(
            c,
            A_ub=a_ub,
            b_ub=b_ub,
            bounds=(0.0, 1.0),
            method=lp_method,
            options={"time_limit": float(time_limit)},
        )
        ok = res.status == 0 and res.x is not None
        return _HighsAnswer(
            status=int(res.status),
            x=np.asarray(res.x[:m]) if ok else None,
            value=float(-res.fun) if ok else None,
            dual_bound=None,
        )
    # only x needs integrality: with x binary, an optimal y is min(1, coverage) = 0/1
    integrality = np.concatenate([np.ones(m), np.zeros(n)])
    res = milp(
        c,
        constraints=cons,
        bounds=bounds,
        integrality=integrality,
        options={"disp": False, "time_limit": float(time_limit), "mip_rel_gap": 1e-9},
    )
    dual = getattr(res, "mip_dual_bound", None)
    return _HighsAnswer(
        status=int(res.status),
        x=None if res.x is None else np.asarray(res.x[:m]),
        value=None if res.fun is None else float(-res.fun),
        dual_bound=None if dual is None or not np.isfinite(dual) else float(-dual),
    )


def _highs_child(conn: Any, red: _Reduced, k: int, integral: bool, time_limit: float) -> None:
    try:
        conn.send(_highs_run(red, k, integral, time_limit))
    except BaseException as exc:  # pragma: no cover - reported to the parent
        conn.send(exc)
    finally:
        conn.close()


def _highs(red: _Reduced, k: int, *, integral: bool, time_limit: float) -> _HighsAnswer | None:
    """Run HiGHS on the reduced problem under a hard wall-clock limit (None on time-out).

    HiGHS's own ``time_limit`` is not checked everywhere (a 20 s limit was measured to run for
    260 s inside MIP presolve), so the solve runs in a forked child that is killed when late.
    """
    import multiprocessing as mp

    import scipy.optimize  # noqa: F401  (imported once here, not in every child)

    if red.A.nnz <= IN_PROCESS_MAX_NNZ:
        return _highs_run(red, k, integral, time_limit)
    try:
        ctx = mp.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork: soft limit only
        return _highs_run(red, k, integral, time_limit)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_highs_child, args=(child, red, k, integral, time_limit), daemon=True)
    proc.start()
    child.close()
    answer: _HighsAnswer | BaseException | None = None
    try:
        if parent.poll(time_limit + 2.0):
            answer = parent.recv()
    except EOFError:  # pragma: no cover - child died
        answer = None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if isinstance(answer, BaseException):
        raise answer
    return answer


def online_bound(A: sp.csr_matrix, resid: np.ndarray, value: float, k: int) -> float:
    """Data-dependent upper bound of a submodular cover: value + the k largest marginal gains.

    For any solution S with value f(S) and uncovered weights ``resid``, the optimum is at most
    f(S) plus the sum of the k largest single-site gains over ``resid`` (submodularity).
    """
    gains = np.asarray(A @ resid).ravel()
    if len(gains) == 0 or k == 0:
        return value
    top = np.partition(gains, max(len(gains) - k, 0))[-k:] if k < len(gains) else gains
    return float(value + top.sum())


def lp_bound(
    weights: Any, coverage: Any, k: int, covered: Any = None, time_limit: float = MILP_TIME_LIMIT_S
) -> float:
    """Upper bound on the MCLP optimum from its LP relaxation (HiGHS).

    Parameters
    ----------
    weights, coverage, k, covered
        As in :func:`solve_mclp`.
    time_limit
        Wall-clock limit (s); without an LP optimum by then, the total coverable weight.

    Returns
    -------
    float
        The optimum of the relaxation (x and y in [0, 1]); never below the integer optimum.
    """
    w, A, cov = _check_inputs(weights, coverage, k, covered)
    red = reduce_problem(w, A, cov)
    m, n = red.A.shape
    if m == 0 or n == 0 or k == 0:
        return 0.0
    if k >= m:
        return float(red.w.sum())
    ans = _highs(red, k, integral=False, time_limit=time_limit)
    if ans is None or ans.status != 0 or ans.value is None:
        return float(red.w.sum())
    return ans.value


def _rank(A: sp.csr_matrix, resid: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order a chosen set greedily (largest marginal gain first); returns (order, gains)."""
    sub = A[picks]
    order, gains = _lazy_greedy(sub, resid, len(picks))
    rest = np.setdiff1d(np.arange(len(picks)), order)  # picks that add nothing
    order = np.concatenate([order, rest]).astype(np.int64)
    gains = np.concatenate([gains, np.zeros(len(rest))])
    return picks[order], gains


def _coverage_value(red: _Reduced, picks: np.ndarray) -> float:
    if len(picks) == 0:
        return 0.0
    return float((np.asarray(red.A[picks].sum(axis=0)).ravel() > 0) @ red.w)


def solve_mclp(
    weights: Any,
    coverage: Any,
    k: int,
    covered: Any = None,
    *,
    method: str = "auto",
    max_milp_nnz: int = MILP_MAX_NNZ,
    time_limit: float = MILP_TIME_LIMIT_S,
    fill: bool = True,
) -> MclpResult:
    """Choose k candidates that maximise newly covered demand (maximal covering location).

    Parameters
    ----------
    weights
        Demand weight per unit (population), shape (n,), non-negative.
    coverage
        Sparse 0/1 matrix, shape (m candidates, n units): ``A[j, i] = 1`` when candidate j
        reaches unit i within the threshold (any scipy.sparse matrix or dense array).
    k
        Number of sites to choose.
    covered
        Boolean mask (n,) of units already covered by existing facilities (they add nothing).
    method
        ``"auto"`` (MILP up to ``max_milp_nnz``, else greedy), ``"milp"`` or ``"greedy"``.
    max_milp_nnz
        Size limit for ``"auto"``: nonzeros of the reduced coverage matrix.
    time_limit
        Wall-clock limit (s) for each HiGHS call (LP relaxation, then branch and bound).
    fill
        When fewer than k sites add anything, fill up to k with the candidates that reach the
        most total demand (covered or not), gain 0, so the plan's k facilities all get a site.

    Returns
    -------
    MclpResult
        Chosen candidates in rank order with their gains, the objective, method, bound and gap.
    """
    if method not in ("auto", "milp", "greedy"):
        raise LifeCircleError(f"unknown MCLP method {method!r}; expected auto, milp or greedy")
    t0 = time.perf_counter()
    w, A, cov = _check_inputs(weights, coverage, k, covered)
    red = reduce_problem(w, A, cov)
    if red.A.nnz <= DOMINANCE_MAX_NNZ:
        red = drop_dominated(red)
    size = int(red.A.nnz)
    use_milp = method == "milp" or (method == "auto" and size <= max_milp_nnz)
    m = red.A.shape[0]
    info: dict[str, Any] = {
        "candidates": int(A.shape[0]),
        "units": int(A.shape[1]),
        "distinct_candidates": int(m),
        "demand_groups": int(red.A.shape[1]),
    }
    g_order, g_gains = _lazy_greedy(red.A, red.w, k)
    greedy_value = float(g_gains.sum())
    total = float(red.w.sum())
    tol = 1e-9 * max(1.0, total)
    picks, objective, optimal, used = g_order, greedy_value, False, "greedy"
    bound = total
    if m == 0 or k <= 1 or len(g_order) == m or greedy_value >= total - tol:
        # provably optimal greedy: nothing to choose, one site (greedy = enumeration), every
        # distinct candidate taken, or every coverable unit reached
        optimal, bound = True, greedy_value
    else:
        resid = red.w.copy()
        resid[np.unique(red.A[g_order].indices)] = 0.0
        bound = min(bound, online_bound(red.A, resid, greedy_value, k))
        lp = _highs(red, k, integral=False, time_limit=time_limit)
        info["lp_status"] = None if lp is None else lp.status
        if lp is not None and lp.status == 0 and lp.value is not None:
            bound = min(bound, lp.value)
        if bound <= greedy_value + tol:
            optimal, bound = True, greedy_value  # greedy meets a proven bound
        elif (
            use_milp
            and lp is not None
            and lp.status == 0
            and lp.x is not None
            and np.all((lp.x < 1e-7) | (lp.x > 1 - 1e-7))
        ):
            # an integral LP optimum is the MILP optimum
            lp_picks = np.flatnonzero(lp.x > 0.5)
            value = _coverage_value(red, lp_picks)
            if value >= bound - tol:
                picks, objective, optimal, used, bound = lp_picks, value, True, "milp", value
        if use_milp and not optimal:
            mip = _highs(red, k, integral=True, time_limit=time_limit)
            info["milp_status"] = None if mip is None else mip.status
            if mip is not None and mip.x is not None:
                mip_picks = np.flatnonzero(mip.x > 0.5)
                value = _coverage_value(red, mip_picks)
                if mip.status == 0:
                    picks, objective, optimal, used, bound = mip_picks, value, True, "milp", value
                else:
                    if mip.dual_bound is not None:
                        bound = min(bound, mip.dual_bound)
                    if value > objective:
                        picks, objective, used = mip_picks, value, "milp"
            elif mip is not None and mip.dual_bound is not None:
                bound = min(bound, mip.dual_bound)
    order, gains = _rank(red.A, red.w.copy(), picks) if len(picks) else (picks, np.zeros(0))
    chosen = red.rows[order]
    keep = gains > 0
    chosen, gains = chosen[keep], gains[keep]
    if fill and len(chosen) < k:
        chosen, gains = _fill(A, w, chosen, gains, k)
    objective = float(gains.sum())
    bound = max(bound, objective)
    gap = 0.0 if optimal or bound <= 0 else max(0.0, (bound - objective) / bound)
    info["greedy_objective"] = greedy_value
    return MclpResult(
        chosen=chosen,
        gains=gains,
        objective=objective,
        method=used,
        bound=bound,
        gap=gap,
        seconds=time.perf_counter() - t0,
        size=size,
        optimal=optimal,
        info=info,
    )


def _fill(
    A: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray, gains: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Add zero-gain sites reaching the most total demand until there are k (or no candidates)."""
    reach = np.asarray(A @ w).ravel()
    order = np.lexsort((np.arange(len(reach)), -reach))
    taken = set(chosen.tolist())
    extra = [int(j) for j in order if int(j) not in taken][: k - len(chosen)]
    return (
        np.concatenate([chosen, np.asarray(extra, dtype=np.int64)]).astype(np.int64),
        np.concatenate([gains, np.zeros(len(extra))]),
    )


# ---------------------------------------------------------------------------------------------
# how many sites: generic new facilities of the plans
# ---------------------------------------------------------------------------------------------
def plan_requirements(mentions: pd.DataFrame) -> pd.DataFrame:
    """Return number of sites to find per area and category from the plans' generic new facilities.

    A mention counts when ``kind = generic``, ``action = new``, ``in_area`` is not ``no`` and
    (when the column exists) ``counted`` is true. A statement repeated in a document (same
    ``doc, name, quantity``) counts once. k is the sum of the quantities; an unquantified
    statement ("新建社区食堂") counts as 1 (at least one facility).

    Parameters
    ----------
    mentions
        The mention table (``out/plan_mentions.csv``; contract *mentions*).

    Returns
    -------
    DataFrame
        ``area, category, k, n_statements, n_unquantified, statements`` (``statements``: the
        counted names with their quantities, e.g. ``社区食堂×1、助餐点×1``).
    """
    need = {"area", "kind", "category", "action", "quantity", "in_area"}
    missing = need - set(mentions.columns)
    if missing:
        raise LifeCircleError(f"mention table lacks columns {sorted(missing)}")
    m = mentions[
        (mentions["kind"].astype(str) == "generic")
        & (mentions["action"].astype(str) == "new")
        & (mentions["in_area"].astype(str) != "no")
        & mentions["category"].notna()
    ]
    if "counted" in m.columns:
        m = m[m["counted"].map(_truthy).astype(bool)]
    m = m.assign(
        doc=m["doc"].astype(str) if "doc" in m.columns else "",
        name=m["name"].fillna("").astype(str) if "name" in m.columns else "",
        q=pd.to_numeric(m["quantity"], errors="coerce"),
    )
    m = m.drop_duplicates(["area", "category", "doc", "name", "q"])
    rows = []
    for (area, cat), g in m.groupby(["area", "category"], sort=True):
        q = g["q"].to_numpy(dtype=float)
        k = int(np.nansum(q) + np.isnan(q).sum())
        names = [
            f"{n}×{int(x)}" if np.isfinite(x) else f"{n}×1?"
            for n, x in zip(g["name"], q, strict=True)
        ]
        rows.append(
            {
                "area": str(area),
                "category": str(cat),
                "k": k,
                "n_statements": len(g),
                "n_unquantified": int(np.isnan(q).sum()),
                "statements": "、".join(names),
            }
        )
    cols = ["area", "category", "k", "n_statements", "n_unquantified", "statements"]
    return pd.DataFrame(rows, columns=cols)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value == value else False


# ---------------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------------
def thin_points(x: np.ndarray, y: np.ndarray, cell_m: float = CANDIDATE_CELL_M) -> np.ndarray:
    """Return indices keeping one point per ``cell_m`` square cell: the one nearest the cell centre.

    Parameters
    ----------
    x, y
        Projected coordinates (m).
    cell_m
        Cell size (m).

    Returns
    -------
    numpy.ndarray
        Sorted indices of the kept points.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if len(x) == 0:
        return np.zeros(0, np.int64)
    ix, iy = np.floor(x / cell_m), np.floor(y / cell_m)
    d = np.hypot(x - (ix + 0.5) * cell_m, y - (iy + 0.5) * cell_m)
    order = np.lexsort((np.arange(len(x)), d, iy, ix))
    cells = np.column_stack([ix[order], iy[order]])
    first = np.ones(len(order), bool)
    first[1:] = np.any(cells[1:] != cells[:-1], axis=1)
    return np.sort(order[first])


def network_candidates(
    net: WalkNetwork, boundary: BaseGeometry, cell_m: float = CANDIDATE_CELL_M
) -> pd.DataFrame:
    """Candidate sites: network nodes inside the area, one per ``cell_m`` cell.

    Parameters
    ----------
    net
        The area's WalkNetwork (nodes ``x, y`` in EPSG:32651).
    boundary
        WGS-84 area polygon.
    cell_m
        Thinning cell (m).

    Returns
    -------
    DataFrame
        ``candidate, node, x, y`` (``node``: row of ``net.nodes``).
    """
    import shapely

    poly = shapely.make_valid(project_geom(boundary, net.crs))
    x = net.nodes["x"].to_numpy(float)
    y = net.nodes["y"].to_numpy(float)
    inside = np.flatnonzero(shapely.contains_xy(poly, x, y))
    keep = inside[thin_points(x[inside], y[inside], cell_m)]
    return pd.DataFrame(
        {"candidate": [f"node-{i}" for i in keep], "node": keep, "x": x[keep], "y": y[keep]}
    )


def grid_candidates(boundary: BaseGeometry, cell_m: float = CANDIDATE_CELL_M) -> pd.DataFrame:
    """Candidate sites without a network: centres of ``cell_m`` cells inside the area.

    Returns
    -------
    DataFrame
        ``candidate, node, x, y`` (``node`` = -1).
    """
    import shapely

    poly = shapely.make_valid(project_geom(boundary))
    x0, y0, x1, y1 = poly.bounds
    xs = np.arange(np.floor(x0 / cell_m), np.ceil(x1 / cell_m)) * cell_m + cell_m / 2
    ys = np.arange(np.floor(y0 / cell_m), np.ceil(y1 / cell_m)) * cell_m + cell_m / 2
    mx, my = np.meshgrid(xs, ys)
    gx, gy = mx.ravel(), my.ravel()
    inside = shapely.contains_xy(poly, gx, gy)
    gx, gy = gx[inside], gy[inside]
    return pd.DataFrame(
        {
            "candidate": [
                f"cell-{int(a // cell_m)}_{int(b // cell_m)}" for a, b in zip(gx, gy, strict=True)
            ],
            "node": np.full(len(gx), -1, np.int64),
            "x": gx,
            "y": gy,
        }
    )


def read_candidates(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Return a user's candidate sites: CSV with ``lon, lat`` and optional ``crs, name, area, id``.

    ``crs`` (per row; default ``wgs84``) is ``wgs84``, ``gcj02`` (高德/腾讯) or ``bd09`` (百度);
    coordinates are converted with :func:`geo.coords.to_wgs84`. Rows with an ``area`` are
    used only for that area; others for the area that contains them.

    Returns
    -------
    DataFrame
        ``candidate, name, area, node, x, y`` (EPSG:32651; ``node`` = -1).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, encoding="utf-8-sig")
    except FileNotFoundError:
        raise LifeCircleError("candidate file not found", path=path) from None
    except Exception as exc:
        raise LifeCircleError(f"cannot read candidate CSV: {exc}", path=path) from None
    cols = {c.lower().strip(): c for c in raw.columns}
    for need in ("lon", "lat"):
        if need not in cols:
            raise LifeCircleError(
                f"candidate CSV lacks column '{need}' (expected lon, lat and optional crs, name, "
                "area)",
                path=path,
            )
    lon = pd.to_numeric(raw[cols["lon"]], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(raw[cols["lat"]], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))
    if len(bad):
        raise LifeCircleError(
            "lon/lat must be numbers", path=path, record=f"line {int(bad[0]) + 2}"
        )
    out_of_range = np.flatnonzero((np.abs(lon) > 180) | (np.abs(lat) > 90))
    if len(out_of_range):
        i = int(out_of_range[0])
        validate.check_lonlat(lon[i], lat[i], path=path, record=f"line {i + 2}")
    crs = (
        raw[cols["crs"]].fillna("wgs84").astype(str).to_numpy()
        if "crs" in cols
        else np.full(len(raw), "wgs84", dtype=object)
    )
    wlon, wlat = np.empty(len(raw)), np.empty(len(raw))
    for c in pd.unique(crs):
        sel = crs == c
        try:
            a, b = to_wgs84(lon[sel], lat[sel], str(c))
        except LifeCircleError as exc:
            line = int(np.flatnonzero(sel)[0]) + 2
            raise LifeCircleError(str(exc), path=path, record=f"line {line}") from None
        wlon[sel], wlat[sel] = a, b
    x, y = to_projected(wlon, wlat)
    ids = (
        raw[cols["id"]].astype(str).to_numpy()
        if "id" in cols
        else np.array([f"user-{i + 1}" for i in range(len(raw))], dtype=object)
    )
    return pd.DataFrame(
        {
            "candidate": ids,
            "name": raw[cols["name"]].fillna("").astype(str) if "name" in cols else "",
            "area": raw[cols["area"]].fillna("").astype(str) if "area" in cols else "",
            "node": np.full(len(raw), -1, np.int64),
            "x": np.asarray(x, float),
            "y": np.asarray(y, float),
        }
    )


# ---------------------------------------------------------------------------------------------
# coverage matrices
# ---------------------------------------------------------------------------------------------
def network_coverage(
    engine: AccessEngine, candidates: Any, units: Any, radius_m: float
) -> sp.csr_matrix:
    """Sparse (candidates × units) 0/1 matrix: unit within ``radius_m`` walking metres.

    One bounded search per candidate with the access engine
    (:meth:`geo.access.AccessEngine.count_within`), so distances are exactly those of the
    access tables.

    Parameters
    ----------
    engine
        :class:`geo.access.AccessEngine` of the area.
    candidates, units
        Snapped points (:meth:`~geo.access.AccessEngine.snap` /
        :meth:`~geo.access.AccessEngine.snap_nodes`).
    radius_m
        Walking threshold (m), inclusive.

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for j in range(len(candidates)):
        hit = np.flatnonzero(engine.count_within(units, candidates.subset([j]), radius_m))
        rows.append(np.full(len(hit), j, np.int64))
        cols.append(hit)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(candidates), len(units)))


def estimate_coverage(
    cand_xy: np.ndarray, unit_xy: np.ndarray, radius_m: float, factor: float
) -> sp.csr_matrix:
    """Sparse (candidates × units) 0/1 matrix: straight-line distance × ``factor`` ≤ radius.

    Parameters
    ----------
    cand_xy, unit_xy
        (n, 2) projected coordinates (m).
    radius_m
        Walking threshold (m).
    factor
        Detour factor (walking / straight-line distance).

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    from scipy.spatial import cKDTree

    cand_xy = np.asarray(cand_xy, float).reshape(-1, 2)
    unit_xy = np.asarray(unit_xy, float).reshape(-1, 2)
    shape = (len(cand_xy), len(unit_xy))
    if 0 in shape:
        return sp.csr_matrix(shape)
    lists = cKDTree(unit_xy).query_ball_point(cand_xy, r=radius_m / factor)
    r = np.repeat(np.arange(len(cand_xy)), [len(h) for h in lists])
    c = np.concatenate([np.asarray(h, np.int64) for h in lists])
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=shape)


# ---------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------
@dataclass
class SitesRun:
    """What :func:`run_sites` found: the site rows, the requirements and skipped areas."""

    sites: gpd.GeoDataFrame
    requirements: pd.DataFrame
    skipped: list[str] = field(default_factory=list)


def _snap_candidates(engine: AccessEngine, cand: pd.DataFrame) -> Any:

    node = cand["node"].to_numpy(np.int64)
    on_node = node >= 0
    if on_node.all():
        return engine.snap_nodes(node)
    snapped = engine.snap(cand["x"].to_numpy(float), cand["y"].to_numpy(float))
    if on_node.any():
        exact = engine.snap_nodes(node[on_node])
        edge, offset, access = snapped.edge.copy(), snapped.offset.copy(), snapped.access.copy()
        edge[on_node], offset[on_node], access[on_node] = exact.edge, exact.offset, exact.access
        snapped = Snapped(edge, offset, access)
    return snapped


def area_candidates(
    setup: Any, user: pd.DataFrame | None = None, cell_m: float = CANDIDATE_CELL_M
) -> tuple[pd.DataFrame, str]:
    """Candidate sites of one area and where they come from (``user | network | grid``).

    User candidates are those whose ``area`` names this area, or (without an area) that lie
    inside it. Without them: network nodes (network basis) or grid cell centres (estimate).
    """
    import shapely

    if user is not None and len(user):
        poly = shapely.make_valid(project_geom(setup.boundary))
        named = user["area"].astype(str) == setup.area
        unnamed = user["area"].astype(str) == ""
        inside = shapely.contains_xy(poly, user["x"].to_numpy(float), user["y"].to_numpy(float))
        sel = user[named | (unnamed & inside)]
        return sel.reset_index(drop=True), "user"
    if setup.basis == "network":
        return network_candidates(setup.net, setup.boundary, cell_m), "network"
    return grid_candidates(setup.boundary, cell_m), "grid"


def recommend_area(
    setup: Any,
    requirements: pd.DataFrame,
    specs: Mapping[str, Any],
    plan_facilities: pd.DataFrame,
    *,
    candidates: pd.DataFrame | None = None,
    candidate_source: str = "network",
    method: str = "auto",
    status: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Recommended sites of one area for every category with k > 0.

    Demand already within the category's threshold of a facility of the *plan* scenario
    (existing + placed plan facilities) is covered; the sites maximise the population newly
    covered (:func:`solve_mclp`).

    Parameters
    ----------
    setup
        :class:`geo.planning.context.AreaContext` (demand units, basis, engine or detour factor).
    requirements
        Rows of :func:`plan_requirements` (``category, k, statements``) for this area.
    specs
        ``{category: CategorySpec}`` (thresholds; missing: :data:`DEFAULT_THRESHOLD_M`).
    plan_facilities
        ``category, x, y`` of the plan scenario (:func:`geo.planning.context.scenario_facilities`).
    candidates
        ``candidate, node, x, y`` (default: :func:`area_candidates`).
    candidate_source
        Label stored with each site.
    method
        Solver method (:func:`solve_mclp`).
    status
        ``{category: data_status}`` of the plan scenario
        (:func:`geo.planning.data_status.category_status`); a category without placed
        facilities gets a note: its sites assume that none exist.

    Returns
    -------
    GeoDataFrame
        :data:`SITES.names` + labels and notes, WGS-84 points.
    """
    import shapely

    if candidates is None:
        candidates, candidate_source = area_candidates(setup)
    req = requirements[requirements["k"] > 0]
    if req.empty or setup.basis == "none" or candidates.empty or setup.demand.empty:
        return _empty_sites()
    thr = {
        str(c): float(specs[c].threshold_m) if c in specs else DEFAULT_THRESHOLD_M
        for c in req["category"]
    }
    acc = setup.access(plan_facilities, thr, max(thr.values()))
    unit_ids = setup.demand["unit_id"].to_numpy()
    pop = setup.demand["population"].to_numpy(float)
    cand_xy = candidates[["x", "y"]].to_numpy(float)
    if setup.basis == "network":
        units = setup.engine.snap(
            setup.demand["x"].to_numpy(float), setup.demand["y"].to_numpy(float)
        )
        cand_snap = _snap_candidates(setup.engine, candidates)
    matrices: dict[float, sp.csr_matrix] = {}
    rows: list[dict[str, Any]] = []
    statements = req["statements"] if "statements" in req.columns else pd.Series("", req.index)
    for cat_v, k_v, said in zip(req["category"], req["k"], statements, strict=True):
        cat, k = str(cat_v), int(k_v)
        radius = thr[cat]
        a = acc[acc["category"] == cat].set_index("unit_id")["nearest_m"]
        near = a.reindex(unit_ids).to_numpy(dtype=float)
        covered = np.nan_to_num(near, nan=np.inf) <= radius
        if radius not in matrices:
            matrices[radius] = (
                network_coverage(setup.engine, cand_snap, units, radius)
                if setup.basis == "network"
                else estimate_coverage(
                    cand_xy, setup.demand[["x", "y"]].to_numpy(float), radius, setup.factor
                )
            )
        res = solve_mclp(pop, matrices[radius], k, covered, method=method)
        spec = specs.get(cat)
        for rank, (j, gain) in enumerate(zip(res.chosen, res.gains, strict=True), start=1):
            note = setup.note
            if status is not None and status.get(cat, "ok") != "ok":
                note = (f"{note}; " if note else "") + (
                    "no facility of this category is placed here: sites assume none exist "
                    "/ 无已定位的同类设施，按无现状设施选址"
                )
            if gain <= 0:
                note = (f"{note}; " if note else "") + (
                    "no uncovered residents left within reach: placed where most residents are "
                    "/ 已无未覆盖居民，按覆盖人口最多选址"
                )
            rows.append(
                {
                    "area": setup.area,
                    "category": cat,
                    "rank": rank,
                    "gain_population": float(gain),
                    "method": res.method,
                    "gap": float(res.gap),
                    "bound_population": float(res.bound),
                    "k": k,
                    "threshold_m": radius,
                    "basis": setup.basis,
                    "covered_before": float(pop[covered].sum()),
                    "population": float(pop.sum()),
                    "candidate": str(candidates["candidate"].iloc[j]),
                    "x": float(cand_xy[j, 0]),
                    "y": float(cand_xy[j, 1]),
                    "optimal": bool(res.optimal),
                    "objective": float(res.objective),
                    "candidate_source": candidate_source,
                    "n_candidates": len(candidates),
                    "problem_size": int(res.size),
                    "seconds": round(float(res.seconds), 3),
                    "category_zh": getattr(spec, "name_zh", "") if spec is not None else "",
                    "category_en": getattr(spec, "name_en", "") if spec is not None else "",
                    "statements": str(said),
                    "note": note,
                }
            )
    if not rows:
        return _empty_sites()
    df = pd.DataFrame(rows)
    geom = shapely.points(df["x"].to_numpy(), df["y"].to_numpy())
    gdf = gpd.GeoDataFrame(df, geometry=geom, crs=settings.PROJECTED_CRS)
    return gdf.to_crs(settings.STORAGE_CRS)


def _empty_sites() -> gpd.GeoDataFrame:
    cols = [*SITES.names, *EXTRA_SITE_COLUMNS]
    return gpd.GeoDataFrame(
        {c: pd.Series([], dtype=object) for c in cols},
        geometry=gpd.GeoSeries([], crs=settings.STORAGE_CRS),
    )


def sites_path(out: str | os.PathLike[str]) -> Path:
    """``<out>/sites.gpkg``."""
    return SITES.path(out)


def read_sites(out: str | os.PathLike[str]) -> gpd.GeoDataFrame | None:
    """Return the recommended sites (layer ``sites``), or None when ``sites.gpkg`` is absent."""
    path = sites_path(out)
    if not path.exists():
        return None
    try:
        return gpd.read_file(path, layer=SITES.layer)
    except Exception as exc:
        raise LifeCircleError(f"cannot read layer '{SITES.layer}': {exc}", path=path) from None


def write_sites(
    sites: gpd.GeoDataFrame, out: str | os.PathLike[str], replace_areas: Sequence[str]
) -> Path:
    """Write ``sites.gpkg`` (layer ``sites``, WGS-84) atomically, keeping other areas' rows."""
    frames = [sites.to_crs(settings.STORAGE_CRS)] if len(sites) else []
    old = read_sites(out) if sites_path(out).exists() else None
    if old is not None and len(old):
        frames.insert(0, old[~old["area"].astype(str).isin(set(replace_areas))])
    frames = [f for f in frames if len(f)]
    if frames:
        merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
    else:
        merged = _empty_sites()
    merged = merged.assign(rank=merged["rank"].astype("int64"), k=merged["k"].astype("int64"))
    return write_atomic(
        sites_path(out), lambda p: merged.to_file(p, layer=SITES.layer, driver="GPKG")
    )


def run_sites(
    registry: Registry,
    areas: Sequence[Area],
    out: str | os.PathLike[str],
    *,
    nets: Mapping[str, Any],
    candidates_csv: str | os.PathLike[str] | None = None,
    method: str = "auto",
    cell_m: float = CANDIDATE_CELL_M,
    cache_dir: Path | None = None,
    taxonomy: Any = None,
    progress: ProgressFn | None = None,
) -> SitesRun:
    """Run the sites stage: k recommended sites per area and category, written to ``sites.gpkg``.

    Parameters
    ----------
    registry, areas
        The study areas.
    out
        Results folder: reads ``plan_mentions.csv``, ``facilities.gpkg`` and
        ``demand/<area>.gpkg``; writes ``sites.gpkg``.
    nets
        ``{area: WalkNetwork | None}``.
    candidates_csv
        A user candidate list (:func:`read_candidates`) used instead of network nodes.
    method
        Solver method (:func:`solve_mclp`).
    cell_m
        Candidate thinning cell (m).
    cache_dir
        Network cache (detour calibration).
    taxonomy
        Taxonomy (default: the project's).
    progress
        ``progress(iterable, desc)`` wrapper for a progress bar.

    Returns
    -------
    SitesRun
        Areas without a usable network get straight-line estimates (``basis = estimate``);
        areas with neither network nor facility data are skipped (listed in ``skipped``).
    """
    out = Path(out)
    reqs = plan_requirements(read_mentions(out))
    fac = read_facilities(out)
    specs = category_specs(taxonomy)
    user = read_candidates(candidates_csv) if candidates_csv is not None else None
    frames: list[gpd.GeoDataFrame] = []
    skipped: list[str] = []
    it = progress(areas, "sites / 选址") if progress is not None else areas
    for area in it:
        req = reqs[reqs["area"] == area.id]
        if req.empty or not (req["k"] > 0).any():
            skipped.append(f"{area.id}: the plans name no generic new facility / 规划无新增设施")
            continue
        setup = stage_context(registry, area, out, nets, fac, specs, cache_dir=cache_dir)
        if setup.basis == "none":
            skipped.append(f"{area.id}: {setup.note}")
            continue
        cand, source = area_candidates(setup, user, cell_m)
        if cand.empty and user is not None:
            # the user's file gave no site here: refuse rather than write an empty table
            raise InputError(
                f"no candidate site of the file lies in area '{area.id}'",
                path=candidates_csv,
                hint="is the file for another district, or are lon/lat swapped?",
            )
        if cand.empty:
            skipped.append(f"{area.id}: no candidate sites inside the area / 区内无候选点")
            continue
        plan_fac = scenario_facilities(fac, "plan", boundary=setup.boundary, area_id=area.id)
        frames.append(
            recommend_area(
                setup,
                req,
                specs,
                plan_fac,
                candidates=cand,
                candidate_source=source,
                method=method,
                status=data_status.category_status(fac, area.id, setup.boundary, specs, "plan"),
            )
        )
    frames = [f for f in frames if len(f)]
    sites = (
        gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
        if frames
        else _empty_sites()
    )
    write_sites(sites, out, [a.id for a in areas])
    return SitesRun(sites, reqs[reqs["area"].isin([a.id for a in areas])], skipped)
