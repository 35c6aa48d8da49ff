"""Lightning callbacks (needs ``pip install rdmetrics[lightning]``)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "PerturbationSweep": "rdmetrics.integrations.lightning.perturbation_sweep",
    "GenerativeCheckpointEvaluator": "rdmetrics.integrations.lightning.generative_evaluator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rdmetrics.integrations.lightning' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
