"""Embedded dense-task data: composites of the bundled photos with exact masks (Table 5 offline).

Saliency: a background crop of one photo and a foreground cut from another photo by a random smooth blob,
placed with the centre bias of saliency data sets (object centres drawn around the image centre, as in
MSRA10K), mask 255 inside the blob. Segmentation: one to three objects of `classes` shape classes (ellipse,
rectangle, triangle, ...) cut from other photos, anywhere in the image, label map 0 (background) or the
class index. Train and test come from disjoint photos (the embedded splits of posenc.images.embedded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from posenc.images.embedded import photos as split_photos
from posenc.images.manifest import ImageRecord

SIDE = 256  # pixels of each written image
SHAPES = ("ellipse", "rectangle", "triangle", "diamond")  # segmentation classes 1..len(SHAPES)
CENTRE_SD = 0.12  # saliency: sd of the object centre around the image centre, as a fraction of the side


def _crop(photo: np.ndarray, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    h, w = photo.shape[:2]
    s = int(rng.uniform(0.35, 1.0) * min(h, w))
    top, left = int(rng.uniform() * (h - s)), int(rng.uniform() * (w - s))
    crop = Image.fromarray(np.ascontiguousarray(photo[top : top + s, left : left + s]))
    return np.asarray(crop.resize((side, side), Image.BILINEAR))


def blob_mask(rng: np.random.Generator, cy: float, cx: float, radius: float, side: int = SIDE) -> np.ndarray:
    """A smooth star-shaped blob: radius modulated by a few low harmonics of the angle."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64)
    angle = np.arctan2(yy - cy, xx - cx)
    r = np.full_like(angle, radius)
    for k in (2, 3, 5):
        r += radius * rng.uniform(0, 0.25 / k * 2) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    return np.hypot(yy - cy, xx - cx) <= r


def shape_mask(shape: str, cy: float, cx: float, radius: float, angle: float, side: int = SIDE) -> np.ndarray:
    """A filled shape of the given class, centred at (cy, cx)."""
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    corners = {"rectangle": 4, "triangle": 3, "diamond": 4}
    if shape == "ellipse":
        ry = radius * 0.6
        draw.ellipse([cx - radius, cy - ry, cx + radius, cy + ry], fill=1)
        canvas = canvas.rotate(np.degrees(angle), center=(cx, cy))
    else:
        n = corners[shape]
        start = angle + (np.pi / 4 if shape == "rectangle" else 0.0)
        scale = (1.0, 0.55) if shape == "diamond" else (1.0, 1.0)
        pts = []
        for i in range(n):
            a = 2 * np.pi * i / n
            px, py = radius * scale[0] * np.cos(a), radius * scale[1] * np.sin(a)
            pts.append(
                (cx + px * np.cos(start) - py * np.sin(start), cy + px * np.sin(start) + py * np.cos(start))
            )
        draw.polygon(pts, fill=1)
    return np.asarray(canvas, dtype=bool)


def saliency_composite(photos: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(photos)
    back, fore = rng.choice(len(names), size=2, replace=False)
    image = _crop(photos[names[back]], rng).copy()
    cy, cx = np.clip(rng.normal(0.5, CENTRE_SD, size=2), 0.2, 0.8) * SIDE
    mask = blob_mask(rng, cy, cx, rng.uniform(0.14, 0.28) * SIDE)
    image[mask] = _crop(photos[names[fore]], rng)[mask]
    return image, (mask * 255).astype(np.uint8)


def segmentation_composite(
    photos: dict, rng: np.random.Generator, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(photos)
    back = int(rng.integers(len(names)))
    image = _crop(photos[names[back]], rng).copy()
    label = np.zeros((SIDE, SIDE), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, classes + 1))
        cy, cx = rng.uniform(0.15, 0.85, size=2) * SIDE
        mask = shape_mask(SHAPES[cls - 1], cy, cx, rng.uniform(0.1, 0.22) * SIDE, rng.uniform(0, np.pi))
        fore = int(rng.choice([i for i in range(len(names)) if i != back]))
        image[mask] = _crop(photos[names[fore]], rng)[mask]
        label[mask] = cls
    return image, label


def build_composites(task: str, split: str, count: int, out_dir, seed: int = 0, classes: int = 3):
    """Write `count` composites (image PNG + mask PNG) of the split's photos; return their records."""
    if task not in ("saliency", "segmentation"):
        raise ValueError(f"unknown composite task {task!r}: saliency or segmentation")
    if task == "segmentation" and not 1 <= classes <= len(SHAPES):
        raise ValueError(f"segmentation composites have 1..{len(SHAPES)} classes, not {classes}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = split_photos(split)
    records = []
    for k in range(count):
        rng = np.random.default_rng([seed, k, len(split), 7])
        if task == "saliency":
            image, mask = saliency_composite(photos, rng)
        else:
            image, mask = segmentation_composite(photos, rng, classes)
        name = f"{task}_{split}_{k:05d}"
        Image.fromarray(image).save(out_dir / f"{name}.png")
        Image.fromarray(mask).save(out_dir / f"{name}.mask.png")
        records.append(
            ImageRecord(
                name=name,
                path=str(out_dir / f"{name}.png"),
                test_input="natural",
                mask=str(out_dir / f"{name}.mask.png"),
            )
        )
    return records
