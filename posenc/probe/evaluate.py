"""Scoring trained readouts on test stores: per image and target, SPC and MAE at the evaluation size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from posenc.errors import ActionableError, snakemake_command
from posenc.features.store import KEY_FIELDS, StoreError, StoreReader, content_digest, store_key
from posenc.io import atomic_path, atomic_write_text
from posenc.probe.metrics import mae, mse, ranks, spearman
from posenc.probe.readout import upsample
from posenc.probe.targets import target_tensor
from posenc.probe.training import LEARNED_RATIO, budget_label, load_heads
from posenc.runtime import resolve_device
from posenc.schema import INPUT_SIZE

# A test store must share everything with the training store but the images.
SAME_BACKBONE_FIELDS = tuple(k for k in KEY_FIELDS if k != "image_list_hash")
IMAGE_FIELDS = ("image_set", "image_list_hash")


def check_same_backbone(train_provenance: dict, test_provenance: dict, where: str) -> None:
    a, b = store_key(train_provenance), store_key(test_provenance)
    diff = [k for k in SAME_BACKBONE_FIELDS if a[k] != b[k]]
    ra, rb = train_provenance.get("request") or {}, test_provenance.get("request") or {}
    diff += [
        f"request.{k}" for k in sorted(set(ra) | set(rb)) if k not in IMAGE_FIELDS and ra.get(k) != rb.get(k)
    ]
    if diff:
        raise StoreError(
            f"test store {where} was not extracted like the training store (differs in "
            f"{', '.join(diff)}): rebuild it with the same backbone settings"
        )


def evaluate_store(heads, targets, spec, store_path, train_provenance: dict, *, keep=None, **options):
    """Rows {image, test_input, target, spc, mae, heldout_ratio} for every image of a store and every head
    (evaluate_store_runs for one trained readout; `options` as there).

    heldout_ratio: the image's mean squared error over that of the best constant prediction of the target
    (its mean), the held-out counterpart of the training loss ratio: at 1 or more, the head predicts this
    image's position map no better than a constant.

    If `keep` is a list, the readout-size predictions (batch, T, h, w) are appended to it. With `request`
    (posenc.features.request), a store built for other settings than the config's is refused.
    """
    keeps = None if keep is None else [keep]
    return evaluate_store_runs([heads], targets, spec, store_path, train_provenance, keeps=keeps, **options)[
        0
    ]


def evaluate_store_runs(
    runs: list,
    targets,
    spec,
    store_path,
    train_provenance: dict,
    *,
    output_size: int = INPUT_SIZE,
    stripe_range: str = "unit",
    batch_size: int = 32,
    device: str = "cpu",
    keeps: list[list] | None = None,
    request: dict | None = None,
) -> list[list[dict]]:
    """evaluate_store for several trained heads of one readout (its seeds) at once: the store is read once
    and each batch is given to every run's heads. Returns one list of rows per run, in order; `keeps`: one
    list per run to append its predictions to."""
    reader = StoreReader(store_path, spec.taps, request=request)
    check_same_backbone(train_provenance, reader.provenance, str(store_path))
    digest = content_digest(store_path)  # recorded in every row: posenc verify tells a store changed since
    maps = [target_tensor(t, output_size, stripe_range).numpy() for t in targets]
    map_ranks = [ranks(m) for m in maps]
    constant = [float(np.var(m, dtype=np.float64)) for m in maps]  # the best constant prediction's MSE
    rows = [[] for _ in runs]
    for start in range(0, reader.n_images, batch_size):
        stop = min(start + batch_size, reader.n_images)
        batch = torch.from_numpy(reader.read(start, stop).astype(np.float32)).to(device)
        for r, heads in enumerate(runs):
            with torch.no_grad():
                small = heads(batch)
            preds = upsample(small, output_size).cpu().numpy()
            if keeps is not None:
                keeps[r].append(small.cpu().numpy())
            for i in range(stop - start):
                for k, t in enumerate(targets):
                    rows[r].append(
                        {
                            "image_set": reader.provenance["image_set"],
                            "image": reader.image_names[start + i],
                            "test_input": reader.test_inputs[start + i],
                            "target": t,
                            "spc": spearman(preds[i, k], maps[k], map_ranks[k]),
                            "mae": mae(preds[i, k], maps[k]),
                            "heldout_ratio": mse(preds[i, k], maps[k]) / constant[k],
                            "store_digest": digest,
                        }
                    )
    return rows


def run_columns(payload: dict, spec) -> dict:
    """Columns that identify a trained readout in every metrics row: backbone, weights (hash, seed), readout
    shape and the training settings that change its numbers."""
    prov, cfg = payload["store_provenance"], payload["train_config"]
    return {
        "backbone": prov["backbone"],
        "arch": prov["arch"],
        "weights": prov["weights_source"],
        "conv_padding": prov["conv_padding"],
        "preprocessing": prov["preprocessing"]["name"],
        "readout": spec.id,
        "layers": spec.layers,
        "kernel": spec.kernel,
        "readout_padding": spec.padding,
        "taps": "all" if not spec.taps else "+".join(spec.taps),
        "stripe_range": payload["train_config"]["stripe_range"],
        "input_norm": cfg["input_norm"],
        "budget": budget_label(cfg),
        "weights_sha256": (prov["weights_sha256"] or "")[:12],
        "weights_seed": "" if prov.get("weights_seed") is None else prov["weights_seed"],
        "seed": payload["seed"],
    }


def head_columns(payload: dict, target: str) -> dict:
    """Whether a head learned: its final training loss relative to the best constant prediction's."""
    ratio = payload["history"]["final_loss_ratio"][target]
    return {"final_loss_ratio": ratio, "learned": ratio < LEARNED_RATIO}


