"""Image set manifests: the image files of a set in order, their sha256, and a hash of the whole list.

A manifest (JSON) records for every image its name, path, the test input it counts for (natural, black,
white, noise) and, for dense tasks, its ground-truth mask. Feature stores record the list hash, so a
store built from other images is never taken for this one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from posenc.errors import ActionableError
from posenc.images.decode import ImageDecodeError, load_image
from posenc.images.masks import load_mask
from posenc.io import atomic_write_text, file_sha256

TEST_INPUTS = ("natural", "black", "white", "noise")


@dataclass(frozen=True)
class ImageRecord:
    name: str  # unique within the set
    path: str
    test_input: str  # the test input this image counts for: natural, black, white or noise
    sha256: str = ""
    mask: str = ""  # dense tasks: the ground-truth mask (saliency: 0/255; segmentation: class indices)
    mask_sha256: str = ""


def list_hash(records) -> str:
    """A hash of the ordered image list (names and contents)."""
    digest = hashlib.sha256()
    for rec in records:
        mask = f"\t{rec.mask_sha256}" if rec.mask else ""  # sets without masks keep their hashes
        digest.update(f"{rec.name}\t{rec.sha256}{mask}\n".encode())
    return digest.hexdigest()


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
            load_mask(rec.mask)  # a mask that does not decode is an error (never skipped: it is ground truth)
            mask_sha = file_sha256(rec.mask)
        kept.append(
            ImageRecord(rec.name, rec.path, rec.test_input, file_sha256(rec.path), rec.mask, mask_sha)
        )
        if limit is not None and len(kept) >= limit:
            break
    if not kept:
        raise ActionableError(f"image set {name!r} has no readable images: point it at a folder of images")
    manifest = {
        "image_set": name,
        "count": len(kept),
        "list_hash": list_hash(kept),
        "test_inputs": sorted({r.test_input for r in kept}),
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
        raise ActionableError(f"manifest {path} is inconsistent (list hash differs): delete it and rerun")
    return manifest, records
