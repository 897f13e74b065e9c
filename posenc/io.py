"""Files: writing so that an interrupted run never leaves one that looks complete, and hashing.

Every stage writes through `atomic_path` (a temporary sibling renamed when complete) and hashes through
`file_digests` (one read, any of the checksum algorithms posenc accepts).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

CHECKSUM_ALGORITHMS = {"sha256": 64, "md5": 32}  # algorithm -> hex digits


# Fault injection (tests/workflow/test_faults.py): POSENC_CRASH_AT="point" or "point@text" makes the
# crash point of that name, reached with a label containing text, kill this process's whole process group
# (a Snakemake run started in its own session: the run and all its jobs) with SIGKILL, as a power cut would.
CRASH_ENV = "POSENC_CRASH_AT"


def crash_point(point: str, label: str = "") -> None:
    """Die here with SIGKILL, with every process of the group, if POSENC_CRASH_AT names this point (tests)."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    name, _, text = spec.partition("@")
    if name == point and text in str(label):
        os.killpg(os.getpgrp(), signal.SIGKILL)


def temporary_sibling(path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def is_stale_temporary(tmp) -> bool:
    """Whether `tmp` is a `<name>.tmp-<pid>` left by a writer that was killed (its process is gone)."""
    pid = Path(tmp).name.rsplit(".tmp-", 1)[-1]
    return ".tmp-" in Path(tmp).name and pid.isdigit() and not Path(f"/proc/{pid}").exists()


def remove_stale_temporaries(path) -> list[Path]:
    """Remove what killed writers of `path` left beside it (is_stale_temporary)."""
    path = Path(path)
    removed = [tmp for tmp in path.parent.glob(f"{path.name}.tmp-*") if is_stale_temporary(tmp)]
    for tmp in removed:
        remove_path(tmp)
    return removed


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success rename it to `path`, on failure remove it. What a
    killed writer of the same path left is removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_sibling(path)
    remove_path(tmp)
    try:
        yield tmp
    except BaseException:
        remove_path(tmp)
        raise
    crash_point("write", path)  # written, not yet in place
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
