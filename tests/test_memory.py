"""What jobs declare as memory: the decoded size of the stores they read, from the stores' metadata."""

import numpy as np
import zarr

from posenc.memory import JOB_OVERHEAD_MB, UNKNOWN_STORE_MB, decoded_mb, local_memory_mb, stores_mem_mb


def test_decoded_size_comes_from_the_store_metadata(tmp_path):
    group = zarr.open_group(tmp_path / "s.zarr", mode="w")
    group.create_array("a", shape=(10, 4, 28, 28), dtype="float16", chunks=(5, 4, 28, 28))
    group.create_array("b", shape=(10, 8, 28, 28), dtype="float32", chunks=(5, 8, 28, 28))
    group.create_array("name", shape=(10,), dtype="uint8")
    expected = (10 * 4 * 784 * 2 + 10 * 8 * 784 * 4 + 10) / 2**20
    assert np.isclose(decoded_mb(tmp_path / "s.zarr"), expected)
    assert stores_mem_mb(tmp_path / "s.zarr", tmp_path / "s.zarr") == int(JOB_OVERHEAD_MB + 2 * expected)


def test_a_store_not_built_yet_is_assumed_large():
    assert decoded_mb("/nonexistent.zarr") is None
    assert stores_mem_mb("/nonexistent.zarr") == JOB_OVERHEAD_MB + UNKNOWN_STORE_MB


def test_local_memory_is_a_share_of_the_machine():
    assert 512 < local_memory_mb() < 2**24
