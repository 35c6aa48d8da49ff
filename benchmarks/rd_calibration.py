"""Calibration study of the rate estimators and bootstrap intervals of the RD signature.

Confusion matrices are simulated from known channels (16 classes × 8 severity levels, ``n`` trials per class and
level, uniform prior) of three kinds:

* ``symmetric``: errors spread evenly over the 15 wrong classes;
* ``human``: broad but uneven errors (each true class has its own fixed Dirichlet(2) profile over the wrong classes);
* ``model``: errors collapsing into two "sink" classes, more so at severe levels.

The true rate of a level is the exact mutual information of its generating channel with the uniform prior (bits);
the true ``β``, ``κ``, ``AUC`` are the same frontier fit (the RD functional's default ``method``) applied to the true
``(D, R)`` points, read at a fixed reference ``at`` (the midpoint of the true distortion range) that every estimate
and replicate uses too. Each simulated data set is bootstrapped (:func:`rdmetrics.functional.bootstrap_confmat`,
rows resampled with their trial counts fixed) and every replicate goes through the same pipeline; the intervals of
:func:`rdmetrics.functional.bootstrap.bootstrap_summary` are scored for coverage of the truth. The rate estimators
are discovered from the ``correction`` options the RD functional accepts at run time.

Interval methods scored (``B`` replicates ``θ*``, estimate ``θ̂``):

* ``percentile``, ``basic``, ``bc``: as in :func:`bootstrap_summary` (``bc`` reports ``2θ̂ − mean θ*``);
* ``smoothed``: the smoothed bootstrap (rows resampled from ``(N + a) / (n + aK)``, ``a`` =
  :data:`~rdmetrics.functional.bootstrap.SMOOTHED_PSEUDOCOUNT`) with the pivot ``θ* − t``, ``t`` = the quantity
  computed exactly on the smoothed table: value ``θ̂ − (mean θ* − t)``, interval ``θ̂ − (q_{hi,lo} − t)``.

Usage: ``python benchmarks/rd_calibration.py [--quick] [--sims S] [--boot B] [--mvh ROOT]``. ``--mvh`` also
measures, on the model-vs-human data, how often β / AUC fits lie outside their own interval (before: ``basic``
interval around the raw estimate without the extension rule; after: the chosen default).
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import time
import typing
from collections import defaultdict

import numpy as np
import torch
from torch import Tensor

from rdmetrics.functional import bootstrap_confmat, rate_distortion_points, rate_distortion_signature, rd_signatures
from rdmetrics.functional.bootstrap import SMOOTHED_PSEUDOCOUNT, bootstrap_chunks, bootstrap_summary, smoothed_confmat

NUM_CLASSES = 16
#: accuracy of the 8 levels, least to most severe (chance = 1/16 = 0.0625)
ACCURACY = (0.92, 0.85, 0.75, 0.60, 0.45, 0.30, 0.17, 0.08)
FAMILIES = ("symmetric", "human", "model")
TRIALS = (10, 40, 160)
QUANTITIES = ("rate", "beta", "kappa", "auc")
METHODS = ("percentile", "basic", "bc", "smoothed")
#: the defaults this study chose (β and AUC coverage within [0.90, 0.98] at 40 trials per class on every family)
CHOSEN_CORRECTION = "panzeri_treves"
CHOSEN_CI_METHOD = "smoothed"


# ---------------------------------------------------------------------------------------------------------------------
# generating channels and their exact rates


def make_channels(family: str, num_classes: int = NUM_CLASSES, accuracy: tuple[float, ...] = ACCURACY) -> Tensor:
    """``[L, C, C]`` row-stochastic channels ``p(y|x)`` with diagonal = ``accuracy[l]`` (float64)."""
    c = num_classes
    off = 1.0 - torch.eye(c, dtype=torch.float64)
    # human: one fixed Dirichlet(2) error profile per true class (numpy's seeded gamma draws, normalised)
    profile = torch.from_numpy(np.random.default_rng(1234).gamma(2.0, size=(c, c))) * off
    profile = profile / profile.sum(-1, keepdim=True)
    mats = []
    for level, acc in enumerate(accuracy):
        if family == "symmetric":
            wrong = off / (c - 1)
        elif family == "human":
            wrong = profile
        elif family == "model":
            sink = torch.zeros(c, c, dtype=torch.float64)
            sink[:, [3, 11]] = 0.5
            sink = sink * off
            sink = sink / sink.sum(-1, keepdim=True)  # rows 3 and 11 send all their sink mass to the other sink
            collapse = 0.4 + 0.55 * level / max(len(accuracy) - 1, 1)
            wrong = collapse * sink + (1 - collapse) * off / (c - 1)
        else:
            raise ValueError(f"unknown family {family!r}")
        mats.append(acc * torch.eye(c, dtype=torch.float64) + (1 - acc) * wrong)
    return torch.stack(mats)


def channel_rate(channel: Tensor) -> Tensor:
    """Exact ``I(X;Y)`` in bits of ``channel [..., C, K]`` with the uniform prior."""
    p_x = 1.0 / channel.shape[-2]
    p_y = channel.mean(-2, keepdim=True)
    terms = torch.where(channel > 0, channel * torch.log2(channel / p_y.clamp_min(1e-300)), torch.zeros_like(channel))
    return p_x * terms.sum((-2, -1))


def simulate(channels: Tensor, trials: int, sims: int, seed: int) -> Tensor:
    """``[S, L, C, C]`` int64 counts: ``trials`` draws from every row of every channel, ``sims`` independent sets."""
    g = torch.Generator().manual_seed(seed)
    num_levels, c, k = channels.shape
    probs = channels.reshape(1, num_levels * c, k).expand(sims, -1, -1).reshape(-1, k)
    idx = torch.multinomial(probs, trials, replacement=True, generator=g)
    counts = torch.zeros(probs.shape[0], k, dtype=torch.int64).scatter_add_(1, idx, torch.ones_like(idx))
    return counts.reshape(sims, num_levels, c, k)


# ---------------------------------------------------------------------------------------------------------------------
# estimators and pipeline


def rd_defaults() -> dict[str, typing.Any]:
    params = inspect.signature(rate_distortion_signature).parameters
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def available_corrections() -> list[str]:
    """The ``correction=`` values the RD functional accepts, read from its type hints (fallback: probe them)."""
    names: list[str] = []
    try:
        hint = typing.get_type_hints(rate_distortion_signature)["correction"]
        names = [a for a in typing.get_args(hint) if isinstance(a, str)]
    except Exception:
        names = []
    if not names:
        names = ["none", "miller_madow"]
    cm = torch.tensor([[[5, 1, 0], [2, 4, 1], [0, 3, 3]]]).expand(2, 3, 3, 3)  # two batch dims, as the study uses
    ok = []
    for name in names:
        try:
            rate_distortion_points(cm, correction=name)
            ok.append(name)
        except Exception as err:
            print(f"WARNING: correction {name!r} fails on batched input, skipped: {err}", file=sys.stderr)
    return ok


def signatures(cms: Tensor, correction: str, at: float, method: str) -> dict[str, Tensor]:
    """Rates ``[..., L]`` and β, κ, AUC ``[...]`` of count tensors ``[..., L, C, K]`` (NaN where a fit is undefined)."""
    dist, rate = rate_distortion_points(cms, prior="uniform", correction=correction)
    sig = rd_signatures(dist, rate, method=method, at=at, num_classes=cms.shape[-2], strict=False)
    return {"rate": rate, "beta": sig["beta"], "kappa": sig["kappa"], "auc": sig["auc"]}


def intervals(
    point: Tensor, reps: Tensor, ref: Tensor | None, method: str, bounds: tuple[float, float] | None
) -> tuple[Tensor, Tensor, Tensor]:
    """(value, ci [..., 2], extended) of one interval method (``ref``: the smoothed-world truth for "smoothed")."""
    s = bootstrap_summary(point, reps, 0.95, method, bounds=bounds, reference=ref if method == "smoothed" else None)
    return s["value"], s["ci"], s["extended"]


def run_config(
    family: str, trials: int, sims: int, n_boot: int, corrections: list[str], fit: str, seed: int
) -> dict[str, typing.Any]:
    channels = make_channels(family)
    true_rate = channel_rate(channels)
    true_dist = 1.0 - channels.diagonal(dim1=-2, dim2=-1).mean(-1)
    at = float((true_dist.min() + true_dist.max()) / 2)
    true_sig = rd_signatures(true_dist, true_rate, method=fit, at=at, num_classes=NUM_CLASSES)
    truth = {"rate": true_rate, "beta": true_sig["beta"], "kappa": true_sig["kappa"], "auc": true_sig["auc"]}
    cms = simulate(channels, trials, sims, seed)
    points = {c: signatures(cms, c, at, fit) for c in corrections}
    smooth_ref = signatures(smoothed_confmat(cms, SMOOTHED_PSEUDOCOUNT), "none", at, fit)
    reps: dict[tuple[str, bool], dict[str, list[Tensor]]] = defaultdict(lambda: defaultdict(list))
    for smooth in (False, True):
        pseudocount = SMOOTHED_PSEUDOCOUNT if smooth else 0.0
        chunks = bootstrap_chunks(cms, n_boot, seed=seed + 1, chunk_size=max(1, 4096 // sims), pseudocount=pseudocount)
        for chunk in chunks:
            for c in corrections:
                for q, v in signatures(chunk, c, at, fit).items():
                    reps[(c, smooth)][q].append(v)
    result: dict[str, typing.Any] = {
        "truth": truth,
        "at": at,
        "est": {},
        "cov": {},
        "width": {},
        "inside": {},
        "extended": {},
    }
    log2c = math.log2(NUM_CLASSES)
    for c in corrections:
        rate = points[c]["rate"]
        result["est"][c] = {
            "bias": float((rate - true_rate).mean()),
            "rmse": float((rate - true_rate).pow(2).mean().sqrt()),
        }
        for m in METHODS:
            for q in QUANTITIES:
                r = torch.cat(reps[(c, m == "smoothed")][q])
                value, ci, ext = intervals(points[c][q], r, smooth_ref[q], m, (0.0, log2c) if q == "rate" else None)
                t = truth[q]
                finite = torch.isfinite(ci).all(-1)
                hit = (ci[..., 0] <= t) & (t <= ci[..., 1]) & finite
                inside = (ci[..., 0] <= value) & (value <= ci[..., 1])
                result["cov"][(c, m, q)] = float(hit.double().mean())
                result["width"][(c, m, q)] = float((ci[..., 1] - ci[..., 0])[finite].mean())
                result["inside"][(c, m, q)] = float(inside[finite].double().mean()) if bool(finite.any()) else 1.0
                result["extended"][(c, m, q)] = float(ext.double().mean())
                if m == "smoothed" and q == "rate":
                    err = value - true_rate
                    result["est"][c]["bc_bias"] = float(err.mean())
                    result["est"][c]["bc_rmse"] = float(err.pow(2).mean().sqrt())
    return result


def check_pipeline(corrections: list[str], fit: str) -> None:
    """The benchmark's own pipeline must give the RD functional's point estimates (else its numbers would not
    describe the library)."""
    cms = simulate(make_channels("human"), 10, 1, 5)[0]
    for c in corrections:
        mine = signatures(cms, c, 0.5, fit)
        lib = rate_distortion_signature(cms, correction=c, method=fit, at=0.5)
        for q in QUANTITIES:
            if not torch.allclose(mine[q].double(), lib[q].double(), rtol=1e-9, atol=1e-9, equal_nan=True):
                print(f"WARNING: pipeline differs from rate_distortion_signature for {c}/{q}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------------
# model-vs-human: point outside its own interval, before / after


def mvh_outside(root: str, n_boot: int, correction: str, ci_method: str, fit: str) -> None:
    """How often β / AUC lie outside their own interval on model-vs-human (every experiment with >= 3 levels ×
    every observer). Before: Miller–Madow rates, replicates read at their own midpoint, basic interval around the raw
    estimate (the pre-issue-10 default). After: :func:`rate_distortion_signature` with the given defaults."""
    import warnings

    from rdmetrics.datasets import load_model_vs_human

    data = load_model_vs_human(root)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    qs = torch.tensor([0.025, 0.975], dtype=torch.float64)
    for name in data:
        exp = data[name]
        if len(exp.conditions) < 3:
            continue
        for obs in exp.observers:
            cm = exp.confmat(obs)
            if bool((cm.sum((-2, -1)) == 0).any()):
                continue
            kw = {"method": fit, "num_classes": NUM_CLASSES, "strict": False}
            empty = "drop" if bool((cm.sum(-1) == 0).any()) else "raise"
            dist, rate = rate_distortion_points(cm, correction="miller_madow", empty_rows=empty)
            point = rd_signatures(dist, rate, **kw)
            boot = bootstrap_confmat(cm, n_boot, seed=0)
            bd, br = rate_distortion_points(boot, correction="miller_madow", empty_rows=empty)
            reps = rd_signatures(bd, br, **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                new = rate_distortion_signature(
                    cm,
                    correction=correction,
                    ci_method=ci_method,
                    method=fit,
                    n_bootstrap=n_boot,
                    strict=False,
                    n_null=0,
                )
            for q in ("beta", "auc"):
                lo, hi = 2 * point[q] - torch.nanquantile(reps[q], qs).flip(0)
                if bool(torch.isfinite(point[q])) and bool(torch.isfinite(lo) & torch.isfinite(hi)):
                    counts[f"before {q}"][0] += int(not (lo <= point[q] <= hi))
                    counts[f"before {q}"][1] += 1
                lo, hi = new[f"{q}_ci"]
                if bool(torch.isfinite(new[q])) and bool(torch.isfinite(lo) & torch.isfinite(hi)):
                    counts[f"after {q}"][0] += int(not (lo <= new[q] <= hi))
                    counts[f"after {q}"][1] += 1
    for key, (bad, total) in sorted(counts.items()):
        print(f"mvh {key}: {bad}/{total} = {bad / max(total, 1):.1%} of fits have the point outside its interval")


# ---------------------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="human-like channels, 40 trials/class, 2 estimators (about a minute)"
    )
    parser.add_argument("--sims", type=int, default=None, help="simulated data sets per configuration")
    parser.add_argument("--boot", type=int, default=None, help="bootstrap replicates per data set")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--trials", default=",".join(map(str, TRIALS)))
    parser.add_argument("--corrections", default=None, help="comma list (default: every accepted correction)")
    parser.add_argument("--mvh", default=None, help="model-vs-human root: also measure points outside intervals")
    parser.add_argument("--mvh-only", action="store_true", help="skip the simulations (with --mvh)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sims = args.sims or (40 if args.quick else 300)
    n_boot = args.boot or (60 if args.quick else 300)
    families = args.families.split(",") if not args.quick else ["human"]
    trials = [int(t) for t in args.trials.split(",")] if not args.quick else [40]
    defaults = rd_defaults()
    fit = defaults.get("method", "quadratic")
    corrections = args.corrections.split(",") if args.corrections else available_corrections()
    if args.quick and not args.corrections:
        corrections = [c for c in ("miller_madow", CHOSEN_CORRECTION) if c in corrections]
    print(f"RD calibration: {len(families)} families x trials {trials}, {sims} simulations x {n_boot} bootstrap")
    print(
        f"frontier fit {fit!r}; estimators {corrections}; RD functional defaults: correction="
        f"{defaults.get('correction')!r}, ci_method={defaults.get('ci_method')!r}"
    )
    print(f"chosen by this study: correction={CHOSEN_CORRECTION!r}, ci_method={CHOSEN_CI_METHOD!r}")
    check_pipeline(corrections, fit)
    rows = []
    for n in trials if not args.mvh_only else []:
        for fam in families:
            start = time.perf_counter()
            res = run_config(fam, n, sims, n_boot, corrections, fit, seed=1000 * n + FAMILIES.index(fam))
            t = res["truth"]
            print(
                f"\n[{fam}, {n} trials/class] true beta {float(t['beta']):.3f} kappa {float(t['kappa']):.3f} "
                f"auc {float(t['auc']):.3f} at D={res['at']:.3f}  ({time.perf_counter() - start:.1f} s)"
            )
            for c in corrections:
                e = res["est"][c]
                print(
                    f"  rate {c:<14} bias {e['bias']:+.4f} rmse {e['rmse']:.4f} | smoothed-bc value bias "
                    f"{e['bc_bias']:+.4f} rmse {e['bc_rmse']:.4f}"
                )
            for c in corrections:
                for m in METHODS:
                    cov = " ".join(f"{q} {res['cov'][(c, m, q)]:.2f}" for q in QUANTITIES)
                    inside = min(res["inside"][(c, m, q)] for q in QUANTITIES)
                    ext = " ".join(f"{res['extended'][(c, m, q)]:.2f}" for q in QUANTITIES)
                    width = " ".join(f"{res['width'][(c, m, q)]:.3f}" for q in QUANTITIES)
                    print(f"  coverage {c:<14} {m:<10} {cov}  | width {width} | extended {ext} | inside {inside:.2f}")
                    rows.append((fam, n, c, m, *(res["cov"][(c, m, q)] for q in QUANTITIES)))
    print("\n| family | trials/class | estimator | interval | rate | β | κ | AUC |")
    print("|---|---|---|---|---|---|---|---|")
    for fam, n, c, m, *cov in rows:
        print(f"| {fam} | {n} | {c} | {m} | " + " | ".join(f"{v:.2f}" for v in cov) + " |")
    if args.mvh:
        mvh_outside(args.mvh, 200, CHOSEN_CORRECTION, CHOSEN_CI_METHOD, fit)


if __name__ == "__main__":
    main()
