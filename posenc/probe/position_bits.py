"""Position information in bits: per tap, heads that classify each location's K x K grid cell, trained on
the cached training store and scored on held-out stores as a lower bound in bits (posenc.probe.cells).

One job per backbone: every tap of the store gets its own head, all trained in the same pass over the store
(each mini-batch is read once; a head reads only its tap's channels). Heads share no parameter and each is
initialised from (seed, tap) alone, so each trains as it would alone. A head has the shape of the configured
readout (L layers of k x k convolutions with padding p) and ends in the logits of the finest grid; every
coarser grid is read from it (posenc.probe.cells).
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from posenc.features.store import StoreReader, content_digest
from posenc.io import atomic_write_text
from posenc.probe import cells
from posenc.probe.evaluate import check_same_backbone
from posenc.probe.readout import InputStandardize, head_seed
from posenc.probe.training import (
    TrainConfig,
    budget_label,
    fit_input_norm,
    open_source,
    readout_key,
    run_sgd,
    spec_of,
    trained_key,
    write_readout,
)
from posenc.readout_spec import ReadoutSpec
from posenc.runtime import resolve_device
from posenc.schema import schema_defaults

_DEFAULTS = schema_defaults("position_bits")


@dataclass(frozen=True)
class BitsConfig:
    """The `position_bits` settings that change a number: the grid sizes K and the classifier's form."""

    grid: tuple[int, ...] = tuple(_DEFAULTS["grid"])
    classifier: str = _DEFAULTS["classifier"]

    def __post_init__(self):
        cells.outputs(2, self.classifier)  # an unknown classifier is an error here
        object.__setattr__(self, "grid", cells.check_grid(self.grid))

    @property
    def finest(self) -> int:
        return self.grid[-1]

    @classmethod
    def from_dict(cls, values: dict) -> BitsConfig:
        return cls(tuple(values["grid"]), values["classifier"])


def cell_head(channels: int, spec: ReadoutSpec, outputs: int, generator: torch.Generator) -> nn.Sequential:
    """One tap's head: the readout's L layers of k x k convolutions with padding p (Conv, BatchNorm, ReLU
    between them), the last giving `outputs` logits through a BatchNorm, as PosENet's last layer (without its
    sigmoid). Initialised as PosENet's, from its own generator.

    The BatchNorm keeps SGD at the readouts' learning rate stable on taps of thousands of channels (without
    it, lr 0.1 sent the logits of VGG16's taps to cross-entropies of 10 to 50 nats); it also bounds how fast
    a head sharpens, so a perfectly informative input approaches log2(K^2) over thousands of steps rather
    than hundreds (tests/probe/test_position_bits.py measures it)."""
    hidden = spec.hidden or channels
    layers = []
    for i in range(spec.layers):
        last = i == spec.layers - 1
        width = outputs if last else hidden
        conv = nn.Conv2d(channels if i == 0 else hidden, width, spec.kernel, padding=spec.padding)
        nn.init.xavier_uniform_(conv.weight, generator=generator)
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.BatchNorm2d(width)] + ([] if last else [nn.ReLU()])
    return nn.Sequential(*layers)


class CellHeads(nn.Module):
    """One head per tap over a store's concatenated taps, each reading only its tap's channels and classifying
    the finest grid: forward gives {tap: logits (N, outputs, h, w)}."""

    def __init__(self, taps, spec: ReadoutSpec, bits: BitsConfig, seed: int, input_norm: bool = False):
        """`taps`: (name, channels) in the store's order."""
        super().__init__()
        self.taps, self.spec, self.bits = [(str(n), int(c)) for n, c in taps], spec, bits
        self.in_channels = sum(c for _, c in self.taps)
        self.input_norm = InputStandardize(self.in_channels) if input_norm else None
        outputs = cells.outputs(bits.finest, bits.classifier)
        self.heads = nn.ModuleList(
            cell_head(c, spec, outputs, torch.Generator().manual_seed(head_seed(seed, f"bits:{name}")))
            for name, c in self.taps
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each tap's channels are copied once into a contiguous channels-last block (normalised on the way
        when the readout normalises its input) that its convolution reads without another copy."""
        nhwc = x.permute(0, 2, 3, 1)
        out, start = {}, 0
        for (name, channels), head in zip(self.taps, self.heads):
            part = nhwc[..., start : start + channels]
            if self.input_norm is None:
                part = part.contiguous()
            else:
                inv = self.input_norm.inv_std[start : start + channels]
                part = torch.addcmul(-self.input_norm.mean[start : start + channels] * inv, part, inv)
            out[name] = head(part.permute(0, 3, 1, 2))
            start += channels
        return out

    def cross_entropies(self, logits: torch.Tensor, k: int, reduce: bool = True) -> list[torch.Tensor]:
        """[rows, columns] or [cells] cross-entropy (nats) of one tap's logits on the K grid."""
        return cells.cross_entropy(logits, self.bits.finest, k, self.bits.classifier, reduce)


