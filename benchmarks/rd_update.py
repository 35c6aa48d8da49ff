"""Benchmark: ``RateDistortionSignature.update`` vs torchmetrics ``MulticlassConfusionMatrix.update`` (same batch).

Target: update time ≤ 1.2× the torchmetrics confusion matrix. Both metrics validate their inputs
(``validate_args=True``, the default); the RD metric additionally routes each sample to its condition's matrix
(one ``torch.bincount`` over ``condition·C·K + target·K + pred``). Timings are interleaved and the median of
several rounds is reported, because the project machine is shared.

Usage: ``python benchmarks/rd_update.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from rdmetrics import RateDistortionSignature


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def bench(batch: int, num_classes: int, num_conditions: int, rounds: int, calls: int) -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, num_classes, generator=g)
    target = torch.randint(0, num_classes, (batch,), generator=g)
    labels = logits.argmax(1)
    cond_vec = torch.randint(0, num_conditions, (batch,), generator=g)
    tm = MulticlassConfusionMatrix(num_classes)
    rd = RateDistortionSignature(num_classes, num_conditions)
    variants = {
        "logits, int condition": (lambda: tm.update(logits, target), lambda: rd.update(logits, target, 1)),
        "logits, per-sample cond.": (lambda: tm.update(logits, target), lambda: rd.update(logits, target, cond_vec)),
        "labels, int condition": (lambda: tm.update(labels, target), lambda: rd.update(labels, target, 1)),
    }
    for name, (f_tm, f_rd) in variants.items():
        for _ in range(5):  # warm-up
            f_tm()
            f_rd()
        t_tm, t_rd = [], []
        for _ in range(rounds):
            t_tm.append(_per_call(f_tm, calls))
            t_rd.append(_per_call(f_rd, calls))
        a, b = statistics.median(t_tm), statistics.median(t_rd)
        print(
            f"N={batch:>6} C={num_classes:>4} L={num_conditions} {name:<25} | torchmetrics {a * 1e6:9.1f} us | "
            f"rdmetrics {b * 1e6:9.1f} us | ratio rd/tm {b / a:5.2f} (target <= 1.2)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (< 1 minute)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, calls = (5, 50) if args.quick else (15, 200)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    for batch, num_classes in [(256, 16), (4096, 16), (4096, 1000) if not args.quick else (1024, 1000)]:
        bench(batch, num_classes, 8, rounds, calls if num_classes < 1000 else max(5, calls // 10))


if __name__ == "__main__":
    main()
