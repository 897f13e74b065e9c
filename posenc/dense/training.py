"""Training the dense-task networks of Table 5 from scratch, and scoring them on their test sets.

Images and masks are decoded once, resized to the input size and kept in memory as uint8 (DUT-S or
MSRA10K at 224 px: about 1.5 GB). Training: Adam with cosine decay, random horizontal flips (which keep
the data's centre bias), binary cross-entropy (saliency) or cross-entropy ignoring label 255
(segmentation). Scores are computed at each mask's own resolution (the prediction is upsampled to it).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from posenc import __version__
from posenc.dense.metrics import SaliencyScores, SegmentationScores
from posenc.dense.model import DenseNet
from posenc.errors import ActionableError
from posenc.features.preprocess import get_preprocessing, resize_image
from posenc.images.decode import load_image
from posenc.images.manifest import read_manifest
from posenc.images.masks import IGNORE, load_mask, saliency_target, segmentation_target
from posenc.io import atomic_path, atomic_write_text
from posenc.runtime import resolve_device
from posenc.schema import schema_property

log = logging.getLogger(__name__)
TASKS = ("saliency", "segmentation")


_DEFAULTS = {
    k: v["default"]
    for k, v in schema_property("dense_tasks")["additionalProperties"]["properties"].items()
    if "default" in v
}


@dataclass(frozen=True)
class DenseConfig:
    """One dense task's network and training: its `dense_tasks` entry (defaults from the schema)."""

    task: str = "saliency"
    arch: str = _DEFAULTS["arch"]
    classes: int = _DEFAULTS[
        "classes"
    ]  # segmentation: object classes (background is class 0 on top of these)
    input_size: int = _DEFAULTS["input_size"]
    epochs: int = _DEFAULTS["epochs"]
    batch_size: int = _DEFAULTS["batch_size"]
    lr: float = _DEFAULTS["lr"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    preprocessing: str = _DEFAULTS["preprocessing"]
    seed: int = _DEFAULTS["seed"]

    @classmethod
    def from_dict(cls, values: dict) -> DenseConfig:
        """From posenc.plan.dense_settings, minus the image sets (they arrive as files)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @property
    def out_channels(self) -> int:
        return 1 if self.task == "saliency" else self.classes + 1


class MissingMasks(ActionableError):
    pass


class TrainingDiverged(ActionableError):
    pass


def _target(mask: np.ndarray, cfg: DenseConfig) -> np.ndarray:
    if cfg.task == "saliency":
        return saliency_target(mask).astype(np.uint8)
    return segmentation_target(mask, cfg.classes).astype(np.uint8)


def load_dense_set(manifest_path, cfg: DenseConfig) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(images (N, 3, S, S) uint8, targets (N, S, S) uint8, manifest) of an image set with masks."""
    manifest, records = read_manifest(manifest_path)
    if not all(r.mask for r in records):
        raise MissingMasks(
            f"image set {manifest['image_set']!r} has no masks: a dense task needs an image set "
            f"with masks (source: composite, or a folder / data set with `masks`)"
        )
    size = cfg.input_size
    images = torch.empty((len(records), 3, size, size), dtype=torch.uint8)
    targets = torch.empty((len(records), size, size), dtype=torch.uint8)
    for i, rec in enumerate(records):
        images[i] = (resize_image(load_image(rec.path), size) * 255).round().to(torch.uint8)
        target = torch.from_numpy(_target(load_mask(rec.mask), cfg))[None, None].float()
        targets[i] = F.interpolate(target, size=(size, size), mode="nearest")[0, 0].to(torch.uint8)
    return images, targets, manifest


def _loss(logits: torch.Tensor, target: torch.Tensor, cfg: DenseConfig) -> torch.Tensor:
    if cfg.task == "saliency":
        return F.binary_cross_entropy_with_logits(logits[:, 0], target.float())
    return F.cross_entropy(logits, target.long(), ignore_index=IGNORE)


def train_dense(
    manifest_path, cfg: DenseConfig, conv_padding: bool, device: str = "cpu", progress: bool = True
):
    """Train one network from scratch; returns (model in eval mode, per-epoch history, train manifest)."""
    if cfg.task not in TASKS:
        raise ValueError(f"unknown dense task {cfg.task!r}: choose one of {', '.join(TASKS)}")
    images, targets, manifest = load_dense_set(manifest_path, cfg)
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = DenseNet(cfg.arch, cfg.out_channels, conv_padding, cfg.seed).to(dev)
    model.train()
    pre = get_preprocessing(cfg.preprocessing)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(images) / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(steps, 1))
    rng = np.random.default_rng(cfg.seed)
    history = []
    for epoch in range(cfg.epochs):
        start, losses = time.perf_counter(), []
        order = rng.permutation(len(images))
        for first in range(0, len(order), cfg.batch_size):
            index = torch.from_numpy(order[first : first + cfg.batch_size])
            if len(index) < 2 < len(order):
                continue  # a last batch of one image: BatchNorm cannot train on it (1x1 maps without padding)
            x = images[index].to(dev).float().div_(255)
            y = targets[index].to(dev)
            flip = torch.from_numpy(rng.uniform(size=len(index)) < 0.5).to(dev)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = torch.where(flip[:, None, None], y.flip(-1), y)
            loss = _loss(model(pre(x)), y, cfg)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"dense training diverged (loss {loss.item()}) in epoch {epoch + 1}: "
                    f"lower `lr` of the dense task"
                )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        history.append(
            {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - start}
        )
        if progress:
            log.warning(
                "epoch %d/%d: loss %.4f (%.1f s)",
                epoch + 1,
                cfg.epochs,
                history[-1]["loss"],
                history[-1]["seconds"],
            )
    model.eval()
    return model, history, manifest


