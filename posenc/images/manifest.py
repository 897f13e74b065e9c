"""Image set manifests: the image files of a set in order, their sha256, and a hash of the whole list.

A manifest (JSON) records for every image its name, path, the test input it counts for (natural, black,
white, noise) and, for dense tasks, its ground-truth mask. Feature stores record the list hash, so a
store built from other images is never taken for this one. It also records the size and modification time
of every file it hashed, so that a later run finds files changed in place by a stat and hashes only those.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, replace

from posenc.errors import ActionableError, snakemake_command
from posenc.images.decode import ImageDecodeError, load_image
from posenc.images.masks import load_mask
from posenc.io import atomic_write_text, file_sha256
from posenc.schema import image_set_defaults

TEST_INPUTS = ("natural", "black", "white", "noise")
# An image this much wider than high (or higher than wide) is squashed to a square: say so.
EXTREME_ASPECT = 4.0


@dataclass(frozen=True)
class ImageRecord:
    name: str  # unique within the set
    path: str
    test_input: str  # the test input this image counts for: natural, black, white or noise
    sha256: str = ""
    mask: str = ""  # dense tasks: the ground-truth mask (saliency: 0/255; segmentation: class indices)
    mask_sha256: str = ""
    # photos from a package (source packages): where each came from and under which licence
    package: str = ""  # package name and version, e.g. "scratch 1.4.0.6~dfsg1-6.1"
    member: str = ""  # path inside the package's archive
    licence: str = ""
    author: str = ""  # author or copyright holder, as the package's copyright file states it
    # composites of package files: the photos and cut-outs it is made of (<package>/<file>, joined by " + ")
    parts: str = ""


def list_hash(records) -> str:
    """A hash of the ordered image list (names and contents)."""
    digest = hashlib.sha256()
    for rec in records:
        mask = f"\t{rec.mask_sha256}" if rec.mask else ""  # sets without masks keep their hashes
        digest.update(f"{rec.name}\t{rec.sha256}{mask}\n".encode())
    return digest.hexdigest()


def file_state(path) -> list[int]:
    """[size, mtime in ns] of a file: what tells, without reading it, that it is as it was."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def known_sha256(path, known: dict) -> str:
    """The sha256 of a file: from `known` (path -> [size, mtime_ns, sha256], a manifest's "files") when its
    size and modification time are as recorded there, else read now."""
    entry = known.get(str(path))
    if entry is not None and file_state(path) == entry[:2]:
        return entry[2]
    return file_sha256(path)


_SET = image_set_defaults()


@dataclass(frozen=True)
class SetRules:
    """What an image set takes (its config entry's keys, defaults from the schema): see write_manifest."""

    skip_unreadable: bool = _SET["skip_unreadable"]
    duplicates: str = _SET["duplicates"]  # drop | keep
    min_size: int = _SET["min_size"]  # short side, pixels; 0 takes every size
    small_images: str = _SET["small_images"]  # skip | refuse
    max_pixels: int = _SET["max_pixels"]

    @classmethod
    def from_entry(cls, entry: dict) -> SetRules:
        return cls(**{k: entry[k] for k in cls.__dataclass_fields__ if k in entry})


