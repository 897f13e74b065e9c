"""The five content-independent position maps a readout is trained to draw (docs/protocol.md §2).

Maps are generated at the official file size (256x256), where they match the official PNGs, and compared
with predictions at the evaluation size (224x224) after a bilinear resize, as the official code does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posenc.schema import INPUT_SIZE

TARGETS = ("H", "V", "G", "HS", "VS")
DESCRIPTIONS = {
    "H": "horizontal gradient: 0 at the left edge to 1 at the right",
    "V": "vertical gradient: 0 at the top edge to 1 at the bottom",
    "G": "centred Gaussian, sigma = side/2, min-max scaled to [0, 1]",
    "HS": "horizontal stripes: 2.5 cosine periods down the image",
    "VS": "vertical stripes: 2.5 cosine periods across the image",
}
STRIPE_RANGES = ("unit", "signed")  # unit: [0, 1] (official PNGs); signed: raw cosine in [-1, 1]
SOURCE_SIZE = 256  # side of the official target files
STRIPE_PERIODS = 2.5


def target_map(name: str, size: int = SOURCE_SIZE, stripe_range: str = "unit") -> np.ndarray:
    """One target map, float64 (size, size), generated directly at `size`."""
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}: choose one of {', '.join(TARGETS)}")
    if stripe_range not in STRIPE_RANGES:
        raise ValueError(f"unknown stripe_range {stripe_range!r}: choose one of {', '.join(STRIPE_RANGES)}")
    coord = np.arange(size, dtype=np.float64)
    y, x = np.meshgrid(coord, coord, indexing="ij")
    if name in ("H", "V"):
        return (x if name == "H" else y) / (size - 1)
    if name == "G":
        centre, sigma = size / 2, size / 2
        g = np.exp(-((x - centre) ** 2 + (y - centre) ** 2) / (2 * sigma**2))
        return (g - g.min()) / (g.max() - g.min())
    along = y if name == "HS" else x
    cosine = np.cos(2 * np.pi * STRIPE_PERIODS * (along + 0.5) / size)
    return cosine if stripe_range == "signed" else 0.5 * (1 + cosine)


def target_tensor(name: str, size: int = INPUT_SIZE, stripe_range: str = "unit") -> torch.Tensor:
    """A target at the evaluation size: generated at 256 and resized bilinearly, float32 (size, size)."""
    full = torch.from_numpy(target_map(name, SOURCE_SIZE, stripe_range)).float()[None, None]
    if size == SOURCE_SIZE:
        return full[0, 0]
    return F.interpolate(full, size=(size, size), mode="bilinear", align_corners=False)[0, 0]


def target_stack(names, size: int = INPUT_SIZE, stripe_range: str = "unit") -> torch.Tensor:
    """The targets `names` stacked as (len(names), size, size)."""
    return torch.stack([target_tensor(n, size, stripe_range) for n in names])
