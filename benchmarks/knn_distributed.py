"""Benchmark: ``PrecisionRecallEntropy.compute()`` across DDP ranks (gathered and sharded features) vs one process
and vs faiss ``IndexFlatL2``.

Usage::

    python benchmarks/knn_distributed.py            # N = M = 10k, d = 512, k = 5, CPU (gloo), 1 thread per rank
    python benchmarks/knn_distributed.py --quick    # N = M = 2k, d = 128
    python benchmarks/knn_distributed.py --device cuda   # NCCL, one rank per GPU (world sizes 1 .. #GPUs)

What is measured, for world sizes 1 and 2 (``--world-sizes``), each in freshly spawned processes:

* ``gathered``: ``PrecisionRecallEntropy(k, prdc=True)`` with the default ``gather_features=True``: torchmetrics
  gathers every feature to every rank, then each rank takes ``1/W`` of the kNN work.
* ``sharded``: ``gather_features=False``: each rank keeps its own rows; blocks are broadcast in turn.
* ``faiss``: the four exact searches PCE/RCE/RE need (R in R, G in G with ``k + 1``; G in R, R in G with ``k``) with
  ``faiss.IndexFlatL2`` on one process with the same number of threads (PRDC's ball counts not included).

Every rank holds the same share of the data (rows split evenly, rank order = global order). Reported per run:
``compute()`` wall time (max over ranks, after a barrier) and per-rank peak memory: the peak resident set size
during ``update + compute`` above the process's RSS before its data were loaded (sampled every 2 ms by a thread),
plus the bytes of features the rank holds at its peak by construction (``(N + M) d`` x 4 gathered, ``(N + M) d / W``
+ one broadcast piece, an eighth of another rank's rows, sharded). Features are float32
(``metric.set_dtype(torch.float32)``); distances are exact float64 either way. Results are checked to agree across
modes (1e-9).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _PeakRSS:
    """Peak RSS (MiB) sampled by a background thread."""

    def __init__(self) -> None:
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.002)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss_mb())


def _data_path(tmp: str) -> str:
    return os.path.join(tmp, "features.npy")


def _make_data(path: str, n: int, d: int, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d), dtype=np.float32)
    fake = (1.05 * rng.standard_normal((n, d), dtype=np.float32) + 0.05).astype(np.float32)
    np.save(path, np.concatenate([real, fake]))


def _rank_main(rank: int, world: int, port: int, path: str, n: int, k: int, mode: str, device: str, out: str) -> None:
    import datetime

    import numpy as np
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        backend = "nccl" if device == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=600))
    dev = torch.device(f"cuda:{rank}" if device == "cuda" else "cpu")
    if device == "cuda":
        torch.cuda.set_device(dev)
    from rdmetrics.generative import PrecisionRecallEntropy

    base = _rss_mb()
    peak = _PeakRSS()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        base_cuda = torch.cuda.memory_allocated(dev)
    mm = np.load(path, mmap_mode="r")
    lo, hi = rank * n // world, (rank + 1) * n // world
    real = torch.from_numpy(np.array(mm[lo:hi])).to(dev)
    fake = torch.from_numpy(np.array(mm[n + lo : n + hi])).to(dev)
    del mm
    metric = PrecisionRecallEntropy(k=k, prdc=True, gather_features=(mode == "gathered")).to(dev)
    metric.set_dtype(torch.float32)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    del real, fake
    if world > 1:
        dist.barrier()
    t0 = time.perf_counter()
    res = metric.compute()
    if device == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - t0
    peak_mb = peak.stop() - base
    rec = {
        "rank": rank,
        "wall_s": wall,
        "peak_mb": peak_mb,
        "result": {key: float(v) for key, v in res.items()},
    }
    if device == "cuda":
        rec["peak_cuda_mb"] = (torch.cuda.max_memory_allocated(dev) - base_cuda) / 2**20
    with open(os.path.join(out, f"{mode}-{world}-{rank}.json"), "w") as f:
        json.dump(rec, f)
    if world > 1:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_mode(mode: str, world: int, tmp: str, n: int, k: int, device: str) -> list[dict]:
    import torch.multiprocessing as mp

    mp.start_processes(
        _rank_main,
        args=(world, _free_port(), _data_path(tmp), n, k, mode, device, tmp),
        nprocs=world,
        start_method="spawn",
    )
    recs = []
    for r in range(world):
        with open(os.path.join(tmp, f"{mode}-{world}-{r}.json")) as f:
            recs.append(json.load(f))
    return recs


def _faiss_child(path: str, n: int, k: int, threads: int, out: str) -> None:
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(threads)
    data = np.load(path)
    real, fake = np.ascontiguousarray(data[:n]), np.ascontiguousarray(data[n:])
    del data
    base = _rss_mb()
    peak = _PeakRSS()
    t0 = time.perf_counter()
    idx_r, idx_g = faiss.IndexFlatL2(real.shape[1]), faiss.IndexFlatL2(real.shape[1])
    idx_r.add(real)
    idx_g.add(fake)
    idx_r.search(real, k + 1)
    idx_g.search(fake, k + 1)
    idx_r.search(fake, k)
    idx_g.search(real, k)
    wall = time.perf_counter() - t0
    with open(os.path.join(out, "faiss.json"), "w") as f:
        json.dump({"wall_s": wall, "peak_mb": peak.stop() - base}, f)


def main() -> None:
    global _SHARD_PIECES, _SHARD_PIECE_BYTES
    from rdmetrics.functional.knn import _SHARD_PIECE_BYTES, _SHARD_PIECES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = M = 2k, d = 128")
    parser.add_argument("--n", type=int, default=None, help="samples per set (default 10000; 2000 with --quick)")
    parser.add_argument("--d", type=int, default=None, help="feature width (default 512; 128 with --quick)")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--world-sizes", type=int, nargs="+", default=None, help="default: 1 2 (cuda: 1 .. #GPUs)")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--json", default=None, help="also write the table as JSON here")
    args = parser.parse_args()
    n = args.n or (2000 if args.quick else 10000)
    d = args.d or (128 if args.quick else 512)
    if args.world_sizes is None:
        if args.device == "cuda":
            import torch

            args.world_sizes = list(range(1, max(1, torch.cuda.device_count()) + 1))
        else:
            args.world_sizes = [1, 2]
    print(f"N = M = {n}, d = {d}, k = {args.k}, device {args.device}, 1 thread per rank, float32 features")
    try:
        print("load average:", open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _make_data(_data_path(tmp), n, d, seed=0)
        results = {}
        for world in args.world_sizes:
            for mode in ("gathered", "sharded"):
                if world == 1 and mode == "sharded":
                    continue  # one process: the two modes are the same computation
                recs = _run_mode(mode, world, tmp, n, args.k, args.device)
                wall = max(r["wall_s"] for r in recs)
                peak = max(r["peak_mb"] for r in recs)
                feat_mb = 2 * n * d * 4 / 2**20
                # sharded: own rows + one broadcast piece (see rdmetrics.functional.knn.ShardedPoints.pieces)
                piece = min(1 / (world * _SHARD_PIECES), _SHARD_PIECE_BYTES / 2**20 / feat_mb)
                held = feat_mb if (mode == "gathered" or world == 1) else feat_mb * (1 / world + piece)
                row = {"mode": mode, "world": world, "wall_s": wall, "peak_mb": peak, "feature_mb_held": held}
                if args.device == "cuda":
                    row["peak_cuda_mb"] = max(r["peak_cuda_mb"] for r in recs)
                rows.append(row)
                results[(mode, world)] = recs[0]["result"]
                for r in recs[1:]:  # every rank returns the same value
                    assert all(abs(r["result"][key] - v) <= 1e-9 * (1 + abs(v)) for key, v in recs[0]["result"].items())
        ref = results[("gathered", args.world_sizes[0])]
        for key, res in results.items():
            worst = max(abs(res[name] - v) / (1 + abs(v)) for name, v in ref.items())
            assert worst <= 1e-9, f"{key} differs from one process by {worst:g}"
        if not args.no_faiss and args.device == "cpu":
            import multiprocessing as mpl

            p = mpl.get_context("spawn").Process(target=_faiss_child, args=(_data_path(tmp), n, args.k, 1, tmp))
            p.start()
            p.join()
            with open(os.path.join(tmp, "faiss.json")) as f:
                fr = json.load(f)
            rows.append({"mode": "faiss IndexFlatL2", "world": 1, **fr, "feature_mb_held": 2 * n * d * 4 / 2**20})
    one = next(r for r in rows if r["mode"] == "gathered" and r["world"] == 1)
    gathered = {r["world"]: r for r in rows if r["mode"] == "gathered"}
    print(f"{'method':<20}{'ranks':>6}{'compute s':>11}{'x 1 rank':>10}{'peak MiB/rank':>15}{'features MiB':>14}")
    for r in rows:
        ratio = r["wall_s"] / one["wall_s"]
        print(
            f"{r['mode']:<20}{r['world']:>6}{r['wall_s']:>11.2f}{ratio:>10.2f}{r['peak_mb']:>15.0f}"
            f"{r['feature_mb_held']:>14.0f}"
        )
    for w, g in gathered.items():
        sh = next((r for r in rows if r["mode"] == "sharded" and r["world"] == w), None)
        if w > 1:
            print(f"W={w}: time gathered / 1 rank = {g['wall_s'] / one['wall_s']:.2f} (target <= 0.6)")
        if sh is not None:
            print(
                f"W={w}: sharded / gathered peak memory = {sh['peak_mb'] / g['peak_mb']:.2f}, "
                f"features held {sh['feature_mb_held'] / g['feature_mb_held']:.2f} (target <= 0.6); "
                f"time sharded / 1 rank = {sh['wall_s'] / one['wall_s']:.2f}"
            )
    print("all modes agree with one process (1e-9)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