def write_manifest(name: str, records, path, rules: SetRules = SetRules(), limit: int | None = None) -> dict:
    """Check that every image decodes, hash it, and write the set's manifest JSON atomically.

    An unreadable file, or one declaring more than `rules.max_pixels` pixels, is an error naming it, unless
    skip_unreadable, when it is left out, listed in `skipped` and named on stderr (the job's log). An image
    whose short side is under `rules.min_size` is skipped the same way (or refused: `small_images`), never
    silently upscaled. A file whose content (sha256) an earlier one of the set has is dropped and listed in
    `duplicates` (unless `duplicates: keep`). An image of extreme aspect ratio (beyond 4:1), squashed to a
    square by the resize, is named on stderr too.
    """
    kept, skipped, duplicates, files, first = [], [], [], {}, {}
    for rec in records:
        try:
            image = load_image(rec.path, rules.max_pixels)
        except ImageDecodeError as err:
            if not rules.skip_unreadable:
                raise
            skipped.append({"path": rec.path, "reason": err.reason})
            print(f"image set {name}: skipped {rec.path} ({err.reason})", file=sys.stderr)
            continue
        height, width = image.shape[:2]
        if min(height, width) < rules.min_size:
            reason = (
                f"{width}x{height} pixels, under the set's min_size of {rules.min_size} on the short side"
            )
            if rules.small_images == "refuse":
                raise ActionableError(
                    f"image set {name}: {rec.path} is {reason}: remove it, lower image_sets.{name}.min_size, "
                    f"or set image_sets.{name}.small_images: skip"
                )
            skipped.append({"path": rec.path, "reason": reason})
            print(f"image set {name}: skipped {rec.path} ({reason}; it would be upscaled)", file=sys.stderr)
            continue
        if max(height, width) > EXTREME_ASPECT * min(height, width):
            print(
                f"image set {name}: {rec.path} is {width}x{height}; it is squashed to a square like every "
                f"image (input.size), which distorts it strongly",
                file=sys.stderr,
            )
        sha = file_sha256(rec.path)
        if sha in first and rules.duplicates == "drop":
            duplicates.append({"path": rec.path, "same_as": first[sha]})
            print(f"image set {name}: dropped {rec.path}, the same file as {first[sha]}", file=sys.stderr)
            continue
        first.setdefault(sha, rec.path)
        mask_sha = ""
        if rec.mask:
            load_mask(rec.mask)  # a mask that does not decode is an error (never skipped: it is ground truth)
            mask_sha = file_sha256(rec.mask)
            files[rec.mask] = [*file_state(rec.mask), mask_sha]
        files[rec.path] = [*file_state(rec.path), sha]
        kept.append(replace(rec, sha256=sha, mask_sha256=mask_sha))
        if limit is not None and len(kept) >= limit:
            break
    if not kept:
        if skipped:
            raise ActionableError(
                f"image set {name!r} has no usable images: all {len(skipped)} were skipped (e.g. "
                f"{skipped[0]['path']}: {skipped[0]['reason']}); point it at other images, or relax the "
                f"rule that skipped them (image_sets.{name}.min_size, max_pixels)"
            )
        raise ActionableError(f"image set {name!r} has no readable images: point it at a folder of images")
    manifest = {
        "image_set": name,
        "count": len(kept),
        "list_hash": list_hash(kept),
        "test_inputs": sorted({r.test_input for r in kept}),
        "rules": asdict(rules),
        "skipped": skipped,
        "duplicates": duplicates,
        "images": [asdict(r) for r in kept],
        "files": files,
    }
    if skipped:
        print(
            f"image set {name}: {len(skipped)} file(s) skipped (each listed in the manifest)", file=sys.stderr
        )
    if duplicates:
        print(f"image set {name}: {len(duplicates)} duplicate file(s) dropped", file=sys.stderr)
    atomic_write_text(path, json.dumps(manifest, indent=1))
    return manifest


def read_manifest(path) -> tuple[dict, list[ImageRecord]]:
    with open(path) as fh:
        manifest = json.load(fh)
    records = [ImageRecord(**r) for r in manifest["images"]]
    if list_hash(records) != manifest["list_hash"]:
        raise ActionableError(
            f"manifest {path} is inconsistent (list hash differs): rebuild it: "
            f"{snakemake_command(str(path), force=True)}"
        )
    return manifest, records


def changed_files(manifest: dict, records) -> list[str]:
    """Images and masks of a manifest that are gone or whose content differs from the recorded hash
    (a stat first; only files whose size or modification time changed are read)."""
    known = manifest.get("files", {})
    changed = []
    for rec in records:
        for file, sha in ((rec.path, rec.sha256), (rec.mask, rec.mask_sha256)):
            if not file or not sha:
                continue
            if not os.path.isfile(file):
                changed.append(f"{file} (gone)")
            elif known_sha256(file, known) != sha:
                changed.append(f"{file} (content changed)")
    return changed
