"""A store records the request it was built for; readers that know the config refuse another one."""

import dataclasses

import pytest
import torch

from posenc.errors import snakemake_command
from posenc.features.extract import FeatureConfig, extract_features
from posenc.features.request import (
    StaleStore,
    recorded_request,
    request_diff,
    request_for,
    store_mismatch,
)
from posenc.features.store import StoreReader
from posenc.images.embedded import build_embedded
from posenc.images.manifest import write_manifest
from posenc.probe.evaluate import evaluate_readout
from posenc.probe.training import TrainConfig, train_readout
from posenc.readout_spec import ReadoutSpec

CFG = FeatureConfig(input_size=64, size=8, batch_size=8)
FEATURES = dataclasses.asdict(CFG)


def slim(seed):
    return {"name": "slim", "arch": "vgg16_bn_slim", "weights": "random", "seed": seed}


@pytest.fixture
def built(tmp_path):
    manifest = tmp_path / "m.json"
    write_manifest("small", build_embedded("test", 4, tmp_path / "imgs"), manifest)
    store = extract_features(slim(1), manifest, tmp_path / "slim.zarr", CFG, progress=False)
    return manifest, store


def test_the_store_records_the_request_its_config_computes(built):
    manifest, store = built
    assert recorded_request(store) == request_for(slim(1), FEATURES, manifest)
    assert recorded_request(store)["weights_seed"] == 1
    assert store_mismatch(store, slim(1), FEATURES, manifest) == []
    assert store_mismatch(store, slim(2), FEATURES, manifest) == ["weights_seed: store has 1, config asks 2"]
    assert store_mismatch(store.parent / "none.zarr", slim(2), FEATURES, manifest) == []  # no store


def test_a_store_built_with_another_seed_is_refused_by_every_reader(built, tmp_path):
    manifest, store = built
    wanted = request_for(slim(2), FEATURES, manifest)
    command = snakemake_command(str(store), force=True, configfiles=[])
    with pytest.raises(StaleStore, match="weights_seed: store has 1, config asks 2") as err:
        StoreReader(store, request=wanted)
    assert command in str(err.value)

    readout = tmp_path / "r.pt"
    cfg = TrainConfig(steps=2, batch_size=2, output_size=64)
    with pytest.raises(StaleStore, match="weights_seed"):
        train_readout(store, readout, ReadoutSpec(), ["H"], cfg, 0, "cpu", progress=False, request=wanted)
    assert not readout.exists()

    right = request_for(slim(1), FEATURES, manifest)
    train_readout(store, readout, ReadoutSpec(), ["H"], cfg, 0, "cpu", progress=False, request=right)
    kwargs = dict(output_size=64, stripe_range="unit")
    with pytest.raises(StaleStore, match="weights_seed"):
        evaluate_readout(readout, [store], tmp_path / "m.csv", requests=[wanted], **kwargs)
    assert not (tmp_path / "m.csv").exists()
    assert evaluate_readout(readout, [store], tmp_path / "m.csv", requests=[right], **kwargs) == 4


def test_padding_preprocessing_sizes_and_images_are_part_of_the_request(built, tmp_path):
    manifest, store = built
    have = recorded_request(store)
    other_images = tmp_path / "m2.json"
    write_manifest("small", build_embedded("test", 3, tmp_path / "imgs2"), other_images)
    cases = {
        "conv_padding": request_for({**slim(1), "conv_padding": False}, FEATURES, manifest),
        "preprocessing": request_for({**slim(1), "preprocessing": "imagenet"}, FEATURES, manifest),
        "align_corners": request_for(slim(1), {**FEATURES, "align_corners": False}, manifest),
        "feature_size": request_for(slim(1), {**FEATURES, "size": 14}, manifest),
        "dtype": request_for(slim(1), {**FEATURES, "dtype": "float32"}, manifest),
        "image_list_hash": request_for(slim(1), FEATURES, other_images),
    }
    for field, wanted in cases.items():
        assert [d.split(":")[0] for d in request_diff(have, wanted)] == [field]


def test_a_weight_file_is_part_of_the_request_by_its_hash(tmp_path):
    manifest = {"image_set": "s", "list_hash": "abc"}
    (tmp_path / "m.json").write_text(__import__("json").dumps(manifest))
    checkpoint = tmp_path / "w.pt"
    torch.save({"x": torch.zeros(2)}, checkpoint)
    entry = {"arch": "vgg16_bn_slim", "weights": "checkpoint", "checkpoint": str(checkpoint)}
    before = request_for(entry, FEATURES, tmp_path / "m.json")
    torch.save({"x": torch.ones(2)}, checkpoint)
    after = request_for(entry, FEATURES, tmp_path / "m.json")
    assert [d.split(":")[0] for d in request_diff(before, after)] == ["weights_file_sha256"]
    assert request_diff(None, after) == ["the store records no request (written by an older posenc)"]


def test_commands_name_the_run_config_files():
    assert snakemake_command("results/x.zarr", force=True, configfiles=[]) == (
        "snakemake --cores all --force results/x.zarr"
    )
    assert snakemake_command("all", configfiles=["config/config.yaml"]) == "snakemake --cores all all"
    assert snakemake_command("t.csv", configfiles=["config/paper.yaml", "my run.yaml"]) == (
        "snakemake --cores all t.csv --configfile config/paper.yaml 'my run.yaml'"
    )
