"""Flags for optional dependencies (checked lazily, never imported at package import time)."""

from lightning_utilities.core.imports import RequirementCache

_MATPLOTLIB_AVAILABLE = RequirementCache("matplotlib")
_LIGHTNING_AVAILABLE = RequirementCache("lightning")
_TIMM_AVAILABLE = RequirementCache("timm")
_SKLEARN_AVAILABLE = RequirementCache("scikit-learn")

__all__ = ["_LIGHTNING_AVAILABLE", "_MATPLOTLIB_AVAILABLE", "_SKLEARN_AVAILABLE", "_TIMM_AVAILABLE"]
