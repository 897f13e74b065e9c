"""Position information in bits: per tap, heads that classify each location's K x K grid cell, trained on
the cached training store and scored on held-out stores as a lower bound in bits (posenc.probe.cells).

One job per backbone: every tap of the store gets its own heads (one per K), all trained in the same pass
over the store (each mini-batch is read once; a head reads only its tap's channels). Heads share no
parameter and each is initialised from (seed, tap, K) alone, so each trains as it would alone. The heads
have the shape of the configured readout (L layers of k x k convolutions with padding p) and end in logits.
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
from posenc.io import atomic_path, atomic_write_text
from posenc.probe import cells
from posenc.probe.evaluate import check_same_backbone
from posenc.probe.readout import InputStandardize, ShiftConv2d, head_seed
from posenc.probe.training import (
    TrainConfig,
    fit_input_norm,
    open_source,
    readout_key,
    run_sgd,
    trained_key,
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
        if not self.grid or min(self.grid) < 2:
            raise ValueError(f"position_bits grid {self.grid}: every K must be at least 2")

    @classmethod
    def from_dict(cls, values: dict) -> BitsConfig:
        return cls(tuple(values["grid"]), values["classifier"])


class TapCellHeads(nn.Module):
    """The heads of one tap, one per K: its first convolution stacks every head's output (the tap's channels
    are read once for all of them); with L > 1 each head then has its own hidden layers."""

    def __init__(
        self, channels: int, spec: ReadoutSpec, widths: list[int], generators: list[torch.Generator]
    ):
        super().__init__()
        self.widths = list(widths)
        hidden = spec.hidden or channels
        self.first_widths = [hidden if spec.layers > 1 else w for w in widths]
        out = sum(self.first_widths)
        kind = ShiftConv2d if spec.kernel**2 * out <= channels else nn.Conv2d
        self.first = kind(channels, out, spec.kernel, padding=spec.padding)
        self.norm = nn.BatchNorm2d(out) if spec.layers > 1 else None
        self.rest = nn.ModuleList()
        for w in widths if spec.layers > 1 else ():
            layers = []
            for i in range(spec.layers - 1):
                last = i == spec.layers - 2
                layers.append(nn.Conv2d(hidden, w if last else hidden, spec.kernel, padding=spec.padding))
                if not last:
                    layers += [nn.BatchNorm2d(hidden), nn.ReLU()]
            self.rest.append(nn.Sequential(*layers))
        start = 0
        for h, width in enumerate(self.first_widths):  # each head's slice as a lone convolution's
            nn.init.xavier_uniform_(self.first.weight[start : start + width], generator=generators[h])
            start += width
        for h, head in enumerate(self.rest):
            for m in head:
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight, generator=generators[h])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        z = self.first(x)
        if self.norm is None:
            return list(torch.split(z, self.widths, dim=1))
        parts = torch.split(torch.relu(self.norm(z)), self.first_widths, dim=1)
        return [head(part) for head, part in zip(self.rest, parts)]


class CellHeads(nn.Module):
    """Every tap's cell heads over a store's concatenated taps: forward gives {(tap, K): logits}."""

    def __init__(self, taps, spec: ReadoutSpec, bits: BitsConfig, seed: int, input_norm: bool = False):
        """`taps`: (name, channels) in the store's order."""
        super().__init__()
        self.taps, self.spec, self.bits = [(str(n), int(c)) for n, c in taps], spec, bits
        self.in_channels = sum(c for _, c in self.taps)
        self.input_norm = InputStandardize(self.in_channels) if input_norm else None
        widths = [cells.outputs(k, bits.classifier) for k in bits.grid]
        self.heads = nn.ModuleList()
        for name, channels in self.taps:
            gens = [torch.Generator().manual_seed(head_seed(seed, f"bits:{name}:K{k}")) for k in bits.grid]
            self.heads.append(TapCellHeads(channels, spec, widths, gens))

    def forward(self, x: torch.Tensor) -> dict[tuple[str, int], torch.Tensor]:
        x = x if self.input_norm is None else self.input_norm(x)
        out, start = {}, 0
        for (name, channels), heads in zip(self.taps, self.heads):
            for k, logits in zip(self.bits.grid, heads(x[:, start : start + channels])):
                out[(name, k)] = logits
            start += channels
        return out


def head_losses(logits: dict, classifier: str) -> torch.Tensor:
    """(heads,) cross-entropy in nats of each (tap, K) head, in the order of `logits`."""
    values = []
    for (_, k), z in logits.items():
        first, second = cells.cross_entropy(z, k, classifier)
        values.append(first if second is None else first + second)
    return torch.stack(values)


