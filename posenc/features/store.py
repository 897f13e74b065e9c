"""The feature store: one Zarr group per (backbone, image set), one array per tap.

Each tap is an array (image, channel, y, x) chunked along images only, compressed, with layer-unique
channel dimension names so that `xarray.open_zarr` opens the group. Provenance sits in the group's
attributes under "posenc". A store is written under a temporary name and renamed when complete, and a
store whose provenance does not match what a reader asks for is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

from posenc.errors import ActionableError, snakemake_command
from posenc.features.request import check_request
from posenc.io import crash_point, remove_path, remove_stale_temporaries, temporary_sibling

# 2: every chunk carries a CRC32C checksum after compression, and every chunk is written (a chunk equal to
# the fill value too), so that a missing chunk file is a loss, never zeros.
STORE_FORMAT = 2


@contextmanager
def _quiet_zarr():
    """Image names are stored as fixed-length strings and metadata is consolidated: both outside the Zarr v3
    core spec, both read by zarr-python and xarray. Say so in the docs once instead of on every store."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part.*")
        yield


FLOAT16_MAX = float(np.finfo(np.float16).max)
# Provenance entries that must match for a store to be reused; the rest (time, device, versions) is record only.
KEY_FIELDS = (
    "store_format",
    "arch",
    "weights_source",
    "weights_sha256",
    "conv_padding",
    "preprocessing",
    "input_size",
    "feature_size",
    "resize",
    "image_list_hash",
    "taps",
    "dtype",
    "precision",
)


class StoreError(ActionableError):
    pass


def store_key(provenance: dict) -> dict:
    """The provenance fields that must match, in their JSON form (tuples and lists compare equal)."""
    return json.loads(json.dumps({k: provenance.get(k) for k in KEY_FIELDS}))


