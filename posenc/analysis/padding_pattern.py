"""The padding's own pattern in the features: the control Lin et al. argue for ("Unveiling the Mask of
Position-Information Pattern Through the Mist of Image Features", arXiv 2206.01202).

Lin et al. find readout (PosENet) scores unreliable as a measure of the position a network encodes: a
readout may draw on image content and learns what it can, and they measure the Position-information
Pattern from Padding (PPP) in the features directly instead: the difference between what the network
computes with its padding and what it would compute if the border were real content. Our reading of it,
on any test image and without training anything: the network sees a test image x (resized to input.size
+ 2m) and its central crop of input.size; where the crop's features differ from the matching window of x's features,
only the crop's padding (zero, reflect, ...) in place of the real pixels around it can be the cause. Per
tap and per distance of a feature cell to the crop's border (in input pixels), `ppp` is the mean over
images of ||f(crop) - f(x)[window]|| (over channels) divided by the root mean square of ||f(x)[window]||:
0 where padding changes nothing, 1 where the change is as large as a typical feature vector. The margin m
is the least common multiple of the taps' strides and 32 px, so that both grids align. A network without
padding gives 0 everywhere (up to rounding); this holds whatever a readout would score. Lin et al. define
their metrics on the final feature map with other distance measures and with real surrounding content from
larger images; the numbers here are ours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from posenc.analysis.border_distance import border_distance_map

MIN_MARGIN = 32


def tap_strides(native, size: int) -> dict[str, int]:
    """Each tap's stride in input pixels, from its map sizes at two input sizes (exact also without padding,
    where maps shrink by a constant)."""
    with torch.no_grad():
        a = {t: f.shape[-1] for t, f in native(torch.zeros(1, 3, size, size)).items()}
        b = {t: f.shape[-1] for t, f in native(torch.zeros(1, 3, size + 64, size + 64)).items()}
    return {t: max(1, round(64 / max(1, b[t] - a[t]))) for t in a}


def margin_for(strides: dict[str, int]) -> int:
    """The crop margin m: a multiple of every tap's stride, at least MIN_MARGIN."""
    return int(np.lcm.reduce([*strides.values(), MIN_MARGIN]))


def pattern_maps(
    native, x: torch.Tensor, strides: dict[str, int]
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """For images x (N, 3, S, S), already preprocessed, and their crops x[m:S-m, m:S-m] (m = margin_for): per tap,
    (|f(crop) - f(x)[window]| per cell, |f(x)[window]| per cell, stride), the maps (N, h, w)."""
    size, margin = x.shape[-1], margin_for(strides)
    with torch.no_grad():
        whole = native(x)
        crop = native(x[..., margin : size - margin, margin : size - margin])
    out = {}
    for tap, small in crop.items():
        full, stride = whole[tap].float(), strides[tap]
        offset = margin // stride
        h, w = small.shape[-2:]
        window = full[..., offset : offset + h, offset : offset + w]
        if window.shape[-2:] != small.shape[-2:]:
            raise ValueError(f"tap {tap}: the crop's map {tuple(small.shape[-2:])} does not fit the window")
        diff = torch.linalg.vector_norm(small.float() - window, dim=1)
        norm = torch.linalg.vector_norm(window, dim=1)
        out[tap] = (diff.numpy(), norm.numpy(), stride)
    return out


def pattern_profile(maps: dict[str, tuple[np.ndarray, np.ndarray, int]]) -> pd.DataFrame:
    """Rows (tap, stride, distance_px, ppp, cells): ppp per ring of feature cells at the same distance to the
    crop's border (distance_px = cells x stride), relative to the root mean square feature norm of the tap."""
    rows = []
    for tap, (diff, norm, stride) in maps.items():
        scale = float(np.sqrt((norm.astype(np.float64) ** 2).mean())) or 1.0
        rings = border_distance_map(diff.shape[-1]) if diff.shape[-1] == diff.shape[-2] else None
        if rings is None:
            raise ValueError(f"tap {tap}: square maps expected, got {diff.shape[-2:]}")
        mean = diff.mean(axis=0)
        for d in range(int(rings.max()) + 1):
            mask = rings == d
            rows.append(
                {
                    "tap": tap,
                    "stride": stride,
                    "distance_px": d * stride,
                    "ppp": float(mean[mask].mean() / scale),
                    "cells": int(mask.sum()),
                }
            )
    return pd.DataFrame(rows)


def reach(profile: pd.DataFrame, threshold: float = 0.1) -> pd.DataFrame:
    """Per tap: ppp at the border, ppp at the centre, and how far in (px) the pattern stays above threshold."""
    rows = []
    for tap, g in profile.groupby("tap", sort=False):
        g = g.sort_values("distance_px")
        above = g[g["ppp"] >= threshold]["distance_px"]
        rows.append(
            {
                "tap": tap,
                "ppp_border": float(g["ppp"].iloc[0]),
                "ppp_centre": float(g["ppp"].iloc[-1]),
                "reach_px": int(above.max() + g["stride"].iloc[0]) if len(above) else 0,
            }
        )
    return pd.DataFrame(rows)
