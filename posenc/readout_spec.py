"""The shape of a readout, and its identifier in file names and rule wildcards (torch-free, bottom layer)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_READOUT_ID = re.compile(
    r"^L(?P<layers>\d+)-k(?P<kernel>\d+)-p(?P<padding>\d+)(-h(?P<hidden>\d+))?-(?P<taps>[A-Za-z0-9_+]+)$"
)


@dataclass(frozen=True)
class ReadoutSpec:
    """The shape of a readout (docs/protocol.md §4): L layers of k x k convolutions with padding p."""

    layers: int = 1
    kernel: int = 3
    padding: int = 0
    taps: tuple[str, ...] | None = None  # None: every tap of the store
    hidden: int | None = None  # channels of each hidden layer per head; None: the input width (the paper)

    def __post_init__(self):
        if (
            self.layers < 1
            or self.kernel < 1
            or self.padding < 0
            or (self.hidden is not None and self.hidden < 1)
        ):
            raise ValueError(f"readout needs layers >= 1, kernel >= 1, padding >= 0, hidden >= 1; got {self}")
        if self.layers == 1:
            object.__setattr__(self, "hidden", None)  # a one-layer readout has no hidden layer

    @property
    def id(self) -> str:
        """A file-name-safe identifier, e.g. L1-k3-p0-all, L3-k3-p0-h16-all or L1-k3-p0-relu5_3."""
        taps = "all" if not self.taps else "+".join(self.taps)
        hidden = "" if self.hidden is None else f"-h{self.hidden}"
        return f"L{self.layers}-k{self.kernel}-p{self.padding}{hidden}-{taps}"

    @classmethod
    def from_id(cls, text: str) -> ReadoutSpec:
        match = _READOUT_ID.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a readout id such as L1-k3-p0-all")
        taps = match["taps"]
        return cls(
            int(match["layers"]),
            int(match["kernel"]),
            int(match["padding"]),
            None if taps == "all" else tuple(taps.split("+")),
            int(match["hidden"]) if match["hidden"] else None,
        )

    def output_size(self, feature_size: int) -> int:
        size = feature_size
        for _ in range(self.layers):
            size = size + 2 * self.padding - self.kernel + 1
        return size
