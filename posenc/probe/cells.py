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
One head per tap classifies the finest grid; a coarser grid (a K dividing the finest) is read from the same
head, each of its cells the union of fine cells whose probabilities add.
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


def check_grid(grid) -> tuple[int, ...]:
    """The grid sizes in increasing order; each must divide the largest (its cells are unions of the finest
    cells, whose probabilities the one head per tap gives)."""
    grid = tuple(sorted(int(k) for k in grid))
    if not grid or grid[0] < 2 or any(grid[-1] % k for k in grid):
        raise ValueError(f"grid {list(grid)}: every K must be at least 2 and divide the largest ({grid[-1]})")
    return grid


def log_probs(logits: torch.Tensor, kmax: int, k: int, classifier: str) -> list[torch.Tensor]:
    """Log-probabilities (N, K, h, w) of the rows and of the columns (rows_columns), or (N, K^2, h, w) of the
    cells (cells), of the K grid, from a head's logits for the finest grid kmax: a coarse cell's probability
    is the sum of the fine cells it holds."""
    n, _, h, w = logits.shape
    g = kmax // k
    if classifier == "rows_columns":
        parts = [F.log_softmax(logits[:, :kmax].float(), 1), F.log_softmax(logits[:, kmax:].float(), 1)]
        return [p.reshape(n, k, g, h, w).logsumexp(2) for p in parts]
    fine = F.log_softmax(logits.float(), 1).reshape(n, k, g, k, g, h, w)
    return [fine.logsumexp(dim=(2, 4)).reshape(n, k * k, h, w)]


def cross_entropy(logits: torch.Tensor, kmax: int, k: int, classifier: str, reduce: bool = True):
    """Cross-entropy in nats against every location's cell of the K grid, from a head's logits for the finest
    grid kmax (N, outputs(kmax), h, w): as [rows, columns] for rows_columns and [cells] for cells, each the mean
    over images and locations, or with reduce=False one value per image."""
    n, _, h, w = logits.shape
    rows = cell_index(h, k).to(logits.device)[None, :, None].expand(n, h, w)
    cols = cell_index(w, k).to(logits.device)[None, None, :].expand(n, h, w)
    labels = [rows, cols] if classifier == "rows_columns" else [rows * k + cols]
    out = []
    for lp, label in zip(log_probs(logits, kmax, k, classifier), labels):
        value = F.nll_loss(lp, label, reduction="mean" if reduce else "none")
        out.append(value if reduce else value.mean(dim=(1, 2)))
    return out


def bits(ce_nats: float, side: int, k: int) -> float:
    """The lower bound H(C) - CE in bits for a cross-entropy (nats) on a side x side output."""
    return max_bits(side, k) - ce_nats / math.log(2)
