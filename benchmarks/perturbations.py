"""Benchmark: cost of each perturbation family vs the forward pass of a resnet18-size model, per batch, on CPU.

Issue 5 target: perturbing a batch must cost <= 10 % of the model's forward time (224 px, CPU). For every family the
script times every preset level (median of repeats, after one warm-up call) and prints the mean and the worst level
next to the forward time of ``timm.create_model("resnet18", pretrained=False)`` (eval, ``torch.no_grad``), with the
ratios; families whose worst level misses the target are flagged. The forward pass is timed at the start, in the
middle and at the end (median), and every time is taken both as wall clock and as process CPU time: on a shared,
loaded machine the CPU-time ratio is the stable figure (wall-clock ratios drift with other processes' load).

Usage: ``python benchmarks/perturbations.py [--quick] [--batch N] [--size PX] [--threads T]``
(``--quick``: batch 8, one timed repeat, < 1 minute on an idle 2-core CPU).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from rdmetrics.perturbations import get_perturbation, list_perturbations


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="batch 8 and one timed repeat")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default 32; quick: 8)")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--target", type=float, default=0.10, help="max perturbation/forward ratio")
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
    names = list_perturbations()
    rows = []
    for i, name in enumerate(names):
        p = get_perturbation(name)
        per_level = []
        for level in p.levels:
            gen = torch.Generator().manual_seed(1)
            wall, cpu = _time(lambda p=p, level=level, gen=gen: p(images, level, generator=gen), repeats)
            per_level.append((wall, cpu, level))
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
    header = ("family", "mean ms", "worst ms", "worst lvl", "mean/fwd", "worst/fwd", "CPU worst/fwd", "ok")
    print(
        f"{header[0]:<20}{header[1]:>9}{header[2]:>10}{header[3]:>11}{header[4]:>10}{header[5]:>11}{header[6]:>15}  ok"
    )
    missed = []
    for name, per_level in rows:
        mean_wall = statistics.fmean(w for w, _, _ in per_level)
        worst_wall, _, worst_level = max(per_level, key=lambda t: t[0])
        worst_cpu = max(c for _, c, _ in per_level)
        ok = worst_wall <= args.target * fwd_wall
        if not ok:
            missed.append(name)
        print(
            f"{name:<20}{mean_wall * 1e3:>9.1f}{worst_wall * 1e3:>10.1f}{worst_level!s:>11}"
            f"{mean_wall / fwd_wall:>10.3f}{worst_wall / fwd_wall:>11.3f}{worst_cpu / fwd_cpu:>15.3f}"
            f"  {'yes' if ok else 'MISS'}"
        )
    print()
    if missed:
        print(f"families missing the {args.target:.0%} target (wall clock, worst level): {', '.join(missed)}")
    else:
        print(f"all families meet the {args.target:.0%} target (wall clock) at every preset level")


if __name__ == "__main__":
    main()
