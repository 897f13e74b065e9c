"""Ground-truth masks of the dense tasks: saliency (binary) and semantic segmentation (class indices)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from posenc.images.decode import ImageDecodeError

IGNORE = 255  # segmentation label of pixels that count for nothing (PASCAL VOC's object borders)


def load_mask(path) -> np.ndarray:
    """A mask file as a (H, W) uint8 array: grey values, or palette indices for palette PNGs (VOC)."""
    path = Path(path)
    if not path.is_file():
        raise ImageDecodeError(path, "no such mask file")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode == "P":  # palette PNGs store class indices (PASCAL VOC)
                return np.array(img, dtype=np.uint8)
            return np.array(img.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageDecodeError(path, f"{type(err).__name__}: {err}") from err


def saliency_target(mask: np.ndarray) -> np.ndarray:
    """Binary ground truth of a saliency mask (grey values above half are salient)."""
    return mask > 127


def segmentation_target(mask: np.ndarray, classes: int) -> np.ndarray:
    """Class indices 0..classes; anything else (VOC's 255 borders, stray values) becomes IGNORE."""
    labels = mask.astype(np.int64)
    labels[(labels > classes)] = IGNORE
    return labels
