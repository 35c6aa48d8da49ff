"""rdmetrics: torchmetrics Metrics and Lightning callbacks that measure *how* models generalize.

Public names are resolved lazily (PEP 562), so ``import rdmetrics`` stays cheap and never imports the optional
dependencies (lightning, timm, matplotlib).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it. Each area adds its own lines.
_EXPORTS: dict[str, str] = {
    # rate-distortion signatures
    "RateDistortionSignature": "rdmetrics.rate_distortion",
    # generative precision / recall / entropy
    "PrecisionRecallEntropy": "rdmetrics.generative",
    "evaluate_generator": "rdmetrics.generator_eval",
    "TimmFeatureExtractor": "rdmetrics.extractors.timm",
    "as_extractor": "rdmetrics.extractors",
    "get_extractor": "rdmetrics.extractors",
    "list_extractors": "rdmetrics.extractors",
    "register_extractor": "rdmetrics.extractors",
    # agreement and similarity
    "PredictionAgreement": "rdmetrics.agreement",
    "ErrorConsistency": "rdmetrics.agreement",
    "KNNJaccardSimilarity": "rdmetrics.similarity",
    "LinearCKA": "rdmetrics.similarity",
    # perturbation sweeps and label maps
    "run_sweep": "rdmetrics.sweep",
    "ImageNetTo16Class": "rdmetrics.label_maps",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rdmetrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
