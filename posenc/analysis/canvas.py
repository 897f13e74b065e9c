"""Canvas (Islam et al., "Position, Padding and Predictions", IJCV 2024): where is the pasted image?

A natural test image, shrunk to `scale` of the canvas side, is pasted at each cell of a 3 x 3 grid of a
constant canvas (black, white, or the image's own mean colour) and run through the backbone; the trained
readout's H and V heads (every seed) then say where each pixel is. Their mean inside the pasted square is
the readout's estimate of where the image lies. The IJCV paper trains networks for location-dependent tasks
on such canvases; here nothing is trained again: the question is whether the position a readout learned on
full images follows an image around a canvas (the padding cue now sits at the canvas border, the content
elsewhere). Scores: the share of pastes put in the right cell (chance 1/9), in the right column and row
(chance 1/3), and the mean distance between the estimated and true centres (in canvas sides).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from posenc.probe.readout import upsample

CANVASES = ("black", "white", "mean")
GRID = 3


def grid_offsets(size: int, side: int, grid: int = GRID) -> list[int]:
    """Top-left offsets of the cells of a grid of squares of `side` spread over `size` pixels."""
    return [round(v) for v in np.linspace(0, size - side, grid)]


def paste(image: torch.Tensor, canvas: str, side: int, y0: int, x0: int) -> torch.Tensor:
    """(3, S, S) image in [0, 1] -> the same size canvas with the image shrunk to side x side at (y0, x0)."""
    size = image.shape[-1]
    colour = {"black": torch.zeros(3), "white": torch.ones(3), "mean": image.mean(dim=(1, 2))}[canvas]
    out = colour[:, None, None].expand(3, size, size).clone()
    small = F.interpolate(
        image[None], size=(side, side), mode="bilinear", align_corners=False, antialias=True
    )
    out[:, y0 : y0 + side, x0 : x0 + side] = small[0].clamp(0, 1)
    return out


def placements(size: int, scale: float, grid: int = GRID) -> list[dict]:
    """Every cell of the grid: row, column, the square's offset and side, its true centre as H and V values."""
    side = round(size * scale)
    offsets = grid_offsets(size, side, grid)
    return [
        {
            "row": r,
            "col": c,
            "y0": y,
            "x0": x,
            "side": side,
            "true_x": (x + (side - 1) / 2) / (size - 1),
            "true_y": (y + (side - 1) / 2) / (size - 1),
        }
        for r, y in enumerate(offsets)
        for c, x in enumerate(offsets)
    ]


def locate(h_map: np.ndarray, v_map: np.ndarray, place: dict) -> tuple[float, float]:
    """The readout's estimate of a pasted square's centre: its H and V predictions averaged over the square."""
    y, x, s = place["y0"], place["x0"], place["side"]
    return float(h_map[y : y + s, x : x + s].mean()), float(v_map[y : y + s, x : x + s].mean())


def nearest_cell(value: float, centres: np.ndarray) -> int:
    return int(np.argmin(np.abs(centres - value)))


def score(estimates: pd.DataFrame, size: int, scale: float, grid: int = GRID) -> dict:
    """From rows (row, col, true_x, true_y, est_x, est_y): cell, column and row accuracy, mean centre error
    (canvas sides), and the correlation of estimated with true centres along x and y."""
    cells = placements(size, scale, grid)
    centres_x = np.array(sorted({p["true_x"] for p in cells}))
    centres_y = np.array(sorted({p["true_y"] for p in cells}))
    col = estimates["est_x"].map(lambda v: nearest_cell(v, centres_x)) == estimates["col"]
    row = estimates["est_y"].map(lambda v: nearest_cell(v, centres_y)) == estimates["row"]
    error = np.hypot(estimates["est_x"] - estimates["true_x"], estimates["est_y"] - estimates["true_y"])

    def corr(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0

    return {
        "cell_accuracy": float((col & row).mean()),
        "column_accuracy": float(col.mean()),
        "row_accuracy": float(row.mean()),
        "centre_error": float(error.mean()),
        "corr_x": corr(estimates["est_x"], estimates["true_x"]),
        "corr_y": corr(estimates["est_y"], estimates["true_y"]),
        "pastes": len(estimates),
    }


def readout_maps(features: dict, heads, taps, size: int) -> np.ndarray:
    """(N, T, size, size): the heads' predictions from a batch's tap maps, as scored."""
    with torch.no_grad():
        x = torch.cat([features[t].float() for t in taps], dim=1)
        return upsample(heads(x), size).numpy()


def canvas_estimates(extractor, prep, readouts: dict, images: torch.Tensor, scale: float) -> pd.DataFrame:
    """One row per readout, image, canvas and cell: the true centre and the estimate of the readout's H and
    V heads. readouts: seed -> (heads, targets, taps); the backbone runs once per pasted batch for all."""
    size = images.shape[-1]
    rows = []
    for canvas in CANVASES:
        for place in placements(size, scale):
            batch = torch.stack(
                [paste(img, canvas, place["side"], place["y0"], place["x0"]) for img in images]
            )
            with torch.no_grad():
                features = extractor(prep(batch))
            for seed, (heads, targets, taps) in readouts.items():
                maps = readout_maps(features, heads, taps, size)
                h, v = targets.index("H"), targets.index("V")
                for i in range(len(images)):
                    est_x, est_y = locate(maps[i, h], maps[i, v], place)
                    rows.append(
                        {"seed": seed, "canvas": canvas, "image": i, **place, "est_x": est_x, "est_y": est_y}
                    )
    return pd.DataFrame(rows)
