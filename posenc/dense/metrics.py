"""Scores of the dense tasks (Table 5): saliency F-measure and MAE, segmentation mean IoU.

Saliency follows the usual SOD evaluation (as the SOD toolboxes and pysodmetrics): the prediction on the
0..255 scale is binarised at every threshold 0..255; precision and recall per image give an F-measure
curve with beta^2 = 0.3; `max_f` is the maximum over thresholds of the mean curve over images; the adaptive
F-measure binarises each image at twice its mean prediction. MAE is the mean absolute difference on [0, 1].
Segmentation: one confusion matrix over the whole test set; IoU per class, mean over the classes that
occur in the ground truth or the predictions (PASCAL VOC's mIoU, background included).
"""

from __future__ import annotations

import numpy as np

BETA2 = 0.3
THRESHOLDS = 256


def _f_measure(precision, recall):
    denom = BETA2 * precision + recall
    return np.where(denom > 0, (1 + BETA2) * precision * recall / np.where(denom > 0, denom, 1), 0.0)


def f_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """F-measure of one image at thresholds 0..255 (pixels >= t count as salient), from histograms."""
    levels = np.clip(np.round(pred * 255), 0, 255).astype(np.int64)
    pos = np.bincount(levels[gt], minlength=THRESHOLDS)[::-1].cumsum()[::-1]  # salient at >= t
    neg = np.bincount(levels[~gt], minlength=THRESHOLDS)[::-1].cumsum()[::-1]
    tp, fp, n_pos = pos.astype(float), neg.astype(float), float(gt.sum())
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    recall = tp / n_pos if n_pos > 0 else np.zeros(THRESHOLDS)
    return _f_measure(precision, recall)


def adaptive_f(pred: np.ndarray, gt: np.ndarray) -> float:
    binary = pred >= min(2 * float(pred.mean()), 1.0)
    tp = float((binary & gt).sum())
    precision = tp / binary.sum() if binary.sum() else 0.0
    recall = tp / gt.sum() if gt.sum() else 0.0
    return float(_f_measure(np.float64(precision), np.float64(recall)))


class SaliencyScores:
    """Accumulates images; `result()` gives max_f, mean_f (mean over thresholds), adaptive_f, mae."""

    def __init__(self):
        self.curves, self.adaptive, self.mae = [], [], []

    def add(self, pred: np.ndarray, gt: np.ndarray) -> dict:
        """pred: (H, W) in [0, 1]; gt: (H, W) bool. Returns this image's scores."""
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        curve = f_curve(pred, gt)
        self.curves.append(curve)
        self.adaptive.append(adaptive_f(pred, gt))
        self.mae.append(float(np.abs(pred - gt).mean()))
        return {"max_f": float(curve.max()), "adaptive_f": self.adaptive[-1], "mae": self.mae[-1]}

    def result(self) -> dict:
        mean_curve = np.mean(self.curves, axis=0)
        return {
            "max_f": float(mean_curve.max()),
            "mean_f": float(mean_curve.mean()),
            "adaptive_f": float(np.mean(self.adaptive)),
            "mae": float(np.mean(self.mae)),
            "n_images": len(self.mae),
        }


class SegmentationScores:
    """Accumulates a confusion matrix over classes 0..classes (labels IGNORE are left out)."""

    def __init__(self, classes: int, ignore: int = 255):
        self.n = classes + 1
        self.ignore = ignore
        self.confusion = np.zeros((self.n, self.n), np.int64)

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        keep = gt != self.ignore
        index = gt[keep].astype(np.int64) * self.n + pred[keep].astype(np.int64)
        self.confusion += np.bincount(index, minlength=self.n * self.n).reshape(self.n, self.n)

    def iou(self) -> np.ndarray:
        tp = np.diag(self.confusion).astype(float)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)

    def result(self) -> dict:
        iou = self.iou()
        total = self.confusion.sum()
        return {
            "miou": float(np.nanmean(iou)),
            "pixel_accuracy": float(np.trace(self.confusion) / max(total, 1)),
            **{f"iou_{c}": float(v) for c, v in enumerate(iou)},
        }
