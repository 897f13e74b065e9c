"""The paper's figures, rendered with matplotlib from saved predictions and built tables.

- Fig. 4: test images with each target's prediction, per backbone.
- Fig. 5: the readout's layers and kernel size against G SPC (from Table 2).
- Fig. 6: the padding effect on the G target for one image, SPC/MAE in every panel.
- Fig. 7: error heat maps, mean |target - prediction| over the H, V and G readouts, per backbone.
- Summary: SPC per backbone and target with 95% interval bars (from Table 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from posenc.features.preprocess import resize_image
from posenc.images.decode import load_image
from posenc.images.manifest import read_manifest
from posenc.io import atomic_path
from posenc.probe.metrics import mae, spearman
from posenc.probe.readout import upsample
from posenc.probe.targets import target_tensor
from posenc.readout_spec import ReadoutSpec
from posenc.report.paper import paper_reference
from posenc.schema import INPUT_SIZE


def load_predictions(path) -> dict:
    """A predictions file written by evaluation: names, test inputs, targets and (N, T, h, w) maps."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def full_size(pred: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(..., h, w) readout maps -> (..., size, size) at the evaluation size, as scored."""
    t = torch.from_numpy(np.asarray(pred, dtype=np.float32))
    shape = t.shape
    flat = t.reshape(-1, 1, *shape[-2:])
    return upsample(flat, size).reshape(*shape[:-2], size, size).numpy()


def new_figure(rows: int, cols: int, figsize, **kwargs):
    """A matplotlib Figure and its axes grid, without pyplot (no global backend or figure state)."""
    fig = Figure(figsize=figsize, layout=kwargs.pop("layout", None))
    return fig, fig.subplots(rows, cols, **kwargs)


