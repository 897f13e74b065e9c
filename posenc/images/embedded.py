"""Images that ship with posenc's dependencies: photos of scikit-image, scikit-learn and matplotlib, and
the official synthetic test inputs (black, white, noise; vendored, MIT licence).

The embedded natural image sets are deterministic square crops of those photos; training and test crops
come from disjoint photos.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from posenc.images.manifest import ImageRecord

SYNTHETIC_INPUTS = ("black", "white", "noise")
OFFICIAL_DIR = resources.files("posenc") / "data" / "official"


def _skimage(name):
    def load():
        import skimage.data

        img = getattr(skimage.data, name)()
        return np.array(img[0] if isinstance(img, tuple) else img)  # copy: skimage arrays are read-only

    return load


def _sklearn(name):
    def load():
        from sklearn.datasets import load_sample_image

        return np.array(load_sample_image(name))

    return load


def _matplotlib(name):
    def load():
        from matplotlib import cbook

        with cbook.get_sample_data(name) as fh:
            return np.array(Image.open(fh).convert("RGB"))

    return load


# Train and test come from disjoint source photos (colour and greyscale in both).
EMBEDDED_SOURCES = {
    "train": {
        "astronaut": _skimage("astronaut"),
        "coffee": _skimage("coffee"),
        "hubble": _skimage("hubble_deep_field"),
        "ihc": _skimage("immunohistochemistry"),
        "retina": _skimage("retina"),
        "rocket": _skimage("rocket"),
        "motorcycle": _skimage("stereo_motorcycle"),
        "china": _sklearn("china.jpg"),
        "camera": _skimage("camera"),
        "brick": _skimage("brick"),
        "grass": _skimage("grass"),
        "gravel": _skimage("gravel"),
        "moon": _skimage("moon"),
        "cell": _skimage("cell"),
    },
    "test": {
        "chelsea": _skimage("chelsea"),
        "flower": _sklearn("flower.jpg"),
        "grace_hopper": _matplotlib("grace_hopper.jpg"),
        "coins": _skimage("coins"),
        "clock": _skimage("clock"),
        "text": _skimage("text"),
    },
}
EMBEDDED_SIDE = 256  # pixels of each written crop
MIN_CROP_FRACTION = 0.35  # smallest crop side, as a fraction of the photo's shorter side


def as_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """A photo of any channel count as a writable (H, W, 3) uint8 array."""
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def photos(split: str) -> dict[str, np.ndarray]:
    """Every source photo of an embedded split, as RGB uint8."""
    return {name: as_rgb_uint8(load()) for name, load in EMBEDDED_SOURCES[split].items()}


def embedded_crop_plan(split: str, count: int, seed: int = 0):
    """The deterministic crops of an embedded split: (source, top, left, side, flip) fractions."""
    if split not in EMBEDDED_SOURCES:
        raise ValueError(f"unknown embedded split {split!r}: choose one of {', '.join(EMBEDDED_SOURCES)}")
    sources = list(EMBEDDED_SOURCES[split])
    plan = []
    for k in range(count):
        rng = np.random.default_rng([seed, k, len(split)])
        frac = rng.uniform(MIN_CROP_FRACTION, 1.0)
        plan.append(
            (
                sources[k % len(sources)],
                float(frac),
                float(rng.uniform()),
                float(rng.uniform()),
                bool(rng.uniform() < 0.5),
            )
        )
    return plan


def build_embedded(split: str, count: int, out_dir, seed: int = 0):
    """Write `count` square crops of the split's photos as PNGs into out_dir; return their records."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded = {}
    records = []
    for k, (source, frac, fy, fx, flip) in enumerate(embedded_crop_plan(split, count, seed)):
        if source not in loaded:
            loaded[source] = as_rgb_uint8(EMBEDDED_SOURCES[split][source]())
        photo = loaded[source]
        h, w = photo.shape[:2]
        side = max(8, int(round(frac * min(h, w))))
        top, left = int(fy * (h - side)), int(fx * (w - side))
        crop = photo[top : top + side, left : left + side]
        if flip:
            crop = crop[:, ::-1]
        name = f"{split}_{k:05d}_{source}"
        path = out_dir / f"{name}.png"
        image = Image.fromarray(np.ascontiguousarray(crop)).resize(
            (EMBEDDED_SIDE, EMBEDDED_SIDE), Image.BILINEAR
        )
        image.save(path)
        records.append(ImageRecord(name=name, path=str(path), test_input="natural"))
    return records


def synthetic_records():
    """The official black, white and noise test images, each scored alone as its own test input."""
    folder = Path(str(OFFICIAL_DIR / "images"))
    return [ImageRecord(name=n, path=str(folder / f"{n}.jpg"), test_input=n) for n in SYNTHETIC_INPUTS]
