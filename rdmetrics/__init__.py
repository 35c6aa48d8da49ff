"""rdmetrics: torchmetrics Metrics and Lightning callbacks that measure *how* models generalize.

Public names are resolved lazily (PEP 562), so ``import rdmetrics`` stays cheap and never imports the optional
dependencies (lightning, timm, matplotlib).
"""

from __future__ import annotations

from rdmetrics.utilities.lazy import lazy_exports

__version__ = "0.1.0"

# name -> module that defines it. Each area adds its own lines.
_EXPORTS: dict[str, str] = {
    # rate-distortion signatures
    "RateDistortionSignature": "rdmetrics.rate_distortion",
    "ConfusionAsymmetry": "rdmetrics.asymmetry",
    "ShapeBias": "rdmetrics.shape_bias",
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
    # perturbations, sweeps and label maps
    "Perturbation": "rdmetrics.perturbations",
    "get_perturbation": "rdmetrics.perturbations",
    "list_perturbations": "rdmetrics.perturbations",
    "register_perturbation": "rdmetrics.perturbations",
    "run_sweep": "rdmetrics.sweep",
    "ImageNetTo16Class": "rdmetrics.label_maps",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