def save_figure(fig, path) -> None:
    """Write a figure as PNG atomically (a killed job never leaves a half-written image)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def _pick(pred: dict, test_input: str, count: int, image_set: str | None = None) -> list[int]:
    """Indices of the first `count` images of a test input (in one image set, if given)."""
    return [
        i
        for i, (g, s) in enumerate(zip(pred["test_input"], pred["image_set"]))
        if g == test_input and (image_set is None or s == image_set)
    ][:count]


def fig4_predictions(
    runs: dict[str, dict],
    image_paths: dict[str, str],
    out_png,
    count: int = 2,
    stripe_range: str = "unit",
    size: int = INPUT_SIZE,
    image_set: str | None = None,
) -> None:
    """runs: backbone label -> predictions dict. Rows: (image, backbone); columns: input, ground truth, targets."""
    first = next(iter(runs.values()))
    targets = [str(t) for t in first["targets"]]
    picks = _pick(first, "natural", count, image_set)
    rows = [(i, label) for i in picks for label in ["ground truth", *runs]]
    fig, axes = new_figure(
        len(rows),
        len(targets) + 1,
        (1.9 * (len(targets) + 1), 1.9 * len(rows)),
        squeeze=False,
        layout="constrained",
    )
    for r, (i, label) in enumerate(rows):
        name = str(first["image"][i])
        axes[r, 0].imshow(resize_image(load_image(image_paths[name]), size).permute(1, 2, 0).numpy())
        axes[r, 0].set_ylabel(label, fontsize=9)
        for c, target in enumerate(targets, start=1):
            if label == "ground truth":
                shown = target_tensor(target, size, stripe_range).numpy()
            else:
                run = runs[label]
                k = [str(t) for t in run["targets"]].index(target)
                shown = full_size(run["pred"][i, k], size)
            axes[r, c].imshow(shown, cmap="gray", vmin=-1 if stripe_range == "signed" else 0, vmax=1)
            if r == 0:
                axes[r, c].set_title(target)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("input")
    fig.suptitle("Fig. 4: predicted position maps on test images, per backbone")
    save_figure(fig, out_png)


def fig5_readout_size(table2: pd.DataFrame, paper: pd.DataFrame, out_png, target: str = "G") -> None:
    """G SPC against readout layers (k=3) and kernel size (L=1), one line per backbone, paper dashed."""
    rows = table2[table2["target"] == target]
    fig, axes = new_figure(1, 2, (10, 4))
    for ax, (column, fixed_col, fixed, label) in zip(
        axes,
        (
            ("layers", "kernel", 3, "readout layers L (k = 3)"),
            ("kernel", "layers", 1, "kernel size k (L = 1)"),
        ),
    ):
        part = rows[rows[fixed_col] == fixed]
        for backbone, group in part.groupby("backbone", sort=False):
            group = group.sort_values(column)
            ax.errorbar(
                group[column],
                group["natural_spc"],
                yerr=group["natural_spc_ci"].fillna(0),
                marker="o",
                capsize=3,
                label=f"{backbone} (this run)",
            )
            ref = paper[paper["key"].isin(group["paper_model"]) & (paper["target"] == target)]
            if len(ref):
                xs = group.set_index("paper_model").loc[ref["key"], column].to_numpy()
                order = np.argsort(xs)
                ax.plot(
                    xs[order],
                    ref["spc"].to_numpy()[order],
                    "--",
                    marker="x",
                    color=ax.lines[-1].get_color(),
                    label=f"{backbone}: paper",
                )
        ax.set_xlabel(label)
        ax.set_ylim(-0.3, 1.05)  # SPC range; intervals of few seeds may reach beyond it
        ax.set_ylabel(f"{target} SPC (natural test images)")
        ax.set_xticks(sorted(part[column].unique()))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Fig. 5: readout size and recovered position ({target} target)")
    save_figure(fig, out_png)


def fig6_padding(
    runs: dict[str, dict],
    image_path: str,
    image_index: int,
    out_png,
    target: str = "G",
    stripe_range: str = "unit",
    size: int = INPUT_SIZE,
) -> None:
    """One image, the target, and each run's prediction for it with that image's SPC and MAE."""
    truth = target_tensor(target, size, stripe_range).numpy()
    fig, axes = new_figure(1, len(runs) + 2, (2.4 * (len(runs) + 2), 2.9))
    axes[0].imshow(resize_image(load_image(image_path), size).permute(1, 2, 0).numpy())
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(truth, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"target {target}", fontsize=9)
    for ax, (label, run) in zip(axes[2:], runs.items()):
        k = [str(t) for t in run["targets"]].index(target)
        pred = full_size(run["pred"][image_index, k], size)
        ax.imshow(pred, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{label}\nSPC {spearman(pred, truth):.2f}  MAE {mae(pred, truth):.2f}", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Fig. 6: zero padding and the {target} prediction for one test image", y=1.04)
    save_figure(fig, out_png)


def error_map(
    run: dict,
    targets=("H", "V", "G"),
    test_input: str = "natural",
    size: int = INPUT_SIZE,
    image_set: str | None = None,
) -> np.ndarray:
    """Per pixel: mean over the test images and the given targets' readouts of |target - prediction|."""
    names = [str(t) for t in run["targets"]]
    picks = _pick(run, test_input, len(run["test_input"]), image_set)
    maps = []
    for target in targets:
        truth = target_tensor(target, size).numpy()
        pred = full_size(run["pred"][picks, names.index(target)], size)
        maps.append(np.abs(pred - truth).mean(axis=0))
    return np.mean(maps, axis=0)


