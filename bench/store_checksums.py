"""What the chunk checksums cost: the same features written with and without Zarr's crc32c codec.

The features are those of a real store (default: an ImageNet VGG16 store of the natural test photos, as
the main job writes it; any posenc store works, of any format), written again twice with the store's own
chunking and compressor, once with and once without the checksum; each is then read whole, the way a
readout job reads it. Prints write time, read time and size for both, best of --repeat runs.

    ../.venv/bin/python store_checksums.py --store ../results/features/vgg16_oxford/natural.zarr
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec, Crc32cCodec


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _write(arrays: dict, chunk: int, out: Path, checksum: bool) -> float:
    start = time.perf_counter()
    group = zarr.open_group(out, mode="w", zarr_format=3)
    codecs = [BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")] + ([Crc32cCodec()] if checksum else [])
    for name, values in arrays.items():
        array = group.create_array(
            name,
            shape=values.shape,
            dtype=values.dtype,
            chunks=(chunk, *values.shape[1:]),
            compressors=codecs,
            fill_value=0,
            config={"write_empty_chunks": True},
        )
        array[:] = values
    return time.perf_counter() - start


def _read(out: Path) -> float:
    start = time.perf_counter()
    group = zarr.open_group(out, mode="r")
    for _, array in group.arrays():
        if array.ndim == 4:
            array[:]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default="../results/features/vgg16_oxford/natural.zarr")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = zarr.open_group(args.store, mode="r")
    arrays = {name: np.asarray(a[:]) for name, a in source.arrays() if a.ndim == 4}
    chunk = min(a.chunks[0] for _, a in source.arrays() if a.ndim == 4)
    raw = sum(v.nbytes for v in arrays.values())
    print(f"store {args.store}: {len(arrays)} taps, {raw / 2**20:.0f} MiB decoded, {chunk} images per chunk")
    scratch = Path(tempfile.mkdtemp(prefix="posenc-crc-"))
    try:
        rows = {}
        for checksum in (False, True):
            out = scratch / f"crc{int(checksum)}.zarr"
            writes = [_write(arrays, chunk, out, checksum) for _ in range(args.repeat)]
            reads = [_read(out) for _ in range(args.repeat)]
            rows[checksum] = (min(writes), min(reads), _size(out))
        for checksum, (write, read, size) in rows.items():
            label = "with crc32c   " if checksum else "without crc32c"
            print(f"{label}: write {write:6.2f} s  read {read:6.2f} s  size {size / 2**20:8.2f} MiB")
        (w0, r0, s0), (w1, r1, s1) = rows[False], rows[True]
        print(f"ratio with/without: write {w1 / w0:.3f}  read {r1 / r0:.3f}  size {s1 / s0:.5f}")
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
