"""Data sets from their public archives: download, checksum, unpack, count.

A data set entry (config `datasets.<name>`) names the archive's URL, its checksum (`sha256:<hex>` or
`md5:<hex>`), the folder of images inside it and how many images that folder holds. The archive is kept in
resources/downloads/ (a user without internet places it there by hand), unpacked under a temporary name,
counted, and only then renamed to resources/datasets/<name>/: an interrupted or wrong unpacking never
looks complete.
"""

from __future__ import annotations

import json
import logging
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from posenc.errors import ActionableError
from posenc.images.decode import IMAGE_EXTENSIONS
from posenc.io import (
    CHECKSUM_ALGORITHMS,
    atomic_path,
    file_digests,
    parse_checksum,
    remove_path,
    temporary_sibling,
)

log = logging.getLogger(__name__)

INFO_FILE = "posenc-dataset.json"  # written into an unpacked data set: where it came from, what it holds


class DownloadError(ActionableError):
    """The archive could not be fetched; the message says how to place it by hand."""


class ChecksumMismatch(ActionableError):
    pass


class UnpackError(ActionableError):
    pass


def archive_name(entry: dict) -> str:
    return entry.get("archive") or Path(urlparse(entry["url"]).path).name


def manual_instructions(name: str, entry: dict, dest) -> str:
    pinned = f" (checked against {entry['checksum']})" if entry.get("checksum") else ""
    return (
        f"To place it by hand: on a machine with internet download {entry['url']} (a browser, or "
        f"`curl -L -o {archive_name(entry)} '{entry['url']}'`), copy it to {Path(dest).resolve()}{pinned} and "
        f"rerun. If you already have the images unpacked, point the image set at them instead: "
        f"`{{source: folder, path: /where/they/are/{entry['images']}}}`."
    )


def verify_archive(path, name: str, entry: dict, dest) -> dict[str, str]:
    """Check the archive's checksum (when the config pins one); return its digests."""
    digests = file_digests(path, tuple(CHECKSUM_ALGORITHMS))
    pinned = parse_checksum(entry.get("checksum", ""))
    if pinned is None:
        log.warning(
            "datasets.%s: no checksum pinned; the archive's sha256 is %s. Pin it with "
            "`checksum: sha256:%s` so a changed archive is noticed (the image count is checked anyway).",
            name,
            digests["sha256"],
            digests["sha256"],
        )
    elif digests[pinned[0]] != pinned[1]:
        raise ChecksumMismatch(
            f"datasets.{name}: {path} has {pinned[0]} {digests[pinned[0]]}, expected {pinned[1]}: the file is "
            f"damaged or not the expected archive. Delete it (rm {path}) and rerun to download it again. "
            + manual_instructions(name, entry, dest)
        )
    return digests


def download(url: str, dest, timeout: float = 60.0, progress: bool = True) -> Path:
    """Stream url (http, https, ftp, file) to dest through a temporary file; raise DownloadError on failure."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as err:
        remove_path(tmp)
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"could not download {url}: {reason}") from err
    except BaseException:
        remove_path(tmp)
        raise
    tmp.replace(dest)
    return dest


def fetch_archive(
    name: str, entry: dict, downloads_dir="resources/downloads", progress: bool = True
) -> tuple[Path, dict]:
    """The data set's archive in downloads_dir, downloaded unless already there; checked; with its digests."""
    dest = Path(downloads_dir) / archive_name(entry)
    if dest.is_file():
        log.info("datasets.%s: using %s (already there)", name, dest)
    else:
        log.info("datasets.%s: downloading %s to %s", name, entry["url"], dest)
        try:
            download(entry["url"], dest, progress=progress)
        except DownloadError as err:
            raise DownloadError(f"datasets.{name}: {err}. " + manual_instructions(name, entry, dest)) from err
    return dest, verify_archive(dest, name, entry, dest)


