"""Benchmark the MCLP solver on synthetic street-grid instances (measures the MILP size limit).

Synthetic data only: demand points scattered over a square area, candidates one per 50 m cell
on a 100 m street grid, coverage by Manhattan distance (a grid network's walking distance).

    .venv/bin/python scripts/bench_sites.py --side 2000 3000 --radius 300 500 1000 --k 1 3 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from geo.planning.sites import solve_mclp


def synthetic_instance(side_m: float, n_units: int, radius_m: float, seed: int = 0):
    """A synthetic instance: (weights, coverage, covered mask)."""
    rng = np.random.default_rng(seed)
    ux, uy = rng.uniform(0, side_m, (2, n_units))
    w = rng.integers(5, 200, n_units).astype(float)
    # candidates: points on a 100 m street grid, one per 50 m cell
    g = np.arange(0, side_m + 1, 50.0)
    cx, cy = np.meshgrid(g, g)
    on_street = (cx % 100 == 0) | (cy % 100 == 0)
    cx, cy = cx[on_street], cy[on_street]
    rows, cols = [], []
    for j in range(len(cx)):
        near = np.flatnonzero(np.abs(ux - cx[j]) + np.abs(uy - cy[j]) <= radius_m)
        rows.append(np.full(len(near), j))
        cols.append(near)
    r, c = np.concatenate(rows), np.concatenate(cols)
    A = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(cx), n_units))
    # existing facilities cover a corner
    covered = (ux + uy) < side_m * 0.5
    return w, A, covered


def main() -> None:
    """Print solve time, size, method and gap for each instance."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--side", type=float, nargs="+", default=[1500.0, 2000.0, 3000.0])
    ap.add_argument("--units-per-km2", type=float, default=1000.0)
    ap.add_argument("--radius", type=float, nargs="+", default=[300.0, 500.0, 1000.0])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 3, 8])
    ap.add_argument("--method", default="milp")
    args = ap.parse_args()
    print(
        f"{'side':>6}{'units':>7}{'cands':>7}{'radius':>7}{'k':>4}{'nnz_red':>10}"
        f"{'method':>8}{'sec':>8}{'obj':>12}{'greedy':>12}{'gap':>8}"
    )
    for side in args.side:
        n = int(args.units_per_km2 * (side / 1000) ** 2)
        for radius in args.radius:
            w, A, cov = synthetic_instance(side, n, radius)
            for k in args.k:
                t = time.perf_counter()
                r = solve_mclp(w, A, k, cov, method=args.method, fill=False)
                sec = time.perf_counter() - t
                print(
                    f"{side:>6.0f}{n:>7}{A.shape[0]:>7}{radius:>7.0f}{k:>4}{r.size:>10}"
                    f"{r.method:>8}{sec:>8.2f}{r.objective:>12.0f}"
                    f"{r.info['greedy_objective']:>12.0f}{r.gap:>8.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
