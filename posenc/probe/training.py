"""Training readouts from a feature store (docs/protocol.md §5).

The heads of all targets are trained in the same pass over the store: each mini-batch is read once and
given to every head. Heads share no parameter and their initialisation depends on (run seed, target) only,
so the result equals training them one by one (up to float rounding).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from posenc.features.store import StoreReader, content_digest
from posenc.io import atomic_path, crash_point
from posenc.probe.readout import PosENet, UpsampledMSE, build_heads
from posenc.probe.targets import target_stack
from posenc.readout_spec import ReadoutSpec
from posenc.runtime import resolve_device
from posenc.schema import schema_defaults, schema_property

_DEFAULTS = schema_defaults("training")


@dataclass(frozen=True)
class TrainConfig:
    """How a readout is trained: the `training` section of the config (defaults from the schema) with the
    evaluation size (`input.size`) and the stripe range its targets are drawn with."""

    epochs: int = _DEFAULTS["epochs"]
    batch_size: int = _DEFAULTS["batch_size"]
    lr: float = _DEFAULTS["lr"]
    momentum: float = _DEFAULTS["momentum"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    lr_milestones: tuple[int, ...] = tuple(_DEFAULTS["lr_milestones"])
    lr_gamma: float = _DEFAULTS["lr_gamma"]
    shuffle_buffer: int = _DEFAULTS["shuffle_buffer"]  # images held in memory for shuffling
    steps: int | None = _DEFAULTS["steps"]  # budget in SGD steps (milestones in steps); None: `epochs`
    input_norm: str = _DEFAULTS["input_norm"]  # none (the paper), scale or channel (see the schema)
    output_size: int = schema_defaults("input")["size"]
    stripe_range: str = schema_property("stripe_range")["default"]

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """From posenc.plan.training_settings; a key that is not a field is an error (no silent drop)."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"TrainConfig has no setting {', '.join(sorted(unknown))}")
        values = dict(values)
        if "lr_milestones" in values:
            values["lr_milestones"] = tuple(values["lr_milestones"])
        return cls(**values)


def budget_label(train_config: dict) -> str:
    """A saved readout's training budget as its metrics rows name it ("180 steps", "15 epochs")."""
    cfg = train_config
    return f"{cfg['steps']} steps" if cfg["steps"] else f"{cfg['epochs']} epochs"


def _channels_last(block: np.ndarray) -> torch.Tensor:
    """(n, c, y, x) array -> (n, y, x, c) tensor in the store's dtype (the layout the readout reads fastest)."""
    return torch.from_numpy(block).permute(0, 2, 3, 1).contiguous()


def _read_kept(reader: StoreReader) -> torch.Tensor:
    """The whole store as one (n, y, x, c) tensor in its dtype, filled chunk by chunk (the peak is the store
    plus one chunk, not three copies of it)."""
    size = reader.arrays[0].shape[-1]
    dtype = torch.from_numpy(np.empty(0, reader.arrays[0].dtype)).dtype
    kept = torch.empty((reader.n_images, size, size, reader.channels), dtype=dtype)
    for start, stop in reader.blocks():
        kept[start:stop] = _channels_last(reader.read(start, stop))
    return kept


class BatchSource:
    """Shuffled mini-batches of a store, float32 (N, C, s, s) in channels-last memory, memory bounded by `buffer`.

    A store of at most `buffer` images is read once and kept (an exact shuffle every epoch). A larger one is
    streamed: its chunks come in a random order, `buffer` images at a time are shuffled together. On a GPU, a
    kept store that fits in half of the GPU's free memory is kept there, in the store's dtype, and batches
    are gathered on the GPU (no copy per step); otherwise batches are gathered here and copied.
    """

    def __init__(self, reader: StoreReader, batch_size: int, buffer: int, device="cpu"):
        self.reader, self.batch_size = reader, batch_size
        self.buffer = max(buffer, batch_size, reader.chunk)
        self.statistics = None  # per-channel (mean, std), once asked for (channel_statistics)
        self.kept = _read_kept(reader) if reader.n_images <= self.buffer else None
        size = reader.arrays[0].shape[-1]
        shape = (batch_size, size, size, reader.channels)
        stored_dtype = torch.from_numpy(np.empty(0, reader.arrays[0].dtype)).dtype
        self.device = torch.device("cpu")
        # room for the kept store, the two batch buffers and the readout's copies of a batch (input, gradients)
        if self.kept is not None and _fits_on_gpu(
            torch.device(device), self.kept.nbytes + 6 * _float32_bytes(shape)
        ):
            self.device = torch.device(device)
            self.kept = self.kept.to(self.device)
        # Batches are gathered into the same two buffers every step: a fresh 100+ MB tensor per step costs more
        # in page faults than the copy itself. A batch is only valid until the next one is drawn.
        self._stored = torch.empty(shape, dtype=stored_dtype, device=self.device)
        self._float = torch.empty(shape, dtype=torch.float32, device=self.device)

    def _batch(self, pool: torch.Tensor, index: np.ndarray) -> torch.Tensor:
        n = len(index)
        torch.index_select(pool, 0, torch.from_numpy(index).to(pool.device), out=self._stored[:n])
        self._float[:n].copy_(self._stored[:n])
        return self._float[:n].permute(0, 3, 1, 2)

    def epoch(self, rng: np.random.Generator):
        if self.kept is not None:
            order = rng.permutation(self.reader.n_images)
            for i in range(0, len(order), self.batch_size):
                yield self._batch(self.kept, np.sort(order[i : i + self.batch_size]))
            return
        blocks = self.reader.blocks()
        carry = None
        pending = list(rng.permutation(len(blocks)))
        while pending or carry is not None:
            parts, held = ([carry] if carry is not None else []), (len(carry) if carry is not None else 0)
            while pending and held < self.buffer:
                start, stop = blocks[pending.pop(0)]
                parts.append(_channels_last(self.reader.read(start, stop)))
                held += stop - start
            pool = torch.cat(parts)
            order = rng.permutation(len(pool))
            full = len(pool) - len(pool) % self.batch_size if pending else len(pool)
            for i in range(0, full, self.batch_size):
                yield self._batch(pool, order[i : i + self.batch_size])
            carry = pool[torch.from_numpy(order[full:])] if full < len(pool) else None


