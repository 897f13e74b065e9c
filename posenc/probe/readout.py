"""The position encoding module ("PosENet" readout, docs/protocol.md §4), its initialisation and its loss.

L layers of k x k convolutions with padding p (the shape, posenc.readout_spec.ReadoutSpec); every layer but the
last is Conv -> BatchNorm -> ReLU and keeps the channel width (or, an option beyond the paper for small
budgets, narrows to `hidden`), the last is Conv(C -> 1) -> BatchNorm(1) -> Sigmoid. Its output is upsampled
bilinearly (align_corners=False) to the evaluation size, where loss and metrics are computed.
"""

from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import nn

from posenc.readout_spec import ReadoutSpec
from posenc.schema import INPUT_SIZE


def head_seed(seed: int, target: str) -> int:
    """Initialisation seed of one head: depends on the run seed and the target only."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{target}".encode()).digest()[:4], "little")


class ShiftConv2d(nn.Conv2d):
    """A Conv2d (groups=1, stride 1, square kernel) computed as one matrix product and k*k shifted sums.

    For a readout (few output channels, many input channels) this is several times faster on CPUs than a
    direct convolution, and faster still on channels-last input, where the product needs no copy. The
    parameters and the result are those of nn.Conv2d (up to float rounding).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        k, p, o = self.kernel_size[0], self.padding[0], self.out_channels
        weight = self.weight.permute(2, 3, 0, 1).reshape(k * k * o, c)  # rows (dy, dx, out)
        z = (x.permute(0, 2, 3, 1).reshape(n * h * w, c) @ weight.T).reshape(n, h, w, k, k, o)
        if p:
            z = F.pad(z, (0, 0, 0, 0, 0, 0, p, p, p, p))
        ho, wo = h + 2 * p - k + 1, w + 2 * p - k + 1
        out = sum(z[:, dy : dy + ho, dx : dx + wo, dy, dx] for dy in range(k) for dx in range(k))
        return (out + self.bias).permute(0, 3, 1, 2)


class InputStandardize(nn.Module):
    """Fixed per-channel standardisation of the readout's input: (x - mean) / std with the training store's
    statistics (beyond the paper: `training.input_norm: channel`). A channel that never varies gets weight 0.
    Computed along the channels-last layout the batches come in (one fused pass, no strided broadcast)."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("inv_std", torch.ones(channels))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean.reshape(-1))
        std = std.reshape(-1)
        self.inv_std.copy_(torch.where(std > 0, 1 / std.clamp_min(1e-12), torch.zeros_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nhwc = x.permute(0, 2, 3, 1)
        return torch.addcmul(-self.mean * self.inv_std, nhwc, self.inv_std).permute(0, 3, 1, 2)


class PosENet(nn.Module):
    """One readout head per target, packed into one network: output channel t is head t.

    The first convolution stacks the heads' output channels; later layers are grouped by head, and BatchNorm
    is per channel. Heads share no parameter, so with a loss that sums per-head losses each head trains exactly
    as it would alone, while the input features are read (and im2col'ed) once for all of them.
    """

    def __init__(
        self,
        in_channels: int,
        spec: ReadoutSpec = ReadoutSpec(),
        n_heads: int = 1,
        generators: list[torch.Generator] | None = None,
        input_norm: bool = False,
    ):
        super().__init__()
        self.in_channels, self.spec, self.n_heads = in_channels, spec, n_heads
        self.input_norm = InputStandardize(in_channels) if input_norm else None
        layers = []
        hidden = spec.hidden or in_channels
        for i in range(spec.layers):
            last = i == spec.layers - 1
            per_head_out = 1 if last else hidden
            out_channels = per_head_out * n_heads
            # the first layer as one matrix product when its k*k*out products are few beside its inputs
            kind = ShiftConv2d if i == 0 and spec.kernel**2 * out_channels <= in_channels else nn.Conv2d
            conv = kind(
                in_channels if i == 0 else hidden * n_heads,
                out_channels,
                spec.kernel,
                padding=spec.padding,
                groups=1 if i == 0 else n_heads,
            )
            layers += [conv, nn.BatchNorm2d(conv.out_channels), nn.Sigmoid() if last else nn.ReLU()]
        self.body = nn.Sequential(*layers)
        generators = generators or [None] * n_heads
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                per_head = m.out_channels // n_heads
                for h in range(n_heads):  # each head's slice initialised as a lone Conv2d would be
                    nn.init.xavier_uniform_(
                        m.weight[h * per_head : (h + 1) * per_head], generator=generators[h]
                    )
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, s, s) features -> (N, n_heads, h, w) position maps in [0, 1]."""
        return self.body(x if self.input_norm is None else self.input_norm(x))


def upsample(pred: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """(N, T, h, w) readout output -> (N, T, size, size) at the evaluation size."""
    return F.interpolate(pred, size=(size, size), mode="bilinear", align_corners=False)


def interpolation_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """The (n_out, n_in) matrix of 1-D linear upsampling (align_corners=False), taken from F.interpolate itself."""
    eye = torch.eye(n_in, dtype=torch.float64)[:, None, :]
    return F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[:, 0, :].T.contiguous()


class UpsampledMSE(nn.Module):
    """Per-head MSE between the bilinearly upsampled prediction and its target, without upsampling.

    Bilinear upsampling is separable and linear: up(P) = A P A^T. So ||up(P) - T||^2 =
    <G P G, P> - 2 <P, A^T T A> + ||T||^2 with G = A^T A, computed on the small map in float64.
    Equal to F.mse_loss(upsample(P), T) (and its gradient) up to rounding, at a fraction of the cost.
    """

    def __init__(self, targets: torch.Tensor, pred_size: int):
        super().__init__()
        size = targets.shape[-1]
        a = interpolation_matrix(pred_size, size)
        t = targets.to(torch.float64)
        self.register_buffer("gram", a.T @ a)
        self.register_buffer("proj", a.T @ t @ a)  # (T, h, h)
        self.register_buffer("energy", (t**2).sum(dim=(-2, -1)))  # (T,)
        self.pixels = size * size

    def forward(self, pred: torch.Tensor) -> torch.Tensor:
        """pred (N, T, h, w) -> per-head mean squared error (T,)."""
        p = pred.to(torch.float64)
        quad = (self.gram @ p @ self.gram * p).sum(dim=(-2, -1))
        cross = (p * self.proj).sum(dim=(-2, -1))
        return ((quad - 2 * cross + self.energy) / self.pixels).mean(dim=0).to(pred.dtype)


def build_heads(in_channels: int, spec: ReadoutSpec, seed: int, targets, input_norm: bool = False) -> PosENet:
    """Heads for `targets`, each initialised from (seed, target) alone."""
    gens = [torch.Generator().manual_seed(head_seed(seed, t)) for t in targets]
    return PosENet(in_channels, spec, len(gens), gens, input_norm)
