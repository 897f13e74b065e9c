"""GPU against CPU: feature extraction and readout training on one machine, and the numbers compared.

For each backbone, the training and natural test stores are extracted on CUDA in float32 (batch 16 and
`--gpu-batch-size`; with the store writer's threads and with one), on CUDA under bfloat16 autocast, and on
the CPU (all its cores) in float32; images per second are printed for each, beside the rate of the forward
pass alone. The stores are then compared (largest difference relative to the tap's largest value). A readout of the
embedded default's shape and budget (L=1, k=3, 180 SGD steps, input_norm scale, 5 heads) is trained from
the same float32 store on CUDA (the store held on the GPU, and, as for a store too large for it, every
batch copied from the CPU) and on the CPU, timed, and scored on the natural test store: the SPC of both
are printed side by side. A longer CUDA-only training gives the cost of the paper's budget.

    python bench/gpu_throughput.py [--images DIR] [--train 256] [--test 64] [--out results.json]

`--images DIR`: image folders DIR/train and DIR/natural instead of the embedded sets (to carry the same
crops to a machine whose scikit-image differs). Needs CUDA; without it only the CPU lines run.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from common import embedded, machine, manifest, scratch, threads

from posenc.features import extract as extract_module
from posenc.features.extract import FeatureConfig, extract_features, load_checked, prepare
from posenc.features.store import StoreReader
from posenc.probe import training
from posenc.probe.evaluate import evaluate_store
from posenc.probe.training import TrainConfig, train_heads
from posenc.readout_spec import ReadoutSpec

TARGETS = ["H", "V", "G", "HS", "VS"]
BACKBONES = {
    "VGG16": {"arch": "vgg16", "weights": "random", "seed": 0, "name": "vgg16_random"},
    "ResNet-152": {"arch": "resnet152", "weights": "random", "seed": 0, "name": "resnet152_random"},
}
EMBEDDED_TRAINING = TrainConfig(steps=180, lr_milestones=(120,), input_norm="scale")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def image_sets(root: Path, images: Path | None, train: int, test: int) -> dict[str, Path]:
    if images is None:
        return {"train": embedded(root, "train", train), "natural": embedded(root, "test", test)}
    return {
        name: manifest(root, f"folder_{name}", {"source": "folder", "path": str(images / name)})
        for name in ("train", "natural")
    }


def extract(backbone, manifests, root, device, precision, batch_size, workers) -> tuple[dict, float]:
    """Stores of every set on one device and precision; (paths, images per second over all sets)."""
    cfg = FeatureConfig(preprocessing="official", precision=precision, batch_size=batch_size)
    tag = f"{backbone['name']}-{device.replace(':', '')}-{precision}-b{batch_size}-w{workers}"
    paths, n, seconds = {}, 0, 0.0
    for name, m in manifests.items():
        out = root / "stores" / tag / f"{name}.zarr"
        shutil.rmtree(out, ignore_errors=True)
        sync(device)
        t0 = time.perf_counter()
        extract_features(backbone, m, out, cfg, device=device, progress=False)
        sync(device)
        seconds += time.perf_counter() - t0
        paths[name] = out
        n += StoreReader(out).n_images
    return paths, n / seconds


@contextmanager
def write_workers(n: int | None):
    """Extraction with `n` store-writing threads (1: one chunk at a time, as before they were added)."""
    keep = extract_module.StoreWriter
    if n:
        extract_module.StoreWriter = functools.partial(keep, workers=n)
    try:
        yield
    finally:
        extract_module.StoreWriter = keep


def forward_rate(backbone, manifest_path, device, batch_size) -> float:
    """Images per second of the extractor alone (taps resized, nothing decoded or stored)."""
    extractor, prep, records, _ = prepare(backbone, manifest_path, FeatureConfig(preprocessing="official"))
    images = torch.stack([load_checked(r, 224) for r in records])
    extractor = extractor.to(device).eval()
    with torch.no_grad():
        extractor(prep(images[:2]).to(device))
        sync(device)
        t0 = time.perf_counter()
        for i in range(0, len(images), batch_size):
            extractor(prep(images[i : i + batch_size]).to(device))
        sync(device)
    return len(images) / (time.perf_counter() - t0)


def store_difference(a: Path, b: Path) -> float:
    """Largest |a - b| over every tap, relative to that tap's largest |b|."""
    ra, rb = StoreReader(a), StoreReader(b)
    worst = 0.0
    for xa, xb in zip(ra.arrays, rb.arrays):
        va, vb = np.asarray(xa[:], dtype=np.float64), np.asarray(xb[:], dtype=np.float64)
        worst = max(worst, float(np.abs(va - vb).max() / max(np.abs(vb).max(), 1e-30)))
    return worst


@contextmanager
def store_on_gpu(allowed: bool):
    """With allowed=False, training gathers every batch on the CPU and copies it (as for a store too large)."""
    keep = training._fits_on_gpu
    if not allowed:
        training._fits_on_gpu = lambda device, nbytes: False
    try:
        yield
    finally:
        training._fits_on_gpu = keep


