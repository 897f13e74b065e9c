"""The architecture registry: one entry per architecture with its taps, channels, strides and weight sources.

Callers never hard-code channel lists: they ask the registry (as timm's feature_info). The registry is
metadata only and imports no torch, so that validating a config stays light; the networks themselves
are built by posenc.features.architectures from the entry's `builder` and `trunk` names. A trunk is the
part of the network up to its deepest tap; taps are named modules inside it whose outputs are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from posenc.features.catalog import close_names, library_model


@dataclass(frozen=True)
class Tap:
    name: str  # as written in stores and configs
    module: str  # dotted module name inside the trunk
    channels: int
    stride: int  # input pixels per feature pixel (with padding)


@dataclass(frozen=True)
class Arch:
    name: str
    description: str
    builder: str  # function of posenc.features.architectures building the full model (random initialisation)
    trunk: str  # function of posenc.features.architectures: full model -> the part up to the deepest tap
    taps: tuple[Tap, ...]
    weight_sources: tuple[str, ...]
    imagenet_weights: str | None = None  # torchvision weights enum, "module:Enum.MEMBER"
    removable_padding: bool = (
        False  # docs/protocol.md §3: only plain conv stacks stay defined without padding
    )
    random_init: dict = field(default_factory=dict)  # keyword arguments for a random build
    loaded_init: dict = field(
        default_factory=dict
    )  # keyword arguments when weights are loaded over the build
    library: str = ""  # torchvision or timm for architectures by name (posenc.features.catalog)
    model: str = ""  # the library's model name

    @property
    def channels(self) -> int:
        return sum(t.channels for t in self.taps)

    @property
    def tap_names(self) -> list[str]:
        return [t.name for t in self.taps]

    def tap(self, name: str) -> Tap:
        for t in self.taps:
            if t.name == name:
                return t
        raise KeyError(f"architecture {self.name} has no tap {name!r}: it has {', '.join(self.tap_names)}")


ARCHS: dict[str, Arch] = {}


def register(arch: Arch) -> Arch:
    if arch.name in ARCHS:
        raise ValueError(f"architecture {arch.name!r} is registered twice")
    ARCHS[arch.name] = arch
    return arch


# How a backbone's convolutions pad (config key conv_padding): true = as trained (zeros), false = none.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular", "none")


def padding_mode(value) -> str:
    """A config's conv_padding (true, false or a mode) as a mode of PADDING_MODES."""
    if value is True:
        return "zeros"
    if value is False:
        return "none"
    if value not in PADDING_MODES:
        raise ValueError(f"conv_padding {value!r}: use true, false or one of {', '.join(PADDING_MODES)}")
    return value


# weight sources from PyPI wheels (posenc.features.wheels) for architectures by name
CATALOG_WHEEL_SOURCES = {"timm/tf_efficientnet_lite0": ("efficientnet_lite0",)}
# torchvision families whose random residual branches start at zero (as resnet152's here)
ZERO_INIT_RESIDUAL = ("resnet", "resnext", "wide_resnet")


def catalogued_arch(name: str, library: str, model: str) -> Arch:
    """An architecture by name: the whole network, taps derived when it is built (stage outputs)."""
    random_init = {}
    if library == "torchvision" and model.startswith(ZERO_INIT_RESIDUAL):
        random_init = {"zero_init_residual": True}
    return Arch(
        name=name,
        description=f"{library} {model}: taps at the last module of each resolution stage, or a "
        f"transformer's blocks (derived)",
        builder="catalog",
        trunk="timm" if library == "timm" else "whole",
        taps=(),
        weight_sources=("imagenet", "random", "checkpoint", *CATALOG_WHEEL_SOURCES.get(name, ())),
        random_init=random_init,
        library=library,
        model=model,
    )


def is_known_arch(name: str) -> bool:
    return name in ARCHS or library_model(name) is not None