def evaluate_readout(
    heads_path,
    test_stores,
    out_csv,
    predictions_path=None,
    *,
    output_size: int,
    stripe_range: str,
    device="cpu",
    requests: list[dict] | None = None,
) -> int:
    """Score saved heads on every test store; write one CSV row per image and target. Returns the row count.
    One run of evaluate_readouts."""
    return evaluate_readouts(
        [heads_path],
        test_stores,
        [out_csv],
        None if predictions_path is None else [predictions_path],
        output_size=output_size,
        stripe_range=stripe_range,
        device=device,
        requests=requests,
    )[0]


def evaluate_readouts(
    heads_paths,
    test_stores,
    out_csvs,
    predictions_paths=None,
    *,
    output_size: int,
    stripe_range: str,
    device="cpu",
    requests: list[dict] | None = None,
) -> list[int]:
    """Score the saved heads of one readout's seeds on every test store (each store read once for all of
    them); write one CSV per run, one row per image and target. Returns each CSV's row count.

    `output_size` and `stripe_range` must be those the heads were trained with (else the heads are stale).
    With predictions_paths, also save each run's readout-size predictions (float16 npz: image, test_input,
    image_set, targets, pred (N, T, h, w)) for the figures. `requests` (one per test store,
    posenc.features.request): what the config asks of each store; a store built otherwise is refused.
    """
    device = resolve_device(device)
    loaded = [load_heads(path, device) for path in heads_paths]
    asked = {"output_size": output_size, "stripe_range": stripe_range}
    for path, (_, _, _, payload) in zip(heads_paths, loaded, strict=True):
        trained = {k: payload["train_config"][k] for k in ("output_size", "stripe_range")}
        if trained != asked:
            raise ActionableError(
                f"readout {path} was trained with {trained}, evaluation asks for {asked}: it is stale. "
                f"Retrain it: {snakemake_command(str(path), force=True)}"
            )
    first_spec, first_targets = loaded[0][2], loaded[0][1]
    for path, (_, targets, spec, _) in zip(heads_paths, loaded, strict=True):
        if spec != first_spec or targets != first_targets:
            raise ValueError(f"{path} is not a seed of the readout of {heads_paths[0]}: evaluate it apart")
    rows, kept = [[] for _ in loaded], [[] for _ in loaded]
    requests = list(requests) if requests is not None else [None] * len(test_stores)
    for store, request in zip(test_stores, requests, strict=True):
        found = evaluate_store_runs(
            [heads for heads, *_ in loaded],
            first_targets,
            first_spec,
            store,
            loaded[0][3]["store_provenance"],
            output_size=output_size,
            stripe_range=stripe_range,
            device=device,
            keeps=kept,
            request=request,
        )
        for r, run_rows in enumerate(found):
            rows[r] += run_rows
    counts = []
    for r, (_, targets, spec, payload) in enumerate(loaded):
        meta = run_columns(payload, spec)
        frame = pd.DataFrame([{**meta, **row, **head_columns(payload, row["target"])} for row in rows[r]])
        if predictions_paths is not None:
            first = frame[frame["target"] == targets[0]]
            with atomic_path(predictions_paths[r]) as tmp, open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    image=first["image"].to_numpy(str),
                    test_input=first["test_input"].to_numpy(str),
                    image_set=first["image_set"].to_numpy(str),
                    targets=np.array(targets, dtype=str),
                    pred=np.concatenate(kept[r]).astype(np.float16),
                )
        atomic_write_text(out_csvs[r], frame.to_csv(index=False, float_format="%.6g"))
        counts.append(len(frame))
    return counts
