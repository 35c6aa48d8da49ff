"""Readers for behavioural data sets (no data ships with the package; readers point at local copies)."""

from __future__ import annotations

from rdmetrics.datasets.model_vs_human import (
    CATEGORIES,
    HUMANS,
    RESPONSES,
    SEVERITY_ORDER,
    ExperimentData,
    ModelVsHuman,
    TrialTable,
    default_mvh_dir,
    load_model_vs_human,
)

__all__ = [
    "CATEGORIES",
    "HUMANS",
    "RESPONSES",
    "SEVERITY_ORDER",
    "ExperimentData",
    "ModelVsHuman",
    "TrialTable",
    "default_mvh_dir",
    "load_model_vs_human",
]
