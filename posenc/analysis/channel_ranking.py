"""Channel-wise position (Islam et al., "Global Pooling, More than Meets the Eye", ICCV 2021), from the stores.

Every channel of every tap is scored twice:

- `corr`: the largest |Pearson correlation| of the channel's map with the H or V position map, pooled over
  all pixels of all training images (read chunk by chunk from the training store);
- `flip`: the ICCV paper's test on globally pooled responses: how much a channel's global average changes
  when the image is flipped left-right and top-bottom, relative to its size (|GAP(x) - GAP(flip x)| /
  mean |GAP|, averaged over the natural test images and both flips). A channel that does not depend on
  where things are (translation invariant, isotropic) does not change; the flipped images are run through
  the backbone in the job (the originals come from the store, whose request is checked).

Channels are ranked by `corr`. Readouts (the top-level shape, the training settings, every seed) are then
trained on the top-k, the bottom-k and k random channels (of those that vary at all: a random VGG16 has
many dead ReLU channels) and scored on the natural test images: how
concentrated is position? Where ours differs from the ICCV paper: it ranks the channels of a classifier's
last layer with gradients of a position loss; here the ranking is the correlation above (no gradients
through the backbone), and the flip test is reported beside it with the rank agreement of the two.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from posenc.features.store import StoreReader, StoreWriter
from posenc.probe.evaluate import evaluate_store
from posenc.probe.training import LEARNED_RATIO, train_heads

SUBSETS = ("top", "bottom", "random")


def channel_names(reader: StoreReader) -> list[tuple[str, int]]:
    """(tap, index within the tap) of every channel of a store, in the order the readout reads them."""
    return [
        (tap, i) for tap, array in zip(reader.taps, reader.arrays, strict=True) for i in range(array.shape[1])
    ]


def position_correlations(reader: StoreReader) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r_H, r_V, active): each channel's Pearson correlation with the H and V maps (x/(s-1) and y/(s-1) at
    the store's size), over every pixel of every image (0 for a constant channel), and whether it varies."""
    size = reader.arrays[0].shape[-1]
    coord = np.arange(size, dtype=np.float64) / (size - 1)
    sums = np.zeros((5, reader.channels))  # a, a^2, a*h, a*v, count
    for start, stop in reader.blocks():
        a = reader.read(start, stop).astype(np.float64)  # (n, C, s, s)
        sums[0] += a.sum(axis=(0, 2, 3))
        sums[1] += (a * a).sum(axis=(0, 2, 3))
        sums[2] += np.einsum("ncyx,x->c", a, coord)
        sums[3] += np.einsum("ncyx,y->c", a, coord)
        sums[4] += a.shape[0] * size * size
    n = sums[4]
    mean_a = sums[0] / n
    var_a = np.maximum(sums[1] / n - mean_a**2, 0)
    mean_c, var_c = coord.mean(), coord.var()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = [(sums[k] / n - mean_a * mean_c) / np.sqrt(var_a * var_c) for k in (2, 3)]
    active = var_a > 1e-12 * max(var_a.max(), 1e-30)
    return tuple(np.where(active, x, 0.0) for x in r) + (active,)


def flip_scores(pooled: np.ndarray, pooled_h: np.ndarray, pooled_v: np.ndarray) -> np.ndarray:
    """Per channel: mean over images of |GAP(x) - GAP(flip x)| for both flips, over the mean |GAP| of the
    three. pooled*: (images, channels) global averages of the originals and their flips. 0: no change."""
    change = (np.abs(pooled - pooled_h).mean(0) + np.abs(pooled - pooled_v).mean(0)) / 2
    scale = (np.abs(pooled).mean(0) + np.abs(pooled_h).mean(0) + np.abs(pooled_v).mean(0)) / 3
    return np.divide(change, scale, out=np.zeros_like(change), where=scale > 0)


