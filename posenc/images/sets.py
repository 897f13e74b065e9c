"""Image sets: the embedded natural photos, the official synthetic inputs, and any folder of images.

Every image set is written down as a manifest (JSON): the image files in order, their sha256, the test
input each belongs to (natural, black, white, noise) and a hash of the whole list. Feature stores record
that hash, so a store built from other images is never taken for this one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from posenc.errors import ActionableError
from posenc.images.decode import IMAGE_EXTENSIONS, ImageDecodeError, load_image
from posenc.io import atomic_write_text

SYNTHETIC_INPUTS = ("black", "white", "noise")


class MissingImages(ActionableError, FileNotFoundError):
    """An image folder that is not there or holds no images."""
OFFICIAL_DIR = resources.files("posenc") / "data" / "official"


@dataclass(frozen=True)
class ImageRecord:
    name: str  # unique within the set
    path: str
    group: str  # the test input this image counts for: natural, black, white or noise
    sha256: str = ""
    mask: str = ""  # dense tasks: the ground-truth mask (saliency: 0/255; segmentation: class indices)
    mask_sha256: str = ""


def file_sha256(path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def list_hash(records) -> str:
    """A hash of the ordered image list (names and contents)."""
    digest = hashlib.sha256()
    for rec in records:
        mask = f"\t{rec.mask_sha256}" if rec.mask else ""  # sets without masks keep their hashes
        digest.update(f"{rec.name}\t{rec.sha256}{mask}\n".encode())
    return digest.hexdigest()


# ---- embedded natural photos ---------------------------------------------------------------------------
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


def embedded_crop_plan(split: str, count: int, seed: int = 0):
    """The deterministic crops of an embedded split: (source, top, left, side, flip) fractions."""
    if split not in EMBEDDED_SOURCES:
        raise ValueError(f"unknown embedded split {split!r}: choose one of {', '.join(EMBEDDED_SOURCES)}")
    sources = list(EMBEDDED_SOURCES[split])
    plan = []
    for k in range(count):
        rng = np.random.default_rng([seed, k, len(split)])
        frac = rng.uniform(MIN_CROP_FRACTION, 1.0)
        plan.append((sources[k % len(sources)], float(frac), float(rng.uniform()), float(rng.uniform()),
                     bool(rng.uniform() < 0.5)))
    return plan


def _as_rgb_uint8(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def build_embedded(split: str, count: int, out_dir, seed: int = 0):
    """Write `count` square crops of the split's photos as PNGs into out_dir; return their records."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = {}
    records = []
    for k, (source, frac, fy, fx, flip) in enumerate(embedded_crop_plan(split, count, seed)):
        if source not in photos:
            photos[source] = _as_rgb_uint8(EMBEDDED_SOURCES[split][source]())
        photo = photos[source]
        h, w = photo.shape[:2]
        side = max(8, int(round(frac * min(h, w))))
        top, left = int(fy * (h - side)), int(fx * (w - side))
        crop = photo[top : top + side, left : left + side]
        if flip:
            crop = crop[:, ::-1]
        name = f"{split}_{k:05d}_{source}"
        path = out_dir / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(crop)).resize((EMBEDDED_SIDE, EMBEDDED_SIDE), Image.BILINEAR).save(path)
        records.append(ImageRecord(name=name, path=str(path), group="natural"))
    return records


# ---- synthetic inputs and folders ----------------------------------------------------------------------
def synthetic_records():
    """The official black, white and noise test images (vendored, MIT licence), each scored alone."""
    folder = Path(str(OFFICIAL_DIR / "images"))
    return [ImageRecord(name=n, path=str(folder / f"{n}.jpg"), group=n) for n in SYNTHETIC_INPUTS]


