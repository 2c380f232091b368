"""Evaluation: metrics (pure NumPy) and the resumable, shardable LOSO runner."""

from .loso import FoldOutput, load_records, run_loso, sample_subjects, select_folds
from .metrics import (
    accuracy,
    all_metrics,
    confusion_matrix,
    fold_mean_uar,
    fold_mean_uf1,
    subject_mean_accuracy,
    uar,
    uf1,
)
from .spotting import SpotScores, interval_iou, spot_scores
from .strs import strs

__all__ = [
    "sample_subjects",
    "FoldOutput",
    "accuracy",
    "all_metrics",
    "confusion_matrix",
    "fold_mean_uar",
    "fold_mean_uf1",
    "load_records",
    "run_loso",
    "select_folds",
    "subject_mean_accuracy",
    "uar",
    "uf1",
    "SpotScores",
    "interval_iou",
    "spot_scores",
    "strs",
]
