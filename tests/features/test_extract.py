import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posenc.errors import ActionableError
from posenc.features.extract import FeatureConfig, extract_features
from posenc.features.preprocess import resize_image
from posenc.features.store import StoreError, StoreReader, read_provenance
from posenc.images.decode import load_image
from posenc.images.embedded import build_embedded, synthetic_records
from posenc.images.manifest import write_manifest


@pytest.fixture
def manifest(tmp_path):
    return write_manifest(
        "small", build_embedded("test", 6, tmp_path / "imgs") + synthetic_records(), tmp_path / "m.json"
    )


def test_pixels_store_holds_the_resized_image(tmp_path, manifest):
    out = extract_features(
        {"name": "pixels", "arch": "pixels"},
        tmp_path / "m.json",
        tmp_path / "p.zarr",
        FeatureConfig(batch_size=4),
        progress=False,
    )
    reader = StoreReader(out)
    assert reader.n_images == 9 and reader.channels == 3
    assert reader.test_inputs[-3:] == ["black", "white", "noise"]
    first = manifest["images"][0]["path"]
    want = F.interpolate(
        resize_image(load_image(first), 224)[None], size=(28, 28), mode="bilinear", align_corners=True
    )
    np.testing.assert_allclose(reader.read(0, 1), want.numpy(), atol=1e-3)  # float16 storage
    assert reader.read(6, 7).max() == 0 and reader.read(7, 8).min() == 1  # black, white


def test_existing_store_is_reused_or_refused(tmp_path, manifest):
    backbone = {"name": "pixels", "arch": "pixels"}
    out = extract_features(backbone, tmp_path / "m.json", tmp_path / "p.zarr", progress=False)
    created = read_provenance(out)["created"]
    extract_features(backbone, tmp_path / "m.json", out, progress=False)
    assert read_provenance(out)["created"] == created  # same request: kept as it is
    with pytest.raises(StoreError, match="preprocessing"):
        extract_features(
            backbone, tmp_path / "m.json", out, FeatureConfig(preprocessing="imagenet"), progress=False
        )


SLOW_EXTRACT = """
import sys, time
import posenc.features.store as store
from posenc.features.extract import FeatureConfig, extract_features
append = store.StoreWriter.append
def slow_append(self, features):
    append(self, features)
    time.sleep(0.5)
store.StoreWriter.append = slow_append
extract_features({"name": "pixels", "arch": "pixels"}, sys.argv[1], sys.argv[2],
                 FeatureConfig(batch_size=1, chunk_mb=0.001), progress=False)
"""


def test_killed_extraction_leaves_no_store_and_a_rerun_completes(tmp_path, manifest):
    out = tmp_path / "p.zarr"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_EXTRACT, str(tmp_path / "m.json"), str(out)])
    tmp = tmp_path / f"p.zarr.tmp-{proc.pid}"
    deadline = time.time() + 120
    while not list(tmp.glob("rgb/c/*")) and time.time() < deadline:  # wait for the first written chunk
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert tmp.exists() and not out.exists()  # a partial write never looks like a store
    with pytest.raises(StoreError, match="no feature store"):
        StoreReader(out)
    extract_features({"name": "pixels", "arch": "pixels"}, tmp_path / "m.json", out, progress=False)
    assert StoreReader(out).n_images == 9
    assert not tmp.exists()  # the dead writer's leftovers are cleaned up


def test_nopad_vgg_store_and_provenance(tmp_path, manifest):
    out = extract_features(
        {"name": "v", "arch": "vgg16", "weights": "random", "conv_padding": False},
        tmp_path / "m.json",
        tmp_path / "v.zarr",
        FeatureConfig(batch_size=9),
        progress=False,
    )
    prov = read_provenance(out)
    assert [t["native_size"] for t in prov["taps"]] == [220, 106, 47, 17, 2]
    assert prov["conv_padding"] is False and prov["weights_source"] == "random" and prov["dtype"] == "float16"
    assert prov["image_list_hash"] == manifest["list_hash"] and prov["posenc_version"]
    reader = StoreReader(out, taps=["relu5_3"])
    assert reader.read(0, 9).shape == (9, 512, 28, 28)
    assert torch.isfinite(torch.from_numpy(reader.read(0, 9))).all()


def test_image_changed_after_manifest_is_refused(tmp_path, manifest, monkeypatch):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(manifest["images"][2]["path"])
    monkeypatch.delenv("POSENC_CONFIGFILES", raising=False)
    with pytest.raises(ActionableError, match="changed after") as err:
        extract_features(
            {"name": "pixels", "arch": "pixels"}, tmp_path / "m.json", tmp_path / "p.zarr", progress=False
        )
    assert "snakemake --cores all --force results/images/small.json" in str(err.value)  # a command to paste
    assert not (tmp_path / "p.zarr").exists()


def test_align_corners_is_an_option_recorded_in_provenance(tmp_path, manifest):
    from posenc.features.extract import TapExtractor
    from posenc.features.registry import Tap

    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)  # a horizontal ramp 0..7 as one "tap"
    trunk = torch.nn.Sequential(torch.nn.Identity())
    tap = [Tap("x", "0", 1, 1)]
    aligned = TapExtractor(trunk, tap, 4, align_corners=True)(ramp)["x"][0, 0, 0]
    assert aligned.tolist() == pytest.approx([0, 7 / 3, 14 / 3, 7])  # the border columns are sampled
    centred = TapExtractor(trunk, tap, 4, align_corners=False)(ramp)["x"][0, 0, 0]
    assert centred.tolist() == pytest.approx([0.5, 2.5, 4.5, 6.5])  # the outer half-pixels never are
    backbone = {"name": "pixels", "arch": "pixels"}
    out = extract_features(
        backbone, tmp_path / "m.json", tmp_path / "p.zarr", FeatureConfig(), progress=False
    )
    assert read_provenance(out)["resize"] == "bilinear, align_corners=True"
    with pytest.raises(StoreError, match="resize"):
        extract_features({**backbone, "align_corners": False}, tmp_path / "m.json", out, progress=False)
