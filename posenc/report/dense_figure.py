"""Figure for Table 5: test images of each dense task with the ground truth and the predictions of the
networks trained with and without padding (saliency probabilities; segmentation class maps)."""

from __future__ import annotations

import numpy as np

from posenc.dense.training import load_dense, predict_dense
from posenc.images.decode import load_image
from posenc.images.manifest import read_manifest
from posenc.images.masks import load_mask, saliency_target, segmentation_target
from posenc.paths import DENSE_VARIANTS
from posenc.report.figures import new_figure, save_figure


def dense_predictions_figure(tasks: dict, out_png, count: int = 3) -> None:
    """tasks: name -> {"models": {variant: model path}, "manifest": a test manifest}. Rows: task x image;
    columns: input, ground truth, one prediction per variant."""
    rows = []
    for name, task in tasks.items():
        models = {variant: load_dense(path)[:2] for variant, path in task["models"].items()}
        _, records = read_manifest(task["manifest"])
        for rec in records[:count]:
            mask = load_mask(rec.mask)
            cfg = next(iter(models.values()))[1]
            truth = (
                saliency_target(mask) if cfg.task == "saliency" else segmentation_target(mask, cfg.classes)
            )
            preds = {v: predict_dense(m, c, rec.path, mask.shape) for v, (m, c) in models.items()}
            rows.append((name, cfg, rec, truth, preds))
    variants = list(next(iter(tasks.values()))["models"])
    fig, axes = new_figure(
        len(rows), 2 + len(variants), (2.2 * (2 + len(variants)), 2.2 * len(rows)), squeeze=False
    )
    for r, (name, cfg, rec, truth, preds) in enumerate(rows):
        seg = cfg.task == "segmentation"
        style = (
            {"cmap": "tab10", "vmin": 0, "vmax": 9, "interpolation": "nearest"}
            if seg
            else {"cmap": "gray", "vmin": 0, "vmax": 1}
        )
        panels = [
            ("input", load_image(rec.path), {}),
            ("ground truth", np.where(truth == 255, 0, truth), style),
        ]
        panels += [(f"{variant}", pred, style) for variant, pred in preds.items()]
        for c, (title, data, kw) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(data, **kw)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
        axes[r, 0].set_ylabel(f"{name} ({cfg.task})", fontsize=9)
    fig.suptitle("Table 5: dense networks trained from scratch, with and without zero padding", fontsize=10)
    save_figure(fig, out_png)


def figure_tasks(task_names, models, manifests) -> dict:
    """The `tasks` argument of dense_predictions_figure from the rule's files: models come per task in
    DENSE_VARIANTS order (posenc.plan.dense_figure_inputs), one test manifest per task."""
    models, n = list(models), len(DENSE_VARIANTS)
    return {
        name: {
            "models": dict(zip(DENSE_VARIANTS, models[i * n : (i + 1) * n], strict=True)),
            "manifest": manifest,
        }
        for i, (name, manifest) in enumerate(zip(task_names, manifests, strict=True))
    }