def images_per_chunk(max_channels: int, size: int, itemsize: int, chunk_mb: float, n_images: int) -> int:
    per_image = max_channels * size * size * itemsize
    return int(max(1, min(n_images, (chunk_mb * 2**20) // per_image)))


class StoreWriter:
    """Stream features into a new store: `append` batches in image order, then leave the `with` block.

    Features are buffered until a whole chunk is full, so each chunk is written once. Chunks are compressed
    and written by `workers` threads while the caller computes the next batch (compression, not the network,
    bounds extraction on a GPU); memory is bounded by one chunk per tap being filled and 2 x `workers` tap
    chunks in flight. On success the temporary group is renamed to `path`; on error it is removed.
    """

    def __init__(
        self,
        path,
        taps,
        image_names,
        provenance: dict,
        size: int = 28,
        dtype: str = "float16",
        chunk_mb: float = 16,
        compression_level: int = 3,
        test_inputs=None,
        workers: int | None = None,
    ):
        self.path = Path(path)
        self.workers = workers or min(8, len(os.sched_getaffinity(0)))
        self.taps = [(name, int(ch)) for name, ch in taps]
        self.names = list(image_names)
        self.test_inputs = list(test_inputs) if test_inputs is not None else ["natural"] * len(self.names)
        self.size, self.dtype = size, np.dtype(dtype)
        self.chunk = images_per_chunk(
            max(c for _, c in self.taps), size, self.dtype.itemsize, chunk_mb, len(self.names)
        )
        self.compression_level = compression_level
        self.provenance = dict(
            provenance, store_format=STORE_FORMAT, dtype=self.dtype.name, feature_size=size
        )
        self.tmp = temporary_sibling(self.path)
        self.written = 0
        self._buffer: dict[str, list[np.ndarray]] = {}
        self._buffered = 0

    def __enter__(self):
        remove_stale_temporaries(self.path)
        remove_path(self.tmp)
        try:  # armed before anything is created: a failure here (a full disk) leaves no temporary behind
            return self._create()
        except BaseException:
            remove_path(self.tmp)
            raise

    def _create(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.group = zarr.open_group(self.tmp, mode="w", zarr_format=3)
        compressor = BloscCodec(cname="zstd", clevel=self.compression_level, shuffle="shuffle")
        self._arrays = {}
        for name, channels in self.taps:
            self._arrays[name] = self.group.create_array(
                name,
                shape=(len(self.names), channels, self.size, self.size),
                dtype=self.dtype,
                chunks=(self.chunk, channels, self.size, self.size),
                compressors=[compressor, Crc32cCodec()],
                dimension_names=("image", f"{name}_channel", "y", "x"),
                fill_value=0,
                config={"write_empty_chunks": True},
            )
        with _quiet_zarr():
            self.group.create_array("image", data=np.array(self.names, dtype=str), dimension_names=("image",))
            self.group.create_array(
                "test_input", data=np.array(self.test_inputs, dtype=str), dimension_names=("image",)
            )
        self.group.attrs["posenc"] = {"complete": False, **self.provenance}
        self._buffer = {name: [] for name, _ in self.taps}
        self._pool, self._pending = (
            ThreadPoolExecutor(self.workers, thread_name_prefix="store-write"),
            deque(),
        )
        return self

    def append(self, features: dict[str, np.ndarray]) -> None:
        """features: tap -> float array (batch, channels, size, size), the next images in order."""
        batch = {len(features[name]) for name, _ in self.taps}
        if len(batch) != 1:
            raise ValueError(f"taps disagree on the batch size: {batch}")
        for name, _ in self.taps:
            self._buffer[name].append(self._checked(name, np.asarray(features[name])))
        self._buffered += batch.pop()
        while self._buffered >= self.chunk:
            self._flush(self.chunk)

    def _checked(self, name: str, values: np.ndarray) -> np.ndarray:
        if not np.isfinite(values).all():
            raise StoreError(
                f"tap {name} produced NaN or infinite values (images {self.written + self._buffered}..): "
                f"the backbone diverges on this input; check its weights and preprocessing"
            )
        if self.dtype == np.float16:
            peak = float(np.abs(values).max())
            if peak > FLOAT16_MAX:
                raise StoreError(
                    f"tap {name} reaches {peak:.3g}, beyond float16's {FLOAT16_MAX:.0f}: set "
                    f"`features.dtype: float32` in the config for this backbone"
                )
        return values.astype(self.dtype, copy=False)

    def _flush(self, count: int) -> None:
        start = self.written
        for name, _ in self.taps:
            block = np.concatenate(self._buffer[name], axis=0)
            self._pending.append(self._pool.submit(self._write, name, start, block[:count]))
            self._buffer[name] = [block[count:]] if len(block) > count else []
        self.written += count
        self._buffered -= count
        while len(self._pending) > 2 * self.workers:
            self._pending.popleft().result()  # a failed write raises here

    def _write(self, name: str, start: int, block: np.ndarray) -> None:
        self._arrays[name][start : start + len(block)] = block
        crash_point("store-chunk", self.path)  # part of the store written

    def _drain(self) -> None:
        """Wait for every write in flight; the first failure raises."""
        while self._pending:
            self._pending.popleft().result()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # nothing writes into the group once removed
            remove_path(self.tmp)
            return False
        try:
            if self._buffered:
                self._flush(self._buffered)
            self._drain()
        except BaseException:
            self._pool.shutdown(wait=True, cancel_futures=True)
            remove_path(self.tmp)
            raise
        self._pool.shutdown()
        if self.written != len(self.names):
            remove_path(self.tmp)
            raise StoreError(f"store {self.path}: {self.written} images written, {len(self.names)} expected")
        self.group.attrs["posenc"] = {"complete": True, **self.provenance}
        with _quiet_zarr():
            zarr.consolidate_metadata(self.tmp)
        remove_path(self.path)
        self.tmp.rename(self.path)
        return False


def read_provenance(path) -> dict:
    path = Path(path)
    if not (path / "zarr.json").is_file():
        raise StoreError(f"no feature store at {path}: build it first ({snakemake_command(str(path))})")
    attrs = zarr.open_group(path, mode="r").attrs.asdict().get("posenc")
    if not attrs:
        raise StoreError(f"{path} is a Zarr group but not a posenc feature store")
    if not attrs.get("complete"):
        raise StoreError(
            f"feature store {path} is incomplete (interrupted write): rebuild it: "
            f"{snakemake_command(str(path), force=True)}"
        )
    return attrs


def check_provenance(path, expect: dict) -> dict:
    """The store's provenance, if its key fields equal those of `expect`; else a StoreError naming them."""
    found = read_provenance(path)
    have, want = store_key(found), store_key({"store_format": STORE_FORMAT, **expect})
    diff = [k for k in KEY_FIELDS if have[k] != want[k]]
    if diff:
        lines = "; ".join(
            f"{k}: store has {json.dumps(have[k])[:120]}, requested {json.dumps(want[k])[:120]}" for k in diff
        )
        raise StoreError(
            f"feature store {path} does not match the request ({lines}). It was built from other "
            f"inputs. Rebuild it: {snakemake_command(str(path), force=True)}"
        )
    return found


def _rebuild(path) -> str:
    return f"rebuild the store: {snakemake_command(str(path), force=True)}"


def missing_chunks(path, group=None) -> list[str]:
    """'tap chunk k (images a..b)' for every chunk of a store's tap arrays that has no file (a file removed
    or lost). Cheap: the store's listing against its chunk count."""
    path = Path(path)
    group = group if group is not None else zarr.open_group(path, mode="r")
    lost = []
    for name, array in group.arrays():
        if array.ndim != 4 or array.nchunks_initialized == array.nchunks:
            continue
        per = array.chunks[0]
        for k in range(array.nchunks):
            key = array.metadata.encode_chunk_key((k, 0, 0, 0))
            if not (path / name / key).is_file():
                lost.append(f"{name} chunk {k} (images {k * per}..{min((k + 1) * per, array.shape[0]) - 1})")
    return lost


def damaged_chunks(path) -> list[str]:
    """'tap chunk k (images a..b): reason' for every chunk that does not decode or whose checksum fails:
    every chunk is read (`posenc verify --deep`)."""
    path = Path(path)
    group = zarr.open_group(path, mode="r")
    damaged = []
    for name, array in group.arrays():
        if array.ndim != 4:
            continue
        per = array.chunks[0]
        for start in range(0, array.shape[0], per):
            stop = min(start + per, array.shape[0])
            try:
                array[start:stop]
            except Exception as exc:  # checksum mismatch, decompression error, truncated file
                damaged.append(f"{name} chunk {start // per} (images {start}..{stop - 1}): {exc}")
    return damaged


class StoreReader:
    """Read the concatenation of some taps (low to high level), as float32, by image ranges.

    A store whose chunk files are not all there is refused when opened; a chunk that fails its checksum
    or does not decode is an error naming the store, the tap, the chunk and its images.
    """

    def __init__(self, path, taps=None, expect: dict | None = None, request: dict | None = None):
        """`expect`: provenance whose key fields the store must share; `request`: what the config asks of
        the store (posenc.features.request), refused with the rebuild command if the store was built otherwise."""
        self.path = Path(path)
        self.provenance = check_provenance(path, expect) if expect else read_provenance(path)
        if request is not None:
            check_request(self.path, self.provenance.get("request"), request)
        if self.provenance.get("store_format", 1) < STORE_FORMAT:
            raise StoreError(
                f"feature store {path} was written by an older posenc (store format "
                f"{self.provenance.get('store_format', 1)}, without chunk checksums): {_rebuild(path)}"
            )
        with _quiet_zarr():
            self.group = zarr.open_group(self.path, mode="r", use_consolidated=True)
        all_taps = [t["name"] for t in self.provenance["taps"]]
        self.taps = list(all_taps if taps in (None, "all") else taps)
        unknown = [t for t in self.taps if t not in all_taps]
        if unknown:
            raise StoreError(f"store {path} has no taps {unknown}: it has {all_taps}")
        self.taps.sort(key=all_taps.index)
        lost = missing_chunks(self.path, self.group)
        if lost:
            more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
            raise StoreError(
                f"feature store {path} has lost chunk files ({', '.join(lost[:3])}{more}): its features are "
                f"gone, not zero; {_rebuild(path)}"
            )
        self.arrays = [self.group[t] for t in self.taps]
        self.n_images = self.arrays[0].shape[0]
        self.channels = sum(a.shape[1] for a in self.arrays)
        self.chunk = self.arrays[0].chunks[0]
        self.image_names = [str(n) for n in self.group["image"][:]]
        self.test_inputs = [str(n) for n in self.group["test_input"][:]]

    def read(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for name, array in zip(self.taps, self.arrays):
            try:
                parts.append(array[start:stop])
            except Exception as exc:  # checksum mismatch, decompression error, truncated file
                k, error = self._failing_chunk(array, start, stop, exc)
                lo, hi = k * self.chunk, min((k + 1) * self.chunk, self.n_images) - 1
                raise StoreError(
                    f"feature store {self.path}: tap {name}, chunk {k} (images {lo}..{hi}: "
                    f"{self.image_names[lo]} ... {self.image_names[hi]}) cannot be read ({error}): its file "
                    f"is damaged; {_rebuild(self.path)}"
                ) from exc
        return np.concatenate(parts, axis=1)

    def _failing_chunk(self, array, start: int, stop: int, exc: Exception) -> tuple[int, Exception]:
        """The first chunk of [start, stop) that does not read, and its error."""
        for k in range(start // self.chunk, (stop - 1) // self.chunk + 1):
            try:
                array[k * self.chunk : (k + 1) * self.chunk]
            except Exception as error:
                return k, error
        return start // self.chunk, exc

    def blocks(self):
        """(start, stop) ranges of whole chunks."""
        return [(s, min(s + self.chunk, self.n_images)) for s in range(0, self.n_images, self.chunk)]


def content_digest(path) -> str:
    """sha256 of a store's files (their paths inside the store and their bytes, in sorted order): what a
    readout trained on it records, so that a store rebuilt or changed since is told apart (about 1 s per
    400 MB)."""
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\n".encode())
        with open(file, "rb") as fh:
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def _stored_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def describe_store(path) -> str:
    """A human-readable summary: taps, shapes, chunks, compression ratio and provenance."""
    path = Path(path)
    prov = read_provenance(path)
    group = zarr.open_group(path, mode="r")
    lines = [f"feature store {path}", f"  images: {group['image'].shape[0]}"]
    total_raw = total_stored = 0
    for tap in prov["taps"]:
        arr = group[tap["name"]]
        raw, stored = arr.nbytes, _stored_bytes(path / tap["name"])
        total_raw += raw
        total_stored += stored
        lines.append(
            f"  {tap['name']:<10} shape {arr.shape} chunks {arr.chunks} {arr.dtype} "
            f"stride {tap['stride']} native {tap['native_size']}px  {raw / 2**20:.1f} MiB -> "
            f"{stored / 2**20:.1f} MiB (x{raw / max(stored, 1):.2f})"
        )
    lines.append(
        f"  total {total_raw / 2**20:.1f} MiB raw, {total_stored / 2**20:.1f} MiB stored, "
        f"compression ratio {total_raw / max(total_stored, 1):.2f}"
    )
    lines.append("  provenance:")
    for key, value in prov.items():
        if key != "taps":
            lines.append(f"    {key}: {json.dumps(value)}")
    return "\n".join(lines)