def _float32_bytes(shape) -> int:
    """Bytes of a float32 tensor of this shape."""
    return 4 * int(np.prod(shape))


def _fits_on_gpu(device: torch.device, nbytes: int) -> bool:
    """Whether `nbytes` fit in half of the free memory of a CUDA device (False for any other device)."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= free // 2


LEARNED_RATIO = (
    0.9  # a head whose final loss is at least this fraction of a constant prediction's did not learn
)


def channel_statistics(source: BatchSource) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of a store (float32 per chunk, float64 across chunks), from the
    images a BatchSource keeps in memory, else by one pass over the store; computed once per source."""
    if source.statistics is None:
        source.statistics = _channel_statistics(source)
    return source.statistics


def _channel_statistics(source: BatchSource) -> tuple[torch.Tensor, torch.Tensor]:
    if source.kept is not None:
        blocks = [source.kept[i : i + 64].float() for i in range(0, len(source.kept), 64)]  # (n, y, x, c)
    else:
        blocks = (_channels_last(source.reader.read(a, b)).float() for a, b in source.reader.blocks())
    total = torch.zeros(source.reader.channels, dtype=torch.float64)
    squares = torch.zeros(source.reader.channels, dtype=torch.float64)
    count = 0
    for block in blocks:
        total += block.sum(dim=(0, 1, 2)).double().cpu()
        squares += (block * block).sum(dim=(0, 1, 2)).double().cpu()
        count += block.shape[0] * block.shape[1] * block.shape[2]
    mean = total / count
    std = (squares / count - mean**2).clamp_min(0).sqrt()
    return mean.float(), std.float()


def constant_losses(targets, cfg: TrainConfig) -> torch.Tensor:
    """The loss of the best constant prediction of each target (its variance at the evaluation size)."""
    return target_stack(targets, cfg.output_size, cfg.stripe_range).double().var(dim=(1, 2), unbiased=False)


def open_source(store_path, spec: ReadoutSpec, cfg: TrainConfig, device="cpu", **check) -> BatchSource:
    """The store's taps for this readout as a BatchSource (a kept store is read here, once). `check`: the
    `expect` and `request` StoreReader refuses a store by."""
    reader = StoreReader(store_path, spec.taps, **check)
    return BatchSource(reader, cfg.batch_size, cfg.shuffle_buffer, torch.device(device))