def train_and_score(stores, device, cfg, seed=0) -> tuple[float, dict]:
    """(seconds of training, natural SPC per target)."""
    spec = ReadoutSpec()
    sync(device)
    t0 = time.perf_counter()
    heads, _, prov = train_heads(
        stores["train"], spec, TARGETS, cfg, seed=seed, device=device, progress=False
    )
    sync(device)
    seconds = time.perf_counter() - t0
    rows = evaluate_store(heads, TARGETS, spec, stores["natural"], prov, device=device)
    spc = {t: float(np.mean([r["spc"] for r in rows if r["target"] == t])) for t in TARGETS}
    return seconds, spc


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, help="folders train/ and natural/ of images to use")
    parser.add_argument("--train", type=int, default=256)
    parser.add_argument("--test", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16, help="extraction batch (features.batch_size)")
    parser.add_argument("--gpu-batch-size", type=int, default=64, help="a second, larger CUDA batch")
    parser.add_argument(
        "--long-steps", type=int, default=4950, help="CUDA-only training (the paper's budget)"
    )
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--training", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, help="write every figure to this JSON file too")
    args = parser.parse_args()

    n_threads = threads()
    cuda = torch.cuda.is_available()
    print(machine(), f"| {n_threads} threads")
    root = scratch("gpu")
    manifests = image_sets(root, args.images, args.train, args.test)
    if cuda:  # CUDA context, cuDNN and the allocator start outside every clock
        warm = torch.nn.Conv2d(3, 8, 3).cuda()
        warm(torch.zeros(2, 3, 64, 64, device="cuda")).sum().item()

    results = {"machine": machine(), "threads": n_threads, "extraction": [], "training": []}
    for label in args.backbones.split(","):
        backbone = BACKBONES[label]
        default = ("cpu", "float32", args.batch_size, 0)  # workers 0: the writer's default
        runs = [default]
        if cuda:
            runs = [
                ("cuda", "float32", args.batch_size, 0),
                ("cuda", "float32", args.batch_size, 1),
                ("cuda", "float32", args.gpu_batch_size, 0),
                ("cuda", "bfloat16", args.batch_size, 0),
                *runs,
            ]
            rate = forward_rate(backbone, manifests["train"], "cuda", args.gpu_batch_size)
            results["extraction"].append({"backbone": label, "device": "cuda", "forward_only_img_s": rate})
            print(
                f"forward {label:10s} cuda alone (batch {args.gpu_batch_size}): {rate:8.1f} img/s", flush=True
            )
        stores = {}
        for device, precision, batch, workers in runs:
            with write_workers(workers):
                stores[(device, precision, batch, workers)], rate = extract(
                    backbone, manifests, root, device, precision, batch, workers
                )
            line = {
                "backbone": label,
                "device": device,
                "precision": precision,
                "batch": batch,
                "write_workers": workers or "default",
                "img_s": rate,
            }
            results["extraction"].append(line)
            print(
                f"extract {label:10s} {device:4s} {precision:8s} batch {batch:3d} writers "
                f"{workers or 'default':7}: {rate:8.1f} img/s",
                flush=True,
            )
        cpu_store = stores[default]
        if cuda:
            for key in [k for k in stores if k[0] == "cuda"]:
                diff = store_difference(stores[key]["train"], cpu_store["train"])
                results["extraction"].append(
                    {"backbone": label, "compare": list(key), "max_rel_diff_vs_cpu": diff}
                )
                print(f"  store {key} vs CPU float32: largest difference {diff:.2e} of the tap's range")
        if not args.training:
            continue

        source = stores[("cuda", "float32", args.batch_size, 0)] if cuda else cpu_store
        modes = [("cuda", "store on GPU"), ("cuda", "copy per step"), ("cpu", "")] if cuda else [("cpu", "")]
        for device, mode in modes:
            with store_on_gpu(mode != "copy per step"):
                seconds, spc = train_and_score(source, device, EMBEDDED_TRAINING)
            results["training"].append(
                {
                    "backbone": label,
                    "device": device,
                    "mode": mode,
                    "steps": EMBEDDED_TRAINING.steps,
                    "seconds": seconds,
                    "spc": spc,
                }
            )
            print(
                f"train   {label:10s} {device:4s} {mode:13s} {EMBEDDED_TRAINING.steps} steps: {seconds:6.1f} s "
                f"({EMBEDDED_TRAINING.steps / seconds:6.1f} steps/s); natural SPC "
                + " ".join(f"{t} {v:.3f}" for t, v in spc.items()),
                flush=True,
            )
        if cuda and args.long_steps:
            long = TrainConfig(
                steps=args.long_steps, lr_milestones=(args.long_steps * 2 // 3,), input_norm="scale"
            )
            seconds, spc = train_and_score(source, "cuda", long)
            results["training"].append(
                {"backbone": label, "device": "cuda", "steps": long.steps, "seconds": seconds, "spc": spc}
            )
            print(
                f"train   {label:10s} cuda {long.steps} steps: {seconds:6.1f} s ({long.steps / seconds:6.1f} "
                "steps/s); natural SPC " + " ".join(f"{t} {v:.3f}" for t, v in spc.items()),
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
