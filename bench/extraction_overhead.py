"""Extraction overhead: posenc extraction (decode + forward + resize + Zarr write) vs the bare forward pass.

Both run on the same images with the same trunk, threads and batch size. The bare forward gets the images
already decoded, resized and preprocessed in memory and only runs the trunk (no taps resized, nothing
stored). Prints the two times and their ratio (target <= 1.10).

It also runs the same extraction with a null backbone: a trunk whose tap modules return the input pooled
to each tap's shape (no convolution), so that everything but the network (decoding, resizing, the taps'
resize and cast, compression, Zarr writes) is timed alone: the most images per second the host can feed.

    python bench/extraction_overhead.py [--arch vgg16] [--count 128] [--batch-size 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import shutil
import time

import torch
from common import embedded, machine, scratch, threads

import posenc.features.extract as extract_module
from posenc.features.extract import FeatureConfig, TapExtractor, extract_features, load_checked, prepare
from posenc.images.manifest import read_manifest


def bare_forward_seconds(backbone, manifest_path, batch_size, input_size=224):
    extractor, prep, records, _ = prepare(
        backbone, manifest_path, FeatureConfig(input_size=input_size, preprocessing="official")
    )
    images = torch.stack([load_checked(r, input_size) for r in records])  # decoded outside the clock
    batches = [prep(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    trunk = extractor.trunk.eval()
    with torch.no_grad():
        trunk(batches[0][:2])  # warm-up
        t0 = time.perf_counter()
        for x in batches:
            trunk(x)
        return time.perf_counter() - t0


class _Pooled(torch.nn.Module):
    """Returns the input averaged to (channels, size, size): a tap's shape without its computation."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.channels, self.size = channels, size

    def forward(self, x):
        pooled = torch.nn.functional.adaptive_avg_pool2d(x.mean(1, keepdim=True), self.size)
        return pooled.expand(-1, self.channels, -1, -1)


class NullTrunk(torch.nn.Module):
    """Tap modules under the real trunk's names, each fed the input: outputs of the taps' shapes, no network."""

    def __init__(self, taps, sizes):
        super().__init__()
        self.order = [t.module for t in taps]
        for tap in taps:
            self.add_module(tap.module, _Pooled(tap.channels, sizes[tap.name]))

    def forward(self, x):
        for name in self.order:
            getattr(self, name)(x)
        return x


def null_prepare(real_prepare):
    def prepare_null(backbone, manifest_path, cfg, weights_file=None):
        extractor, prep, records, provenance = real_prepare(backbone, manifest_path, cfg, weights_file)
        sizes = {t["name"]: t["native_size"] for t in provenance["taps"]}
        extractor.remove()
        null = TapExtractor(
            NullTrunk(extractor.taps, sizes), extractor.taps, extractor.size, extractor.align_corners
        )
        return null, prep, records, provenance

    return prepare_null


def posenc_seconds(backbone, manifest_path, batch_size, out, null=False):
    real = extract_module.prepare
    if null:
        extract_module.prepare = null_prepare(real)
    try:
        return _posenc_seconds(backbone, manifest_path, batch_size, out)
    finally:
        extract_module.prepare = real


def _posenc_seconds(backbone, manifest_path, batch_size, out):
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    extract_features(
        backbone,
        manifest_path,
        out,
        FeatureConfig(batch_size=batch_size, preprocessing="official"),
        progress=False,
    )
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vgg16", choices=["vgg16", "resnet152"])
    ap.add_argument("--count", type=int, default=128, help="embedded training crops")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs of each")
    args = ap.parse_args()
    n_threads = threads()
    root = scratch("extraction")
    manifest_path = embedded(root, "train", args.count)
    backbone = {"arch": args.arch, "weights": "random", "seed": 0, "name": f"{args.arch}_random"}
    n = len(read_manifest(manifest_path)[1])
    bare = min(bare_forward_seconds(backbone, manifest_path, args.batch_size) for _ in range(args.repeats))
    full = min(
        posenc_seconds(backbone, manifest_path, args.batch_size, root / "store.zarr")
        for _ in range(args.repeats)
    )
    print(f"machine: {machine()}; {n_threads} threads")
    print(
        f"{args.arch} (random weights), {n} images of 224x224, batch {args.batch_size}, best of {args.repeats}"
    )
    print(f"bare forward pass:        {bare:7.2f} s  ({n / bare:6.2f} img/s)")
    print(
        f"posenc extraction:        {full:7.2f} s  ({n / full:6.2f} img/s)  decode + forward + resize + Zarr write"
    )
    print(f"overhead ratio:           {full / bare:7.3f}  (target <= 1.10)")
    null = min(
        posenc_seconds(backbone, manifest_path, args.batch_size, root / "null.zarr", null=True)
        for _ in range(args.repeats)
    )
    print(
        f"null backbone extraction: {null:7.2f} s  ({n / null:6.2f} img/s)  the host alone: decode, resize, "
        f"cast, compress, write"
    )
    print(
        f"host ceiling / bare forward throughput: {bare / null:6.2f}x (the host can feed this many networks)"
    )


if __name__ == "__main__":
    main()
