"""Figure for Table 5: test images of each dense task with the ground truth and the predictions of the
networks trained with and without padding (saliency probabilities; segmentation class maps)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from posenc import paths
from posenc.images.sets import read_manifest
from posenc.dense.training import load_dense, predict_dense
from posenc.report.figures import _save
from posenc.images.decode import load_image
from posenc.images.masks import load_mask, saliency_target, segmentation_target


def dense_predictions_figure(tasks: dict, out_png, count: int = 3) -> None:
    """tasks: name -> {"models": {variant: model path}, "manifest": a test manifest}. Rows: task x image;
    columns: input, ground truth, one prediction per variant."""
    rows = []
    for name, spec in tasks.items():
        models = {variant: load_dense(path)[:2] for variant, path in spec["models"].items()}
        _, records = read_manifest(spec["manifest"])
        for rec in records[:count]:
            mask = load_mask(rec.mask)
            cfg = next(iter(models.values()))[1]
            truth = saliency_target(mask) if cfg.task == "saliency" else segmentation_target(mask, cfg.classes)
            preds = {v: predict_dense(m, c, rec.path, mask.shape) for v, (m, c) in models.items()}
            rows.append((name, cfg, rec, truth, preds))
    variants = list(next(iter(tasks.values()))["models"])
    fig, axes = plt.subplots(len(rows), 2 + len(variants), figsize=(2.2 * (2 + len(variants)), 2.2 * len(rows)),
                             squeeze=False)
    for r, (name, cfg, rec, truth, preds) in enumerate(rows):
        seg = cfg.task == "segmentation"
        style = {"cmap": "tab10", "vmin": 0, "vmax": 9, "interpolation": "nearest"} if seg else {"cmap": "gray", "vmin": 0, "vmax": 1}
        panels = [("input", load_image(rec.path), {}), ("ground truth", np.where(truth == 255, 0, truth), style)]
        panels += [(f"{variant}", pred, style) for variant, pred in preds.items()]
        for c, (title, data, kw) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(data, **kw)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
        axes[r, 0].set_ylabel(f"{name} ({cfg.task})", fontsize=9)
    fig.suptitle("Table 5: dense networks trained from scratch, with and without zero padding", fontsize=10)
    _save(fig, out_png)


def figure_tasks(config: dict) -> dict:
    """Per dense task, the networks the figure compares and the test set (the first) it shows."""
    return {name: {"models": {v: paths.dense_model(name, v) for v in paths.DENSE_VARIANTS},
                   "manifest": paths.manifest(next(iter(spec["test_sets"])))}
            for name, spec in config["dense_tasks"].items()}


def figure_inputs(config: dict) -> list[str]:
    return [p for task in figure_tasks(config).values() for p in [*task["models"].values(), task["manifest"]]]