def ranking(reader: StoreReader, flip: np.ndarray | None = None) -> pd.DataFrame:
    """One row per channel: tap, index, r_H, r_V, whether it varies at all (`active`: a dead ReLU does not),
    corr score, flip score (if given), rank by corr (1 = most; constant channels last)."""
    r_h, r_v, active = position_correlations(reader)
    frame = pd.DataFrame(channel_names(reader), columns=["tap", "channel"])
    frame["r_H"], frame["r_V"], frame["active"] = r_h, r_v, active
    frame["corr"] = np.maximum(np.abs(r_h), np.abs(r_v))
    if flip is not None:
        frame["flip"] = flip
    order = np.argsort(-frame["corr"].to_numpy(), kind="stable")
    frame["rank"] = 0
    frame.loc[order, "rank"] = np.arange(1, len(frame) + 1)
    if flip is not None:
        frame["flip_rank"] = frame["flip"].rank(ascending=False, method="first").astype(int)
    return frame


def pick(frame: pd.DataFrame, subset: str, k: int, seed: int) -> np.ndarray:
    """Indices (reading order) of the top-k, bottom-k or k random channels by `rank`, among the channels that
    vary (a constant channel carries nothing, position or other: bottom-k of those would say nothing)."""
    order = frame[frame["active"]].sort_values("rank").index.to_numpy()
    if subset == "top":
        chosen = order[:k]
    elif subset == "bottom":
        chosen = order[-k:]
    elif subset == "random":
        chosen = np.random.default_rng(seed).choice(order, size=k, replace=False)
    else:
        raise ValueError(f"subset {subset!r}: one of {', '.join(SUBSETS)}")
    return np.sort(chosen)


def subset_store(reader: StoreReader, channels: np.ndarray, out: Path, images=None) -> Path:
    """A store holding only `channels` of `reader` (as one tap named "selected"), of all or some images."""
    images = np.arange(reader.n_images) if images is None else np.asarray(images)
    provenance = dict(reader.provenance)
    provenance["taps"] = [{"name": "selected", "channels": len(channels)}]
    provenance["selected_channels"] = [int(c) for c in channels]
    size = reader.arrays[0].shape[-1]
    names = [reader.image_names[i] for i in images]
    inputs = [reader.test_inputs[i] for i in images]
    with StoreWriter(
        out, [("selected", len(channels))], names, provenance, size, "float32", test_inputs=inputs
    ) as w:
        for start, stop in reader.blocks():
            keep = images[(images >= start) & (images < stop)]
            if len(keep):
                w.append({"selected": reader.read(start, stop)[keep - start][:, channels]})
    return out


def topk_readouts(train: StoreReader, test: StoreReader, frame, ks, spec, targets, cfg, seeds, device="cpu"):
    """Rows (subset, k, seed, target, spc, final_loss_ratio, learned): readouts trained on the channel
    subsets of the training store, scored on the natural images of the test store."""
    natural = [i for i, t in enumerate(test.test_inputs) if t == "natural"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="posenc-channels-") as tmp:
        for k in sorted({min(int(k), int(frame["active"].sum())) for k in ks}):
            for subset in SUBSETS:
                for seed in seeds:
                    chosen = pick(frame, subset, k, seed)
                    where = Path(tmp) / f"{subset}-{k}-{seed}"
                    train_store = subset_store(train, chosen, where / "train.zarr")
                    test_store = subset_store(test, chosen, where / "test.zarr", natural)
                    heads, history, provenance = train_heads(
                        train_store, spec, targets, cfg, seed, device, False
                    )
                    scores = pd.DataFrame(
                        evaluate_store(
                            heads,
                            targets,
                            spec,
                            test_store,
                            provenance,
                            output_size=cfg.output_size,
                            stripe_range=cfg.stripe_range,
                            device=device,
                        )
                    )
                    for target, spc in scores.groupby("target", sort=False)["spc"].mean().items():
                        ratio = history["final_loss_ratio"][target]
                        rows.append(
                            {
                                "subset": subset,
                                "k": k,
                                "seed": seed,
                                "target": target,
                                "spc": float(spc),
                                "final_loss_ratio": ratio,
                                "learned": ratio < LEARNED_RATIO,
                            }
                        )
    return pd.DataFrame(rows)


def pooled_responses(extractor, prep, images: torch.Tensor, taps, batch_size: int = 16) -> np.ndarray:
    """(images, channels) global averages of the taps' maps (store size), images (N, 3, S, S) in [0, 1]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            feats = extractor(prep(images[i : i + batch_size]))
            out.append(torch.cat([feats[t].float().mean(dim=(2, 3)) for t in taps], dim=1).numpy())
    return np.concatenate(out)