def save_dense(path, model: DenseNet, cfg: DenseConfig, conv_padding: bool, history, manifest: dict) -> None:
    """Backbone in torchvision layout under `state_dict` (probe it as a checkpoint), decoder beside it."""
    payload = {
        "state_dict": model.backbone_state_dict(),
        "decoder": {k: v.cpu() for k, v in model.heads.state_dict().items()},
        "dense_config": asdict(cfg),
        "conv_padding": conv_padding,
        "history": history,
        "train_set": manifest["image_set"],
        "train_list_hash": manifest["list_hash"],
        "posenc_version": __version__,
        "torch_version": str(torch.__version__),  # a plain str: weights_only loading refuses TorchVersion
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_dense(path, device: str = "cpu") -> tuple[DenseNet, DenseConfig, dict]:
    payload = torch.load(Path(path), map_location="cpu", weights_only=False)
    cfg = DenseConfig(**payload["dense_config"])
    model = DenseNet(cfg.arch, cfg.out_channels, payload["conv_padding"], cfg.seed)
    model.encoder.load_state_dict({k.removeprefix("features."): v for k, v in payload["state_dict"].items()})
    model.heads.load_state_dict(payload["decoder"])
    return model.to(device).eval(), cfg, payload


def train_dense_model(
    manifest_path, out_path, cfg: DenseConfig, conv_padding: bool, device: str = "auto"
) -> dict:
    dev = resolve_device(device)
    model, history, manifest = train_dense(manifest_path, cfg, conv_padding, dev)
    save_dense(out_path, model.cpu(), cfg, conv_padding, history, manifest)
    return history[-1]


@torch.no_grad()
def predict_dense(model: DenseNet, cfg: DenseConfig, image_path, shape, device: str = "cpu") -> np.ndarray:
    """A network's prediction for one image at `shape` (the mask's resolution): saliency probabilities or a
    segmentation class map."""
    x = resize_image(load_image(image_path), cfg.input_size)[None].to(device)
    logits = F.interpolate(
        model(get_preprocessing(cfg.preprocessing)(x)),
        size=tuple(shape),
        mode="bilinear",
        align_corners=False,
    )[0].cpu()
    return torch.sigmoid(logits[0]).numpy() if cfg.task == "saliency" else logits.argmax(0).numpy()


def score_dense(model: DenseNet, cfg: DenseConfig, manifest_path, device: str = "cpu") -> dict:
    """Scores of a trained network on one image set with masks, at each mask's resolution."""
    manifest, records = read_manifest(manifest_path)
    if not all(r.mask for r in records):
        raise MissingMasks(
            f"test set {manifest['image_set']!r} has no masks: dense tasks are scored on sets with masks"
        )
    scores = SaliencyScores() if cfg.task == "saliency" else SegmentationScores(cfg.classes)
    for rec in records:
        mask = load_mask(rec.mask)
        truth = saliency_target(mask) if cfg.task == "saliency" else segmentation_target(mask, cfg.classes)
        scores.add(predict_dense(model, cfg, rec.path, mask.shape, device), truth)
    return {"n_images": len(records), **scores.result()}


def evaluate_dense_model(
    model_path, test_manifests: dict, out_csv, task_name: str, variant: str, device: str = "auto"
) -> pd.DataFrame:
    """One row per test set: the task, the variant (padded / unpadded) and every score."""
    dev = resolve_device(device)
    model, cfg, payload = load_dense(model_path, dev)
    rows = [
        {
            "task": task_name,
            "kind": cfg.task,
            "variant": variant,
            "arch": cfg.arch,
            "conv_padding": payload["conv_padding"],
            "test_set": name,
            **score_dense(model, cfg, path, dev),
        }
        for name, path in test_manifests.items()
    ]
    frame = pd.DataFrame(rows)
    atomic_write_text(out_csv, frame.to_csv(index=False, float_format="%.6g"))
    return frame