def train_cell_heads(
    source, spec: ReadoutSpec, bits: BitsConfig, cfg: TrainConfig, seed: int, device, progress
):
    """Train every tap's heads on the store of `source` (posenc.probe.training.open_source); return (heads,
    history) with each head's training cross-entropy over its last epoch's worth of steps."""
    reader = source.reader
    taps = [(name, array.shape[1]) for name, array in zip(reader.taps, reader.arrays)]
    heads = CellHeads(taps, spec, bits, seed, input_norm=cfg.input_norm != "none")
    fit_input_norm(heads.input_norm, source, cfg.input_norm)
    heads = heads.to(device)
    label = f"bits {reader.provenance['backbone']} {spec.id} seed {seed}"
    _, steps = run_sgd(
        heads, lambda x: head_losses(heads(x), bits.classifier), source, cfg, seed, device, label, progress
    )
    last = torch.stack(steps[-max(1, -(-reader.n_images // cfg.batch_size)) :]).mean(0)
    names = [f"{name}:K{k}" for name, _ in taps for k in bits.grid]
    history = {
        "steps": torch.stack(steps).float(),
        "heads": names,
        "train_ce": dict(zip(names, last.tolist())),
    }
    return heads, history


def save_cell_heads(path, heads: CellHeads, cfg: TrainConfig, seed: int, history, provenance, key, digest):
    payload = {
        "key": key,
        "store_digest": digest,
        "readout": asdict(heads.spec),
        "bits": asdict(heads.bits),
        "taps": heads.taps,
        "state_dict": heads.state_dict(),
        "train_config": asdict(cfg),
        "seed": seed,
        "history": history,
        "store_provenance": provenance,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_cell_heads(path, device="cpu") -> tuple[CellHeads, dict]:
    payload = torch.load(Path(path), map_location=device, weights_only=False)
    r = payload["readout"]
    spec = ReadoutSpec(r["layers"], r["kernel"], r["padding"], None, r.get("hidden"))
    bits = BitsConfig(tuple(payload["bits"]["grid"]), payload["bits"]["classifier"])
    norm = payload["train_config"].get("input_norm", "none") != "none"
    heads = CellHeads(payload["taps"], spec, bits, payload["seed"], input_norm=norm)
    heads.load_state_dict(payload["state_dict"])
    return heads.to(device).eval(), payload


def _bits_key(spec, bits: BitsConfig, cfg, seed, device, digest, code) -> str:
    return readout_key(
        spec, [f"bits:{bits.classifier}:K{k}" for k in bits.grid], cfg, seed, device, digest, code
    )


def score_store(heads: CellHeads, store_path, train_provenance: dict, request=None, batch_size: int = 32):
    """Sums over the images of a store, per test input and (tap, K) head: cross-entropy (nats) of the rows
    and columns (or cells), and the image count. {(test_input, tap, K): {...}}, and the store's reader."""
    reader = StoreReader(store_path, None, request=request)
    check_same_backbone(train_provenance, reader.provenance, str(store_path))
    device = next(heads.parameters()).device
    sums: dict[tuple, dict] = {}
    inputs = np.array(reader.test_inputs)
    for start in range(0, reader.n_images, batch_size):
        stop = min(start + batch_size, reader.n_images)
        x = torch.from_numpy(reader.read(start, stop).astype(np.float32)).to(device)
        with torch.no_grad():
            logits = heads(x)
        for (tap, k), z in logits.items():
            first, second = cells.cross_entropy(z, k, heads.bits.classifier, reduce=False)
            for test_input in np.unique(inputs[start:stop]):
                pick = torch.from_numpy(inputs[start:stop] == test_input).to(device)
                entry = sums.setdefault((str(test_input), tap, k), {"first": 0.0, "second": 0.0, "n": 0})
                entry["first"] += float(first[pick].double().sum())
                entry["second"] += float(second[pick].double().sum()) if second is not None else 0.0
                entry["n"] += int(pick.sum())
            side = z.shape[-1]
    return sums, reader, side


def bits_rows(
    heads: CellHeads, payload: dict, sums: dict, side: int, image_set: str, digest: str
) -> list[dict]:
    """One row per (test input, tap, K): the bound in bits, its rows/columns parts, H(C) and training bits."""
    prov, cfg, spec = payload["store_provenance"], payload["train_config"], heads.spec
    tap_info = {t["name"]: t for t in prov["taps"]}
    order = [name for name, _ in heads.taps]
    rows = []
    for (test_input, tap, k), entry in sums.items():
        first, second = entry["first"] / entry["n"], entry["second"] / entry["n"]
        band = cells.band_entropy(side, k) / math.log(2)
        row = {
            "backbone": prov["backbone"],
            "arch": prov["arch"],
            "weights": prov["weights_source"],
            "conv_padding": prov["conv_padding"],
            "pos_embed": (prov.get("tokens") or {}).get("pos_embed", ""),
            "preprocessing": prov["preprocessing"]["name"],
            "readout": ReadoutSpec(spec.layers, spec.kernel, spec.padding, None, spec.hidden).id,
            "classifier": heads.bits.classifier,
            "input_norm": cfg["input_norm"],
            "budget": f"{cfg['steps']} steps" if cfg["steps"] else f"{cfg['epochs']} epochs",
            "seed": payload["seed"],
            "tap": tap,
            "depth": order.index(tap) + 1,
            "n_taps": len(order),
            "stride": tap_info[tap]["stride"],
            "K": k,
            "image_set": image_set,
            "test_input": test_input,
            "n_images": entry["n"],
            "ce_nats": first + second,
            "bits": cells.bits(first + second, side, k),
            "max_bits": cells.max_bits(side, k),
            "train_bits": cells.bits(payload["history"]["train_ce"][f"{tap}:K{k}"], side, k),
            "store_digest": digest,
        }
        if heads.bits.classifier == "rows_columns":
            row["bits_rows"] = band - first / math.log(2)
            row["bits_columns"] = band - second / math.log(2)
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
            save_cell_heads(path, heads.cpu(), cfg, seed, history, source.reader.provenance, key, digest)
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
