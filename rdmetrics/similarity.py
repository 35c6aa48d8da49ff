"""Representational similarity of two models as torchmetrics ``Metric``s: streamed linear CKA and kNN-Jaccard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.similarity import (
    _cka_empty_state,
    _cka_ratio,
    _features,
    _knn_jaccard_compute,
    _linear_cka_compute,
    _linear_cka_update,
    _merge_cka_states,
    _minibatch_cka_update,
    _pair,
)
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.data import _cat_rows, _flatten_rows


class LinearCKA(Metric):
    r"""Linear CKA between two models' representations, streamed exactly over the whole dataset.

    .. math::

        \text{CKA}(X, Y) = \frac{\text{HSIC}(XX^\top, YY^\top)}{\sqrt{\text{HSIC}(XX^\top, XX^\top)\,
        \text{HSIC}(YY^\top, YY^\top)}}

    ``mode="full"`` (default) is the *full-data* CKA of all inputs seen, with the biased HSIC (Kornblith et al.
    2019) or, with ``debiased=True``, the unbiased HSIC of Song et al. (2012) that ``casparil/rob-univ`` reports.
    It is computed from feature-space moments (:math:`X^\top Y`, :math:`X^\top X`, :math:`Y^\top Y`, sums and a few
    :math:`O(d)` extras; see :mod:`rdmetrics.functional.similarity`): memory
    :math:`O(d_a^2 + d_b^2 + d_a d_b)` float64, independent of the number of inputs, and the result does not depend
    on how the data are split into batches or processes. Moments are accumulated about a shift (the first batch's
    mean) and merged across processes with exact re-centring identities, so a large feature mean (ReLU features,
    offsets of 1000) does not cancel precision. The three per-batch products run in the input precision (float64
    for float64 inputs, float32 otherwise) and are accumulated in float64.

    ``mode="minibatch"`` is the minibatch CKA of Nguyen, Raghu & Kornblith (2021), a **different estimator**:
    :math:`\sum_b \text{HSIC}(K_b, L_b) / \sqrt{\sum_b \text{HSIC}(K_b, K_b)\sum_b \text{HSIC}(L_b, L_b)}` over the
    ``B x B`` Gram matrices of each ``update`` batch. It depends on the batch size and composition (both models must
    see identical batches), needs no ``d^2`` memory, and per-batch values are never clamped. Batches need at least
    4 samples with ``debiased=True``.

    A non-positive denominator (constant or degenerate features) gives NaN with a ``RuntimeWarning``.

    Args:
        num_features_a: feature dimension of model a (``update`` inputs ``[N, ...]`` are flattened); required for
            ``mode="full"`` so that every process, including one that sees no data, holds the same state.
        num_features_b: feature dimension of model b.
        debiased: use the unbiased HSIC estimator (needs ``n >= 4``).
        mode: ``"full"`` or ``"minibatch"``.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 8, generator=g, dtype=torch.float64)
        >>> y = x @ torch.randn(8, 4, generator=g, dtype=torch.float64) + 0.5 * torch.randn(200, 4, generator=g)
        >>> metric = LinearCKA(num_features_a=8, num_features_b=4)
        >>> for i in range(0, 200, 64):
        ...     metric.update(x[i : i + 64], y[i : i + 64])
        >>> from rdmetrics.functional import linear_cka
        >>> bool(torch.isclose(metric.compute(), linear_cka(x, y), rtol=1e-12, atol=0))
        True
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    def __init__(
        self,
        num_features_a: int | None = None,
        num_features_b: int | None = None,
        debiased: bool = False,
        mode: Literal["full", "minibatch"] = "full",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in ("full", "minibatch"):
            raise ValueError(f"`mode` must be 'full' or 'minibatch', got {mode!r}")
        if not isinstance(debiased, bool):
            raise TypeError(f"`debiased` must be a bool, got {type(debiased).__name__}")
        self.debiased = debiased
        self.mode = mode
        if mode == "full":
            if num_features_a is None or num_features_b is None:
                raise ValueError(
                    "LinearCKA(mode='full') needs `num_features_a` and `num_features_b` (the flattened feature"
                    " dimensions of the two representations)"
                )
            self.num_features_a = _check_positive_int(num_features_a, "num_features_a")
            self.num_features_b = _check_positive_int(num_features_b, "num_features_b")
            self.add_state(
                "moments",
                _cka_empty_state(self.num_features_a, self.num_features_b),
                dist_reduce_fx=_merge_cka_states,
            )
        else:
            self.num_features_a = (
                None if num_features_a is None else _check_positive_int(num_features_a, "num_features_a")
            )
            self.num_features_b = (
                None if num_features_b is None else _check_positive_int(num_features_b, "num_features_b")
            )
            for name in ("hsic_ab", "hsic_aa", "hsic_bb"):
                self.add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("num_batches", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, x: Tensor, y: Tensor) -> None:
        """Add a batch of paired features ``x`` ``[B, d_a]`` (model a) and ``y`` ``[B, d_b]`` (model b)."""
        if self.mode == "full":
            # the state may be a merged tensor (not a view of the registered one): update it in place regardless
            self.moments = _linear_cka_update(self.moments, x, y)
            return
        a, b = _pair(x, y, self.num_features_a, self.num_features_b)
        h_ab, h_aa, h_bb = _minibatch_cka_update(a.to(self.hsic_ab.device), b.to(self.hsic_ab.device), self.debiased)
        self.hsic_ab += h_ab
        self.hsic_aa += h_aa
        self.hsic_bb += h_bb
        self.num_batches += 1

    def compute(self) -> Tensor:
        """CKA of everything seen so far (float64 scalar)."""
        if self.mode == "full":
            return _linear_cka_compute(self.moments, self.debiased)
        if int(self.num_batches) == 0:
            raise ValueError("minibatch CKA: no batches seen (empty state); call update() first")
        return _cka_ratio(self.hsic_ab, self.hsic_aa, self.hsic_bb, "minibatch CKA")

    def plot(self, val: Tensor | Sequence[Tensor] | None = None, ax: Any = None) -> Any:
        """Plot one CKA value or a sequence of them (e.g. over epochs). Needs matplotlib.

        Example:
            >>> import torch
            >>> metric = LinearCKA(num_features_a=3, num_features_b=3)
            >>> x = torch.randn(20, 3)
            >>> metric.update(x, x + 0.1 * torch.randn(20, 3))
            >>> fig, ax = metric.plot()
        """
        return self._plot(val, ax)


class KNNJaccardSimilarity(Metric):
    r"""Mean Jaccard overlap (and mutual-kNN score) of each input's k nearest neighbours in two representations.

    .. math::

        J_k = \frac1N \sum_i \frac{|N^a_k(i)\cap N^b_k(i)|}{|N^a_k(i)\cup N^b_k(i)|}, \qquad
        \text{mutual\_knn} = \frac1N \sum_i \frac{|N^a_k(i)\cap N^b_k(i)|}{k}

    See :func:`rdmetrics.functional.knn_jaccard_similarity` for the definition, the choices (cosine or Euclidean,
    centring, self excluded) and ties. Neighbourhoods are global, so the metric keeps every input's two feature
    vectors (``"cat"`` list states of ``N (d_a + d_b)`` values in the metric dtype, float64 unless changed with
    ``set_dtype(torch.float32)``; rows of ``x`` and ``y`` stay paired across processes
    because both are gathered in the same rank order) and runs the project's blocked kNN engine at ``compute``
    (memory ``O(block_size x N)``, no ``N x N`` matrix). A padding ``DistributedSampler`` duplicates inputs, and a
    duplicate is its copy's nearest neighbour: use unpadded shards.

    Args:
        k: neighbours per input (``k < N`` at compute time).
        metric: ``"cosine"`` (default, as rob-univ and ReSi) or ``"euclidean"``.
        center: subtract each representation's column means before the search (rob-univ: True; ReSi: False).
        block_size: rows per kNN block (memory knob).
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    ``compute()`` returns a dict of float64 scalars ``jaccard`` and ``mutual_knn``.

    Example:
        >>> import torch
        >>> x = torch.randn(50, 8)
        >>> metric = KNNJaccardSimilarity(k=5)
        >>> metric.update(x[:30], 2 * x[:30])
        >>> metric.update(x[30:], 2 * x[30:])
        >>> {k: round(float(v), 4) for k, v in metric.compute().items()}
        {'jaccard': 1.0, 'mutual_knn': 1.0}
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    def __init__(
        self,
        k: int = 10,
        metric: Literal["cosine", "euclidean"] = "cosine",
        center: bool = False,
        block_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.k = _check_positive_int(k, "k")
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"`metric` must be 'cosine' or 'euclidean', got {metric!r}")
        self.metric = metric
        self.center = bool(center)
        self.block_size = None if block_size is None else _check_positive_int(block_size, "block_size")
        # rows are stored flattened (1-D) so that a rank without updates (an empty 1-D tensor) gathers cleanly
        self.add_state("feats_a", [], dist_reduce_fx="cat")
        self.add_state("feats_b", [], dist_reduce_fx="cat")
        self.add_state("dim_a", torch.zeros((), dtype=torch.long), dist_reduce_fx="max")
        self.add_state("dim_b", torch.zeros((), dtype=torch.long), dist_reduce_fx="max")
        # features are stored in the metric dtype, float64 by default (exact neighbours for float64 inputs); it
        # must be the same on every process, as DDP fills the list of a rank without data with an empty tensor of
        # this dtype. ``metric.set_dtype(torch.float32)`` halves the memory.
        self.set_dtype(torch.float64)

    def update(self, x: Tensor, y: Tensor) -> None:
        """Add a batch of paired features ``x`` ``[B, d_a]`` (model a) and ``y`` ``[B, d_b]`` (model b)."""
        a, b = _pair(x, y)
        for name, feats, dim in (("a", a, self.dim_a), ("b", b, self.dim_b)):
            if int(dim) not in (0, feats.shape[1]):
                raise ValueError(f"representation {name} has {feats.shape[1]} features, earlier batches had {int(dim)}")
        # full_like keeps the state's dtype (``set_dtype`` converts every state), so all ranks gather alike
        self.dim_a = torch.full_like(self.dim_a, a.shape[1])
        self.dim_b = torch.full_like(self.dim_b, b.shape[1])
        self.feats_a.append(_flatten_rows(a.detach(), self.dtype))
        self.feats_b.append(_flatten_rows(b.detach(), self.dtype))

    def compute(self) -> dict[str, Tensor]:
        """kNN-Jaccard and mutual-kNN of everything seen so far."""
        a = _cat_rows(self.feats_a, self.dim_a, self.dtype)
        b = _cat_rows(self.feats_b, self.dim_b, self.dtype)
        if a.shape[0] == 0:
            raise ValueError("kNN-Jaccard: no samples seen (empty state); call update() first")
        a, b = _features(a, "x"), _features(b, "y")
        return _knn_jaccard_compute(a, b, self.k, self.metric, self.center, self.block_size)

    def plot(self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: Any = None) -> Any:
        """Plot the outputs (one value, or a sequence of values over time). Needs matplotlib.

        Example:
            >>> import torch
            >>> metric = KNNJaccardSimilarity(k=2)
            >>> x = torch.randn(10, 3)
            >>> metric.update(x, x + 0.1 * torch.randn(10, 3))
            >>> fig, ax = metric.plot()
        """
        return self._plot(val, ax)


__all__ = ["KNNJaccardSimilarity", "LinearCKA"]
