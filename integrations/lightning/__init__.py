"""Lightning callbacks (needs ``pip install rdmetrics[lightning]``)."""

from __future__ import annotations

from rdmetrics.utilities.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "PerturbationSweep": "rdmetrics.integrations.lightning.perturbation_sweep",
    "GenerativeCheckpointEvaluator": "rdmetrics.integrations.lightning.generative_evaluator",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
