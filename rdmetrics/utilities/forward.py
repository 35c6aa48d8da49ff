"""One ``forward`` contract for every rdmetrics ``Metric`` (``metric(*batch)``, the LightningModule idiom).

torchmetrics' ``forward`` adds the batch to the global state and returns ``compute()`` on the batch alone. Two of its
behaviours are wrong for metrics whose value is not defined on every batch:

* when the batch alone has no value (an empty batch, fewer samples than the estimator needs, a condition missing
  from the batch), ``compute()`` raises and the exception escapes *after* the global state was reset, so everything
  accumulated so far is silently lost;
* when ``update`` rejects a batch inside ``forward`` (NaN, wrong shape), the global state is lost the same way.

:class:`BatchValueForwardMixin` fixes both: put it before :class:`torchmetrics.Metric` in the bases. ``forward``
then

* returns the batch value where it is defined and ``None`` otherwise: where ``compute()`` on the batch alone raises
  ``ValueError`` (the metrics' "undefined / empty" error), the batch is still added to the global state;
* leaves the global state exactly as it was when ``update`` raises (any other error of the batch ``compute`` too).

Subclasses may override :meth:`~BatchValueForwardMixin._batch_value_defined` to skip the batch ``compute`` when it is
known to be undefined (the default skips empty batches).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor


def _num_rows(x: object) -> int | None:
    """Leading dimension of a tensor argument (``None`` when ``x`` is not a tensor with at least one dimension)."""
    if isinstance(x, Tensor) and x.ndim >= 1 and not x.is_meta:
        return int(x.shape[0])
    return None


class BatchValueForwardMixin:
    """``forward`` that returns ``None`` for a batch without a value and never loses the global state on an error.

    Must come before :class:`torchmetrics.Metric` in the bases. :meth:`_batch_value_defined` (default: the batch is
    not empty, judged from the first positional tensor argument) lets ``forward`` skip a batch ``compute`` that is
    known to be undefined.
    """

    def _batch_value_defined(self, *args: Any, **kwargs: Any) -> bool:
        """Whether ``compute()`` on this batch alone is defined (called before ``update``; inputs not yet checked).

        Returning ``True`` for a bad batch is harmless: ``update`` then raises and the state is restored.
        """
        rows = _num_rows(args[0]) if args else None
        return rows is None or rows > 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Add the batch to the global state; return its own value (``compute()`` on it alone) or ``None``.

        ``None`` where the batch alone has no value (an empty batch, or ``compute()`` on it raises ``ValueError``).
        If the batch is rejected, the exception propagates and the global state is left as it was.
        """
        metric: Any = self
        if metric._is_synced:  # torchmetrics' own error
            return super().forward(*args, **kwargs)  # type: ignore[misc]
        if not self._batch_value_defined(*args, **kwargs):
            metric.update(*args, **kwargs)
            metric._forward_cache = None
            return None
        # references are enough: torchmetrics' forward resets the state by rebinding tensors and clearing lists
        # (copied here), it never writes into the global tensors
        saved = {
            attr: (list(value) if isinstance(value, list) else value)
            for attr in metric._defaults
            for value in (getattr(metric, attr),)
        }
        count, on_cpu = metric._update_count, metric.compute_on_cpu
        # torchmetrics' forward calls ``self.compute()`` (the instance's wrapped compute) on the batch state:
        # shadow it for the duration of the call so that an undefined batch value becomes None
        wrapped_compute = metric.__dict__.get("compute")

        def batch_compute() -> Any:
            try:
                return wrapped_compute()  # type: ignore[misc]
            except ValueError:
                return None

        if wrapped_compute is not None:
            metric.compute = batch_compute
        try:
            return super().forward(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            for attr, value in saved.items():
                setattr(metric, attr, value)
            metric._update_count = count
            metric._computed = None
            metric._forward_cache = None
            metric._is_synced = False
            metric._should_unsync = True
            metric._to_sync = metric.sync_on_compute
            metric._enable_grad = False
            metric.compute_on_cpu = on_cpu
            raise
        finally:
            if wrapped_compute is not None:
                metric.compute = wrapped_compute


__all__ = ["BatchValueForwardMixin"]
