"""Pure functions (torch tensors in and out, float64 inside) behind every rdmetrics Metric.

Names are resolved lazily (PEP 562); each area adds its own lines to ``_EXPORTS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rdmetrics.utilities.lazy import lazy_exports

if TYPE_CHECKING:  # _EXPORTS spelled out for type checkers and IDEs; add new names to both (a test checks)
    from rdmetrics.functional.agreement import error_consistency as error_consistency
    from rdmetrics.functional.agreement import prediction_agreement as prediction_agreement
    from rdmetrics.functional.asymmetry import confusion_asymmetry as confusion_asymmetry
    from rdmetrics.functional.asymmetry import simulate_asymmetric_channel as simulate_asymmetric_channel
    from rdmetrics.functional.bootstrap import bootstrap_confmat as bootstrap_confmat
    from rdmetrics.functional.bootstrap import bootstrap_summary as bootstrap_summary
    from rdmetrics.functional.cue_conflict import shape_bias as shape_bias
    from rdmetrics.functional.generative import precision_recall_entropy as precision_recall_entropy
    from rdmetrics.functional.information import mutual_information as mutual_information
    from rdmetrics.functional.knn import knn_cross as knn_cross
    from rdmetrics.functional.knn import knn_within as knn_within
    from rdmetrics.functional.rate_distortion import blahut_arimoto as blahut_arimoto
    from rdmetrics.functional.rate_distortion import hamming_rd_bound as hamming_rd_bound
    from rdmetrics.functional.rate_distortion import rate_distortion_confmats as rate_distortion_confmats
    from rdmetrics.functional.rate_distortion import rate_distortion_points as rate_distortion_points
    from rdmetrics.functional.rate_distortion import rate_distortion_signature as rate_distortion_signature
    from rdmetrics.functional.signatures import rd_signatures as rd_signatures
    from rdmetrics.functional.similarity import knn_jaccard_similarity as knn_jaccard_similarity
    from rdmetrics.functional.similarity import linear_cka as linear_cka

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
    "bootstrap_summary": "rdmetrics.functional.bootstrap",
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

if not TYPE_CHECKING:  # hidden from type checkers, so that a name missing above is an error, not Any
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