def train_heads(
    store_path,
    spec: ReadoutSpec,
    targets,
    cfg: TrainConfig = TrainConfig(),
    seed: int = 0,
    device="cpu",
    progress: bool = True,
    expect: dict | None = None,
    request: dict | None = None,
    source: BatchSource | None = None,
):
    """Train one head per target on the store; return (heads, history, store provenance).

    Heads are packed in one PosENet and the loss is the sum of their own losses: each head's gradient comes
    from its own loss only, and SGD (momentum, weight decay) acts element-wise, so each head trains as alone.
    The history holds the mean loss of every epoch and the loss of every step, per target. `expect` and
    `request` are passed to StoreReader (a store built otherwise is refused). `source`: the store already
    opened by open_source with the same spec, batch and buffer (several seeds read it once).
    """
    dev = torch.device(device)
    targets = list(targets)
    if source is None:
        source = open_source(store_path, spec, cfg, dev, expect=expect, request=request)
    reader = source.reader
    heads = build_heads(reader.channels, spec, seed, targets, input_norm=cfg.input_norm != "none")
    fit_input_norm(heads.input_norm, source, cfg.input_norm)
    heads = heads.to(dev)
    loss_fn = UpsampledMSE(
        target_stack(targets, cfg.output_size, cfg.stripe_range), spec.output_size(reader.arrays[0].shape[-1])
    ).to(dev)
    label = f"train {reader.provenance['backbone']} {spec.id} seed {seed}"
    epoch_means, step_losses = run_sgd(
        heads, lambda x: loss_fn(heads(x)), source, cfg, seed, dev, label, progress
    )
    epochs = [
        {"epoch": e + 1, **{t: float(m[k]) for k, t in enumerate(targets)}} for e, m in enumerate(epoch_means)
    ]
    const = constant_losses(targets, cfg)
    last = torch.stack(step_losses[-max(1, -(-reader.n_images // cfg.batch_size)) :]).double().mean(0)
    history = {
        "epochs": epochs,
        "steps": torch.stack(step_losses).float(),  # (steps, targets)
        "constant_loss": {t: float(const[k]) for k, t in enumerate(targets)},
        "final_loss_ratio": {t: float(last[k] / const[k]) for k, t in enumerate(targets)},
    }
    return heads, history, reader.provenance


def fit_input_norm(norm, source: BatchSource, mode: str) -> None:
    """Set a readout's fixed input normalisation from the training store (training.input_norm): scale divides
    each channel by its root mean square (0 stays 0, so zero padding keeps its meaning), channel standardises."""
    if norm is None or mode == "none":
        return
    mean, std = channel_statistics(source)
    if mode == "scale":
        mean, std = torch.zeros_like(mean), (mean**2 + std**2).sqrt()
    norm.set_statistics(mean, std)


def run_sgd(module, losses_of, source: BatchSource, cfg: TrainConfig, seed: int, device, label, progress):
    """Train `module` by SGD on the store's mini-batches (cfg: budget in epochs or steps, schedule, momentum,
    weight decay); `losses_of(x)` gives the per-head losses of a batch, whose sum is minimised. Returns the mean
    losses of each epoch and the losses of every step, both (heads,) float64 tensors."""
    optim = torch.optim.SGD(
        module.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    # epochs: the schedule steps once per epoch (the paper); steps: once per SGD step
    sched = torch.optim.lr_scheduler.MultiStepLR(optim, list(cfg.lr_milestones), cfg.lr_gamma)
    rng = np.random.default_rng(seed)
    epochs, step_losses = [], []
    total = cfg.steps or cfg.epochs * -(-source.reader.n_images // cfg.batch_size)
    with tqdm(total=total, desc=label, unit="batch", disable=not progress, mininterval=2) as bar:
        epoch = 0
        while (len(step_losses) < total) if cfg.steps else (epoch < cfg.epochs):
            module.train()
            sums, seen = None, 0
            for x in source.epoch(rng):
                losses = losses_of(x.to(device, non_blocking=True))
                optim.zero_grad(set_to_none=True)
                losses.sum().backward()
                optim.step()
                if cfg.steps:
                    sched.step()
                step = losses.detach().cpu().double()
                step_losses.append(step)
                sums = step * len(x) if sums is None else sums + step * len(x)
                seen += len(x)
                bar.update(1)
                crash_point("train-step", label)
                if cfg.steps and len(step_losses) == total:
                    break
            if not cfg.steps:
                sched.step()
            epoch += 1
            epochs.append(sums / seen)
    module.eval()
    return epochs, step_losses


def write_readout(
    path, heads, cfg: TrainConfig, seed: int, history, provenance: dict, trained_from=None, **fields
):
    """Save trained heads with what they were trained from (atomically): their shape, state, training settings,
    seed, history and the store's provenance; `trained_from`: {key, store_digest} (readout_key), what a later
    job compares to keep them; `fields`: what else their loader needs."""
    payload = {
        **(trained_from or {}),
        "readout": asdict(heads.spec),
        **fields,
        "state_dict": heads.state_dict(),
        "train_config": asdict(cfg),
        "seed": seed,
        "history": history,
        "store_provenance": provenance,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def save_heads(
    path, heads: PosENet, targets, cfg: TrainConfig, seed: int, history, provenance: dict, trained_from=None
) -> None:
    """A PosENet's heads (write_readout with their input width and targets)."""
    fields = {"in_channels": heads.in_channels, "targets": list(targets)}
    write_readout(path, heads, cfg, seed, history, provenance, trained_from, **fields)


def spec_of(payload: dict) -> ReadoutSpec:
    """The ReadoutSpec a saved readout records."""
    r = payload["readout"]
    return ReadoutSpec(
        r["layers"], r["kernel"], r["padding"], tuple(r["taps"]) if r["taps"] else None, r.get("hidden")
    )


def load_heads(path, device: str = "cpu"):
    """(heads in eval mode, their targets, ReadoutSpec, payload) from a file written by save_heads."""
    payload = torch.load(Path(path), map_location=device, weights_only=False)
    spec = spec_of(payload)
    input_norm = payload["train_config"].get("input_norm", "none") != "none"
    heads = PosENet(payload["in_channels"], spec, len(payload["targets"]), input_norm=input_norm)
    heads.load_state_dict(payload["state_dict"])
    return heads.to(device).eval(), payload["targets"], spec, payload


def readout_key(
    spec: ReadoutSpec, targets, cfg: TrainConfig, seed: int, device, store_digest: str, code=""
) -> str:
    """What a readout's numbers depend on, hashed: the readout, its targets, every training setting, the seed,
    the device, the store's content (content_digest), the training code's fingerprint and the versions of
    torch and numpy. Two runs with the same key train the same heads."""
    record = {
        "readout": spec.id,
        "targets": list(targets),
        "training": asdict(cfg),
        "seed": int(seed),
        "device": str(device),
        "store": store_digest,
        "code": code,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=list).encode()).hexdigest()[:16]


def trained_key(path) -> str | None:
    """The key an existing readout file was trained with (None: no file, an unreadable one, or no key)."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=False)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a damaged file is retrained, and said so
        print(f"posenc: {path} cannot be read ({type(exc).__name__}): it is retrained", file=sys.stderr)
        return None
    return payload.get("key") if isinstance(payload, dict) else None


def _say_verdicts(history) -> None:
    for target, ratio in history["final_loss_ratio"].items():
        verdict = (
            "learned"
            if ratio < LEARNED_RATIO
            else f"DID NOT LEARN (>= {LEARNED_RATIO}): flagged in the tables"
        )
        print(
            f"head {target}: final loss {ratio:.3f} x the constant prediction's: {verdict}", file=sys.stderr
        )


def train_readouts(
    store_path,
    out_paths,
    spec: ReadoutSpec,
    targets,
    cfg: TrainConfig,
    seeds,
    device: str = "auto",
    progress: bool = True,
    request: dict | None = None,
    code: str = "",
) -> dict[int, dict]:
    """Train the heads of all targets once per seed on one store, in one process, and save each seed's to its
    path (`out_paths`, in the order of `seeds`); return {seed: each head's final loss ratio} of those trained.

    The store is opened once (a kept store is read once for all seeds). A seed whose file exists and was
    trained with the same key (readout_key: same settings, store content, code and versions) is kept as it
    is, so a job rerun for a changed seed count trains only the new seeds. With `request`
    (posenc.features.request), a store built for other settings than the config's is refused.
    """
    seeds, out_paths = [int(s) for s in seeds], list(out_paths)
    if len(seeds) != len(out_paths):
        raise ValueError(f"{len(seeds)} seeds but {len(out_paths)} output paths")
    dev = resolve_device(device)
    StoreReader(store_path, spec.taps, request=request)  # refuse a store built otherwise before anything else
    digest = content_digest(store_path)
    source, ratios = None, {}
    for seed, out in zip(seeds, out_paths):
        key = readout_key(spec, targets, cfg, seed, dev, digest, code)
        if trained_key(out) == key:
            print(
                f"seed {seed}: {out} was trained on this store with these settings (key {key}): kept",
                file=sys.stderr,
            )
            continue
        if source is None:
            source = open_source(store_path, spec, cfg, dev, request=request)
        heads, history, provenance = train_heads(
            store_path, spec, targets, cfg, seed, dev, progress, source=source
        )
        save_heads(
            out, heads.cpu(), targets, cfg, seed, history, provenance, {"key": key, "store_digest": digest}
        )
        print(f"seed {seed}: trained (key {key})", file=sys.stderr)
        _say_verdicts(history)
        ratios[seed] = history["final_loss_ratio"]
    return ratios


def train_readout(
    store_path,
    out_path,
    spec: ReadoutSpec,
    targets,
    cfg: TrainConfig,
    seed: int,
    device: str = "auto",
    progress: bool = True,
    request: dict | None = None,
) -> dict:
    """Train the heads of all targets on a store and save them; return each head's final loss ratio (one seed
    of train_readouts, which it is; a current file is kept)."""
    trained = train_readouts(store_path, [out_path], spec, targets, cfg, [seed], device, progress, request)
    return (
        trained.get(int(seed))
        or torch.load(Path(out_path), weights_only=False)["history"]["final_loss_ratio"]
    )