def folder_records(path, recursive: bool = True, group: str = "natural", pattern: str | None = None,
                   masks=None, mask_suffix: str = ".png", list_file=None):
    """Every image file under a folder (or matching `pattern`), sorted by relative path.

    With `masks`, each image's mask is the file of the same relative path under that folder with its
    suffix replaced by `mask_suffix`; an image without one is an error. With `list_file` (a text file of
    names without suffix, as PASCAL VOC's ImageSets lists), only the images it names are kept.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise MissingImages(
            f"image folder {root} does not exist: set `path` of the image set to a folder of images"
        )
    pattern = pattern or ("**/*" if recursive else "*")
    files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if list_file:
        if not Path(list_file).is_file():
            raise MissingImages(f"image list {list_file} does not exist: set `list` of the image set (or data set) "
                                f"to a text file of image names")
        wanted = set(Path(list_file).read_text().split())
        files = [p for p in files if str(p.relative_to(root).with_suffix("")) in wanted]
    if not files:
        raise MissingImages(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) matching {pattern!r} in {root}"
            + (f" named in {list_file}" if list_file else "") + ": point the image set at a folder of images"
        )
    records = [ImageRecord(name=str(p.relative_to(root)), path=str(p), group=group) for p in files]
    if masks is not None:
        mask_root = Path(masks).expanduser()
        with_masks = []
        for rec, p in zip(records, files):
            mask = mask_root / p.relative_to(root).with_suffix(mask_suffix)
            if not mask.is_file():
                raise MissingImages(f"image {p} has no mask {mask}: check `masks` and `mask_suffix` of the image set")
            with_masks.append(ImageRecord(rec.name, rec.path, group, mask=str(mask)))
        records = with_masks
    return records


# ---- manifests -----------------------------------------------------------------------------------------
def resolve_records(spec: dict, name: str, resources_dir="resources"):
    """The records of the image set `name` described by its config entry `spec`.

    For source `dataset` (unpacked by the rule download_dataset into resources/datasets/<name>), `spec`
    carries the data set's config entry as `dataset_entry`.
    """
    source = spec["source"]
    if source == "embedded":
        out = Path(resources_dir) / "images" / name
        return build_embedded(spec["split"], spec["count"], out, spec.get("seed", 0))
    if source == "synthetic":
        return synthetic_records()
    if source == "folder":
        return folder_records(spec["path"], spec.get("recursive", True), spec.get("group", "natural"),
                              spec.get("pattern"), spec.get("masks"), spec.get("mask_suffix", ".png"),
                              spec.get("list"))
    if source == "composite":
        from posenc.images.composites import build_composites

        out = Path(resources_dir) / "images" / name
        return build_composites(spec["task"], spec["split"], spec["count"], out, spec.get("seed", 0),
                                spec.get("classes", 3))
    if source == "dataset":
        from posenc.images.download import dataset_images

        if "dataset_entry" not in spec:
            raise ValueError(f"image_sets.{name}: the entry of data set {spec['dataset']!r} was not passed along")
        root = Path(resources_dir) / "datasets" / spec["dataset"]
        entry = spec["dataset_entry"]
        folder = dataset_images(root, entry)
        masks = root / entry["masks"] if entry.get("masks") else None
        listed = spec.get("list") or entry.get("list")  # the set's own split list, else the data set's
        list_file = root / listed if listed else None
        return folder_records(folder, True, spec.get("group", "natural"), entry.get("pattern"), masks,
                              entry.get("mask_suffix", ".png"), list_file)
    raise ValueError(f"image_sets.{name}.source: unknown source {source!r} "
                     f"(embedded, composite, synthetic, folder or dataset)")


def write_manifest(name: str, records, path, skip_unreadable: bool = False, limit: int | None = None) -> dict:
    """Check that every image decodes, hash it, and write the set's manifest JSON atomically.

    An unreadable file is an error naming it, unless skip_unreadable, when it is left out and counted.
    """
    kept, skipped = [], []
    for rec in records:
        try:
            load_image(rec.path)
        except ImageDecodeError as err:
            if not skip_unreadable:
                raise
            skipped.append({"path": rec.path, "reason": err.reason})
            continue
        mask_sha = ""
        if rec.mask:
            from posenc.images.masks import load_mask

            load_mask(rec.mask)  # a mask that does not decode is an error (never skipped: it is ground truth)
            mask_sha = file_sha256(rec.mask)
        kept.append(ImageRecord(rec.name, rec.path, rec.group, file_sha256(rec.path), rec.mask, mask_sha))
        if limit is not None and len(kept) >= limit:
            break
    if not kept:
        raise RuntimeError(f"image set {name!r} has no readable images")
    manifest = {
        "image_set": name,
        "count": len(kept),
        "list_hash": list_hash(kept),
        "groups": sorted({r.group for r in kept}),
        "skipped": skipped,
        "images": [asdict(r) for r in kept],
    }
    atomic_write_text(path, json.dumps(manifest, indent=1))
    return manifest


def read_manifest(path) -> tuple[dict, list[ImageRecord]]:
    with open(path) as fh:
        manifest = json.load(fh)
    records = [ImageRecord(**r) for r in manifest["images"]]
    if list_hash(records) != manifest["list_hash"]:
        raise RuntimeError(f"manifest {path} is inconsistent (list hash differs): delete it and rerun")
    return manifest, records



def build_image_set(name: str, spec: dict, manifest_path, resources_dir="resources") -> dict:
    """Resolve an image set from its config entry, write its manifest, and check the expected count."""
    records = resolve_records(spec, name, resources_dir)
    limit = spec.get("count") if spec["source"] in ("folder", "dataset") else None
    expected = spec.get("expected_count")
    if expected is not None and len(records) != expected:
        raise ActionableError(f"image set {name!r}: found {len(records)} image files, expected {expected} "
                           f"(image_sets.{name}.expected_count): check the folder, or change or drop expected_count")
    return write_manifest(name, records, manifest_path, spec.get("skip_unreadable", False), limit)
