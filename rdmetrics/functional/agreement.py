r"""Agreement between two classifiers: top-1 agreement, Cohen's kappa and Geirhos error consistency.

All quantities are functions of integer counts, so they stream exactly (the count states are summed across
processes) and are computed in float64 at the end.

* **Agreement** (Klabunde, Caspari & Lemmerich 2025; ``casparil/rob-univ``): the fraction of inputs on which the two
  models' top-1 predictions coincide, :math:`p_o = \frac1N\sum_i 1[\hat y^a_i = \hat y^b_i]`.
* **Cohen's kappa between the two models**: :math:`\kappa = (p_o - p_e)/(1 - p_e)` with the chance agreement
  :math:`p_e = \frac{1}{N^2}\sum_c n^a_c n^b_c` from the two models' *predicted*-label marginals (the same number as
  ``sklearn.metrics.cohen_kappa_score(pred_a, pred_b)``).
* **Min-max normalised disagreement** (rob-univ ``norm``): with the disagreement :math:`d = 1 - p_o` and the error
  rates :math:`e_a, e_b` against the true labels,
  :math:`\tilde d = (d - |e_a - e_b|) / (\min(e_a + e_b, 1) - |e_a - e_b|)`, i.e. ``d`` rescaled between the smallest
  and the largest disagreement the two error rates allow.
* **Error consistency** (Geirhos, Meding & Wichmann 2020; ``bethgelab/model-vs-human``): binary Cohen's kappa on the
  two *correctness* vectors, :math:`c_{obs} = \frac1N\sum_i 1[\text{correct}^a_i = \text{correct}^b_i]`,
  :math:`c_{exp} = p_a p_b + (1 - p_a)(1 - p_b)` with the accuracies :math:`p_a, p_b`, and
  :math:`\kappa_{err} = (c_{obs} - c_{exp}) / (1 - c_{exp})`, defined as ``1`` when :math:`c_{obs} = 1`.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from rdmetrics.utilities.checks import (
    _check_labels,
    _check_positive_int,
    _check_same_num_samples,
    _check_tensor,
    _format_predictions,
)

# ---------------------------------------------------------------------------------------------------------------------
# input formatting


def _check_abstain(abstain: object, num_classes: int | None) -> bool:
    if not isinstance(abstain, bool):
        raise TypeError(f"`abstain` must be a bool, got {type(abstain).__name__}")
    if abstain and num_classes is None:
        raise ValueError("`abstain=True` needs `num_classes` (the abstain label is `num_classes`)")
    return abstain


def _as_labels(preds: object, num_classes: int | None, name: str, abstain: bool = False) -> Tensor:
    """Labels ``[N]`` from logits / probabilities ``[N, C]`` or integer labels ``[N]``.

    With ``num_classes=None`` the number of classes of floating scores is their column count and integer labels only
    have to be non-negative. With ``abstain`` (needs ``num_classes``) predictions have one more response: label
    ``num_classes`` / a last score column meaning "no answer".
    """
    preds = _check_tensor(preds, name)
    if num_classes is not None:
        return _format_predictions(preds, num_classes + int(abstain), name)
    if preds.is_floating_point():
        if preds.ndim != 2 or preds.shape[1] < 1:
            raise ValueError(
                f"floating `{name}` must be [N, C] logits or probabilities, got shape {tuple(preds.shape)};"
                " pass integer labels for [N] inputs"
            )
        return _format_predictions(preds, preds.shape[1], name)
    if preds.dtype == torch.bool or preds.is_complex():
        raise ValueError(f"`{name}` must hold integer class labels or floating scores, got dtype {preds.dtype}")
    if preds.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D tensor of labels, got shape {tuple(preds.shape)}")
    if preds.numel() and int(preds.min()) < 0:
        raise ValueError(f"`{name}` has negative class labels (min {int(preds.min())})")
    return preds.long()


def _safe_ratio(num: Tensor, den: Tensor, what: str) -> Tensor:
    """``num / den`` in float64, NaN with a warning when the denominator is zero (undefined, never a crash)."""
    if float(den) == 0.0:
        warnings.warn(f"{what} is undefined (zero denominator); returning NaN", RuntimeWarning, stacklevel=3)
        return torch.tensor(float("nan"), dtype=torch.float64, device=num.device)
    return num / den


# ---------------------------------------------------------------------------------------------------------------------
# prediction agreement


def _prediction_agreement_update(
    preds_a: Tensor, preds_b: Tensor, num_classes: int, target: Tensor | None = None, abstain: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Counts of one batch: ``(confmat [K, K], n_target, correct_a, correct_b)`` (all long), ``K = C + abstain``.

    ``confmat[i, j]`` counts inputs that model a labels ``i`` and model b labels ``j``. The three target counts are
    zero when ``target`` is ``None``. An abstention (label ``C``) never equals a target.
    """
    num_classes = _check_positive_int(num_classes, "num_classes")
    abstain = _check_abstain(abstain, num_classes)
    k = num_classes + int(abstain)
    a = _format_predictions(_check_tensor(preds_a, "preds_a"), k, "preds_a")
    b = _format_predictions(_check_tensor(preds_b, "preds_b"), k, "preds_b")
    _check_same_num_samples(a, b, "preds_a", "preds_b")
    b = b.to(a.device)
    confmat = torch.bincount(a * k + b, minlength=k * k).reshape(k, k)
    zero = torch.zeros((), dtype=torch.long, device=a.device)
    if target is None:
        return confmat, zero, zero.clone(), zero.clone()
    t = _check_labels(target, num_classes, "target").to(a.device)
    _check_same_num_samples(a, t, "preds_a", "target")
    n_t = torch.tensor(t.numel(), dtype=torch.long, device=a.device)
    return confmat, n_t, (a == t).sum(), (b == t).sum()


