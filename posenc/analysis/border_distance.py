"""Distance to the border (Islam et al., IJCV 2024; Kayhan & van Gemert, CVPR 2020), from saved predictions.

For every readout seed, the absolute error |prediction - target| of each pixel of the natural test images,
at the evaluation size (the prediction upsampled as when it is scored), is binned by the pixel's distance
to the nearest image border, min(x, y, W-1-x, H-1-y). A network that takes position from its padding knows
where it is near the border and less so inside; one without padding has no border cue at all. The papers
plot accuracy or error of their own tasks against that distance; here the task is the position readout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from posenc.probe.metrics import mean_ci
from posenc.probe.targets import target_tensor


def border_distance_map(size: int) -> np.ndarray:
    """(size, size) int: each pixel's distance in pixels to the nearest border (0 on the outermost ring)."""
    i = np.arange(size)
    edge = np.minimum(i, size - 1 - i)
    return np.minimum(edge[:, None], edge[None, :])


def binned_errors(pred: np.ndarray, target: np.ndarray, bin_px: int) -> pd.DataFrame:
    """pred (N, S, S) at the evaluation size, target (S, S): mean absolute error per distance bin
    [lo, lo + bin_px), pooled over the images' pixels. Columns: distance_lo, distance_hi, mae, pixels."""
    size = target.shape[-1]
    bins = border_distance_map(size) // bin_px
    error = np.abs(pred - target[None]).mean(axis=0)  # mean over images, per pixel
    rows = []
    for b in range(int(bins.max()) + 1):
        mask = bins == b
        rows.append(
            {
                "distance_lo": b * bin_px,
                "distance_hi": min((b + 1) * bin_px, (size + 1) // 2) - 1,
                "mae": float(error[mask].mean()),
                "pixels": int(mask.sum()) * len(pred),
            }
        )
    return pd.DataFrame(rows)


def seed_curves(predictions: dict, full_size, size: int, stripe_range: str, bin_px: int, image_set: str):
    """Rows (target, bin, mae) of one readout seed, from its predictions file's natural images of `image_set`
    (full_size upsamples readout maps to the evaluation size)."""
    pick = (predictions["test_input"] == "natural") & (predictions["image_set"] == image_set)
    if not pick.any():
        raise ValueError(f"no natural images of image set {image_set} in the predictions")
    rows = []
    for k, target in enumerate(predictions["targets"]):
        pred = full_size(predictions["pred"][pick, k], size)
        truth = target_tensor(str(target), size, stripe_range).numpy()
        frame = binned_errors(pred, truth, bin_px)
        frame.insert(0, "target", str(target))
        frame["images"] = int(pick.sum())
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def across_seeds(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval half-width over seeds of each (backbone, ..., target, bin)."""
    keys = [c for c in per_seed.columns if c not in ("seed", "mae", "pixels")]
    rows = []
    for key, group in per_seed.groupby(keys, sort=False, dropna=False):
        mae, ci = mean_ci(group["mae"])
        rows.append({**dict(zip(keys, key)), "mae": mae, "mae_ci": ci, "n_seeds": len(group)})
    return pd.DataFrame(rows)
