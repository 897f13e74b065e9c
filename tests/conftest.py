import warnings

import pytest

from tests.helpers import ROOT

warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
warnings.filterwarnings("ignore", message="Consolidated metadata.*")


@pytest.fixture
def root():
    return ROOT


def pytest_collection_modifyitems(config, items):
    """Tests marked gpu are skipped where torch sees no CUDA device (CI never has one)."""
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
