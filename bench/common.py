"""Shared set-up of the benchmarks: embedded image sets and manifests in a scratch folder, timing, RSS."""

from __future__ import annotations

import os
import resource
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from posenc.features.extract import FeatureConfig, extract_features
from posenc.images.sets import build_image_set


def scratch(name: str) -> Path:
    root = Path(os.environ.get("POSENC_BENCH_DIR", "/tmp/posenc-bench")) / name
    root.mkdir(parents=True, exist_ok=True)
    return root


def manifest(root: Path, name: str, spec: dict) -> Path:
    """The manifest of an image set (built once per scratch folder)."""
    path = root / "images" / f"{name}.json"
    if not path.exists():
        build_image_set(name, spec, path, resources_dir=root / "resources")
    return path


def embedded(root: Path, split: str, count: int) -> Path:
    return manifest(root, f"{split}{count}", {"source": "embedded", "split": split, "count": count})


def random_vgg16_store(manifest_path: Path, store: Path) -> Path:
    """A store of seeded random VGG16 features on the official [0, 1] input (the benchmarks' workload)."""
    backbone = {"arch": "vgg16", "weights": "random", "name": "vgg16_random"}
    return extract_features(
        backbone, manifest_path, store, FeatureConfig(preprocessing="official"), progress=False
    )


def synthetic(root: Path) -> Path:
    return manifest(root, "synthetic", {"source": "synthetic"})


@contextmanager
def timer(results: dict, key: str):
    t0 = time.perf_counter()
    yield
    results[key] = results.get(key, 0.0) + time.perf_counter() - t0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def threads() -> int:
    n = int(os.environ.get("POSENC_BENCH_THREADS", len(os.sched_getaffinity(0))))
    torch.set_num_threads(n)
    return n


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {len(os.sched_getaffinity(0))} CPUs, {gpu}, torch {torch.__version__}"
