"""The position encoding module ("PosENet" readout, PROTOCOL section 4) and its naming.

L layers of k x k convolutions with padding p; every layer but the last is Conv -> BatchNorm -> ReLU and
keeps the channel width, the last is Conv(C -> 1) -> BatchNorm(1) -> Sigmoid. Its output is upsampled
bilinearly (align_corners=False) to the evaluation size, where loss and metrics are computed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

_ID = re.compile(r"^L(?P<layers>\d+)-k(?P<kernel>\d+)-p(?P<padding>\d+)-(?P<taps>[A-Za-z0-9_+]+)$")


@dataclass(frozen=True)
class ReadoutSpec:
    layers: int = 1
    kernel: int = 3
    padding: int = 0
    taps: tuple[str, ...] | None = None  # None: every tap of the store

    def __post_init__(self):
        if self.layers < 1 or self.kernel < 1 or self.padding < 0:
            raise ValueError(f"readout needs layers >= 1, kernel >= 1, padding >= 0; got {self}")

    @property
    def id(self) -> str:
        """A file-name-safe identifier, e.g. L1-k3-p0-all or L1-k3-p0-relu5_3."""
        taps = "all" if not self.taps else "+".join(self.taps)
        return f"L{self.layers}-k{self.kernel}-p{self.padding}-{taps}"

    @classmethod
    def from_id(cls, text: str) -> "ReadoutSpec":
        match = _ID.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a readout id such as L1-k3-p0-all")
        taps = match["taps"]
        return cls(int(match["layers"]), int(match["kernel"]), int(match["padding"]),
                   None if taps == "all" else tuple(taps.split("+")))

    def output_size(self, feature_size: int) -> int:
        size = feature_size
        for _ in range(self.layers):
            size = size + 2 * self.padding - self.kernel + 1
        return size


def head_seed(seed: int, target: str) -> int:
    """Initialisation seed of one head: depends on the run seed and the target only."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{target}".encode()).digest()[:4], "little")


class PosENet(nn.Module):
    def __init__(self, in_channels: int, spec: ReadoutSpec = ReadoutSpec(), generator: torch.Generator | None = None):
        super().__init__()
        layers = []
        for i in range(spec.layers):
            last = i == spec.layers - 1
            out = 1 if last else in_channels
            layers += [nn.Conv2d(in_channels, out, spec.kernel, padding=spec.padding), nn.BatchNorm2d(out),
                       nn.Sigmoid() if last else nn.ReLU()]
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def upsample(pred: torch.Tensor, size: int = 224) -> torch.Tensor:
    """(N, 1, h, w) readout output -> (N, size, size) at the evaluation size."""
    return F.interpolate(pred, size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def build_head(in_channels: int, spec: ReadoutSpec, seed: int, target: str) -> PosENet:
    return PosENet(in_channels, spec, torch.Generator().manual_seed(head_seed(seed, target)))
