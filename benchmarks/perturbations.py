"""Benchmark: cost of each perturbation family vs the forward pass of a resnet18-size model, per batch, on CPU.

Issue 5 target: perturbing a batch must cost <= 10 % of the model's forward time (224 px, CPU). For every family the
script times every preset level (median of repeats, after one warm-up call) and prints the mean and the worst level
next to the forward time of ``timm.create_model("resnet18", pretrained=False)`` (eval, ``torch.no_grad``), with the
ratios; families whose worst level misses the target are flagged. Stochastic families are timed twice: drawing from
one ``torch.Generator`` (``generator=``) and keyed per image (``seeds=`` from :func:`rdmetrics.sweep.sweep_seeds`,
what sweeps use, key derivation included); the target applies to the keyed path (the slower of the two for
deterministic families, which ignore the keys). The forward pass is timed at the start, in the middle and at the
end (median), and every time is taken both as wall clock and as process CPU time: on a shared, loaded machine the
CPU-time ratio is the stable figure (wall-clock ratios drift with other processes' load).

Usage: ``python benchmarks/perturbations.py [--quick] [--batch N] [--size PX] [--threads T] [--families a,b]``
(``--quick``: batch 8, one timed repeat, < 1 minute on an idle 2-core CPU).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from rdmetrics.perturbations import get_perturbation, list_perturbations
from rdmetrics.perturbations._random import SampleSeeds
from rdmetrics.sweep import sweep_seeds


def _time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median (wall seconds, process CPU seconds) of ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _is_stochastic(p: object, level: object) -> bool:
    """Whether the family draws noise at ``level`` (a tiny probe call with per-image keys that counts draws)."""
    keys = SampleSeeds(torch.arange(2))
    p(torch.full((2, 3, 16, 16), 0.5), level, generator=keys)  # type: ignore[operator]
    return keys.draws > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 8 and one timed repeat")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default 32; quick: 8)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--target", type=float, default=0.10, help="max perturbation/forward ratio")
    parser.add_argument("--families", default=None, help="comma-separated family names (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch = args.batch or (8 if args.quick else 32)
    repeats = 1 if args.quick else 3

    import timm

    model = timm.create_model("resnet18", pretrained=False).eval()
    images = torch.rand(batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))

    fwd_times: list[tuple[float, float]] = []

    def time_forward() -> None:
        with torch.no_grad():
            fwd_times.append(_time(lambda: model(images), repeats, warmup=0 if fwd_times else 1))

    time_forward()
    names = args.families.split(",") if args.families else list_perturbations()
    rows = []
    index = torch.arange(batch)
    for i, name in enumerate(names):
        p = get_perturbation(name)
        per_level = []
        for level in p.levels:
            gen = torch.Generator().manual_seed(1)
            plain = _time(lambda p=p, level=level, gen=gen: p(images, level, generator=gen), repeats)
            keyed = None
            if _is_stochastic(p, level):
                keyed = _time(
                    lambda p=p, level=level, name=name: p(images, level, seeds=sweep_seeds(0, name, level, index)),
                    repeats,
                )
            per_level.append((plain, keyed, level))
        rows.append((name, per_level))
        if i == len(names) // 2:
            time_forward()
    time_forward()
    fwd_wall = statistics.median(w for w, _ in fwd_times)
    fwd_cpu = statistics.median(c for _, c in fwd_times)

    print(f"CPU, {torch.get_num_threads()} threads, batch {batch} x 3 x {args.size} x {args.size}")
    print(
        f"resnet18 forward (peer): {fwd_wall * 1e3:.1f} ms/batch wall, {fwd_cpu * 1e3:.1f} ms CPU;"
        f" target: perturbation <= {args.target:.0%} of it\n"
    )
    print("columns: generator= path (one torch.Generator) | seeds= path (keyed per image, as in sweeps; '-' for")
    print("deterministic families, which ignore keys) | sweep = keyed or plain; target on it (worst level, wall))")
    print(
        f"{'family':<20}{'gen ms':>9}{'gen/fwd':>9}{'keyed ms':>10}{'keyed/fwd':>11}{'CPU sweep/fwd':>15}"
        f"{'worst lvl':>11}  ok"
    )
    missed = []
    for name, per_level in rows:
        # the sweep's path: keyed where the family draws noise, else the plain call
        sweep_path = [(k if k is not None else g, lvl) for g, k, lvl in per_level]
        (worst_wall, _), worst_level = max(sweep_path, key=lambda t: t[0][0])
        worst_cpu = max(c for (_, c), _ in sweep_path)
        gen_worst = max(g[0] for g, _, _ in per_level)
        stochastic = any(k is not None for _, k, _ in per_level)
        keyed_worst = max(k[0] for _, k, _ in per_level if k is not None) if stochastic else None
        ok = worst_wall <= args.target * fwd_wall
        if not ok:
            missed.append(name)
        keyed_cols = (
            f"{keyed_worst * 1e3:>10.1f}{keyed_worst / fwd_wall:>11.3f}"
            if keyed_worst is not None
            else f"{'-':>10}{'-':>11}"
        )
        print(
            f"{name:<20}{gen_worst * 1e3:>9.1f}{gen_worst / fwd_wall:>9.3f}{keyed_cols}{worst_cpu / fwd_cpu:>15.3f}"
            f"{worst_level!s:>11}  {'yes' if ok else 'MISS'}"
        )
    print()
    if missed:
        print(
            f"families missing the {args.target:.0%} target (sweep path, wall clock, worst level): {', '.join(missed)}"
        )
    else:
        print(f"all families meet the {args.target:.0%} target (sweep path, wall clock) at every preset level")


if __name__ == "__main__":
    main()
