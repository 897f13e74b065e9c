"""Architectures by name: torchvision and timm CNNs with derived taps, padding modes, checkpoints."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from posenc.config import ConfigError, load_config, validate_config
from posenc.errors import ActionableError
from posenc.features.architectures import build_random, derive_taps, set_conv_padding, trunk_of
from posenc.features.catalog import build_catalog, catalog
from posenc.features.extract import FeatureConfig, extract_features
from posenc.features.registry import get_arch
from posenc.features.store import StoreReader, read_provenance
from posenc.features.weights import WeightsUnavailable, load_trunk
from posenc.images.embedded import build_embedded
from posenc.images.manifest import write_manifest
from posenc.probe.evaluate import evaluate_readout
from posenc.probe.training import TrainConfig, train_readout
from posenc.readout_spec import ReadoutSpec
from tests.helpers import ROOT


def test_the_shipped_catalog_is_what_the_installed_libraries_list():
    assert catalog() == build_catalog()
    assert {"resnet50", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_small", "regnet_y_400mf"} <= set(
        catalog()["torchvision"]
    )
    assert not [n for n in catalog()["torchvision"] if n.startswith(("vit_", "swin", "maxvit"))]


def test_names_are_validated_without_torch_and_typos_get_close_names():
    config = load_config(ROOT / "config" / "config.yaml")
    config["backbones"] = {
        "a": {"arch": "resnet50", "weights": "random"},
        "b": {"arch": "timm/convnext_tiny", "weights": "imagenet", "conv_padding": "reflect"},
    }
    config["tables"], config["analyses"], config["position_bits"]["backbones"] = {}, {}, []
    validate_config(config)
    config["backbones"]["c"] = {"arch": "resnet5O"}
    with pytest.raises(
        ConfigError, match=r"backbones.c.arch`: unknown architecture 'resnet5O'.*close: resnet50"
    ):
        validate_config(config)
    config["backbones"]["c"] = {"arch": "resnet18", "conv_padding": False}
    with pytest.raises(ConfigError, match="only defined for plain conv stacks"):
        validate_config(config)


RESNET18 = [("relu", 64, 2), ("layer1", 64, 4), ("layer2", 128, 8), ("layer3", 256, 16), ("layer4", 512, 32)]


def taps_of(name, **kw):
    arch = get_arch(name)
    return [(t.name, t.channels, t.stride) for t in derive_taps(trunk_of(arch, build_random(arch, 0)), **kw)]


def test_stage_taps_are_derived_from_the_network():
    assert taps_of("resnet18") == RESNET18
    assert taps_of("timm/resnet18") == [("act1", 64, 2), *RESNET18[1:]]  # timm's own feature_info
    assert [t[1:] for t in taps_of("convnext_tiny")] == [(96, 4), (192, 8), (384, 16), (768, 32)]
    assert taps_of("resnet18", modules=["layer2.1", "layer4"]) == [("layer2_1", 128, 8), ("layer4", 512, 32)]
    with pytest.raises(ValueError, match="no module 'layer9'"):
        taps_of("resnet18", modules=["layer9"])


def test_padding_modes_change_only_the_border():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.arange(36.0).view(1, 1, 6, 6)
    zeros = conv(x)
    for mode in ("reflect", "replicate", "circular"):
        out = set_conv_padding(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, bias=False)), mode)
        out[0].weight.data.copy_(conv.weight)
        y = out(x)
        assert torch.equal(y[..., 1:-1, 1:-1], zeros[..., 1:-1, 1:-1])  # the inside is untouched
        assert not torch.equal(y, zeros) and out[0].padding_mode == mode
    unpadded = set_conv_padding(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), False)
    assert unpadded(x).shape[-1] == 4


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imgs")
    return write_manifest("tiny", build_embedded("test", 4, folder), folder / "m.json"), folder / "m.json"


@pytest.mark.parametrize(
    "arch", ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "timm/resnet18"]
)
def test_small_networks_are_extracted_and_probed(arch, tiny_manifest, tmp_path):
    _, manifest = tiny_manifest
    backbone = {
        "name": arch.replace("/", "_"),
        "arch": arch,
        "weights": "random",
        "conv_padding": "replicate",
    }
    cfg = FeatureConfig(input_size=64, size=8, dtype="float32", batch_size=4)
    store = extract_features(backbone, manifest, tmp_path / "s.zarr", cfg, progress=False)
    prov = read_provenance(store)
    assert prov["conv_padding"] == "replicate" and prov["request"]["conv_padding"] == "replicate"
    assert [t["stride"] for t in prov["taps"]][-1] == 32 and len(prov["taps"]) >= 4
    reader = StoreReader(store)
    assert np.isfinite(reader.read(0, 4)).all() and reader.channels == sum(
        t["channels"] for t in prov["taps"]
    )
    train = TrainConfig(steps=3, batch_size=2, output_size=64)
    train_readout(store, tmp_path / "r.pt", ReadoutSpec(), ["H"], train, 0, "cpu", progress=False)
    assert evaluate_readout(
        tmp_path / "r.pt", [store], tmp_path / "m.csv", output_size=64, stripe_range="unit"
    )


def test_reflect_padding_on_maps_too_small_for_it_says_so(tiny_manifest, tmp_path):
    backbone = {"name": "m", "arch": "mobilenet_v3_small", "weights": "random", "conv_padding": "reflect"}
    with pytest.raises(ActionableError, match="raise input.size, or use replicate or zeros padding"):
        extract_features(backbone, tiny_manifest[1], tmp_path / "s.zarr", FeatureConfig(input_size=64))
    assert not (tmp_path / "s.zarr").exists()


def test_a_checkpoint_of_another_variant_names_its_keys(tmp_path):
    state = build_random(get_arch("resnet34"), 0).state_dict()
    torch.save(state, tmp_path / "r34.pt")
    with pytest.raises(WeightsUnavailable, match=r"has \d+ tensors resnet18 does not, e\.g\. \['layer1\.2"):
        load_trunk("resnet18", "checkpoint", checkpoint=str(tmp_path / "r34.pt"))
    mine = build_random(get_arch("resnet18"), 3).state_dict()
    torch.save(mine, tmp_path / "r18.pt")
    trunk, info = load_trunk("resnet18", "checkpoint", checkpoint=str(tmp_path / "r18.pt"))
    assert torch.equal(trunk.state_dict()["layer4.1.conv2.weight"], mine["layer4.1.conv2.weight"])
    assert info.native_preprocessing == "imagenet"


def test_random_weights_are_seeded(tmp_path):
    a, ia = load_trunk("mobilenet_v3_small", "random", seed=1)
    b, ib = load_trunk("mobilenet_v3_small", "random", seed=1)
    c, ic = load_trunk("mobilenet_v3_small", "random", seed=2)
    assert ia.sha256 == ib.sha256 != ic.sha256
    assert dataclasses.asdict(ia)["seed"] == 1


def test_timm_weights_offline_name_the_cache_and_the_fix(monkeypatch, tmp_path):
    import timm

    real = timm.create_model

    def offline(name, pretrained=False, **kw):
        if pretrained:
            raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")
        return real(name, pretrained=False, **kw)

    monkeypatch.setattr(timm, "create_model", offline)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailable, match=rf"into {tmp_path}/hf/hub \(HF_HOME\). Offline: run"):
        load_trunk("timm/resnet18", "imagenet")
