"""Padding types (Islam et al., "Position, Padding and Predictions", IJCV 2024), from the cached stores.

The same trained weights are run with each convolution's zero padding replaced by reflect, replicate or
circular padding, or removed (`conv_padding` of a backbone), and each store is probed as in Table 1: the
top-level readout, every seed, natural and synthetic test inputs. The IJCV paper trains a network per
padding type; here the weights are those of one network trained with zero padding, so the numbers say
how much of its position information each border rule leaves readable, not what a network trained with
that rule would encode.
"""

from __future__ import annotations

import pandas as pd

from posenc.features.registry import PADDING_MODES, padding_mode
from posenc.probe.summary import across_seeds, read_metrics, seed_summary

COLUMNS = [
    "arch",
    "weights",
    "weights_sha256",
    "weights_seed",
    "preprocessing",
]  # what makes two backbones the same weights


def padding_modes(metric_paths, backbones: dict[str, dict]) -> pd.DataFrame:
    """One row per backbone, test input and target: the padding mode, mean SPC and MAE over seeds with 95%
    intervals, the seeds whose head did not learn and those no better than a constant on the test images.
    `backbones`: name -> config entry."""
    summary = across_seeds(seed_summary(read_metrics(metric_paths)))
    summary = summary[summary["backbone"].isin(list(backbones))].copy()
    summary["padding"] = [padding_mode(backbones[b].get("conv_padding", True)) for b in summary["backbone"]]
    summary["mode_order"] = summary["padding"].map(PADDING_MODES.index)
    keep = ["backbone", *COLUMNS, "padding", "readout", "budget", "input_norm", "image_set", "test_input"]
    keep += ["target", "spc", "spc_ci", "mae", "mae_ci", "n_seeds", "n_failed", "n_heldout"]
    summary = summary.sort_values(COLUMNS + ["mode_order"], kind="stable")
    return summary[keep].reset_index(drop=True)