def get_arch(name: str) -> Arch:
    """A hand-written entry, or an architecture by name from torchvision (`resnet50`) or timm (`timm/...`)."""
    if name in ARCHS:
        return ARCHS[name]
    found = library_model(name)
    if found is not None:
        return catalogued_arch(name, *found)
    close = close_names(name)
    raise ValueError(
        f"unknown architecture {name!r}: use one of {', '.join(ARCHS)}, a torchvision CNN (e.g. resnet50) or "
        f"timm/<model> (`posenc backbones` lists them all)"
        + (f"; close: {', '.join(close)}" if close else "")
    )


# ---- pixels: the raw image, for the "PosENet" rows ------------------------------------------------------
register(
    Arch(
        name="pixels",
        description="no backbone: the RGB image itself (PosENet rows of the paper)",
        builder="pixels",
        trunk="whole",
        taps=(Tap("rgb", "rgb", 3, 1),),
        weight_sources=("none",),
    )
)


# ---- VGG16 (plain and batch-normalised, full and slim width) -------------------------------------------
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block


def vgg16_unpadded_side(side: int) -> int:
    """Side of relu5_3 for a side x side input when every 3x3 convolution has padding 0 (pools halve, floor)."""
    for block, (_, convs) in enumerate(VGG16_BLOCKS):
        side -= 2 * convs
        if side < 1:
            return 0
        if block < len(VGG16_BLOCKS) - 1:
            side //= 2
    return side


def min_unpadded_input(arch: Arch) -> int:
    """The least input side for which every tap of an unpadded VGG16 is at least one pixel (196)."""
    return next(s for s in range(1, 1024) if vgg16_unpadded_side(s) >= 1) if arch.removable_padding else 1


def vgg16_taps(batch_norm: bool, divisor: int = 1) -> tuple[Tap, ...]:
    """Taps after the last ReLU of each block, at the module index torchvision's layout gives them."""
    taps, index = [], -1
    for block, (channels, convs) in enumerate(VGG16_BLOCKS, start=1):
        index += convs * (3 if batch_norm else 2)  # conv (+ bn) + relu per conv
        taps.append(Tap(f"relu{block}_{convs}", str(index), channels // divisor, 2 ** (block - 1)))
        index += 1  # max pool
    return tuple(taps)


register(
    Arch(
        name="vgg16",
        description="VGG16 (torchvision layout), taps after relu1_2 .. relu5_3",
        builder="vgg16",
        trunk="vgg_features",
        taps=vgg16_taps(False),
        weight_sources=("imagenet", "oxford", "random", "hed", "checkpoint"),
        imagenet_weights="torchvision.models:VGG16_Weights.IMAGENET1K_V1",
        removable_padding=True,
        loaded_init={"init_weights": False},  # skip initialising 138M parameters that are overwritten anyway
    )
)

register(
    Arch(
        name="vgg16_bn",
        description="VGG16 with batch normalisation (torchvision layout), taps after relu1_2 .. relu5_3",
        builder="vgg16_bn",
        trunk="vgg_features",
        taps=vgg16_taps(True),
        weight_sources=("imagenet", "random", "checkpoint"),
        imagenet_weights="torchvision.models:VGG16_BN_Weights.IMAGENET1K_V1",
        removable_padding=True,
        loaded_init={"init_weights": False},
    )
)

register(
    Arch(
        name="vgg16_bn_slim",
        description="VGG16-BN at an eighth of the width (8..64 channels; same depth, strides, padding and "
        "layout): dense networks trained from scratch on a CPU (Table 5 on the embedded default)",
        builder="vgg16_bn_slim",
        trunk="vgg_features",
        taps=vgg16_taps(True, 8),
        weight_sources=("random", "checkpoint"),
        removable_padding=True,
    )
)


# ---- ResNet-152 ----------------------------------------------------------------------------------------
register(
    Arch(
        name="resnet152",
        description="ResNet-152 (torchvision layout), taps at the outputs of layer1 .. layer4",
        builder="resnet152",
        trunk="resnet_stages",
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
    )
)
