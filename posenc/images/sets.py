"""Image sets: resolve a config entry (embedded, packages, composite, synthetic, folder, data set) to its
images and write its manifest."""

from __future__ import annotations

import json
from pathlib import Path

from posenc import paths
from posenc.errors import ActionableError
from posenc.images.composites import build_composites, real_parts
from posenc.images.decode import IMAGE_EXTENSIONS
from posenc.images.download import dataset_images
from posenc.images.embedded import build_embedded, synthetic_records
from posenc.images.manifest import (
    ImageRecord,
    SetRules,
    changed_files,
    known_sha256,
    read_manifest,
    write_manifest,
)
from posenc.images.packages import catalog, package_folder_ready, package_photos


class MissingImages(ActionableError, FileNotFoundError):
    """An image folder that is not there or holds no images."""


def folder_records(
    path,
    recursive: bool = True,
    test_input: str = "natural",
    pattern: str | None = None,
    masks=None,
    mask_suffix: str = ".png",
    list_file=None,
):
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
            raise MissingImages(
                f"image list {list_file} does not exist: set `list` of the image set (or data set) "
                f"to a text file of image names"
            )
        wanted = set(Path(list_file).read_text().split())
        files = [p for p in files if str(p.relative_to(root).with_suffix("")) in wanted]
    if not files:
        raise MissingImages(
            f"no image files ({', '.join(IMAGE_EXTENSIONS)}) matching {pattern!r} in {root}"
            + (f" named in {list_file}" if list_file else "")
            + ": point the image set at a folder of images"
        )
    records = [ImageRecord(name=str(p.relative_to(root)), path=str(p), test_input=test_input) for p in files]
    if masks is not None:
        mask_root = Path(masks).expanduser()
        with_masks = []
        for rec, p in zip(records, files):
            mask = mask_root / p.relative_to(root).with_suffix(mask_suffix)
            if not mask.is_file():
                raise MissingImages(
                    f"image {p} has no mask {mask}: check `masks` and `mask_suffix` of the image set"
                )
            with_masks.append(ImageRecord(rec.name, rec.path, test_input, mask=str(mask)))
        records = with_masks
    return records


def package_records(packages, resources_dir="resources") -> list[ImageRecord]:
    """The curated photographs of the named packages, package by package in catalogue order, with where
    each came from and its licence."""
    records = []
    for key in packages:
        folder = Path(paths.photos(key, resources_dir))
        if not package_folder_ready(folder):
            raise MissingImages(
                f"the photos of package {key} are not unpacked in {folder}: the rule fetch_photo_package "
                f"does it (snakemake runs it for you)"
            )
        entry = catalog()[key]
        for photo in package_photos(key):
            records.append(
                ImageRecord(
                    name=f"{key}/{photo.file_name}",
                    path=str(folder / photo.file_name),
                    test_input="natural",
                    package=f"{entry['name']} {entry['version']}",
                    member=photo.member,
                    licence=photo.licence,
                    author=photo.source,
                )
            )
    return records


