"""The backbone registry: one entry per architecture with its trunk, taps, channels, strides and weights.

Callers never hard-code channel lists: they ask the registry (as timm's feature_info). A trunk is the
part of the network up to its deepest tap; taps are named modules inside it whose outputs are read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Tap:
    name: str  # as written in stores and configs
    module: str  # dotted module name inside the trunk
    channels: int
    stride: int  # input pixels per feature pixel (with padding, for a 224 input)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    description: str
    build_full: Callable[..., nn.Module]  # torchvision-layout model, random initialisation
    trunk: Callable[[nn.Module], nn.Module]  # full model -> the part up to the deepest tap
    taps: tuple[Tap, ...]
    weight_sources: tuple[str, ...]
    imagenet_weights: str | None = None  # torchvision weights enum, "module:Enum.MEMBER"
    removable_padding: bool = False  # PROTOCOL: only VGG-like plain stacks stay defined without padding
    random_init: dict = field(default_factory=dict)  # keyword arguments for a random build
    loaded_init: dict = field(default_factory=dict)  # keyword arguments when weights are loaded over the build

    @property
    def channels(self) -> int:
        return sum(t.channels for t in self.taps)

    def tap(self, name: str) -> Tap:
        for t in self.taps:
            if t.name == name:
                return t
        raise KeyError(f"backbone {self.name} has no tap {name!r}: it has {', '.join(t.name for t in self.taps)}")


REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"backbone {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


def get_backbone(name: str) -> BackboneSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backbone architecture {name!r}: choose one of {', '.join(REGISTRY)}") from None


# ---- pixels: the raw image, for the "PosENet" rows ------------------------------------------------------
class _Pixels(nn.Module):
    def __init__(self):
        super().__init__()
        self.rgb = nn.Identity()

    def forward(self, x):
        return self.rgb(x)


register(BackboneSpec(
    name="pixels",
    description="no backbone: the RGB image itself (PosENet rows of the paper)",
    build_full=_Pixels,
    trunk=lambda model: model,
    taps=(Tap("rgb", "rgb", 3, 1),),
    weight_sources=("none",),
))


# ---- VGG16 (plain and batch-normalised, full and slim width) -------------------------------------------
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block


def _vgg16(**kwargs):
    from torchvision.models import vgg16

    return vgg16(weights=None, **kwargs)


def _vgg16_bn(**kwargs):
    from torchvision.models import vgg16_bn

    return vgg16_bn(weights=None, **kwargs)


class VGGFeatures(nn.Module):
    """A VGG16 conv stack in torchvision's layout (`features.<index>`), with channels divided by `divisor`,
    without the classifier. Initialised as torchvision initialises VGG."""

    def __init__(self, divisor: int, batch_norm: bool):
        super().__init__()
        from torchvision.models.vgg import make_layers

        cfg = []
        for channels, convs in VGG16_BLOCKS:
            cfg += [channels // divisor] * convs + ["M"]
        self.features = make_layers(cfg, batch_norm=batch_norm)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def _vgg16_taps(batch_norm: bool, divisor: int = 1) -> tuple[Tap, ...]:
    """Taps after the last ReLU of each block, at the module index torchvision's layout gives them."""
    taps, index = [], -1
    for block, (channels, convs) in enumerate(VGG16_BLOCKS, start=1):
        index += convs * (3 if batch_norm else 2)  # conv (+ bn) + relu per conv
        taps.append(Tap(f"relu{block}_{convs}", str(index), channels // divisor, 2 ** (block - 1)))
        index += 1  # max pool
    return tuple(taps)


def _vgg_trunk(batch_norm: bool):
    last = int(_vgg16_taps(batch_norm)[-1].module)
    return lambda model: model.features[: last + 1]


register(BackboneSpec(
    name="vgg16",
    description="VGG16 (torchvision layout), taps after relu1_2 .. relu5_3",
    build_full=_vgg16,
    trunk=_vgg_trunk(False),
    taps=_vgg16_taps(False),
    weight_sources=("imagenet", "random", "hed", "checkpoint"),
    imagenet_weights="torchvision.models:VGG16_Weights.IMAGENET1K_V1",
    removable_padding=True,
    loaded_init={"init_weights": False},  # skip initialising 138M parameters that are overwritten anyway
))

register(BackboneSpec(
    name="vgg16_bn",
    description="VGG16 with batch normalisation (torchvision layout), taps after relu1_2 .. relu5_3",
    build_full=_vgg16_bn,
    trunk=_vgg_trunk(True),
    taps=_vgg16_taps(True),
    weight_sources=("imagenet", "random", "checkpoint"),
    imagenet_weights="torchvision.models:VGG16_BN_Weights.IMAGENET1K_V1",
    removable_padding=True,
    loaded_init={"init_weights": False},
))

register(BackboneSpec(
    name="vgg16_bn_slim",
    description="VGG16-BN at an eighth of the width (8..64 channels; same depth, strides, padding and "
                "layout): dense networks trained from scratch on a CPU (Table 5 on the embedded default)",
    build_full=lambda: VGGFeatures(8, batch_norm=True),
    trunk=_vgg_trunk(True),
    taps=_vgg16_taps(True, 8),
    weight_sources=("random", "checkpoint"),
    removable_padding=True,
))


# ---- ResNet-152 ----------------------------------------------------------------------------------------
def _resnet152(**kwargs):
    from torchvision.models import resnet152

    return resnet152(weights=None, **kwargs)


def _resnet_trunk(model: nn.Module) -> nn.Module:
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    return nn.Sequential(OrderedDict((n, getattr(model, n)) for n in names))


register(BackboneSpec(
    name="resnet152",
    description="ResNet-152 (torchvision layout), taps at the outputs of layer1 .. layer4",
    build_full=_resnet152,
    trunk=_resnet_trunk,
    taps=(
        Tap("layer1", "layer1", 256, 4),
        Tap("layer2", "layer2", 512, 8),
        Tap("layer3", "layer3", 1024, 16),
        Tap("layer4", "layer4", 2048, 32),
    ),
    weight_sources=("imagenet", "random", "checkpoint"),
    imagenet_weights="torchvision.models:ResNet152_Weights.IMAGENET1K_V1",
    # Random residual branches start at zero: activations then stay bounded (float16-safe) in depth.
    random_init={"zero_init_residual": True},
))


# ---- helpers shared by all backbones -------------------------------------------------------------------
def disable_inplace(model: nn.Module) -> nn.Module:
    """In-place ops would overwrite a tapped tensor after the hook saw it (PROTOCOL section 3)."""
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    return model


def remove_conv_padding(model: nn.Module) -> nn.Module:
    """Set the padding of every convolution to 0 (the paper's 'w/o padding': same weights, not retrained)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.padding = (0, 0)
    return model


def freeze(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def build_random(spec: BackboneSpec, seed: int) -> nn.Module:
    """The full model with seeded random weights (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build_full(**spec.random_init)
