"""Dense-task data offline: composite images with exact masks (Table 5).

Two kinds of composite, both SIDE x SIDE:

- Real objects on real photos (a set with `cutouts` and `packages`): photographed objects cut out with an
  alpha channel (a catalogued package of kind "cutouts", e.g. Tux Paint's stamps) pasted on random crops of
  the photos of other packages. A pixel belongs to the object where the resized alpha is at least
  `alpha_threshold`; only those pixels are pasted (no blending), so the mask is exactly the pasted pixels.
  Saliency: one object, its centre drawn around the image centre (as MSRA10K's), mask 255. Segmentation:
  one to three objects anywhere, each of a class taken from the cut-outs' own categories (`categories`,
  class k = categories[k-1]), label map 0 (background) or the class. The cut-outs split into train and test
  by their sha256 (CUTOUT_TEST_SHARE of them test), so no object is in both.
- The bundled photos alone (no `packages`: the tiny test configuration): a background crop of one photo and
  a foreground cut from another by a random smooth blob (saliency) or by a shape of `classes` shape classes
  (segmentation); train and test come from the disjoint embedded photo splits (posenc.images.embedded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from posenc import paths
from posenc.errors import ActionableError
from posenc.images.embedded import photos as split_photos
from posenc.images.manifest import ImageRecord
from posenc.images.packages import catalog, package_folder_ready, package_photos
from posenc.schema import image_set_defaults

SIDE = 256  # pixels of each written image
SHAPES = ("ellipse", "rectangle", "triangle", "diamond")  # segmentation classes 1..len(SHAPES)
CENTRE_SD = 0.12  # saliency: sd of the object centre around the image centre, as a fraction of the side
CUTOUT_TEST_SHARE = 4  # one cut-out in 4 (by its sha256) is a test object
BACKGROUND_MAX_SIDE = 640  # background photos are kept at most this large on their long side (memory)
# an object's long side, as a fraction of SIDE
SALIENCY_OBJECT = (0.4, 0.75)
SEGMENTATION_OBJECT = (0.25, 0.5)
_SET = image_set_defaults()


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


@dataclass(frozen=True)
class Cutout:
    name: str  # <package>/<file>, as the set's `parts` name it
    rgba: np.ndarray  # (H, W, 4) uint8
    category: str  # the first folder under the package's categories_under


@dataclass(frozen=True)
class RealParts:
    """What real-object composites are made of: background photos and cut-outs, by name."""

    backgrounds: dict  # name -> (H, W, 3) uint8
    cutouts: tuple  # of Cutout
    alpha_threshold: int
    categories: tuple = ()  # segmentation: class k is categories[k - 1]


def cutout_split(sha256: str) -> str:
    """Which split a cut-out belongs to, fixed by its content: test for one in CUTOUT_TEST_SHARE."""
    return "test" if int(sha256[:8], 16) % CUTOUT_TEST_SHARE == 0 else "train"


def cutout_category(key: str, member: str) -> str:
    """A cut-out's category: the first folder of its path under the package's categories_under."""
    root = catalog()[key].get("categories_under", "")
    return member.removeprefix(root).split("/", 1)[0]


def _package_folder(key: str, resources_dir) -> Path:
    folder = Path(paths.photos(key, resources_dir))
    if not package_folder_ready(folder):
        raise ActionableError(
            f"the files of package {key} are not unpacked in {folder}: the rule fetch_photo_package does it "
            f"(snakemake runs it for you)"
        )
    return folder


def load_cutouts(key: str, split: str, resources_dir="resources", categories=None) -> tuple:
    """The cut-outs of a package's split (of the given categories, when named), as RGBA arrays."""
    folder = _package_folder(key, resources_dir)
    out = []
    for photo in package_photos(key):
        category = cutout_category(key, photo.member)
        if cutout_split(photo.sha256) != split or (categories and category not in categories):
            continue
        with Image.open(folder / photo.file_name) as im:
            out.append(Cutout(f"{key}/{photo.file_name}", np.asarray(im.convert("RGBA")), category))
    return tuple(out)


def load_backgrounds(keys, resources_dir="resources") -> dict:
    """The photos of the named packages, as RGB arrays at most BACKGROUND_MAX_SIDE on the long side."""
    out = {}
    for key in keys:
        folder = _package_folder(key, resources_dir)
        for photo in package_photos(key):
            with Image.open(folder / photo.file_name) as im:
                im = im.convert("RGB")
                im.thumbnail((BACKGROUND_MAX_SIDE, BACKGROUND_MAX_SIDE), Image.LANCZOS)
                out[f"{key}/{photo.file_name}"] = np.asarray(im)
    return out


