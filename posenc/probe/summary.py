"""From per-image metrics files to per-seed summaries and the mean and 95% interval over seeds.

The computing half of a table (posenc.report.tables renders the result): one row per run (backbone,
weights, readout), seed, image set, test input and target, then the seeds combined with their flags.
"""

from __future__ import annotations

import pandas as pd

from posenc.errors import ActionableError, snakemake_command
from posenc.probe.metrics import HELDOUT_RATIO, mean_ci

RUN_COLUMNS = [
    "backbone",
    "arch",
    "weights",
    "weights_sha256",
    "weights_seed",
    "conv_padding",
    "preprocessing",
    "readout",
    "layers",
    "kernel",
    "readout_padding",
    "taps",
    "stripe_range",
    "input_norm",
    "budget",
]
SEED_KEYS = RUN_COLUMNS + ["seed", "image_set", "test_input", "target"]


METRIC_COLUMNS = ("spc", "mae", "heldout_ratio", "learned", "final_loss_ratio")  # of a readout's metrics


def read_metrics(paths, required=METRIC_COLUMNS) -> pd.DataFrame:
    """The metrics files as one frame; a file without a `required` column is refused with the fix."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ActionableError(
                f"{path} has no column {', '.join(missing)}: an older posenc wrote it. Delete it and rerun "
                f"(snakemake rebuilds it: {snakemake_command(str(path))})"
            )
        frames.append(frame)
    if not frames:
        raise ValueError("no metric files given")
    return pd.concat(frames, ignore_index=True)


def seed_summary(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean SPC and MAE over the images of each (run, seed, image set, test input, target)."""
    grouped = per_image.groupby(SEED_KEYS, sort=False, dropna=False)
    out = grouped.agg(
        spc=("spc", "mean"),
        mae=("mae", "mean"),
        n_images=("image", "count"),
        heldout_ratio=("heldout_ratio", "mean"),
        final_loss_ratio=("final_loss_ratio", "first"),
        learned=("learned", "all"),
    ).reset_index()
    return out


def across_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval half-width over seeds of each (run, image set, test input, target), with the
    number of seeds whose head did not learn (final loss >= 0.9 x a constant prediction's) in `n_failed`, and
    of seeds whose head predicts these test images no better than a constant (held-out MSE >= a constant
    prediction's) in `n_heldout`.

    Every seed counts in the mean; a cell with failed seeds is flagged, never averaged silently. (Leaving
    them out was tried: heads that learn little, such as PosENet with padding, sit near the threshold, and
    dropping some of their seeds biased the mean.)
    """
    keys = [k for k in SEED_KEYS if k != "seed"]
    rows = []
    for key, group in seeds.groupby(keys, sort=False, dropna=False):
        learned = group[group["learned"].astype(bool)]
        spc, spc_ci = mean_ci(group["spc"])
        mae, mae_ci = mean_ci(group["mae"])
        rows.append(
            {
                **dict(zip(keys, key)),
                "spc": spc,
                "spc_ci": spc_ci,
                "mae": mae,
                "mae_ci": mae_ci,
                "n_seeds": int(group["seed"].nunique()),
                "n_failed": int(group["seed"].nunique() - learned["seed"].nunique()),
                "n_heldout": int(group.loc[group["heldout_ratio"] >= HELDOUT_RATIO, "seed"].nunique()),
            }
        )
    return pd.DataFrame(rows)
