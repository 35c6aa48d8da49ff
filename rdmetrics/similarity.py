"""Representational similarity of two models as torchmetrics ``Metric``s: streamed linear CKA and kNN-Jaccard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.similarity import (
    _cka_dims,
    _cka_empty_state,
    _cka_expand,
    _cka_ratio,
    _features,
    _knn_jaccard_compute,
    _knn_jaccard_distributed,
    _linear_cka_compute,
    _linear_cka_update,
    _merge_cka_states,
    _minibatch_cka_update,
    _pair,
)
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.data import _cat_rows, _flatten_rows
from rdmetrics.utilities.forward import BatchValueForwardMixin


class LinearCKA(BatchValueForwardMixin, Metric):
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

    ``metric(x, y)`` (``forward``) adds the batch and returns the CKA of that batch alone (the same estimator), or
    ``None`` where the batch has none: an empty batch, or fewer than 4 samples with ``debiased=True`` in full mode.
    An empty batch is a no-op everywhere.

    Args:
        num_features_a: feature dimension of model a (``update`` inputs ``[N, ...]`` are flattened). Optional: by
            default both sizes are learnt from the first non-empty batch; under DDP a process that saw no data
            learns them from the others when the metric syncs. Give them to fix the sizes up front (each batch is
            then checked against them).
        num_features_b: feature dimension of model b (give both sizes or neither).
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
            if (num_features_a is None) != (num_features_b is None):
                raise ValueError(
                    "give both `num_features_a` and `num_features_b` or neither (then both are learnt from the first"
                    " batch)"
                )
            if self.dist_sync_on_step:
                raise ValueError("LinearCKA(mode='full') does not support `dist_sync_on_step`; call compute() instead")
            self.num_features_a = (
                None if num_features_a is None else _check_positive_int(num_features_a, "num_features_a")
            )
            self.num_features_b = (
                None if num_features_b is None else _check_positive_int(num_features_b, "num_features_b")
            )
            self.add_state(
                "moments",
                _cka_empty_state(self.num_features_a or 0, self.num_features_b or 0),
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
            # the state may be a merged tensor (not a view of the registered one), or replaced when the first batch
            # sets the feature sizes: assign the result
            self.moments = _linear_cka_update(self.moments, x, y)
            return
        a, b = _pair(x, y, self.num_features_a, self.num_features_b)
        if a.shape[0] == 0:
            return
        h_ab, h_aa, h_bb = _minibatch_cka_update(a.to(self.hsic_ab.device), b.to(self.hsic_ab.device), self.debiased)
        self.hsic_ab += h_ab
        self.hsic_aa += h_aa
        self.hsic_bb += h_bb
        self.num_batches += 1

    def forward(self, *args: Any, **kwargs: Any) -> Tensor | None:
        """Add the batch ``(x, y)`` and return the CKA of that batch alone (``None`` where undefined).

        In full mode the batch's moments are computed once and merged into the global state (no second pass).
        """
        if self.mode != "full" or self._is_synced:
            return super().forward(*args, **kwargs)
        return self._full_forward(*args, **kwargs)

    def _full_forward(self, x: Tensor, y: Tensor) -> Tensor | None:
        batch = _linear_cka_update(_cka_empty_state(*_cka_dims(self.moments), self.moments.device), x, y)
        self._update_count += 1
        self._computed = None
        n = int(batch[2]) if _cka_dims(batch) != (0, 0) else 0
        if n > 0:
            dims = _cka_dims(batch)
            self.moments = _merge_cka_states(torch.stack([_cka_expand(self.moments, *dims), batch]))
        value = None if n == 0 or (self.debiased and n < 4) else _linear_cka_compute(batch, self.debiased)
        self._forward_cache = value
        return value

    def merge_state(self, incoming_state: dict[str, Any] | Metric) -> None:
        """Merge another ``LinearCKA`` (or its ``metric_state``); a state of unknown sizes adopts the other's."""
        same_class = not isinstance(incoming_state, Metric) or isinstance(incoming_state, type(self))
        if self.mode == "full" and same_class:  # (otherwise torchmetrics raises its own error)
            incoming = incoming_state.metric_state if isinstance(incoming_state, Metric) else incoming_state
            other = incoming.get("moments") if isinstance(incoming, dict) else None
            if isinstance(other, Tensor):
                mine, theirs = _cka_dims(self.moments), _cka_dims(other)
                dims = theirs if mine == (0, 0) else mine
                self.moments = _cka_expand(self.moments, *dims)
                incoming_state = {**incoming, "moments": _cka_expand(other, *dims)}
        super().merge_state(incoming_state)

    def sync(
        self,
        dist_sync_fn: Any = None,
        process_group: Any = None,
        should_sync: bool = True,
        distributed_available: Any = None,
    ) -> None:
        """torchmetrics' ``sync``; first, in full mode, every process agrees on the feature sizes.

        A process that saw no data does not know them: the sizes are gathered from all processes (one small
        collective, run by every process as ``compute`` is) and an unknown-size state becomes an empty state of the
        common sizes. Processes that saw different sizes all raise the same ``ValueError`` (no hang).
        """
        if self.mode == "full" and should_sync and not self._is_synced:
            available = distributed_available if distributed_available is not None else self.distributed_available_fn
            if callable(available) and available():
                self._agree_on_feature_sizes(process_group or self.process_group)
        super().sync(dist_sync_fn, process_group, should_sync, distributed_available)

    def _agree_on_feature_sizes(self, group: Any) -> None:
        from torchmetrics.utilities.distributed import gather_all_tensors

        dims = self.moments[:2].detach().round().long()
        seen = {tuple(int(v) for v in d.tolist()) for d in gather_all_tensors(dims, group=group)}
        seen.discard((0, 0))
        if len(seen) > 1:
            raise ValueError(f"LinearCKA: processes saw features of different sizes (d_a, d_b) {sorted(seen)}")
        if seen:
            self.moments = _cka_expand(self.moments, *seen.pop())

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