def paste(image, label, cutout: Cutout, long_side: int, cy: float, cx: float, value: int, flip: bool,
          threshold: int) -> np.ndarray:  # fmt: skip
    """Paste the cut-out, scaled to `long_side` and centred at (cy, cx), into `image` where its alpha is at
    least `threshold`; set `label` there to `value`; return the pasted pixels (what the mask holds)."""
    obj = Image.fromarray(cutout.rgba)
    h, w = cutout.rgba.shape[:2]
    scale = long_side / max(h, w)
    obj = obj.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    if flip:
        obj = obj.transpose(Image.FLIP_LEFT_RIGHT)
    rgba = np.asarray(obj)
    top, left = int(round(cy - rgba.shape[0] / 2)), int(round(cx - rgba.shape[1] / 2))
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + rgba.shape[0], image.shape[0]), min(left + rgba.shape[1], image.shape[1])
    piece = rgba[y0 - top : y1 - top, x0 - left : x1 - left]
    pasted = np.zeros(image.shape[:2], bool)
    pasted[y0:y1, x0:x1] = piece[..., 3] >= threshold
    image[pasted] = piece[..., :3][pasted[y0:y1, x0:x1]]
    label[pasted] = value
    return pasted


def _object_centre(rng, size: int, centred: bool) -> tuple[float, float]:
    """An object centre that keeps a box of `size` inside the image: around the image centre (saliency)
    or anywhere (segmentation)."""
    lo, hi = size / 2, SIDE - size / 2
    if centred:
        return tuple(float(v) for v in np.clip(rng.normal(0.5, CENTRE_SD, size=2) * SIDE, lo, hi))
    return tuple(float(v) for v in rng.uniform(lo, hi, size=2))


def real_saliency_composite(parts: RealParts, rng) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted(parts.backgrounds)
    back = names[int(rng.integers(len(names)))]
    image = _crop(parts.backgrounds[back], rng).copy()
    mask = np.zeros((SIDE, SIDE), np.uint8)
    cutout = parts.cutouts[int(rng.integers(len(parts.cutouts)))]
    size = int(rng.uniform(*SALIENCY_OBJECT) * SIDE)
    cy, cx = _object_centre(rng, size, centred=True)
    paste(image, mask, cutout, size, cy, cx, 255, bool(rng.integers(2)), parts.alpha_threshold)
    return image, mask, [back, cutout.name]


def real_segmentation_composite(parts: RealParts, rng) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted(parts.backgrounds)
    back = names[int(rng.integers(len(names)))]
    image = _crop(parts.backgrounds[back], rng).copy()
    label = np.zeros((SIDE, SIDE), np.uint8)
    used = [back]
    by_class = [[c for c in parts.cutouts if c.category == cat] for cat in parts.categories]
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(1, len(by_class) + 1))
        group = by_class[cls - 1]
        cutout = group[int(rng.integers(len(group)))]
        size = int(rng.uniform(*SEGMENTATION_OBJECT) * SIDE)
        cy, cx = _object_centre(rng, size, centred=False)
        paste(image, label, cutout, size, cy, cx, cls, bool(rng.integers(2)), parts.alpha_threshold)
        used.append(cutout.name)
    return image, label, used


def real_parts(entry: dict, resources_dir="resources") -> RealParts:
    """The backgrounds and cut-outs a composite set's entry names (its `packages` and `cutouts`)."""
    settings = {**_SET, **entry}
    categories = (
        tuple(settings["categories"][: settings["classes"]]) if entry["task"] == "segmentation" else ()
    )
    cutouts = load_cutouts(entry["cutouts"], entry["split"], resources_dir, categories)
    for category in categories:
        if not any(c.category == category for c in cutouts):
            raise ActionableError(
                f"package {entry['cutouts']} has no {entry['split']} cut-outs of category {category!r}: "
                f"choose `categories` among its folders under {catalog()[entry['cutouts']].get('categories_under')}"
            )
    if not cutouts:
        raise ActionableError(f"package {entry['cutouts']} holds no {entry['split']} cut-outs")
    backgrounds = load_backgrounds(entry["packages"], resources_dir)
    return RealParts(backgrounds, cutouts, settings["alpha_threshold"], categories)


def build_composites(
    task: str,
    split: str,
    count: int,
    out_dir,
    seed: int = 0,
    classes: int = 3,
    parts: RealParts | None = None,
):
    """Write `count` composites (image PNG + mask PNG) and return their records: of real cut-outs on real
    photos with `parts`, else of the split's bundled photos. A record's `parts` names the photos and
    cut-outs it is made of."""
    if task not in ("saliency", "segmentation"):
        raise ValueError(f"unknown composite task {task!r}: saliency or segmentation")
    if task == "segmentation" and parts is None and not 1 <= classes <= len(SHAPES):
        raise ValueError(f"segmentation composites have 1..{len(SHAPES)} classes, not {classes}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = split_photos(split) if parts is None else None
    records = []
    for k in range(count):
        rng = np.random.default_rng([seed, k, len(split), 7])
        used = []
        if parts is not None and task == "saliency":
            image, mask, used = real_saliency_composite(parts, rng)
        elif parts is not None:
            image, mask, used = real_segmentation_composite(parts, rng)
        elif task == "saliency":
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
                parts=" + ".join(used),
            )
        )
    return records
