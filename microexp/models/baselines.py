"""The handcrafted baseline: LBP-TOP features with a linear SVM (scikit-learn), as in the CASME II
baseline paper. Paper A's Table 2 gets a measured handcrafted row beside the deep ones."""

from __future__ import annotations

import numpy as np


def build_lbptop_svm(c: float = 1.0, seed: int = 0):
    """A scikit-learn pipeline: per-feature standardisation (fitted on the training fold only,
    inside ``fit``) then ``LinearSVC(C=c)`` with balanced class weights (the classes are
    unbalanced; the CASME II baseline paper does not say whether it weighted them)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(
        StandardScaler(), LinearSVC(C=c, class_weight="balanced", random_state=seed, max_iter=20000)
    )


def fit_predict_lbptop(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Fit on one fold's training samples and predict its test samples (class indices)."""
    model = build_lbptop_svm(c, seed)
    model.fit(x_train, y_train)
    return model.predict(x_test)