def _prediction_agreement_compute(
    confmat: Tensor, n_target: Tensor, correct_a: Tensor, correct_b: Tensor
) -> dict[str, Tensor]:
    """Agreement, Cohen's kappa and (when targets were seen for every sample) normalised disagreement."""
    confmat = confmat.double()
    n = confmat.sum()
    if float(n) == 0:
        raise ValueError("prediction agreement: no samples seen (empty state); call update() first")
    p_o = confmat.diagonal().sum() / n
    p_e = (confmat.sum(1) * confmat.sum(0)).sum() / (n * n)
    out = {
        "agreement": p_o,
        "cohen_kappa": _safe_ratio(p_o - p_e, 1 - p_e, "Cohen's kappa (both models predict one class)"),
    }
    n_t = int(n_target)
    if n_t:
        if n_t != int(n):
            raise ValueError(
                f"`target` was given for {n_t} of {int(n)} samples: pass it on every update (or never) to get the"
                " normalised disagreement"
            )
        e_a = 1 - correct_a.double() / n
        e_b = 1 - correct_b.double() / n
        lo = (e_a - e_b).abs()
        hi = torch.clamp(e_a + e_b, max=1.0)
        out["normalized_disagreement"] = _safe_ratio(
            (1 - p_o) - lo, hi - lo, "normalised disagreement (min and max disagreement coincide)"
        )
    return out


def prediction_agreement(
    preds_a: Tensor, preds_b: Tensor, num_classes: int, target: Tensor | None = None, abstain: bool = False
) -> dict[str, Tensor]:
    r"""Top-1 agreement and Cohen's kappa between two classifiers (and normalised disagreement given labels).

    .. math::

        \text{agreement} = p_o = \frac1N \sum_i 1[\hat y^a_i = \hat y^b_i], \qquad
        \kappa = \frac{p_o - p_e}{1 - p_e}, \quad p_e = \frac{1}{N^2}\sum_c n^a_c n^b_c,

        \tilde d = \frac{(1 - p_o) - |e_a - e_b|}{\min(e_a + e_b, 1) - |e_a - e_b|}

    where :math:`n^a_c` counts inputs model a labels ``c`` and :math:`e_a` is model a's error rate against
    ``target``. ``agreement`` is the "agreement" of Klabunde et al. (2025): it is not corrected for chance or for
    accuracy. ``cohen_kappa`` corrects for the chance agreement of the two predicted-label marginals (1 = identical
    predictions, 0 = chance level, negative = below chance; NaN with a warning when both models always predict the
    same single class, as in scikit-learn). ``normalized_disagreement`` (rob-univ's ``norm``) places the disagreement
    between the smallest (0) and largest (1) value the two error rates allow; NaN with a warning when these bounds
    coincide (e.g. both models perfect).

    Args:
        preds_a: model a's ``[N, C]`` logits / probabilities (argmax taken) or ``[N]`` integer labels.
        preds_b: model b's predictions, same format rules.
        num_classes: number of classes ``C``.
        target: optional ``[N]`` true labels (needed for ``normalized_disagreement``).
        abstain: predictions may abstain (e.g. a human ``na`` answer): label ``num_classes`` or a last score
            column. An abstention is one more response category (two abstentions agree, and ``cohen_kappa`` runs over
            ``C + 1`` categories, as the rate of :class:`~rdmetrics.RateDistortionSignature` treats it) and is always
            an error against ``target`` (the same convention as the RD metric's ``abstain``).

    Returns:
        dict of float64 scalars ``agreement``, ``cohen_kappa`` and, with ``target``, ``normalized_disagreement``.

    Example:
        >>> import torch
        >>> a = torch.tensor([0, 1, 2, 2, 1, 0])
        >>> b = torch.tensor([0, 1, 1, 2, 1, 2])
        >>> out = prediction_agreement(a, b, num_classes=3, target=torch.tensor([0, 1, 2, 2, 0, 0]))
        >>> {k: round(float(v), 4) for k, v in out.items()}
        {'agreement': 0.6667, 'cohen_kappa': 0.5, 'normalized_disagreement': 0.0}
    """
    return _prediction_agreement_compute(
        *_prediction_agreement_update(preds_a, preds_b, num_classes, target, abstain=abstain)
    )


