import numpy as np
import pytest
import torch

from posenc.features.architectures import build_random, trunk_of
from posenc.features.extract import TapExtractor, native_sizes
from posenc.features.registry import ARCHS, Tap, get_arch
from posenc.features.weights import load_trunk


def test_registry_taps_and_channels():
    assert get_arch("vgg16").channels == 1472
    assert get_arch("resnet152").channels == 3840
    assert [t.name for t in get_arch("vgg16").taps] == ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    assert [t.module for t in get_arch("vgg16").taps] == ["3", "8", "15", "22", "29"]
    assert set(ARCHS) >= {"pixels", "vgg16", "resnet152"}
    assert get_arch("alexnet").library == "torchvision"  # by name, taps derived when built
    with pytest.raises(ValueError, match="unknown architecture 'alexnett'.*close: alexnet"):
        get_arch("alexnett")


def test_vgg_tap_sizes_with_and_without_padding():
    trunk, _ = load_trunk("vgg16", "random")
    spec = get_arch("vgg16")
    assert list(native_sizes(TapExtractor(trunk, spec.taps), 224).values()) == [224, 112, 56, 28, 14]
    nopad, _ = load_trunk("vgg16", "random", conv_padding=False)
    assert list(native_sizes(TapExtractor(nopad, spec.taps), 224).values()) == [220, 106, 47, 17, 2]
    # same weights, only the padding differs
    assert all(torch.equal(a, b) for a, b in zip(trunk.state_dict().values(), nopad.state_dict().values()))


def test_padding_removal_refused_for_resnet():
    with pytest.raises(ValueError, match="only defined"):
        load_trunk("resnet152", "random", conv_padding=False)


def test_pre_relu_tap_can_be_negative_because_inplace_is_disabled():
    # features.2 is the conv before the in-place ReLU features.3 (a later tap keeps the forward pass going)
    pre_relu = [Tap("conv1_2", "2", 64, 1), Tap("relu2_2", "8", 128, 2)]
    x = torch.rand(1, 3, 32, 32)
    trunk, _ = load_trunk("vgg16", "random")
    with torch.no_grad():
        out = TapExtractor(trunk, pre_relu, 8).native(x)["conv1_2"]
    assert out.min() < 0
    # the failure this guards against: with torchvision's in-place ReLU the hooked tensor is overwritten
    raw = trunk_of(get_arch("vgg16"), build_random(get_arch("vgg16"), 0)).eval()
    with torch.no_grad():
        clobbered = TapExtractor(raw, pre_relu, 8).native(x)["conv1_2"]
    assert clobbered.min() >= 0


def test_random_weights_are_seeded():
    _, a = load_trunk("vgg16", "random", seed=0)
    _, b = load_trunk("vgg16", "random", seed=0)
    _, c = load_trunk("vgg16", "random", seed=1)
    assert a.sha256 == b.sha256 != c.sha256
    assert a.seed == 0 and a.native_preprocessing == "official"


def test_random_resnet152_stays_in_float16_range():
    trunk, _ = load_trunk("resnet152", "random")
    spec = get_arch("resnet152")
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        out = TapExtractor(trunk, spec.taps, 28)(x)
    assert [o.shape[1] for o in out.values()] == [256, 512, 1024, 2048]
    peak = max(float(o.abs().max()) for o in out.values())
    assert np.isfinite(peak) and peak < float(np.finfo(np.float16).max)


@pytest.mark.parametrize("arch, channels", [("vgg16_bn", 1472), ("vgg16_bn_slim", 184)])
def test_batch_norm_vggs_tap_the_last_relu_of_each_block(arch, channels):
    spec = get_arch(arch)
    assert spec.channels == channels and [t.module for t in spec.taps] == ["5", "12", "22", "32", "42"]
    trunk = trunk_of(spec, build_random(spec, 0))
    assert [type(trunk[int(t.module)]).__name__ for t in spec.taps] == ["ReLU"] * 5
    assert type(trunk[int(spec.taps[-1].module) - 1]).__name__ == "BatchNorm2d"  # relu after conv + bn
    out = TapExtractor(trunk.eval(), spec.taps).native(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in out.values()] == [t.channels for t in spec.taps]
    assert [o.shape[-1] for o in out.values()] == [64, 32, 16, 8, 4]


def test_an_extractor_used_as_a_context_manager_leaves_no_hook_on_the_trunk():
    trunk, _ = load_trunk("vgg16", "random")
    spec = get_arch("vgg16")
    hooked = lambda: sum(len(m._forward_hooks) for m in trunk.modules())  # noqa: E731
    with TapExtractor(trunk, spec.taps) as extractor:
        assert hooked() == len(spec.taps)
        assert set(native_sizes(extractor, 32)) == {t.name for t in spec.taps}
    assert hooked() == 0