def _safe_members(names, archive) -> None:
    for member in names:
        parts = Path(member).parts
        if Path(member).is_absolute() or ".." in parts:
            raise UnpackError(
                f"{archive} holds an unsafe path {member!r} (absolute or with ..): not unpacking it"
            )


def extract_archive(archive, out_dir) -> None:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into out_dir, refusing paths that leave it."""
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _safe_members(zf.namelist(), archive)
            zf.extractall(out_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            _safe_members(tf.getnames(), archive)
            tf.extractall(out_dir, filter="data")
    else:
        raise UnpackError(
            f"{archive} is neither a zip nor a tar archive: delete it (rm {archive}) and rerun your snakemake "
            f"command to download it again"
        )


def count_images(folder, pattern: str | None = None) -> int:
    """Image files under a folder (those matching `pattern`, a glob, when given)."""
    folder = Path(folder)
    files = folder.glob(pattern) if pattern else folder.rglob("*")
    return sum(1 for p in files if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def masks_entry(entry: dict) -> dict | None:
    """The masks' own archive of a data set that ships them apart (ECSSD, DUT-OMRON), as an archive entry."""
    if not entry.get("masks_url"):
        return None
    return {"url": entry["masks_url"], "checksum": entry.get("masks_checksum", ""), "images": entry["masks"]}


def unpack_dataset(
    name: str, entry: dict, archive, out_dir, digests: dict | None = None, masks_archive=None
) -> dict:
    """Unpack the archive (and the masks' archive) to out_dir atomically, check the image count and the mask
    folder, and record where it came from."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        extract_archive(archive, tmp)
        if masks_archive is not None:
            extract_archive(masks_archive, tmp)
        top = ", ".join(sorted(p.name for p in Path(tmp).iterdir())[:10])
        images = Path(tmp) / entry["images"]
        if not images.is_dir():
            raise UnpackError(
                f"datasets.{name}: {archive} has no folder {entry['images']!r} (its top level: "
                f"{top}); set `datasets.{name}.images` to the image folder inside it"
            )
        if entry.get("masks") and not (Path(tmp) / entry["masks"]).is_dir():
            raise UnpackError(
                f"datasets.{name}: no mask folder {entry['masks']!r} after unpacking (top level: "
                f"{top}); set `datasets.{name}.masks` to the mask folder inside the archive"
            )
        found = count_images(images, entry.get("pattern"))
        if entry.get("count") is not None and found != entry["count"]:
            raise UnpackError(
                f"datasets.{name}: {entry['images']} in {archive} holds {found} images, expected "
                f"{entry['count']}: the archive is not the expected one (delete it, rm {archive}, "
                f"and rerun to download it again), or set `datasets.{name}.count` to {found} if you mean it"
            )
        info = {
            "dataset": name,
            "url": entry["url"],
            "archive": str(archive),
            "checksum": entry.get("checksum", ""),
            **({f"archive_{k}": v for k, v in (digests or {}).items()}),
            "images": entry["images"],
            "count": found,
        }
        (Path(tmp) / INFO_FILE).write_text(json.dumps(info, indent=1))
    log.info("datasets.%s: %d images in %s", name, found, out_dir / entry["images"])
    return info


def fetch_dataset(
    name: str, entry: dict, out_dir, downloads_dir="resources/downloads", progress: bool = True
) -> dict:
    archive, digests = fetch_archive(name, entry, downloads_dir, progress)
    masks = masks_entry(entry)
    masks_archive = fetch_archive(f"{name} (masks)", masks, downloads_dir, progress)[0] if masks else None
    return unpack_dataset(name, entry, archive, out_dir, digests, masks_archive)


def dataset_images(dataset_dir, entry: dict) -> Path:
    """The image folder of an unpacked data set; an error that says how to get it when it is not there."""
    info = Path(dataset_dir) / INFO_FILE
    if not info.is_file():
        raise UnpackError(
            f"{dataset_dir} is not an unpacked data set (no {INFO_FILE}): run the rule "
            f"download_dataset (snakemake does this for you) or use an image folder"
        )
    return Path(dataset_dir) / entry["images"]
