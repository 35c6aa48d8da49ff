"""Peak memory of the RD bootstrap at scale: 1000 classes × 20 conditions × 200 replicates.

Usage: ``python benchmarks/rd_bootstrap_memory.py [--classes 1000] [--conditions 20] [--replicates 200]``

Replicates are generated and reduced in chunks (``rdmetrics.functional.rate_distortion._CHUNK_ELEMENTS`` elements per
tensor), so the peak resident memory stays bounded whatever the number of replicates. Prints wall time and the peak
RSS of this process (``resource.getrusage``, Linux: KiB).
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import torch

from rdmetrics.functional import rate_distortion_signature


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--conditions", type=int, default=20)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--trials", type=int, default=10, help="trials per class and condition")
    parser.add_argument("--correction", default="miller_madow")
    parser.add_argument("--n-null", type=int, default=100, help="permutation-null tables per condition (rate floor)")
    args = parser.parse_args()
    torch.manual_seed(0)
    c, l, n = args.classes, args.conditions, args.trials
    target = torch.arange(c).repeat_interleave(n)
    cms = torch.zeros(l, c, c, dtype=torch.long)
    for ell in range(l):
        noise = (ell + 1) / (l + 1)
        flip = torch.rand(target.numel()) < noise
        preds = torch.where(flip, torch.randint(0, c, (target.numel(),)), target)
        cms[ell].view(-1).index_add_(0, target * c + preds, torch.ones_like(target))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = rate_distortion_signature(
            cms, n_bootstrap=args.replicates, correction=args.correction, n_null=args.n_null
        )
    wall = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{c} classes x {l} conditions x {args.replicates} replicates ({n} trials/class), {args.correction},"
        f" n_null={args.n_null}"
    )
    print(f"beta = {float(out['beta']):.4f} {out['beta_ci'].tolist()}")
    print(f"wall {wall:.1f} s, peak RSS {rss / 2**20:.2f} GiB (before the call: {rss0 / 2**20:.2f} GiB)")


if __name__ == "__main__":
    main()
