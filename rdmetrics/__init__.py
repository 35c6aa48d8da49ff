"""rdmetrics: torchmetrics Metrics and Lightning callbacks that measure *how* models generalize.

Public names are resolved lazily (PEP 562), so ``import rdmetrics`` stays cheap and never imports the optional
dependencies (lightning, timm, matplotlib).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rdmetrics.utilities.lazy import lazy_exports

if TYPE_CHECKING:  # _EXPORTS spelled out for type checkers and IDEs; add new names to both (a test checks)
    from rdmetrics.agreement import ErrorConsistency as ErrorConsistency
    from rdmetrics.agreement import PredictionAgreement as PredictionAgreement
    from rdmetrics.asymmetry import ConfusionAsymmetry as ConfusionAsymmetry
    from rdmetrics.extractors import as_extractor as as_extractor
    from rdmetrics.extractors import get_extractor as get_extractor
    from rdmetrics.extractors import list_extractors as list_extractors
    from rdmetrics.extractors import register_extractor as register_extractor
    from rdmetrics.extractors.timm import TimmFeatureExtractor as TimmFeatureExtractor
    from rdmetrics.generative import PrecisionRecallEntropy as PrecisionRecallEntropy
    from rdmetrics.generator_eval import evaluate_generator as evaluate_generator
    from rdmetrics.label_maps import ImageNetTo16Class as ImageNetTo16Class
    from rdmetrics.perturbations import Perturbation as Perturbation
    from rdmetrics.perturbations import get_perturbation as get_perturbation
    from rdmetrics.perturbations import list_perturbations as list_perturbations
    from rdmetrics.perturbations import register_perturbation as register_perturbation
    from rdmetrics.rate_distortion import RateDistortionSignature as RateDistortionSignature
    from rdmetrics.shape_bias import ShapeBias as ShapeBias
    from rdmetrics.similarity import KNNJaccardSimilarity as KNNJaccardSimilarity
    from rdmetrics.similarity import LinearCKA as LinearCKA
    from rdmetrics.sweep import run_sweep as run_sweep

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

if not TYPE_CHECKING:  # hidden from type checkers, so that a name missing above is an error, not Any
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
