"""Decoding image files of any common kind into float RGB arrays, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from posenc.errors import ActionableError

# posenc checks an image's declared size against the set's max_pixels itself (and names the file), so
# PIL's own decompression-bomb check (a warning, then an exception without the file) is turned off.
Image.MAX_IMAGE_PIXELS = None

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")


class ImageDecodeError(ActionableError):
    """A file that cannot be read as an image."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"cannot read image {self.path}: {reason}. Replace or remove the file, or set "
            f"`skip_unreadable: true` on its image set to skip (and count) such files."
        )


def _to_float_rgb(img: Image.Image) -> np.ndarray:
    """PIL image of any mode -> float32 (H, W, 3) in [0, 1]. Alpha is composited over black."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "I":  # 32-bit integer, as PIL opens most 16-bit greyscale PNGs
        gray = np.asarray(img, dtype=np.int64).astype(np.float32)
        scale = 65535.0 if gray.max() > 255 or img.format in ("PNG", "TIFF") else 255.0
        return np.repeat(np.clip(gray / scale, 0, 1)[..., None], 3, axis=2)
    if img.mode == "F":
        gray = np.asarray(img, dtype=np.float32)
        if gray.min() < 0 or gray.max() > 1:
            raise ValueError(f"floating-point image with values outside [0, 1] ({gray.min()}..{gray.max()})")
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        return rgba[..., :3] * rgba[..., 3:4]
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def load_image(path, max_pixels: int | None = None) -> np.ndarray:
    """Read one image file as float32 (H, W, 3) RGB in [0, 1].

    Handles greyscale, palette, RGBA (composited over black), 16-bit greyscale and EXIF orientation;
    multi-frame files give their first frame. Raises ImageDecodeError naming the file otherwise, also when
    the file declares more than `max_pixels` pixels (checked from its header, before decoding). Files listed
    in a manifest passed their set's limit when it was written: later reads pass None.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageDecodeError(path, "no such file")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageDecodeError(
                    path,
                    f"it declares {width}x{height} = {width * height:,} pixels, beyond the image set's "
                    f"max_pixels of {max_pixels:,} (a guard against decompression bombs; raise max_pixels "
                    f"if the image is genuine)",
                )
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_float_rgb(img)
    except ImageDecodeError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as err:
        raise ImageDecodeError(path, f"{type(err).__name__}: {err}") from err
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ImageDecodeError(path, f"image is only {rgb.shape[1]}x{rgb.shape[0]} pixels")
    if not np.isfinite(rgb).all():
        raise ImageDecodeError(path, "image holds NaN or infinite values")
    return rgb
