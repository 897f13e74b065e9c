"""On a GPU (skipped without one): what the device computes agrees with the CPU."""

import numpy as np
import pytest
import torch

from posenc.features.store import StoreReader
from posenc.probe.training import TrainConfig, train_heads
from posenc.readout_spec import ReadoutSpec
from tests.helpers import write

pytestmark = pytest.mark.gpu


def test_readout_heads_trained_on_the_gpu_match_the_cpu(tmp_path):
    store = tmp_path / "s.zarr"
    write(store, n=16, batches=(16,))
    cfg = TrainConfig(steps=10, batch_size=4, lr=0.01, lr_milestones=(8,), output_size=32)
    cpu, cpu_history, _ = train_heads(
        store, ReadoutSpec(), ["H", "G"], cfg, seed=0, device="cpu", progress=False
    )
    gpu, gpu_history, _ = train_heads(
        store, ReadoutSpec(), ["H", "G"], cfg, seed=0, device="cuda", progress=False
    )
    x = torch.from_numpy(StoreReader(store).read(0, 16)).float()
    with torch.no_grad():
        np.testing.assert_allclose(gpu.cpu()(x).numpy(), cpu(x).numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(gpu_history["steps"].numpy(), cpu_history["steps"].numpy(), rtol=1e-3)