class KNNJaccardSimilarity(BatchValueForwardMixin, Metric):
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

    **DDP.** ``compute()`` splits the kNN work across the ranks and merges the neighbour lists exactly (same
    result as one process on the rank-ordered data); it is collective, every rank returns the value. With
    ``gather_features=False`` the features stay on their rank and blocks are broadcast in turn during ``compute``
    (a rank holds its own rows plus one other rank's block instead of all ``N (d_a + d_b)`` values).
    Features are rescaled by a power of two before the search (exact), so scales like ``1e200`` or ``1e-200`` are
    safe. ``forward`` (``metric(x, y)``) adds the batch and returns the value of the batch alone when it has more
    than ``k`` inputs, otherwise ``None``; an empty batch is a no-op.

    Args:
        k: neighbours per input (``k < N`` at compute time).
        metric: ``"cosine"`` (default, as rob-univ and ReSi) or ``"euclidean"``.
        center: subtract each representation's column means before the search (rob-univ: True; ReSi: False).
        block_size: rows per kNN block (memory knob).
        gather_features: under DDP, gather all features to every rank before ``compute`` (``True``) or keep them
            on their rank and stream blocks (``False``); same result.
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
        gather_features: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.k = _check_positive_int(k, "k")
        if not isinstance(gather_features, bool):
            raise ValueError(f"`gather_features` must be a bool, got {gather_features!r}")
        self.gather_features = gather_features
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
        if _empty_pair(x, y):
            return  # an empty batch is a no-op
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
        if self._is_synced and _knn_world_size(self.process_group) > 1:
            # collective: every rank takes its share of the kNN work (see the class docstring)
            if int(self.dim_a) == 0:
                raise ValueError("kNN-Jaccard: no samples seen (empty state); call update() first")
            a = a if a.numel() else a.to(self.device)  # an empty rank's placeholder lives on the CPU
            b = b if b.numel() else b.to(self.device)
            return _knn_jaccard_distributed(
                a,
                b,
                self.k,
                self.metric,
                self.center,
                self.block_size,
                self.gather_features,
                self.process_group,
            )
        if a.shape[0] == 0:
            raise ValueError("kNN-Jaccard: no samples seen (empty state); call update() first")
        a, b = _features(a, "x"), _features(b, "y")
        return _knn_jaccard_compute(a, b, self.k, self.metric, self.center, self.block_size)

    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        """Sync the states; with ``gather_features=False`` the feature lists stay local (compute streams them)."""
        if self.gather_features:
            super()._sync_dist(dist_sync_fn, process_group)
            return
        reductions = self._reductions
        self._reductions = {key: fn for key, fn in reductions.items() if key not in ("feats_a", "feats_b")}
        try:
            super()._sync_dist(dist_sync_fn, process_group)
        finally:
            self._reductions = reductions

    def _batch_value_defined(self, x: Any = None, *args: Any, **kwargs: Any) -> bool:
        """``forward`` returns a value only for a batch of more than ``k`` inputs."""
        if not isinstance(x, Tensor) or x.ndim == 0 or x.is_meta:
            return True  # let update() raise
        return int(x.shape[0]) > self.k

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


def _empty_pair(x: Any, y: Any) -> bool:
    """Both inputs are tensors with zero rows (checked: floating point, matching row counts)."""
    if not (isinstance(x, Tensor) and isinstance(y, Tensor) and x.ndim >= 1 and y.ndim >= 1):
        return False
    if x.is_meta or y.is_meta or (x.shape[0] and y.shape[0]):
        return False
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same number of samples, got {x.shape[0]} and {y.shape[0]}")
    for t, name in ((x, "x"), (y, "y")):
        if not t.is_floating_point():
            raise TypeError(f"`{name}` must be a floating-point tensor of features, got dtype {t.dtype}")
    return True


def _knn_world_size(group: Any) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1


__all__ = ["KNNJaccardSimilarity", "LinearCKA"]
