r"""Human-likeness of a model's RD and asymmetry signatures: standardised distance to the individual human subjects.

For one experiment, every observer gets a vector of *signatures* — the RD frontier's ``beta``, ``kappa`` and ``auc``
and the directional-confusion ``asymmetry`` and ``top1_error_share`` — and a model's human-likeness is how far each
signature lies from the human subjects, in units of the subjects' spread:

.. math::
    z_k(m) = \frac{s_k(m) - \bar s_k}{\mathrm{sd}_k},\qquad
    \bar s_k = \frac{1}{S}\sum_{j} s_k(j),\quad \mathrm{sd}_k = \sqrt{\tfrac{1}{S-1}\sum_j (s_k(j) - \bar s_k)^2},

over the ``S`` individual subjects ``j`` (not the pooled mixture), and the combined distance is the root mean
square ``d(m) = \sqrt{\mathrm{mean}_k z_k(m)^2}`` over the signatures with a finite ``z`` (so ``d`` is in subject SDs
and does not grow with the number of signatures). A signature whose subject SD is 0 or not finite (fewer than 2
subjects with a value) has no ``z`` (NaN) and is left out of ``d``. As a yardstick each subject also gets
leave-one-out scores (its ``z`` against the *other* subjects' mean and SD): a model with ``d`` inside the subjects'
own leave-one-out range is as human-like as a human on these signatures. With 4 subjects the SD is itself noisy
(its relative standard error is ≈ 40 %), so read ``z`` as a scale, not as a test statistic.

rdmetrics' choices (documented, configurable): RD signatures read on the distortion axis at the reading point
``D*`` = midpoint of the common D range of the model and all subjects (each model gets its own ``D*``, so the
subjects are re-read for every model, at matched accuracy with it); asymmetry and top-1 error share are the
error-weighted mean over the levels of the experiment (``Σ_ℓ ε_ℓ s_ℓ / Σ_ℓ ε_ℓ``, ``ε_ℓ`` the level's confusion
rate) — levels with few errors weigh little, and a level without errors does not count.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch

SIGNATURES: tuple[str, ...] = ("beta", "kappa", "auc", "asymmetry", "top1_error_share")


def human_likeness(
    signatures: Mapping[str, Mapping[str, float]],
    subjects: Sequence[str],
    observers: Sequence[str] | None = None,
    keys: Sequence[str] = SIGNATURES,
) -> dict[str, dict[str, Any]]:
    r"""Standardised distance of each observer's signatures to the individual human subjects.

    Args:
        signatures: observer -> {signature name -> value}. Missing or non-finite values count as NaN.
        subjects: the individual human subjects (at least 2), keys of ``signatures``.
        observers: observers to score (default: every key of ``signatures`` that is not a subject).
        keys: signature names to use.

    Returns:
        observer -> ``{"z": {key: z}, "distance": d, "n": number of finite z}`` for each observer, and for each
        subject (leave-one-out: against the other subjects) the same under the subject's name with
        ``"leave_one_out": True``. Also ``"_subjects"``: ``{"mean": {key: mean}, "sd": {key: sd}, "n": {key: count}}``.

    Raises:
        ValueError: fewer than 2 subjects, a subject or observer without signatures, no keys.

    Example:
        >>> sigs = {"s1": {"beta": 1.0}, "s2": {"beta": 2.0}, "s3": {"beta": 3.0}, "model": {"beta": 6.0}}
        >>> out = human_likeness(sigs, ["s1", "s2", "s3"], keys=["beta"])
        >>> out["model"]["z"]["beta"], out["model"]["distance"]  # (6 − 2) / 1
        (4.0, 4.0)
        >>> out["s1"]["z"]["beta"]  # (1 − 2.5) / sd(2, 3)
        -2.1213203435596424
    """
    subjects = list(subjects)
    keys = list(keys)
    if len(subjects) < 2:
        raise ValueError(f"human-likeness needs at least 2 individual subjects, got {len(subjects)}")
    if not keys:
        raise ValueError("`keys` must name at least one signature")
    for name in subjects:
        if name not in signatures:
            raise ValueError(f"subject {name!r} has no signatures; observers with signatures: {sorted(signatures)}")
    if observers is None:
        observers = [o for o in signatures if o not in subjects]
    for name in observers:
        if name not in signatures:
            raise ValueError(f"observer {name!r} has no signatures; observers with signatures: {sorted(signatures)}")

    def value(obs: str, key: str) -> float:
        v = signatures[obs].get(key, math.nan)
        v = float(v) if v is not None else math.nan
        return v if math.isfinite(v) else math.nan

    def stats(pool: list[str], key: str) -> tuple[float, float, int]:
        vals = [value(s, key) for s in pool]
        vals = [v for v in vals if not math.isnan(v)]
        if len(vals) < 2:
            return (vals[0] if vals else math.nan), math.nan, len(vals)
        mean = math.fsum(vals) / len(vals)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        return mean, sd, len(vals)

    def score(obs: str, pool: list[str]) -> dict[str, Any]:
        z = {}
        for key in keys:
            mean, sd, _ = stats(pool, key)
            v = value(obs, key)
            z[key] = (v - mean) / sd if sd > 0 and math.isfinite(sd) and not math.isnan(v) else math.nan
        finite = [v for v in z.values() if math.isfinite(v)]
        dist = math.sqrt(math.fsum(v * v for v in finite) / len(finite)) if finite else math.nan
        return {"z": z, "distance": dist, "n": len(finite)}

    out: dict[str, dict[str, Any]] = {}
    for obs in observers:
        out[obs] = score(obs, subjects)
    if len(subjects) >= 3:  # leave-one-out needs >= 2 remaining subjects for an SD
        for s in subjects:
            out[s] = {**score(s, [t for t in subjects if t != s]), "leave_one_out": True}
    summary = {k: stats(subjects, k) for k in keys}
    out["_subjects"] = {
        "mean": {k: v[0] for k, v in summary.items()},
        "sd": {k: v[1] for k, v in summary.items()},
        "n": {k: v[2] for k, v in summary.items()},
    }
    return out


def error_weighted_asymmetry(confmats: torch.Tensor, **kwargs: Any) -> dict[str, float]:
    """Asymmetry and top-1 error share of ``[L, C, K]`` counts, error-weighted over the levels (see module doc).

    Keyword arguments go to :func:`rdmetrics.functional.confusion_asymmetry` (e.g. ``prior``).

    Example:
        >>> import torch
        >>> a = torch.tensor([[[8, 2, 0], [0, 8, 2], [2, 0, 8]], [[10, 0, 0], [0, 10, 0], [0, 0, 10]]])
        >>> error_weighted_asymmetry(a)["asymmetry"]  # the error-free level does not count
        1.0
    """
    from rdmetrics.functional import confusion_asymmetry

    res = confusion_asymmetry(confmats, null=True, **kwargs)
    eps = res["error_rate"]
    out = {}
    for key in ("asymmetry", "top1_error_share", "effective_wrong_answers", "asymmetry_null", "asymmetry_excess"):
        v = res[key]
        ok = torch.isfinite(v) & (eps > 0)
        out[key] = float((eps[ok] * v[ok]).sum() / eps[ok].sum()) if bool(ok.any()) else math.nan
    return out


def experiment_signatures(
    exp: Any,
    models: Sequence[str] | None = None,
    subjects: Sequence[str] | None = None,
    **rd_kwargs: Any,
) -> dict[str, dict[str, dict[str, float]]]:
    """Signatures of every subject and model of one model-vs-human experiment, per model at its matched D*.

    Args:
        exp: an :class:`~rdmetrics.datasets.ExperimentData`.
        models: models to score (default ``exp.models``).
        subjects: individual subjects (default ``exp.subjects``).
        **rd_kwargs: passed to :func:`rdmetrics.functional.rate_distortion_signature` (e.g. ``method``,
            ``correction``, ``axis``); on the distortion axis ``at`` is set per model (matched D*), on the severity
            axis every observer is read at the midpoint of the common severity range.

    Returns:
        model -> {observer (the model and each subject) -> {signature -> value}}; the RD signatures are NaN when the
        experiment has fewer than 3 levels or the model's and subjects' D ranges do not overlap. Each model's entry
        also records ``"_at"`` (its D*) under the model's own signatures.
    """
    from rdmetrics.functional import rate_distortion_signature

    models = list(exp.models if models is None else models)
    subjects = list(exp.subjects if subjects is None else subjects)
    asym = {o: error_weighted_asymmetry(exp.confmat(o)) for o in (*subjects, *models)}
    dist = {}
    for o in (*subjects, *models):
        cm = exp.confmat(o).double()
        n = cm.sum(-1)
        acc = (cm.diagonal(dim1=-2, dim2=-1) / n.clamp_min(1)).sum(-1) / (n > 0).sum(-1).clamp_min(1)
        dist[o] = (1 - acc).tolist()  # uniform-prior distortion per level
    rd_kwargs.setdefault("n_null", 0)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for m in models:
        group = [*subjects, m]
        lo = max(min(dist[o]) for o in group)
        hi = min(max(dist[o]) for o in group)
        at = (lo + hi) / 2 if hi > lo and len(exp.conditions) >= 3 else None
        if rd_kwargs.get("axis") == "severity" and len(exp.conditions) >= 3:
            at = None  # every observer shares the severity axis: the default midpoint is already common
        sig: dict[str, dict[str, float]] = {}
        for o in group:
            rd = {"beta": math.nan, "kappa": math.nan, "auc": math.nan}
            if at is not None or (rd_kwargs.get("axis") == "severity" and len(exp.conditions) >= 3):
                try:
                    extra = {"conditions": list(exp.conditions)} if rd_kwargs.get("axis") == "severity" else {}
                    res = _rd(rate_distortion_signature, exp.confmat(o), at, rd_kwargs | extra)
                    rd = {k: float(res[k]) for k in rd}
                except ValueError as err:
                    warnings.warn(f"{exp.name}/{o}: no RD signatures ({' '.join(str(err).split())})", stacklevel=2)
            sig[o] = {**rd, "asymmetry": asym[o]["asymmetry"], "top1_error_share": asym[o]["top1_error_share"]}
        sig[m]["_at"] = math.nan if at is None else at
        out[m] = sig
    return out


def _rd(fn: Any, cm: torch.Tensor, at: float | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    kw = dict(kwargs) | ({"at": at} if at is not None else {})
    try:
        return fn(cm, **kw)
    except TypeError:  # an RD functional without the null-floor option
        return fn(cm, **{k: v for k, v in kw.items() if k != "n_null"})


def mvh_human_likeness(
    data: Mapping[str, Any],
    experiments: Sequence[str] | None = None,
    keys: Sequence[str] = SIGNATURES,
    **rd_kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """Human-likeness of every model in every experiment of a loaded model-vs-human data set.

    Args:
        data: the result of :func:`~rdmetrics.datasets.load_model_vs_human` (experiment name -> ExperimentData).
        experiments: experiment names to score (default: all with at least 2 subjects and 1 model).
        keys: signatures to combine (default :data:`SIGNATURES`).
        **rd_kwargs: passed to :func:`~rdmetrics.functional.rate_distortion_signature`.

    Returns:
        experiment -> ``{"models": {model: {"z", "distance", "n", "signatures", "at"}}, "subjects": {subject:
        leave-one-out scores}, "subject_mean": ..., "subject_sd": ...}``.
    """
    names = list(data) if experiments is None else list(experiments)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        exp = data[name]
        if len(exp.subjects) < 2 or not exp.models:
            continue
        per_model = experiment_signatures(exp, **rd_kwargs)
        entry: dict[str, Any] = {"models": {}, "subjects": {}}
        for m, sig in per_model.items():
            res = human_likeness(sig, exp.subjects, [m], keys)
            entry["models"][m] = {**res[m], "signatures": {k: sig[m][k] for k in keys}, "at": sig[m]["_at"]}
            for s in exp.subjects:  # leave-one-out yardstick, averaged over the models' reading points
                if s in res:
                    entry["subjects"].setdefault(s, []).append(res[s]["distance"])
        entry["subjects"] = {
            s: math.fsum(v) / len(v) if all(math.isfinite(x) for x in v) else math.nan
            for s, v in entry["subjects"].items()
        }
        out[name] = entry
    return out


__all__ = ["SIGNATURES", "error_weighted_asymmetry", "experiment_signatures", "human_likeness", "mvh_human_likeness"]
