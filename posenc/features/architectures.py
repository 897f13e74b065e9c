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

from posenc.features.registry import VGG16_BLOCKS, Arch, Tap, padding_mode
from posenc.schema import INPUT_SIZE


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
    if arch.library == "torchvision":
        return torchvision.models.get_model(arch.model, weights=None, **kwargs)
    if arch.library == "timm":
        import timm  # only architectures by name from timm need it

        return timm.create_model(arch.model, pretrained=False, **kwargs)
    return BUILDERS[arch.builder](**kwargs)


# ---- taps of architectures by name -----------------------------------------------------------------------
def tap_name(module: str) -> str:
    """A module name as a tap name (stores, readout ids): dots become underscores."""
    return module.replace(".", "_")


def module_outputs(model: nn.Module, input_size: int = INPUT_SIZE) -> list[tuple[str, str, tuple[int, ...]]]:
    """(module name, module type, output shape) of every module returning a 4-D tensor, in the order they
    finish, for a zero image of input_size (what `posenc layers` lists)."""
    seen: list[tuple[str, str, tuple[int, ...]]] = []

    def hook(name):
        def record(module, _inputs, output):
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                seen.append((name, type(module).__name__, tuple(output.shape)))

        return record

    _dry_run(model, input_size, {name: hook(name) for name, _ in model.named_modules() if name})
    return seen


def _dry_run(model: nn.Module, input_size: int, hooks: dict) -> None:
    """Run a zero image of input_size through the model with forward hooks (module name -> hook) in place."""
    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(h) for name, h in hooks.items()]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()


HEAD_MODULES = (
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "SelectAdaptivePool2d",
)  # pooling towards a classifier


def is_feature_map(kind: str, shape, input_size: int) -> bool:
    """A (N, C, H, W) map of an image: square like the input (channels-last tensors inside ConvNeXt blocks
    are not), not the 1x1 output of global pooling, not from a classifier's adaptive pooling."""
    return shape[-1] == shape[-2] and not (shape[-1] == 1 and input_size > 32) and kind not in HEAD_MODULES


def _measured(module: str, shape, input_size: int) -> Tap:
    return Tap(tap_name(module), module, int(shape[1]), max(1, round(input_size / shape[-1])))


def derive_taps(model: nn.Module, modules=None, input_size: int = INPUT_SIZE) -> tuple[Tap, ...]:
    """Taps of a network, with channels and strides measured by a dry forward pass.

    `modules`: module names to read (a config's `taps`). Otherwise the stage outputs: timm's `feature_info`
    where the model has one, else the last module to finish at each resolution (global pooling aside),
    e.g. layer1..layer4 of a ResNet, features.N before each downsampling of a VGG or an EfficientNet.
    """
    outputs = module_outputs(model, input_size)
    last = {name: shape for name, _, shape in outputs}  # a module run twice: its last output
    if modules is None:
        info = getattr(model, "feature_info", None)
        names = [f["module"] for f in info] if isinstance(info, list) else []
        if names and all(n in last for n in names):
            modules = names
    if modules is not None:
        unknown = [m for m in modules if m not in last]
        if unknown:
            raise ValueError(
                f"no module {', '.join(map(repr, unknown))} returns a feature map; `posenc layers` lists those "
                f"that do"
            )
        return tuple(_measured(m, last[m], input_size) for m in modules)
    stages: dict[int, list[tuple[int, int, str, tuple]]] = {}
    for order, (name, kind, shape) in enumerate(outputs):
        if is_feature_map(kind, shape, input_size):
            stride = max(1, round(input_size / shape[-1]))
            stages.setdefault(stride, []).append((name.count(".") + 1 if name else 0, order, name, shape))
    # per resolution: the outermost module (fewest dots) that finishes last, e.g. layer1, not layer1.1.conv2
    chosen = [min(group, key=lambda c: (c[0], -c[1])) for _, group in sorted(stages.items())]
    return tuple(_measured(name, shape, input_size) for _, _, name, shape in chosen)


def uneven_padding(model: nn.Module, input_size: int = INPUT_SIZE) -> list[dict]:
    """Strided convolutions and poolings whose last row and column of padding are never used at this input
    size, (H + 2p - k) % s != 0 ("Mind the Pad"): their output is shifted against the input, and a mean
    feature map shows it as an asymmetry."""
    found = []

    def hook(name):
        def check(module, inputs, _output):
            k, s, p = (_first(getattr(module, a)) for a in ("kernel_size", "stride", "padding"))
            side = inputs[0].shape[-1]
            if s > 1 and "Same" in type(module).__name__:  # timm's TF-style "SAME": asymmetric by design
                found.append({"module": name, "input": side, "kernel": k, "stride": s, "padding": "same"})
            elif s > 1 and (side + 2 * p - k) % s:
                found.append({"module": name, "input": side, "kernel": k, "stride": s, "padding": p})

        return check

    kinds = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
    _dry_run(model, input_size, {n: hook(n) for n, m in model.named_modules() if isinstance(m, kinds)})
    return found


def _first(value) -> int:
    if isinstance(value, str):  # padding="same"
        return 0
    return int(value[0] if isinstance(value, tuple | list) else value)


def set_conv_padding(model: nn.Module, mode) -> nn.Module:
    """A config's conv_padding: zeros (as trained) leaves the network as it is; reflect, replicate and
    circular pad every padded convolution that way instead; none removes convolution padding."""
    mode = padding_mode(mode)
    if mode == "none":
        return remove_conv_padding(model)
    if mode != "zeros":
        for module in model.modules():
            if isinstance(module, nn.Conv2d) and any(p > 0 for p in _pads(module)):
                module.padding_mode = mode
    return model


def _pads(conv: nn.Conv2d) -> tuple[int, ...]:
    return conv.padding if isinstance(conv.padding, tuple) else (1,)  # "same": pads


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