def fig7_error_maps(
    runs: dict[str, dict], out_png, size: int = INPUT_SIZE, image_set: str | None = None
) -> None:
    """One heat map per backbone on a shared colour scale (docs/protocol.md §6)."""
    maps = {label: error_map(run, size=size, image_set=image_set) for label, run in runs.items()}
    vmax = max(float(m.max()) for m in maps.values())
    fig, axes = new_figure(1, len(maps), (3.2 * len(maps), 3.4), squeeze=False)
    for ax, (label, m) in zip(axes[0], maps.items()):
        im = ax.imshow(m, cmap="jet", vmin=0, vmax=vmax)
        ax.set_title(f"{label}\nmean {m.mean():.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="|target - prediction|, mean over H, V, G")
    fig.suptitle("Fig. 7: where position is hard to recover (natural test images)")
    save_figure(fig, out_png)


def summary_spc(table1: pd.DataFrame, out_png, test_input: str = "natural") -> None:
    """Grouped bars: SPC per target (groups) and backbone (bars), with 95% interval bars over seeds."""
    targets = list(dict.fromkeys(table1["target"]))
    models = list(dict.fromkeys(table1["model"]))
    width = 0.8 / len(models)
    fig, ax = new_figure(1, 1, (1.6 * len(targets) + 5, 4), layout="constrained")
    for j, model in enumerate(models):
        part = table1[table1["model"] == model].set_index("target").loc[targets]
        ax.bar(
            np.arange(len(targets)) + j * width,
            part[f"{test_input}_spc"],
            width,
            yerr=part[f"{test_input}_spc_ci"].fillna(0),
            capsize=3,
            label=model,
        )
    ax.set_xticks(np.arange(len(targets)) + width * (len(models) - 1) / 2, targets)
    ax.set_ylabel(f"SPC ({test_input} test images)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-0.3, 1.05)  # SPC range; intervals of few seeds may reach beyond it
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the bars, never over them
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Position information per backbone and target (mean and 95% interval over seeds)")
    save_figure(fig, out_png)


def training_curves(readouts: dict[str, list[dict]], out_png, threshold: float = 0.9) -> None:
    """readouts: row label -> the saved readouts of its seeds. One panel per row: every head's loss per step
    relative to the best constant prediction's (below 1 = learning), one colour per target, a line per seed."""
    cols = min(4, len(readouts))
    rows = -(-len(readouts) // cols)
    fig, axes = new_figure(rows, cols, (3.4 * cols, 2.9 * rows), squeeze=False, layout="constrained")
    colours = {t: f"C{k}" for k, t in enumerate(("H", "V", "G", "HS", "VS"))}
    for ax in axes.flat[len(readouts) :]:
        ax.set_visible(False)
    for ax, (label, seeds) in zip(axes.flat, readouts.items()):
        for payload in seeds:
            history = payload["history"]
            steps = np.asarray(history["steps"], dtype=np.float64)
            for k, target in enumerate(payload["targets"]):
                ratio = steps[:, k] / history["constant_loss"][target]
                ax.plot(np.arange(1, len(ratio) + 1), ratio, color=colours.get(target, "k"), alpha=0.6, lw=0.8,
                        label=target if payload is seeds[0] else None)  # fmt: skip
        ax.axhline(threshold, color="black", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("SGD step", fontsize=8)
        ax.set_ylabel("loss / constant prediction's", fontsize=8)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Readout training: loss per step relative to a constant prediction (dashed: {threshold})")
    save_figure(fig, out_png)


# ---- one figure from the workflow's files ---------------------------------------------------------------
def _readouts_by_label(plan: dict, readouts) -> dict[str, list[dict]]:
    """Saved readouts (one per distinct run and seed, in plan order) grouped by the row labels that use them."""
    payloads = [torch.load(path, map_location="cpu", weights_only=False) for path in readouts]
    runs = {}
    for payload in payloads:
        key = (payload["store_provenance"]["backbone"], ReadoutSpec(**_spec_args(payload["readout"])).id)
        runs.setdefault(key, []).append(payload)
    return {label: runs[tuple(run)] for label, run in zip(plan["labels"], plan["runs"], strict=True)}


def _spec_args(readout: dict) -> dict:
    return {**readout, "taps": tuple(readout["taps"]) if readout["taps"] else None}


def render(plan: dict, out_png, table=None, predictions=(), manifest=None, readouts=()) -> None:
    """Draw one figure (posenc.plan.figure_plan) from a built table, from saved readouts, or from predictions
    (one file per row label, in the plan's order) and the test set's manifest."""
    figure = plan["figure"]
    if figure == "fig5_readout_size":
        return fig5_readout_size(pd.read_csv(table), paper_reference(plan["table"]), out_png)
    if figure == "summary_spc":
        return summary_spc(pd.read_csv(table), out_png)
    if figure == "training_curves":
        return training_curves(_readouts_by_label(plan, readouts), out_png)
    runs = {label: load_predictions(path) for label, path in zip(plan["labels"], predictions, strict=True)}
    _, records = read_manifest(manifest)
    image_paths = {r.name: r.path for r in records}
    test_set, stripe_range = plan["test_set"], plan["stripe_range"]
    if figure == "fig4_predictions":
        return fig4_predictions(runs, image_paths, out_png, stripe_range=stripe_range, image_set=test_set)
    if figure == "fig7_error_maps":
        return fig7_error_maps(runs, out_png, image_set=test_set)
    if figure == "fig6_padding":
        first = next(iter(runs.values()))
        index = _pick(first, "natural", 1, test_set)[0]
        return fig6_padding(
            runs, image_paths[str(first["image"][index])], index, out_png, stripe_range=stripe_range
        )
    raise ValueError(f"unknown figure {figure!r}")
