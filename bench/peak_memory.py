"""Peak memory (RSS) of extraction and readout training at N and 4N images: it should not grow with N.

Each measurement runs in a fresh process (peak RSS is per process). Training streams the store with a
shuffle buffer of `--buffer` images (below N), as at paper scale.

    python bench/peak_memory.py [--n 64] [--buffer 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(stage: str, count: int, buffer: int) -> None:
    from common import embedded, peak_rss_mb, random_vgg16_store, scratch, threads

    from posenc.probe.training import TrainConfig, train_heads
    from posenc.readout_spec import ReadoutSpec

    threads()
    root = scratch("memory")
    store = root / f"vgg16_random_train{count}.zarr"
    if stage == "extract":
        import shutil

        manifest = embedded(root, "train", count)
        shutil.rmtree(store, ignore_errors=True)
        before = peak_rss_mb()
        random_vgg16_store(manifest, store)
    else:
        before = peak_rss_mb()
        train_heads(
            store,
            ReadoutSpec(),
            ["H", "V", "G", "HS", "VS"],
            TrainConfig(epochs=1, shuffle_buffer=buffer),
            progress=False,
        )
    print(json.dumps({"before": before, "peak": peak_rss_mb()}))


def measure(stage: str, count: int, buffer: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", stage, "--n", str(count), "--buffer", str(buffer)],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--buffer", type=int, default=32)
    ap.add_argument("--child", choices=["extract", "train"])
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n, args.buffer)
        return
    from common import machine

    print(f"machine: {machine()}")
    print(
        f"VGG16 (1472 channels at 28x28 = 2.3 MB per image in float16), shuffle buffer {args.buffer} images"
    )
    print(f"{'stage':<10} {'images':>7} {'store raw':>10} {'RSS after imports':>18} {'peak RSS':>9}")
    for stage in ("extract", "train"):
        for n in (args.n, 4 * args.n):
            r = measure(stage, n, args.buffer)
            print(f"{stage:<10} {n:7d} {n * 2.308:8.0f} MB {r['before']:15.0f} MB {r['peak']:7.0f} MB")


if __name__ == "__main__":
    main()
