"""SPC and MAE per image (docs/protocol.md §6)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from scipy.stats import t as student_t

# A prediction whose range is below this is constant: its rank correlation is undefined, reported as 0.
CONSTANT_RANGE = 1e-6


def ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), flattened, float64."""
    return rankdata(np.asarray(values, dtype=np.float64).ravel(), method="average")


def spearman(pred: np.ndarray, target: np.ndarray, target_ranks: np.ndarray | None = None) -> float:
    """Spearman rank correlation over all pixels of one image; 0 for a constant prediction or target."""
    pred = np.asarray(pred, dtype=np.float64).ravel()
    if np.ptp(pred) <= CONSTANT_RANGE or np.ptp(np.asarray(target)) <= CONSTANT_RANGE:
        return 0.0
    rp = rankdata(pred, method="average")
    rt = ranks(target) if target_ranks is None else target_ranks
    rp = rp - rp.mean()
    rt = rt - rt.mean()
    return float(np.dot(rp, rt) / np.sqrt(np.dot(rp, rp) * np.dot(rt, rt)))


# a head whose held-out MSE is at least this fraction of a constant prediction's predicts no position there
HELDOUT_RATIO = 1.0


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared difference per image."""
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return float(np.mean(diff * diff))


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute difference per image."""
    return float(np.mean(np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64))))


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (NaN for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float("nan")
    half = student_t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)
