"""Building the registry's networks with torch: full models, their trunks, and the changes posenc makes.

A registry entry names a builder and a trunk function of this module (BUILDERS, TRUNKS). Every trunk is
frozen and has its in-place operations disabled before any tap is read (docs/protocol.md §3).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
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


# ---- transformers: patch tokens read as feature maps --------------------------------------------------
def is_token_model(model: nn.Module) -> bool:
    """A timm transformer: its blocks return tokens (N, L, C) or channels-last maps, not (N, C, H, W)."""
    return hasattr(model, "forward_intermediates") and (
        getattr(model, "num_prefix_tokens", None) is not None
        or getattr(model, "output_fmt", "NCHW") == "NHWC"
    )


# a transformer's default taps: this many blocks evenly spaced in depth, the last included
DEFAULT_BLOCK_TAPS = 4


def _attach(root: nn.Module, dotted: str, module: nn.Module) -> None:
    """Place `module` at the dotted name inside root, creating plain containers on the way."""
    *parents, last = dotted.split(".")
    for part in parents:
        if part not in root._modules:
            root.add_module(part, nn.Module())
        root = root._modules[part]
    root.add_module(last, module)


class TokenMaps(nn.Module):
    """A timm transformer whose intermediate outputs are read as (N, C, gh, gw) maps of patch tokens.

    timm's `forward_intermediates` returns each block's (ViT, DeiT, EVA, BEiT) or stage's (Swin) output as a
    spatial map, with the class, distillation and register tokens dropped. Each map passes through an
    identity module named as timm's `feature_info` names the block (`blocks.3`, `layers.1`), so taps, hooks
    and `posenc layers` treat them as a CNN's module outputs. The network itself is `net`.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.block_modules = [f["module"] for f in net.feature_info]
        for name in self.block_modules:
            _attach(self, name, nn.Identity())
        n = len(self.block_modules)
        picks = sorted({round((k + 1) * n / DEFAULT_BLOCK_TAPS) - 1 for k in range(DEFAULT_BLOCK_TAPS)})
        self.default_modules = (
            self.block_modules if n <= DEFAULT_BLOCK_TAPS else [self.block_modules[i] for i in picks]
        )

    def layout(self) -> dict:
        """How tokens became maps, for a store's provenance."""
        pos = getattr(self.net, "pos_embed", None)
        return {
            "prefix_tokens_dropped": int(getattr(self.net, "num_prefix_tokens", 0) or 0),
            "blocks": len(self.block_modules),
            "absolute_pos_embed": isinstance(pos, nn.Parameter),
            "patch_size": list(_pair(getattr(getattr(self.net, "patch_embed", None), "patch_size", 0))),
        }

    def forward(self, x: torch.Tensor):
        maps = self.net.forward_intermediates(
            x,
            indices=list(range(len(self.block_modules))),
            stop_early=True,
            output_fmt="NCHW",
            intermediates_only=True,
        )
        if len(maps) != len(self.block_modules):
            raise RuntimeError(
                f"{type(self.net).__name__}.forward_intermediates gave {len(maps)} maps for "
                f"{len(self.block_modules)} feature_info entries: posenc cannot name its taps"
            )
        modules = dict(self.named_modules())
        return [modules[name](m) for name, m in zip(self.block_modules, maps)]


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple | list) else (int(value), int(value))


def _timm_trunk(model: nn.Module, arch: Arch) -> nn.Module:
    return TokenMaps(model) if is_token_model(model) else model


# A config's pos_embed: keep (as trained or initialised), zero (the absolute embedding removed), shuffle (its
# patch rows permuted across the patches, seeded).
POS_EMBED_MODES = ("keep", "zero", "shuffle")


def set_pos_embed(model: nn.Module, mode: str, seed: int = 0) -> nn.Module:
    """Apply a config's pos_embed to a full timm model (its parameters, in place). The class and register
    tokens' rows, where the embedding has them, are zeroed by `zero` and left in place by `shuffle`."""
    if mode not in POS_EMBED_MODES:
        raise ValueError(f"pos_embed {mode!r}: use one of {', '.join(POS_EMBED_MODES)}")
    if mode == "keep":
        return model
    pos = getattr(model, "pos_embed", None)
    if not isinstance(pos, nn.Parameter):
        raise ValueError(
            f"pos_embed: {mode} changes an absolute position embedding, and {type(model).__name__} has none "
            f"(a CNN, or a transformer with relative or rotary positions only): leave pos_embed at keep"
        )
    with torch.no_grad():
        if mode == "zero":
            pos.zero_()
        else:
            grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
            patches = int(np.prod(grid)) if grid is not None else pos.shape[1]
            start = pos.shape[1] - patches  # rows of prefix tokens come first
            order = torch.randperm(patches, generator=torch.Generator().manual_seed(seed))
            pos[:, start:] = pos[:, start:][:, order].clone()
    return model


TRUNKS = {
    "whole": lambda model, arch: model,
    "timm": _timm_trunk,
    "vgg_features": _vgg_features,
    "resnet_stages": _resnet_stages,
}


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

    `modules`: module names to read (a config's `taps`). Otherwise, for a transformer, DEFAULT_BLOCK_TAPS
    blocks evenly spaced in depth (blocks 2, 5, 8, 11 of a 12-block ViT); else the stage outputs: timm's
    `feature_info` where the model has one, else the last module to finish at each resolution (global pooling aside),
    e.g. layer1..layer4 of a ResNet, features.N before each downsampling of a VGG or an EfficientNet.
    """
    outputs = module_outputs(model, input_size)
    last = {name: shape for name, _, shape in outputs}  # a module run twice: its last output
    if modules is None and isinstance(model, TokenMaps):
        modules = model.default_modules
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
