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
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from geo._errors import LifeCircleError

#: Largest reduced problem (nonzeros of the coverage matrix after merging identical demand
#: columns and candidate rows) solved exactly. Measured on this 2-core machine with
#: ``scripts/bench_sites.py`` on synthetic street-grid instances (candidates every 50 m, radius
#: 300-1000 m, k = 1..8): HiGHS proves optimality in ≤ 2 s up to about 1.5 million nonzeros.
#: Larger problems use greedy with the LP-relaxation bound.
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

#: Detour factor for straight-line estimates where an area has no usable network (network
#: distance ≈ factor × straight-line distance; a common value for dense urban grids).
DEFAULT_DETOUR_FACTOR: float = 1.3

#: Columns of the ``sites`` layer (DESIGN.md contract first).
SITE_COLUMNS: tuple[str, ...] = (
    "area", "category", "rank", "gain_population", "method", "gap", "bound_population",
    "k", "threshold_m", "basis", "covered_before", "population", "candidate", "x", "y",
)  # fmt: skip


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
        Upper bound on the optimum: the optimum itself for a solved MILP, else the LP
        relaxation (or the HiGHS dual bound, whichever is lower).
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


def _milp_arrays(red: _Reduced, k: int):
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
    answer: Any = None
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
