"""Building the registry's networks with torch: full models, their trunks, and the changes posenc makes.

A registry entry names a builder and a trunk function of this module (BUILDERS, TRUNKS). Every trunk is
frozen and has its in-place operations disabled before any tap is read (docs/protocol.md §3).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision.models
from torch import nn
from torchvision.models.vgg import make_layers

from posenc.features.registry import VGG16_BLOCKS, Arch


class Pixels(nn.Module):
    """No backbone: the RGB input itself, as the single tap `rgb`."""

    def __init__(self):
        super().__init__()
        self.rgb = nn.Identity()

    def forward(self, x):
        return self.rgb(x)


class VGGFeatures(nn.Module):
    """A VGG16 conv stack in torchvision's layout (`features.<index>`), with channels divided by `divisor`,
    without the classifier. Initialised as torchvision initialises VGG."""

    def __init__(self, divisor: int, batch_norm: bool):
        super().__init__()
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


def _torchvision(name: str):
    def build(**kwargs):
        return getattr(torchvision.models, name)(weights=None, **kwargs)

    return build


BUILDERS = {
    "pixels": Pixels,
    "vgg16": _torchvision("vgg16"),
    "vgg16_bn": _torchvision("vgg16_bn"),
    "vgg16_bn_slim": lambda: VGGFeatures(8, batch_norm=True),
    "resnet152": _torchvision("resnet152"),
}


def _vgg_features(model: nn.Module, arch: Arch) -> nn.Module:
    return model.features[: int(arch.taps[-1].module) + 1]


def _resnet_stages(model: nn.Module, arch: Arch) -> nn.Module:
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    return nn.Sequential(OrderedDict((n, getattr(model, n)) for n in names))


TRUNKS = {"whole": lambda model, arch: model, "vgg_features": _vgg_features, "resnet_stages": _resnet_stages}


def build_full(arch: Arch, **kwargs) -> nn.Module:
    """The full model in its library's layout (random initialisation)."""
    return BUILDERS[arch.builder](**kwargs)


def trunk_of(arch: Arch, model: nn.Module) -> nn.Module:
    """The part of a full model up to its deepest tap (sharing its parameters)."""
    return TRUNKS[arch.trunk](model, arch)


def build_random(arch: Arch, seed: int) -> nn.Module:
    """The full model with seeded random weights (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_full(arch, **arch.random_init)


def disable_inplace(model: nn.Module) -> nn.Module:
    """In-place ops would overwrite a tapped tensor after the hook saw it (docs/protocol.md §3)."""
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
