"""Scoring trained heads on test stores: per image and target, SPC and MAE at the evaluation size."""

from __future__ import annotations

import numpy as np
import torch

from .metrics import mae, ranks, spearman
from .readout import upsample
from .store import KEY_FIELDS, StoreError, StoreReader, store_key
from .targets import target_tensor

# A test store must share everything with the training store but the images.
SAME_BACKBONE_FIELDS = tuple(k for k in KEY_FIELDS if k != "image_list_hash")


def check_same_backbone(train_provenance: dict, test_provenance: dict, where: str) -> None:
    a, b = store_key(train_provenance), store_key(test_provenance)
    diff = [k for k in SAME_BACKBONE_FIELDS if a[k] != b[k]]
    if diff:
        raise StoreError(f"test store {where} was not extracted like the training store (differs in "
                         f"{', '.join(diff)}): rebuild it with the same backbone settings")


def predict(heads, x: torch.Tensor, size: int = 224) -> np.ndarray:
    """(N, T, size, size) predictions of all heads at the evaluation size."""
    with torch.no_grad():
        return upsample(heads(x), size).cpu().numpy()


def evaluate_store(heads, targets, spec, store_path, train_provenance: dict, *, output_size: int = 224,
                   stripe_range: str = "unit", batch_size: int = 32, device: str = "cpu"):
    """Rows {image, test_input, target, spc, mae} for every image of a store and every head."""
    reader = StoreReader(store_path, spec.taps)
    check_same_backbone(train_provenance, reader.provenance, str(store_path))
    maps = [target_tensor(t, output_size, stripe_range).numpy() for t in targets]
    map_ranks = [ranks(m) for m in maps]
    rows = []
    for start in range(0, reader.n_images, batch_size):
        stop = min(start + batch_size, reader.n_images)
        preds = predict(heads, torch.from_numpy(reader.read(start, stop).astype(np.float32)).to(device), output_size)
        for i in range(stop - start):
            for k, t in enumerate(targets):
                rows.append({
                    "image_set": reader.provenance["image_set"],
                    "image": reader.image_names[start + i],
                    "test_input": reader.test_inputs[start + i],
                    "target": t,
                    "spc": spearman(preds[i, k], maps[k], map_ranks[k]),
                    "mae": mae(preds[i, k], maps[k]),
                })
    return rows


def run_columns(payload: dict, spec) -> dict:
    """Columns that identify a trained readout in every metrics row."""
    prov = payload["store_provenance"]
    return {
        "backbone": prov["backbone"], "arch": prov["arch"], "weights": prov["weights_source"],
        "conv_padding": prov["conv_padding"], "preprocessing": prov["preprocessing"]["name"],
        "readout": spec.id, "layers": spec.layers, "kernel": spec.kernel, "readout_padding": spec.padding,
        "taps": "all" if not spec.taps else "+".join(spec.taps),
        "stripe_range": payload["train_config"]["stripe_range"], "seed": payload["seed"],
    }


def evaluate_readout(heads_path, test_stores, out_csv, device: str = "cpu") -> int:
    """Score saved heads on every test store; write one CSV row per image and target. Returns the row count."""
    import pandas as pd

    from .io import atomic_write_text
    from .training import load_heads

    heads, targets, spec, payload = load_heads(heads_path, device)
    cfg = payload["train_config"]
    rows = []
    for store in test_stores:
        rows += evaluate_store(heads, targets, spec, store, payload["store_provenance"], output_size=cfg["output_size"],
                               stripe_range=cfg["stripe_range"], device=device)
    meta = run_columns(payload, spec)
    frame = pd.DataFrame([{**meta, **r} for r in rows])
    atomic_write_text(out_csv, frame.to_csv(index=False, float_format="%.6g"))
    return len(frame)
