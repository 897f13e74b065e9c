"""The dense-task networks of Table 5: a registry backbone trained from scratch plus an FCN-style decoder.

The paper does not give its decoders. posenc uses the standard multi-level fusion of FCN/HED: every tap of
the backbone gets a 1x1 convolution to the output channels (1 for saliency, classes + 1 for segmentation),
each is upsampled bilinearly to the input size and the maps are summed. With `conv_padding: false` every
convolution of the backbone has padding 0 (the paper's "w/o padding" networks, here trained that way).
The backbone part is saved in torchvision's layout, so it can be probed like any checkpoint (Table 6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from posenc.features.architectures import build_random, disable_inplace, remove_conv_padding, trunk_of
from posenc.features.registry import get_arch


class DenseNet(nn.Module):
    def __init__(self, arch: str, out_channels: int, conv_padding: bool = True, seed: int = 0):
        super().__init__()
        architecture = get_arch(arch)
        if arch == "pixels":
            raise ValueError("a dense network needs a convolutional backbone, not pixels")
        if not conv_padding and not architecture.removable_padding:
            raise ValueError(f"conv_padding: false is only defined for plain conv stacks, not {arch}")
        self.arch = arch
        self.encoder = disable_inplace(trunk_of(architecture, build_random(architecture, seed)))
        if not conv_padding:
            remove_conv_padding(self.encoder)
        self.tap_index = {int(t.module): i for i, t in enumerate(architecture.taps)}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            self.heads = nn.ModuleList(nn.Conv2d(t.channels, out_channels, 1) for t in architecture.taps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        out = None
        for index, module in enumerate(self.encoder):
            x = module(x)
            if index in self.tap_index:
                side = F.interpolate(
                    self.heads[self.tap_index[index]](x), size=size, mode="bilinear", align_corners=False
                )
                out = side if out is None else out + side
        return out

    def backbone_state_dict(self) -> dict:
        """The backbone's parameters and buffers under torchvision's names (`features.<index>...`)."""
        return {f"features.{k}": v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()}
