"""Benchmark: whole Blahut–Arimoto R(D) curve, rdmetrics (all β in one tensor program) vs dit (one call per β).

Targets: 16 classes × ≥100 β at least 100× faster than dit; 1000 classes × 100 β under 5 s on CPU.

dit is timed as documented (``dit.rate_distortion.blahut_arimoto(p_x, beta, distortion)``, default 100 random
restarts per β) and, for a harder comparison, with ``restarts=1``. Accuracy is reported alongside: the largest gap
between the two curves' BA objectives ``R + βD`` (ours must not be worse) and, for the uniform Hamming source, the
error against the closed form ``D(β) = (M−1)/(2^β + M − 1)``.

Usage: ``python benchmarks/blahut_arimoto.py [--quick]``
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from rdmetrics.functional import blahut_arimoto, hamming_rd_bound


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _dit_curve(p: np.ndarray, d: np.ndarray, betas: np.ndarray, restarts: int) -> tuple[np.ndarray, np.ndarray]:
    from dit.rate_distortion.blahut_arimoto import blahut_arimoto as dit_ba  # imported (and cached) before timing

    np.random.seed(0)  # noqa: NPY002 (dit's restarts use the global numpy RNG)
    rates, dists = [], []
    for b in betas:  # dit solves one β per call
        res, _ = dit_ba(p, float(b), distortion=lambda px, q: d, restarts=restarts)
        rates.append(res.rate)
        dists.append(res.distortion)
    return np.asarray(rates), np.asarray(dists)


def compare_with_dit(name: str, p: np.ndarray, d: np.ndarray, num_beta: int, restarts: list[int]) -> None:
    """Ours at its defaults (max_iter=2000, tol=1e-12) and at dit's iteration budget (max_iter=100)."""
    betas = np.linspace(0.0, 12.0, num_beta)
    pt, dt, bt = torch.from_numpy(p), torch.from_numpy(d), torch.from_numpy(betas)
    ours = {
        "default": _time(lambda: blahut_arimoto(pt, dt, bt), repeat=3),
        "max_iter=100": _time(lambda: blahut_arimoto(pt, dt, bt, max_iter=100), repeat=3),
    }
    for r in restarts:
        dit_s, (dr, dd) = _time(lambda r=r: _dit_curve(p, d, betas, r), repeat=1)
        for label, (ours_s, (rate, dist, _)) in ours.items():
            gap = float(np.max((rate + bt * dist).numpy() - (dr + betas * dd)))  # > 0: dit found a better point
            print(
                f"{name:<27} {len(p):>3} cl. x {num_beta} beta | rdmetrics[{label:<12}] {ours_s * 1e3:8.2f} ms | "
                f"dit(restarts={r:>3}, 1 call/beta) {dit_s * 1e3:9.1f} ms | ratio dit/ours {dit_s / ours_s:8.1f}x | "
                f"max objective gap (ours - dit) {gap:+.1e}"
            )


def large(num_classes: int, num_beta: int) -> None:
    betas = torch.linspace(0.0, 12.0, num_beta, dtype=torch.float64)
    p = torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)
    d = 1.0 - torch.eye(num_classes, dtype=torch.float64)
    secs, (rate, dist, _) = _time(lambda: blahut_arimoto(p, d, betas), repeat=3)
    d_exact = (num_classes - 1) / (2**betas + num_classes - 1)
    err_d = float((dist - d_exact).abs().max())
    err_r = float((rate - hamming_rd_bound(d_exact, num_classes)).abs().max())
    print(
        f"{'uniform Hamming (large)':<28} {num_classes:>5} classes x {num_beta} beta | rdmetrics {secs:6.2f} s "
        f"(target < 5 s) | max |D - closed form| {err_d:.1e}, max |R - closed form| {err_r:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer dit restarts settings (< 1 minute)")
    args = parser.parse_args()
    m = 16
    uniform = np.full(m, 1.0 / m)
    hamming = 1.0 - np.eye(m)
    rng = np.random.default_rng(0)
    skewed = rng.dirichlet(np.ones(m))
    semantic = rng.random((m, m))
    np.fill_diagonal(semantic, 0.0)
    restarts = [1, 100] if not args.quick else [1, 10]
    num_beta = 101
    import dit.rate_distortion.blahut_arimoto  # noqa: F401  (import cost excluded from the timings)

    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} (timings are noisy on a shared machine)")
    # 16-class tensors are tiny: one thread (dit is single-threaded numpy too); oversubscribed OpenMP threads on a
    # busy machine otherwise dominate every small op
    torch.set_num_threads(1)
    compare_with_dit("uniform prior, Hamming", uniform, hamming, num_beta, restarts)
    compare_with_dit("skewed prior, random dist.", skewed, semantic, num_beta, restarts)
    torch.set_num_threads(threads)
    print(f"large case with {threads} torch threads")
    large(1000, 100)


if __name__ == "__main__":
    main()