# ---------------------------------------------------------------------------------------------------------------------
# error consistency


def _error_consistency_update(
    preds_a: Tensor, preds_b: Tensor, target: Tensor, num_classes: int | None = None, abstain: bool = False
) -> Tensor:
    """The 2x2 correctness table of one batch, long ``[[both wrong, only b right], [only a right, both right]]``.

    With ``abstain`` the predictions may hold the label ``num_classes`` (a last score column), which is never correct.
    """
    if num_classes is not None:
        num_classes = _check_positive_int(num_classes, "num_classes")
    abstain = _check_abstain(abstain, num_classes)
    if _check_tensor(target, "target").is_floating_point():
        raise ValueError(f"`target` must hold integer class labels, got dtype {target.dtype}")
    a = _as_labels(preds_a, num_classes, "preds_a", abstain)
    b = _as_labels(preds_b, num_classes, "preds_b", abstain)
    t = _as_labels(target, num_classes, "target")
    _check_same_num_samples(a, b, "preds_a", "preds_b")
    _check_same_num_samples(a, t, "preds_a", "target")
    t = t.to(a.device)
    ca = (a == t).long()
    cb = (b.to(a.device) == t).long()
    return torch.bincount(ca * 2 + cb, minlength=4).reshape(2, 2)


def _error_consistency_compute(table: Tensor) -> dict[str, Tensor]:
    """Observed / expected consistency and kappa from the 2x2 table, in exact integer arithmetic then float64."""
    t = [int(v) for v in table.reshape(-1).tolist()]
    both_wrong, only_b, only_a, both_right = t
    n = sum(t)
    if n == 0:
        raise ValueError("error consistency: no samples seen (empty state); call update() first")
    right_a, right_b = both_right + only_a, both_right + only_b
    same = both_right + both_wrong
    # n^2 * c_exp and n^2 * c_obs as integers: the ratio below is then correctly rounded
    exp2 = right_a * right_b + (n - right_a) * (n - right_b)
    kappa = 1.0 if same == n else (same * n - exp2) / (n * n - exp2)

    def f64(v: float) -> Tensor:
        return torch.tensor(v, dtype=torch.float64, device=table.device)

    return {"observed": f64(same / n), "expected": f64(exp2 / (n * n)), "kappa": f64(kappa)}


def error_consistency(
    preds_a: Tensor, preds_b: Tensor, target: Tensor, num_classes: int | None = None, abstain: bool = False
) -> dict[str, Tensor]:
    r"""Error consistency of two classifiers (Geirhos, Meding & Wichmann, NeurIPS 2020).

    .. math::

        c_{obs} = \frac1N \sum_i 1[\text{correct}^a_i = \text{correct}^b_i], \qquad
        c_{exp} = p_a p_b + (1 - p_a)(1 - p_b), \qquad
        \kappa_{err} = \frac{c_{obs} - c_{exp}}{1 - c_{exp}} \;(\kappa_{err} = 1 \text{ if } c_{obs} = 1)

    with the accuracies :math:`p_a, p_b`. ``observed`` is the fraction of inputs both get right or both get wrong,
    ``expected`` what two independent observers with these accuracies would reach, ``kappa`` how far above chance the
    errors coincide (1: the same inputs are wrong; 0: independent errors; negative: complementary errors). It ignores
    *which* wrong class is chosen. Identical to ``bethgelab/model-vs-human``'s ``ErrorConsistency`` (whose trials
    must first be aligned on the image, as must ``preds_a`` / ``preds_b`` / ``target`` here).

    Args:
        preds_a: model a's ``[N, C]`` scores (argmax taken) or ``[N]`` integer labels.
        preds_b: model b's predictions, same format rules.
        target: ``[N]`` integer true labels.
        num_classes: optional number of classes; when given, labels are range-checked and scores must have ``C``
            columns.
        abstain: predictions may abstain (e.g. a human ``na`` answer in model-vs-human data): label
            ``num_classes`` or a last score column ``C + 1``; an abstention is counted as an error (as the RD
            metric's ``abstain`` does). Needs ``num_classes``.

    Returns:
        dict of float64 scalars ``observed``, ``expected`` and ``kappa``.

    Example:
        >>> import torch
        >>> target = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
        >>> a = torch.tensor([0, 1, 2, 0, 0, 1, 0, 3])  # wrong on items 3 and 6
        >>> b = torch.tensor([0, 1, 2, 1, 0, 0, 2, 3])  # wrong on items 3 and 5
        >>> {k: round(float(v), 4) for k, v in error_consistency(a, b, target).items()}
        {'observed': 0.75, 'expected': 0.625, 'kappa': 0.3333}
    """
    return _error_consistency_compute(_error_consistency_update(preds_a, preds_b, target, num_classes, abstain))


__all__ = ["error_consistency", "prediction_agreement"]
