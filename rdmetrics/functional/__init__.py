"""Pure functions (torch tensors in and out, float64 inside) behind every rdmetrics Metric.

Names are resolved lazily (PEP 562); each area adds its own lines to ``_EXPORTS``.
"""

from __future__ import annotations

from rdmetrics.utilities.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # information / rate-distortion (foundation)
    "mutual_information": "rdmetrics.functional.information",
    "rate_distortion_points": "rdmetrics.functional.rate_distortion",
    "blahut_arimoto": "rdmetrics.functional.rate_distortion",
    "hamming_rd_bound": "rdmetrics.functional.rate_distortion",
    "rd_signatures": "rdmetrics.functional.signatures",
    "rate_distortion_signature": "rdmetrics.functional.rate_distortion",
    "rate_distortion_confmats": "rdmetrics.functional.rate_distortion",
    "bootstrap_confmat": "rdmetrics.functional.bootstrap",
    "confusion_asymmetry": "rdmetrics.functional.asymmetry",
    "simulate_asymmetric_channel": "rdmetrics.functional.asymmetry",
    "shape_bias": "rdmetrics.functional.cue_conflict",
    # generative (kNN engine lives in rdmetrics.functional.knn)
    "precision_recall_entropy": "rdmetrics.functional.generative",
    "knn_within": "rdmetrics.functional.knn",
    "knn_cross": "rdmetrics.functional.knn",
    # agreement / similarity
    "prediction_agreement": "rdmetrics.functional.agreement",
    "error_consistency": "rdmetrics.functional.agreement",
    "knn_jaccard_similarity": "rdmetrics.functional.similarity",
    "linear_cka": "rdmetrics.functional.similarity",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
