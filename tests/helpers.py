"""Helpers shared by several test modules (fixtures live in conftest.py): paths, the Snakemake command
the workflow tests run, a small feature store, a metrics row and a data set archive."""

import hashlib
import io
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")  # before numpy and torch load their thread pools

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from posenc.features.store import StoreWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ROOT / "posenc" / "data" / "official"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # jobs import this checkout's posenc, wherever it is installed


# ---- a small feature store: two taps, image k holds the value k (low) and -k (high) ----
TAPS = [("low", 2), ("high", 3)]


def provenance(**over):
    base = {
        "backbone": "toy",
        "arch": "toy",
        "weights_source": "random",
        "weights_sha256": "abc",
        "conv_padding": True,
        "preprocessing": {"name": "official"},
        "input_size": 8,
        "resize": "bilinear",
        "image_list_hash": "h1",
        "taps": [
            {"name": "low", "channels": 2, "stride": 1, "native_size": 8},
            {"name": "high", "channels": 3, "stride": 2, "native_size": 4},
        ],
        "precision": "float32",
        "image_set": "s",
        "dtype": "float16",
        "feature_size": 4,
    }
    return {**base, **over}


def features(n, start=0):
    low = np.arange(start, start + n, dtype=np.float32)[:, None, None, None] + np.zeros(
        (n, 2, 4, 4), np.float32
    )
    high = -low[:, :1].repeat(3, axis=1)
    return {"low": low, "high": high}


def write(path, n=10, batches=(3, 3, 4), chunk_mb=(3 * 4 * 4 * 2) * 4 / 2**20, **kw):
    names = [f"img{i}" for i in range(n)]
    with StoreWriter(path, TAPS, names, provenance(), size=4, chunk_mb=chunk_mb, **kw) as w:
        start = 0
        for b in batches:
            w.append(features(b, start))
            start += b
    return names


# ---- one run's identifying columns in a metrics file ----
RUN = {
    "backbone": "b",
    "arch": "vgg16",
    "weights": "hed",
    "conv_padding": True,
    "preprocessing": "official",
    "readout": "L1-k3-p0-all",
    "layers": 1,
    "kernel": 3,
    "readout_padding": 0,
    "taps": "all",
    "stripe_range": "unit",
    "input_norm": "none",
    "budget": "15 epochs",
    "weights_sha256": "abc",
    "weights_seed": "",
    "final_loss_ratio": 0.3,
    "learned": True,
}


# ---- a DUTS-like data set archive ----
def jpeg_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (70, 90, 3), dtype=np.uint8)).save(
        buf, "JPEG"
    )
    return buf.getvalue()


def make_zip(path, n_images=5, extra=()):
    """A DUTS-like archive: DS-TR/DS-TR-Image/*.jpg plus masks that are not counted."""
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n_images):
            zf.writestr(f"DS-TR/DS-TR-Image/img_{i}.jpg", jpeg_bytes(i))
            zf.writestr(f"DS-TR/DS-TR-Mask/img_{i}.png", b"not counted: other folder")
        zf.writestr("DS-TR/readme.txt", "hello")
        for name, data in extra:
            zf.writestr(name, data)
    return Path(path)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def bomb_png(width=20000, height=20000) -> bytes:
    """A PNG that declares width x height pixels in its header (a decompression bomb decodes to gigabytes;
    this one holds the data of one pixel, enough to be refused before anything is decoded)."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # and its CRC
    return bytes(data)
