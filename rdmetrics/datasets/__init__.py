"""Readers and analyses for behavioural data sets (no data ships with the package; readers point at local copies).

* :func:`load_model_vs_human`: the model-vs-human raw data (all 17 datasets) as confusion matrices and aligned trials;
* :func:`mvh_benchmark` / :func:`write_benchmark`: the toolbox's benchmark tables, reproduced exactly;
* :func:`shape_bias` / :func:`write_shape_bias`: shape bias of every observer on cue-conflict;
* :func:`mvh_human_likeness` / :func:`human_likeness`: standardised distance of models' signatures to the subjects;
* :func:`evaluate_model_on_stimuli`: your own classifier over the stimuli -> a raw-data CSV the above accept.
"""

from __future__ import annotations

from rdmetrics.datasets.benchmark import (
    DEFAULT_DATASETS,
    EXCLUDE_CONDITIONS,
    BenchmarkResult,
    format_leaderboards,
    mvh_benchmark,
    write_benchmark,
)
from rdmetrics.datasets.cue_conflict import ShapeBiasResult, shape_bias, write_shape_bias
from rdmetrics.datasets.human_likeness import human_likeness, mvh_human_likeness
from rdmetrics.datasets.model_vs_human import (
    CATEGORIES,
    HUMANS,
    PARAMETRIC,
    RESPONSES,
    SEVERITY_ORDER,
    SINGLE_CONDITION,
    ExperimentData,
    ModelVsHuman,
    TrialTable,
    default_mvh_dir,
    load_model_vs_human,
)
from rdmetrics.datasets.own_model import evaluate_model_on_datasets, evaluate_model_on_stimuli

__all__ = [
    "CATEGORIES",
    "DEFAULT_DATASETS",
    "EXCLUDE_CONDITIONS",
    "HUMANS",
    "PARAMETRIC",
    "RESPONSES",
    "SEVERITY_ORDER",
    "SINGLE_CONDITION",
    "BenchmarkResult",
    "ExperimentData",
    "ModelVsHuman",
    "ShapeBiasResult",
    "TrialTable",
    "default_mvh_dir",
    "evaluate_model_on_datasets",
    "evaluate_model_on_stimuli",
    "format_leaderboards",
    "human_likeness",
    "load_model_vs_human",
    "mvh_benchmark",
    "mvh_human_likeness",
    "shape_bias",
    "write_benchmark",
    "write_shape_bias",
]