def spread(records: list, count: int | None) -> list:
    """`count` of the records, evenly spaced through the list (so every package and subject keeps its
    share); all of them without a count."""
    if count is None or count >= len(records):
        return records
    return [records[(k * len(records)) // count] for k in range(count)]


def resolve_records(entry: dict, name: str, resources_dir="resources"):
    """The records of the image set `name` described by its config entry.

    For source `dataset` (unpacked by the rule download_dataset into resources/datasets/<name>), the entry
    carries the data set's config entry as `dataset_entry`.
    """
    try:
        return _resolve(entry, name, resources_dir)
    except MissingImages as err:
        raise MissingImages(f"image set {name!r} (config key image_sets.{name}): {err}") from None


def _resolve(entry: dict, name: str, resources_dir):
    source = entry["source"]
    if source == "embedded":
        return build_embedded(
            entry["split"], entry["count"], Path(resources_dir) / "images" / name, entry.get("seed", 0)
        )
    if source == "synthetic":
        return synthetic_records()
    if source == "packages":
        return spread(package_records(entry["packages"], resources_dir), entry.get("count"))
    if source == "folder":
        return folder_records(
            entry["path"],
            entry.get("recursive", True),
            entry.get("test_input", "natural"),
            entry.get("pattern"),
            entry.get("masks"),
            entry.get("mask_suffix", ".png"),
            entry.get("list"),
        )
    if source == "composite":
        out = Path(resources_dir) / "images" / name
        parts = real_parts(entry, resources_dir) if entry.get("packages") else None
        return build_composites(
            entry["task"],
            entry["split"],
            entry["count"],
            out,
            entry.get("seed", 0),
            entry.get("classes", 3),
            parts,
        )
    if source == "dataset":
        if "dataset_entry" not in entry:
            raise ValueError(
                f"image_sets.{name}: the entry of data set {entry['dataset']!r} was not passed along"
            )
        root = Path(resources_dir) / "datasets" / entry["dataset"]
        dataset = entry["dataset_entry"]
        folder = dataset_images(root, dataset)
        masks = root / dataset["masks"] if dataset.get("masks") else None
        listed = entry.get("list") or dataset.get("list")  # the set's own split list, else the data set's
        list_file = root / listed if listed else None
        return folder_records(
            folder,
            True,
            entry.get("test_input", "natural"),
            dataset.get("pattern"),
            masks,
            dataset.get("mask_suffix", ".png"),
            list_file,
        )
    raise ValueError(
        f"image_sets.{name}.source: unknown source {source!r} "
        f"(embedded, packages, composite, synthetic, folder or dataset)"
    )


def folder_contents(name: str, entry: dict, manifest_path) -> list[list[str]] | None:
    """For a folder image set: [file, sha256] of every image and mask it would take now, hashing only files
    whose size or modification time differ from the manifest's record (posenc.images.manifest.known_sha256).
    What a settings stamp records, so that a file changed in place rebuilds the set. None for the other
    sources: posenc makes (or downloads and checks) their files itself; see `manifest_changes`."""
    if entry["source"] != "folder":
        return None
    records, known = resolve_records(entry, name), _known_files(manifest_path)
    return [[file, known_sha256(file, known)] for r in records for file in (r.path, r.mask) if file]


def manifest_changes(manifest_path) -> list[str]:
    """The files of a manifest that are gone or changed since they were hashed (nothing when there is no
    manifest yet); an unreadable manifest is a change too."""
    if not Path(manifest_path).is_file():
        return []
    try:
        manifest, records = read_manifest(manifest_path)
    except (ActionableError, OSError, ValueError, KeyError, TypeError) as err:
        return [f"{manifest_path} itself ({type(err).__name__})"]
    return changed_files(manifest, records)


def _known_files(manifest_path) -> dict:
    try:
        return json.loads(Path(manifest_path).read_text()).get("files", {})
    except (OSError, ValueError):
        return {}


def build_image_set(name: str, entry: dict, manifest_path, resources_dir="resources") -> dict:
    """Resolve an image set from its config entry, write its manifest, and check the expected count."""
    records = resolve_records(entry, name, resources_dir)
    limit = entry.get("count") if entry["source"] in ("folder", "dataset") else None
    expected = entry.get("expected_count")
    if expected is not None and len(records) != expected:
        raise ActionableError(
            f"image set {name!r}: found {len(records)} image files, expected {expected} "
            f"(image_sets.{name}.expected_count): check the folder, or change or drop expected_count"
        )
    return write_manifest(name, records, manifest_path, SetRules.from_entry(entry), limit)


def shared_photos(train_manifest, test_manifest) -> tuple[list[str], int, str, str]:
    """(names of the test set's images whose sha256 the training set holds, the test set's size, the
    test set's name, the training set's name)."""
    train, test = (read_manifest(m) for m in (train_manifest, test_manifest))
    train_shas = {r.sha256 for r in train[1]}
    shared = [r.name for r in test[1] if r.sha256 in train_shas]
    return shared, len(test[1]), test[0]["image_set"], train[0]["image_set"]


def leak_warning(train_manifest, test_manifest) -> str:
    """A sentence when the test set shares photos (by sha256) with the training set, else ""."""
    shared, total, test, train = shared_photos(train_manifest, test_manifest)
    if not shared:
        return ""
    return (
        f"{len(shared)} of the {total} images of test set {test!r} are also in the training set {train!r} "
        f"(e.g. {shared[0]}): its scores measure memorised photos; test on images the training set does not "
        f"hold"
    )


def check_disjoint(train_manifest, test_manifests, allow: bool = False) -> None:
    """Refuse test sets that hold photos (by sha256) of the training set, unless `allow`
    (allow_shared_photos: the tables then say so in their notes)."""
    if allow:
        return
    for test_manifest in test_manifests:
        shared, total, test, train = shared_photos(train_manifest, test_manifest)
        if shared:
            raise ActionableError(
                f"test set {test!r} holds {len(shared)} of its {total} images also in the training set "
                f"{train!r} (same sha256, e.g. {shared[0]}): its scores would measure memorised photos. Test "
                f"on images the training set does not hold, or set allow_shared_photos: true to score it "
                f"anyway (the tables then say so)"
            )