def head_losses(heads: CellHeads, logits: dict) -> torch.Tensor:
    """(taps,) each tap head's training loss: its cross-entropy (nats) on the finest grid."""
    return torch.stack([sum(heads.cross_entropies(z, heads.bits.finest)) for z in logits.values()])


def train_cell_heads(
    source, spec: ReadoutSpec, bits: BitsConfig, cfg: TrainConfig, seed: int, device, progress
):
    """Train every tap's head on the store of `source` (posenc.probe.training.open_source); return (heads,
    history) with each head's training cross-entropy on the finest grid over its last epoch's worth of steps."""
    reader = source.reader
    taps = [(name, array.shape[1]) for name, array in zip(reader.taps, reader.arrays)]
    heads = CellHeads(taps, spec, bits, seed, input_norm=cfg.input_norm != "none")
    fit_input_norm(heads.input_norm, source, cfg.input_norm)
    heads = heads.to(device)
    label = f"bits {reader.provenance['backbone']} {spec.id} seed {seed}"
    _, steps = run_sgd(
        heads, lambda x: head_losses(heads, heads(x)), source, cfg, seed, device, label, progress
    )
    last = torch.stack(steps[-max(1, -(-reader.n_images // cfg.batch_size)) :]).mean(0)
    names = [name for name, _ in taps]
    history = {
        "steps": torch.stack(steps).float(),
        "taps": names,
        "train_ce": dict(zip(names, last.tolist())),
    }
    return heads, history


def load_cell_heads(path, device="cpu") -> tuple[CellHeads, dict]:
    """(heads in eval mode, payload) from a file written by position_bits."""
    payload = torch.load(Path(path), map_location=device, weights_only=False)
    bits = BitsConfig(tuple(payload["bits"]["grid"]), payload["bits"]["classifier"])
    norm = payload["train_config"].get("input_norm", "none") != "none"
    heads = CellHeads(payload["taps"], spec_of(payload), bits, payload["seed"], input_norm=norm)
    heads.load_state_dict(payload["state_dict"])
    return heads.to(device).eval(), payload


def _bits_key(spec, bits: BitsConfig, cfg, seed, device, digest, code) -> str:
    return readout_key(
        spec, [f"bits:{bits.classifier}:K{k}" for k in bits.grid], cfg, seed, device, digest, code
    )


def score_store(heads: CellHeads, store_path, train_provenance: dict, request=None, batch_size: int = 32):
    """Sums over the images of a store, per test input, tap and K: the cross-entropies (nats) of the rows and
    columns (or cells) and the image count, as {(test_input, tap, K): {"ce": [...], "n": ...}}; with the
    store's reader and the side of the readout's output."""
    reader = StoreReader(store_path, None, request=request)
    check_same_backbone(train_provenance, reader.provenance, str(store_path))
    device = next(heads.parameters()).device
    sums: dict[tuple, dict] = {}
    inputs = np.array(reader.test_inputs)
    side = heads.spec.output_size(reader.arrays[0].shape[-1])
    for start in range(0, reader.n_images, batch_size):
        stop = min(start + batch_size, reader.n_images)
        x = torch.from_numpy(reader.read(start, stop).astype(np.float32)).to(device)
        with torch.no_grad():
            logits = heads(x)
        for tap, z in logits.items():
            for k in heads.bits.grid:
                parts = heads.cross_entropies(z, k, reduce=False)
                for test_input in np.unique(inputs[start:stop]):
                    pick = torch.from_numpy(inputs[start:stop] == test_input).to(device)
                    entry = sums.setdefault((str(test_input), tap, k), {"ce": [0.0] * len(parts), "n": 0})
                    entry["ce"] = [a + float(b[pick].double().sum()) for a, b in zip(entry["ce"], parts)]
                    entry["n"] += int(pick.sum())
    return sums, reader, side


def bits_rows(
    heads: CellHeads, payload: dict, sums: dict, side: int, image_set: str, digest: str
) -> list[dict]:
    """One row per (test input, tap, K): the bound in bits (and its rows and columns parts), H(C), and the
    bound on the training images of the finest grid's head (far above the held-out one: memorised)."""
    prov, cfg, spec = payload["store_provenance"], payload["train_config"], heads.spec
    tap_info = {t["name"]: t for t in prov["taps"]}
    order = [name for name, _ in heads.taps]
    rows = []
    for (test_input, tap, k), entry in sums.items():
        parts = [c / entry["n"] for c in entry["ce"]]
        row = {
            "backbone": prov["backbone"],
            "arch": prov["arch"],
            "weights": prov["weights_source"],
            "conv_padding": prov["conv_padding"],
            "pos_embed": (prov.get("tokens") or {}).get("pos_embed", ""),
            "preprocessing": prov["preprocessing"]["name"],
            "readout": spec.id,
            "classifier": heads.bits.classifier,
            "input_norm": cfg["input_norm"],
            "budget": budget_label(cfg),
            "seed": payload["seed"],
            "tap": tap,
            "depth": order.index(tap) + 1,
            "n_taps": len(order),
            "stride": tap_info[tap]["stride"],
            "K": k,
            "image_set": image_set,
            "test_input": test_input,
            "n_images": entry["n"],
            "ce_nats": sum(parts),
            "bits": cells.bits(sum(parts), side, k),
            "max_bits": cells.max_bits(side, k),
            "train_bits_finest": cells.bits(payload["history"]["train_ce"][tap], side, heads.bits.finest),
            "store_digest": digest,
        }
        if heads.bits.classifier == "rows_columns":
            band = cells.band_entropy(side, k) / math.log(2)
            row["bits_rows"] = band - parts[0] / math.log(2)
            row["bits_columns"] = band - parts[1] / math.log(2)
        rows.append(row)
    return rows


def position_bits(
    train_store,
    test_stores,
    heads_paths,
    out_csv,
    spec: ReadoutSpec,
    bits: BitsConfig,
    cfg: TrainConfig,
    seeds,
    *,
    device: str = "auto",
    progress: bool = True,
    requests: dict | None = None,
    code: str = "",
) -> int:
    """Train every tap's cell heads once per seed on the training store (a seed whose file holds heads of the
    same key is kept, posenc.probe.training.readout_key), score them on every test store, and write one CSV
    row per seed, test input, tap and K. `requests`: {store path: what the config asks of it}. Returns the
    row count."""
    requests = requests or {}
    dev = resolve_device(device)
    StoreReader(train_store, None, request=requests.get(str(train_store)))  # refuse a stale store first
    digest = content_digest(train_store)
    source, rows = None, []
    for seed, path in zip([int(s) for s in seeds], heads_paths, strict=True):
        key = _bits_key(spec, bits, cfg, seed, dev, digest, code)
        if trained_key(path) == key:
            print(f"seed {seed}: {path} was trained with these settings (key {key}): kept", file=sys.stderr)
        else:
            if source is None:
                source = open_source(train_store, spec, cfg, dev, request=requests.get(str(train_store)))
            heads, history = train_cell_heads(source, spec, bits, cfg, seed, dev, progress)
            trained_from = {"key": key, "store_digest": digest}
            fields = {"bits": asdict(heads.bits), "taps": heads.taps}
            write_readout(
                path, heads.cpu(), cfg, seed, history, source.reader.provenance, trained_from, **fields
            )
            print(f"seed {seed}: trained (key {key})", file=sys.stderr)
        heads, payload = load_cell_heads(path, dev)
        for store in test_stores:
            sums, reader, side = score_store(
                heads, store, payload["store_provenance"], requests.get(str(store))
            )
            rows += bits_rows(
                heads, payload, sums, side, reader.provenance["image_set"], content_digest(store)
            )
    frame = pd.DataFrame(rows)
    atomic_write_text(out_csv, frame.to_csv(index=False, float_format="%.6g"))
    return len(frame)
