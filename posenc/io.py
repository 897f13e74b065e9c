"""Files: writing so that an interrupted run never leaves one that looks complete, and hashing.

Every stage writes through `atomic_path` (a temporary sibling renamed when complete) and hashes through
`file_digests` (one read, any of the checksum algorithms posenc accepts).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CHECKSUM_ALGORITHMS = {"sha256": 64, "md5": 32}  # algorithm -> hex digits


def temporary_sibling(path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    remove_path(tmp)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    remove_path(path)
    os.replace(tmp, path)


def remove_path(path) -> None:
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def atomic_write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


# ---- hashing ------------------------------------------------------------------------------------------
def file_digests(path, algorithms=("sha256",), block: int = 1 << 20) -> dict[str, str]:
    """Hex digests of a file for each of `algorithms`, in one read."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def file_sha256(path) -> str:
    return file_digests(path)["sha256"]


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_checksum(text: str) -> tuple[str, str] | None:
    """'sha256:<hex>' or 'md5:<hex>' -> (algorithm, hex); '' -> None."""
    if not text:
        return None
    algo, sep, digest = text.partition(":")
    digest = digest.strip().lower()
    if (
        not sep
        or algo not in CHECKSUM_ALGORITHMS
        or len(digest) != CHECKSUM_ALGORITHMS[algo]
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise ValueError(f"checksum {text!r}: write it as sha256:<64 hex digits> or md5:<32 hex digits>")
    return algo, digest
