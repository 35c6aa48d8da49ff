"""Benchmark: PCE/RCE/RE + PRDC (rdmetrics kNN engine) vs bare blocked GEMMs and vs ``prdc.compute_prdc``.

Usage::

    python benchmarks/generative_knn.py            # N = M = 10k, d = 512, k = 5, CPU, float32 features
    python benchmarks/generative_knn.py --quick    # N = M = 2k, d = 256 (< 1 minute)
    python benchmarks/generative_knn.py --size 50k # N = M = 50k, d = 1024 (prdc skipped: it needs ~80 GB)
    python benchmarks/generative_knn.py --device cuda --size 50k

What is measured (each in a fresh subprocess, so peak memory is per method):

* ``rdmetrics``: ``precision_recall_entropy(real, fake, k, prdc=True)`` (all of PCE/RCE/RE + P/R/D/C).
* ``bare GEMMs``: the three products of the same shapes (R x R, G x G, R x G), blocked with the engine's block size
  (``torch.mm`` per row block into a reused buffer) - the floor for any exact GEMM-based method.
* ``prdc``: ``prdc.compute_prdc(real, fake, k)`` on the same float32 arrays (full sklearn distance matrices).

Peak memory: on CPU the peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of the child minus
its RSS just before the call (data already allocated), i.e. the extra memory the method needed; on CUDA
``torch.cuda.max_memory_allocated`` minus the memory held before the call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SIZES = {"2k": (2000, 256), "10k": (10000, 512), "50k": (50000, 1024)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(method: str, n: int, d: int, k: int, device: str, seed: int) -> dict:
    import numpy as np
    import torch

    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=g)
    fake = 1.05 * torch.randn(n, d, generator=g) + 0.05
    if device == "cuda":
        real, fake = real.cuda(), fake.cuda()
    if method == "prdc":
        import contextlib
        import io

        from prdc import compute_prdc

        real_np, fake_np = real.numpy(), fake.numpy()
        del real, fake
        base = _rss_mb()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            out = compute_prdc(real_np, fake_np, nearest_k=k)
        elapsed = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"time": elapsed, "peak_mb": peak - base, "out": {key: float(v) for key, v in out.items()}}

    from rdmetrics.functional import precision_recall_entropy
    from rdmetrics.functional.knn import _resolve_block_size

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    if method == "gemm":
        bs = _resolve_block_size(None, n, n, real.device, real.element_size())

        def run() -> None:
            buf = torch.empty(bs, n, device=real.device)
            for a, b in ((real, real), (fake, fake), (real, fake)):
                bt = b.T
                for i0 in range(0, n, bs):
                    i1 = min(n, i0 + bs)
                    torch.mm(a[i0:i1], bt, out=buf[: i1 - i0])

    else:

        def run() -> dict:
            return precision_recall_entropy(real, fake, k=k, prdc=True)

    if device == "cuda":  # warm-up (kernels, cuBLAS handles)
        precision_recall_entropy(real[:256], fake[:256], k=k) if method == "rdmetrics" else None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    else:
        base = _rss_mb()
    sync()
    t0 = time.perf_counter()
    out = run()
    sync()
    elapsed = time.perf_counter() - t0
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"time": elapsed, "peak_mb": peak - base}
    if out is not None:
        res["out"] = {key: float(v) for key, v in out.items()}
    del np
    return res


def _run_child(method: str, args: argparse.Namespace, n: int, d: int) -> dict:
    cmd = [sys.executable, __file__, "--_child", method, "--n", str(n), "--d", str(d), "--k", str(args.k)]
    cmd += ["--device", args.device, "--seed", str(args.seed)]
    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(args.threads)
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = M = 2k, d = 256")
    parser.add_argument("--size", choices=sorted(SIZES), default=None, help="preset N = M and d")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--d", type=int, default=None)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-prdc", action="store_true", help="skip the prdc peer")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for every method (default: all)")
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    size = "2k" if args.quick else (args.size or "10k")
    n, d = SIZES[size]
    n, d = args.n or n, args.d or d
    if args._child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(_child(args._child, n, d, args.k, args.device, args.seed)))
        return 0

    import torch

    print(
        f"N = M = {n}, d = {d}, k = {args.k}, device = {args.device}, float32 features, torch {torch.__version__}, "
        f"{args.threads or torch.get_num_threads()} CPU threads"
    )
    ours = _run_child("rdmetrics", args, n, d)
    gemm = _run_child("gemm", args, n, d)
    # prdc holds three full N x N float32 matrices plus int64 argpartition indices: skip it where that cannot fit
    prdc_bytes = n * n * (3 * 4 + 8 + 8)
    run_prdc = (
        not args.no_prdc
        and args.device == "cpu"
        and prdc_bytes < 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    )
    peer = _run_child("prdc", args, n, d) if run_prdc else {"skipped": f"needs ~{prdc_bytes / 2**30:.0f} GiB"}

    def fmt(r: dict) -> str:
        if "time" not in r:
            return json.dumps(r)
        return f"{r['time']:8.2f} s   peak +{r['peak_mb']:9.1f} MiB"

    print(f"rdmetrics PCE/RCE/RE+PRDC : {fmt(ours)}")
    print(f"bare blocked GEMMs (x3)   : {fmt(gemm)}")
    print(f"prdc.compute_prdc         : {fmt(peer)}")
    if "time" in ours and "time" in gemm:
        print(f"time  rdmetrics / bare GEMMs = {ours['time'] / gemm['time']:.2f}x   (target <= 1.3x)")
    if "time" in ours and "time" in peer:
        print(f"speed prdc / rdmetrics       = {peer['time'] / ours['time']:.2f}x   (target >= 2x)")
        mem = ours["peak_mb"] / max(peer["peak_mb"], 1e-9)
        print(f"peak memory rdmetrics / prdc = {mem:.3f}        (target <= 0.1)")
        diffs = {key: abs(ours["out"][key] - peer["out"][key]) for key in peer["out"]}
        print("max |rdmetrics - prdc| over P/R/D/C = " + f"{max(diffs.values()):.2e}")
    if "out" in ours:
        print("rdmetrics: " + ", ".join(f"{key}={v:.4f}" for key, v in ours["out"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
