"""Position as a class: which of K x K grid cells a location lies in, and the bound in bits it gives.

A readout that predicts q(cell | features) at every location bounds the mutual information between a
location's cell C and the features F from below (Barber & Agakov, 2003):

    I(C; F) = H(C) - H(C | F) >= H(C) - CE,   CE = E[-log q(C | F)] on held-out images,

since the cross-entropy of any classifier is at least the conditional entropy. A better readout can only
raise the bound; a readout no better than the cells' frequencies gives 0 (a worse one, below 0). Locations
are the readout's output pixels, each given the cell of its centre in the image, so H(C) is the entropy of
the cells over those locations: log2(K^2) bits when K divides the output side, a little less otherwise.

The `rows_columns` classifier predicts the row and the column of the cell apart, q(r, c) = q(r) q(c): its
bound is the sum of a vertical and a horizontal one. The `cells` classifier predicts the K^2 cells at once.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CLASSIFIERS = ("rows_columns", "cells")


def cell_index(side: int, k: int) -> torch.Tensor:
    """(side,) the band (0..k-1) of each output row (or column): the band of its centre in the image; a centre
    on a boundary goes to the band nearer the image's centre, so the bands mirror each other."""
    scaled = (2 * torch.arange(side) + 1) * k  # the centre (i + 1/2) / side, times K, times 2 side: exact
    band = scaled // (2 * side)
    on_boundary = (scaled % (2 * side) == 0) & (2 * torch.arange(side) + 1 > side)
    return torch.clamp(band - on_boundary.long(), 0, k - 1)


def band_entropy(side: int, k: int) -> float:
    """Entropy in nats of the band of a uniformly chosen row (or column) of the output."""
    counts = torch.bincount(cell_index(side, k), minlength=k).double()
    p = counts[counts > 0] / side
    return float(-(p * p.log()).sum())


def max_bits(side: int, k: int) -> float:
    """H(C) in bits of the K x K cell of a uniformly chosen location of a side x side output: row and column
    are independent, so it is twice a band's (log2(K^2) when K divides the side)."""
    return 2 * band_entropy(side, k) / math.log(2)


def outputs(k: int, classifier: str) -> int:
    """Logit channels of one head: K rows then K columns, or K^2 cells (row-major)."""
    if classifier not in CLASSIFIERS:
        raise ValueError(f"classifier {classifier!r}: use one of {', '.join(CLASSIFIERS)}")
    return 2 * k if classifier == "rows_columns" else k * k


def cross_entropy(logits: torch.Tensor, k: int, classifier: str, reduce: bool = True):
    """Cross-entropy in nats of (N, outputs, h, w) logits against every location's cell, as
    (rows, columns) for rows_columns and (cells, None) for cells: the mean over images and locations, or
    with reduce=False one value per image."""
    n, _, h, w = logits.shape
    rows = cell_index(h, k).to(logits.device)[None, :, None].expand(n, h, w)
    cols = cell_index(w, k).to(logits.device)[None, None, :].expand(n, h, w)
    mode = "mean" if reduce else "none"

    def ce(part, labels):
        value = F.cross_entropy(part.float(), labels, reduction=mode)
        return value if reduce else value.mean(dim=(1, 2))

    if classifier == "rows_columns":
        return ce(logits[:, :k], rows), ce(logits[:, k:], cols)
    return ce(logits, rows * k + cols), None


def bits(ce_nats: float, side: int, k: int) -> float:
    """The lower bound H(C) - CE in bits for a cross-entropy (nats) on a side x side output."""
    return max_bits(side, k) - ce_nats / math.log(2)
