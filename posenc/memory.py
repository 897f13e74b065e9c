"""The memory jobs declare (Snakemake `resources: mem_mb`), so that a local run never starts more jobs at
once than the machine holds, and a cluster job asks for what it needs (the Slurm profile passes mem_mb on
as --mem). Torch-free and zarr-free: the Snakefile plans with it.

Measured on the embedded default (2-core CPU, peak RSS from benchmarks/<rule>/): a VGG16 readout on the
610-image training store (1.34 GB decoded) peaks at 4.3-5.0 GB, about 2.5 stores plus the job's overhead;
an extraction at under 2 GB.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

ITEM_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "uint8": 1, "int8": 1, "int32": 4,
              "int64": 8, "bool": 1}  # fmt: skip
JOB_OVERHEAD_MB = 1500  # the interpreter, torch, zarr and one batch's buffers
UNKNOWN_STORE_MB = 4500  # a store not built yet (planning): about the decoded size of a 600-image VGG16 store
EXTRACT_MEM_MB = 3000  # an extraction holds a backbone and a few batches
LOCAL_SHARE = 0.85  # of the machine's memory that a local run's jobs may declare together
READOUT_STORE_COPIES = 2.5  # a readout's peak, in training stores (the store kept, its reads, the batches)


def decoded_mb(path) -> float | None:
    """Megabytes the arrays of a Zarr store take once read (shape x item size from its metadata), or None
    when there is no store there yet."""
    path = Path(path)
    if not (path / "zarr.json").is_file():
        return None
    total = 0
    for meta in path.glob("*/zarr.json"):
        array = json.loads(meta.read_text())
        if array.get("node_type") == "array":
            total += math.prod(array["shape"]) * ITEM_BYTES.get(str(array["data_type"]), 8)
    return total / 2**20


def stores_mem_mb(*stores, copies: float = 1.0) -> int:
    """What a job that reads these stores whole declares: `copies` times their decoded size plus the job's
    overhead."""
    sizes = [decoded_mb(s) for s in stores]
    return int(JOB_OVERHEAD_MB + copies * sum(UNKNOWN_STORE_MB if s is None else s for s in sizes))


def local_memory_mb() -> int:
    """The share of this machine's physical memory a local run's jobs may declare at once."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024
    return int(LOCAL_SHARE * total / 2**20)
