"""Input preprocessing: resizing a decoded image to the input size, and what a backbone sees after that.

Images arrive as RGB in [0, 1]. `official` feeds them unchanged, as the paper's code does even for
pretrained weights (docs/protocol.md §3); the others are the native conventions of the weight sources.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Preprocessing:
    name: str
    scale: float  # multiply the [0, 1] RGB input by this first
    mean: tuple[float, float, float]  # then subtract this (RGB order, after scaling)
    std: tuple[float, float, float]  # then divide by this
    description: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) RGB in [0, 1]."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * self.scale - mean) / std

    def as_dict(self) -> dict:
        return asdict(self)


PREPROCESSINGS = {
    p.name: p
    for p in (
        Preprocessing(
            "official",
            1.0,
            (0.0, 0.0, 0.0),
            (1.0, 1.0, 1.0),
            "RGB in [0, 1], no normalisation (the official code)",
        ),
        Preprocessing(
            "imagenet",
            1.0,
            (0.485, 0.456, 0.406),
            (0.229, 0.224, 0.225),
            "RGB in [0, 1] normalised with the ImageNet mean and std (torchvision weights)",
        ),
        Preprocessing(
            "caffe",
            255.0,
            (123.68, 116.779, 103.939),
            (1.0, 1.0, 1.0),
            "RGB on the 0..255 scale minus the Caffe VGG mean (HED; first conv reordered to RGB)",
        ),
        Preprocessing(
            "inception",
            1.0,
            (0.5, 0.5, 0.5),
            (0.5, 0.5, 0.5),
            "RGB in [-1, 1] (TensorFlow's EfficientNet-Lite and Inception convention; timm's tf_ models)",
        ),
    )
}


def get_preprocessing(name: str) -> Preprocessing:
    try:
        return PREPROCESSINGS[name]
    except KeyError:
        raise ValueError(
            f"unknown preprocessing {name!r}: choose one of {', '.join(PREPROCESSINGS)}"
        ) from None


def resize_image(rgb: np.ndarray, size: int) -> torch.Tensor:
    """(H, W, 3) float array -> (3, size, size) float32 tensor, bilinear with antialiasing."""
    t = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    if t.shape[-2:] != (size, size):
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t[0].clamp_(0.0, 1.0)
