"""Readout training: time per epoch for all heads at once vs the time to read the store once.

Builds (once) a VGG16 store of the embedded training crops, then times (a) reading the whole store once
(Zarr decompression into memory), (b) one epoch of training the heads of all five targets, kept in memory
and streamed from the store (shuffle buffer smaller than the store).

    python bench/readout_epoch.py [--count 256] [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

from common import embedded, machine, random_vgg16_store, scratch, threads

from posenc.features.store import StoreReader
from posenc.probe.training import TrainConfig, train_heads
from posenc.readout_spec import ReadoutSpec

TARGETS = ["H", "V", "G", "HS", "VS"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    n_threads = threads()
    root = scratch("readout")
    manifest = embedded(root, "train", args.count)
    store = root / f"vgg16_random_train{args.count}.zarr"
    if not store.exists():
        random_vgg16_store(manifest, store)
    reads = []
    for _ in range(3):
        t0 = time.perf_counter()
        reader = StoreReader(store)
        reader.read(0, reader.n_images)
        reads.append(time.perf_counter() - t0)
    read_s = min(reads)
    print(f"machine: {machine()}; {n_threads} threads")
    print(
        f"VGG16 store, {reader.n_images} images x {reader.channels} channels x 28 x 28 float16; "
        f"5 heads (H, V, G, HS, VS), L=1 k=3, batch 32"
    )
    print(f"read the store once:            {read_s:6.2f} s")
    for mode, buffer in (("kept in memory", reader.n_images), ("streamed (buffer 64)", 64)):
        cfg = TrainConfig(epochs=args.epochs, shuffle_buffer=buffer)
        t0 = time.perf_counter()
        train_heads(store, ReadoutSpec(), TARGETS, cfg, seed=0, progress=False)
        epoch_s = (time.perf_counter() - t0) / args.epochs
        print(
            f"one epoch, all heads, {mode:<21} {epoch_s:6.2f} s  = {epoch_s / read_s:5.1f}x one read "
            f"({epoch_s / len(TARGETS):.2f} s per target)"
        )


if __name__ == "__main__":
    main()
