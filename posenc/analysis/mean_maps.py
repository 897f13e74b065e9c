"""Mean feature maps (Alsallakh et al., "Mind the Pad", ICLR 2021), from the cached stores.

Per tap, the mean activation over every image and channel of a store, computed with dask in float32 chunk
by chunk (the store is never loaded whole). A padded network's mean map shows its borders: a ring that
differs from the inside, and, where a strided convolution or pooling cannot use its last row and column of
padding ((H + 2p - k) not divisible by the stride), a left/right or top/bottom asymmetry. Differences from
the paper: the maps are those of the store, i.e. each tap resized to the stored size (bilinear), and the
summary numbers below are ours.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from posenc.features.store import StoreReader


def mean_maps(store, request: dict | None = None) -> dict[str, np.ndarray]:
    """Tap -> (size, size) float32 mean over images and channels (a store built otherwise than `request` is
    refused, as every reader)."""
    reader = StoreReader(store, request=request)
    out = {}
    for name, array in zip(reader.taps, reader.arrays, strict=True):
        lazy = da.from_array(array, chunks=array.chunks).astype(np.float32)
        out[name] = lazy.mean(axis=(0, 1)).compute()
    return out


def border_stats(m: np.ndarray) -> dict[str, float]:
    """How a mean map's border differs from its inside, relative to the map's mean magnitude:
    border_contrast = (mean of the outer ring - mean of the inside) / mean |m|; lr_asymmetry and
    tb_asymmetry = (first column - last column) and (first row - last row), likewise scaled."""
    scale = float(np.abs(m).mean()) or 1.0
    ring = np.ones_like(m, dtype=bool)
    ring[1:-1, 1:-1] = False
    return {
        "border_contrast": float((m[ring].mean() - m[~ring].mean()) / scale),
        "lr_asymmetry": float((m[:, 0].mean() - m[:, -1].mean()) / scale),
        "tb_asymmetry": float((m[0, :].mean() - m[-1, :].mean()) / scale),
    }


def summarise(store, backbone: dict, input_size: int, request: dict | None = None):
    """(tap -> mean map, one row per tap): border contrast, asymmetries, and the layers of the backbone's
    architecture (with its padding) that pad unevenly at this input size."""
    from posenc.features.architectures import build_random, set_conv_padding, trunk_of, uneven_padding
    from posenc.features.registry import get_arch

    maps = mean_maps(store, request)
    arch = get_arch(backbone["arch"])
    trunk = set_conv_padding(trunk_of(arch, build_random(arch, 0)), backbone.get("conv_padding", True))
    uneven = uneven_padding(trunk, input_size)
    rows = [
        {
            "backbone": backbone["name"],
            "arch": arch.name,
            "conv_padding": backbone.get("conv_padding", True),
            "tap": tap,
            **border_stats(m),
            "uneven_layers": len(uneven),
            "uneven_padding": "; ".join(
                f"{u['module']} (in {u['input']}, k{u['kernel']} s{u['stride']} p{u['padding']})"
                for u in uneven
            ),
        }
        for tap, m in maps.items()
    ]
    return maps, rows
