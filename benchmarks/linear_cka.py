"""LinearCKA benchmark: update throughput vs bare GEMMs, memory vs N, side by side with torch-cka (minibatch).

Usage: ``python benchmarks/linear_cka.py [--quick] [--device cpu|cuda] [--dim D] [--batch B]``

Per batch of ``B`` paired float32 features (``d_a = d_b = D``) it times

* ``gemm_xty``: the bare ``X^T Y`` GEMM (the baseline the target is stated against);
* ``gemm_moments``: the three bare GEMMs every exact full-data CKA needs (``X^T Y``, ``X^T X``, ``Y^T Y``);
* ``rdmetrics full``: ``LinearCKA.update`` (shift in float64, three GEMMs, float64 accumulation, unbiased extras);
* ``rdmetrics minibatch``: ``LinearCKA(mode="minibatch").update`` (B x B Gram matrices in float64);
* ``torch-cka``: ``torch_cka.CKA.compare`` per batch (minibatch unbiased HSIC, float32), when installed;

and prints time per batch and the ratio to each GEMM baseline. Then, for N = 10k and 100k, the metric state size
(flat in N for the full mode) and the N x N Gram memory the classic formula would need, plus the full-data CKA value
of rdmetrics next to the minibatch values of rdmetrics and torch-cka (different estimators: they differ by design).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # torch-cka prints a progress bar per comparison

import torch
from torch import nn

from rdmetrics import LinearCKA

# CPU: process CPU time (all threads), far less sensitive than wall time to other jobs on a shared machine;
# CUDA: wall time after synchronisation.
CLOCK = time.process_time


def _time(fn, repeats: int, sync) -> float:
    fn()  # warm-up
    sync()
    best = float("inf")
    for _ in range(5):
        t0 = CLOCK()
        for _ in range(repeats):
            fn()
        sync()
        best = min(best, (CLOCK() - t0) / repeats)
    return best


class _Columns(nn.Module):
    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.start : self.stop]


def _torch_cka(xy: torch.Tensor, d: int, batch: int, device: str) -> tuple[float, float] | None:
    """(seconds per batch, CKA) of torch-cka's minibatch CKA over the rows of ``xy = [x | y]``."""
    try:
        import torch_cka
    except ImportError:
        return None
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xy), batch_size=batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cka = torch_cka.CKA(
            nn.Sequential(_Columns(0, d)), nn.Sequential(_Columns(d, 2 * d)), "a", "b", ["0"], ["0"], device=device
        )
        t0 = CLOCK()
        cka.compare(loader)
        elapsed = CLOCK() - t0
    return elapsed / len(loader), float(cka.export()["CKA"][0, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 1 minute")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dim", type=int, default=None)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: stable CPU-time figures)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = args.device
    global CLOCK
    CLOCK = time.perf_counter if device.startswith("cuda") else time.process_time
    d = args.dim or (128 if args.quick else 512)
    b = args.batch
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    repeats = 5 if args.quick else 30
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, d, generator=g).to(device) + 3.0
    y = (torch.relu(x @ torch.randn(d, d, generator=g).to(device) / d**0.5) + 0.1 * x).contiguous()

    clock = "wall" if device.startswith("cuda") else "process CPU"
    print(
        f"# LinearCKA update, device={device}, d_a=d_b={d}, batch={b}, float32, {clock} time,"
        f" threads={torch.get_num_threads()}"
    )
    t_xty = _time(lambda: x.T @ y, repeats, sync)
    t_mom = _time(lambda: (x.T @ y, x.T @ x, y.T @ y), repeats, sync)
    full = LinearCKA(d, d).to(device)
    t_full = _time(lambda: full.update(x, y), repeats, sync)
    mini = LinearCKA(mode="minibatch", debiased=True).to(device)
    t_mini = _time(lambda: mini.update(x, y), repeats, sync)
    rows = [
        ("gemm_xty (X^T Y only)", t_xty),
        ("gemm_moments (X^T Y, X^T X, Y^T Y)", t_mom),
        ("rdmetrics LinearCKA full", t_full),
        ("rdmetrics LinearCKA minibatch", t_mini),
    ]
    n_tc = b * 16
    tc = _torch_cka(torch.cat([x, y], 1).repeat(n_tc // b, 1).cpu(), d, b, device)
    if tc is not None:
        rows.append(("torch-cka (minibatch, per batch)", tc[0]))
    print(f"{'method':40s} {'ms/batch':>10s} {'vs X^T Y':>9s} {'vs 3 GEMMs':>11s}")
    for name, t in rows:
        print(f"{name:40s} {1e3 * t:10.3f} {t / t_xty:9.2f} {t / t_mom:11.2f}")

    print("\n# memory and values vs N (same data for every method)")
    print(
        f"{'N':>8s} {'full state MiB':>15s} {'N x N Gram MiB':>15s} {'full CKA':>10s} {'minibatch':>10s} "
        f"{'torch-cka':>10s} {'s full':>8s} {'s minibatch':>12s} {'s torch-cka':>12s}"
    )
    dim_n = 32 if args.quick else 256
    for n in (10_000, 100_000):
        gen = torch.Generator().manual_seed(1)
        w = torch.randn(dim_n, dim_n, generator=gen)
        xs = torch.randn(n, dim_n, generator=gen)
        ys = torch.relu(xs @ w / dim_n**0.5) + 0.5 * torch.randn(n, dim_n, generator=gen)
        full = LinearCKA(dim_n, dim_n, debiased=True).to(device)
        mini = LinearCKA(mode="minibatch", debiased=True).to(device)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t0 = CLOCK()
        for i in range(0, n, b):
            full.update(xs[i : i + b].to(device), ys[i : i + b].to(device))
        value_full = float(full.compute())
        sync()
        t_full_n = CLOCK() - t0
        t0 = CLOCK()
        for i in range(0, n - n % b, b):  # equal batches only, as fed to torch-cka below
            mini.update(xs[i : i + b].to(device), ys[i : i + b].to(device))
        value_mini = float(mini.compute())
        sync()
        t_mini_n = CLOCK() - t0
        state_mib = full.moments.numel() * full.moments.element_size() / 2**20
        gram_mib = n * n * 4 / 2**20
        n_even = n - n % b
        tc = (
            _torch_cka(torch.cat([xs[:n_even], ys[:n_even]], 1), dim_n, b, device)
            if n <= 10_000 or not args.quick
            else None
        )
        tc_val = f"{tc[1]:10.5f}" if tc else f"{'-':>10s}"
        tc_t = f"{tc[0] * (n_even // b):12.2f}" if tc else f"{'-':>12s}"
        print(
            f"{n:8d} {state_mib:15.3f} {gram_mib:15.1f} {value_full:10.5f} {value_mini:10.5f} {tc_val} "
            f"{t_full_n:8.2f} {t_mini_n:12.2f} {tc_t}"
        )
        if device.startswith("cuda"):
            print(f"{'':8s} peak CUDA memory {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
    print(
        "\nfull = exact full-data unbiased CKA (memory independent of N); minibatch / torch-cka = Nguyen et al. "
        "minibatch estimator (a different number by design)."
    )


if __name__ == "__main__":
    main()
