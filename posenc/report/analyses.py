"""Reports of the analyses beyond the paper (posenc.analysis): each job's CSV and figure, and the CSVs that
collect them over backbones. Every store is read with its request checked, as in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from posenc.analysis import border_distance as bd
from posenc.analysis import canvas as cv
from posenc.analysis import channel_ranking as cr
from posenc.analysis import padding_pattern as pp
from posenc.analysis.padding_modes import padding_modes
from posenc.features.extract import FeatureConfig, load_checked, prepare
from posenc.features.registry import padding_mode
from posenc.features.request import request_for
from posenc.features.store import StoreReader
from posenc.io import atomic_write_text
from posenc.probe.metrics import mean_ci
from posenc.probe.training import TrainConfig, load_heads
from posenc.readout_spec import ReadoutSpec
from posenc.report.figures import full_size, load_predictions, new_figure, save_figure
from posenc.runtime import resolve_device

MODE_COLOURS = {"zeros": "C0", "reflect": "C1", "replicate": "C2", "circular": "C3", "none": "C7"}
LINE_STYLES = {"none": "--", "no backbone": ":"}  # padded backbones: solid lines


def _shared_legend(fig, axes, columns: int) -> None:
    """One legend under the panels for every line drawn in any of them."""
    handles = {h.get_label(): h for ax in axes for h in ax.get_lines()}
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="outside lower center",
        ncols=min(len(handles), columns),
        fontsize=7,
    )


def _csv(frame: pd.DataFrame, out) -> None:
    atomic_write_text(out, frame.to_csv(index=False, float_format="%.5g"))


def collect(csvs, out_csv) -> pd.DataFrame:
    """Concatenate per-backbone CSVs of one analysis."""
    frame = pd.concat(
        [pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in csvs], ignore_index=True
    )
    _csv(frame, out_csv)
    return frame


def _extractor(backbone: dict, features: dict, manifest, weights_file, store):
    """The backbone as it built `store` (its recorded request must equal the config's, as for every reader)."""
    extractor, prep, records, provenance = prepare(
        backbone, manifest, FeatureConfig.from_dict(features), weights_file
    )
    StoreReader(store, request=provenance["request"])  # refused, with the rebuild, if built otherwise
    return extractor.eval(), prep, records


# ---- padding modes ---------------------------------------------------------------------------------------
def write_padding_modes(metric_paths, backbones: dict[str, dict], out_csv, out_png) -> pd.DataFrame:
    frame = padding_modes(metric_paths, backbones)
    _csv(frame, out_csv)
    padding_modes_figure(frame, out_png)
    return frame


def padding_modes_figure(frame: pd.DataFrame, out_png) -> None:
    """SPC per target and padding mode (bars, 95% intervals), a panel per test input, a row per network."""
    groups = list(frame.groupby(["arch", "weights", "weights_seed"], sort=False, dropna=False))
    inputs = list(dict.fromkeys(frame["test_input"]))
    fig, axes = new_figure(
        len(groups), len(inputs), (3.2 * len(inputs), 2.8 * len(groups)), squeeze=False, layout="constrained"
    )
    for r, ((arch, weights, seed), g) in enumerate(groups):
        modes = list(dict.fromkeys(g["padding"]))
        targets = list(dict.fromkeys(g["target"]))
        width = 0.8 / len(modes)
        for c, test_input in enumerate(inputs):
            ax = axes[r, c]
            for m, mode in enumerate(modes):
                sel = g[(g["padding"] == mode) & (g["test_input"] == test_input)].set_index("target")
                sel = sel.reindex(targets)
                ax.bar(
                    np.arange(len(targets)) + (m - (len(modes) - 1) / 2) * width,
                    sel["spc"],
                    width,
                    yerr=sel["spc_ci"].fillna(0),
                    color=MODE_COLOURS.get(mode, "k"),
                    label=mode,
                    capsize=2,
                )
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xticks(np.arange(len(targets)), targets)
            ax.set_ylim(-0.4, 1.05)
            seed_text = "" if pd.isna(seed) or seed == "" else f" seed {seed}"
            ax.set_title(f"{arch} ({weights}{seed_text}): {test_input}", fontsize=8)
            if c == 0:
                ax.set_ylabel("SPC (mean over seeds)")
        axes[r, 0].legend(fontsize=7, title="conv padding", title_fontsize=7)
    save_figure(fig, out_png)


# ---- distance to the border ------------------------------------------------------------------------------
def _run_of(path) -> tuple[str, str, int]:
    """(backbone, readout, seed) of results/predictions/<backbone>/<readout>/seed<k>.npz."""
    p = Path(path)
    return p.parent.parent.name, p.parent.name, int(p.stem.removeprefix("seed"))


def write_border_distance(
    prediction_paths, backbones, size, stripe_range, bin_px, image_set, out_csv, out_png
):
    per_seed = []
    for path in prediction_paths:
        backbone, readout, seed = _run_of(path)
        rows = bd.seed_curves(load_predictions(path), full_size, size, stripe_range, bin_px, image_set)
        entry = backbones[backbone]
        padding = (
            "no backbone" if entry["arch"] == "pixels" else padding_mode(entry.get("conv_padding", True))
        )
        rows.insert(0, "backbone", backbone)
        rows.insert(1, "conv_padding", padding)
        rows.insert(2, "readout", readout)
        rows.insert(3, "seed", seed)
        per_seed.append(rows)
    curves = bd.across_seeds(pd.concat(per_seed, ignore_index=True))
    _csv(curves, out_csv)
    border_distance_figure(curves, out_png)
    return curves


def border_distance_figure(curves: pd.DataFrame, out_png) -> None:
    """Mean absolute error against distance to the border, a panel per target, a line per backbone (dashed:
    no padding), 95% interval bands over seeds."""
    targets = list(dict.fromkeys(curves["target"]))
    colours = {b: k for k, b in enumerate(dict.fromkeys(curves["backbone"]))}  # one colour per backbone
    fig, axes = new_figure(1, len(targets), (3.0 * len(targets), 2.9), squeeze=False, layout="constrained")
    for ax, target in zip(axes[0], targets, strict=True):
        for backbone, g in curves[curves["target"] == target].groupby("backbone", sort=False):
            k = colours[backbone]
            x = (g["distance_lo"] + g["distance_hi"]) / 2
            style = LINE_STYLES.get(g["conv_padding"].iloc[0], "-")
            ax.plot(
                x, g["mae"], style, color=f"C{k}", label=f"{backbone} ({g['conv_padding'].iloc[0]})", lw=1.3
            )
            ax.fill_between(
                x,
                (g["mae"] - g["mae_ci"].fillna(0)).clip(lower=0),
                g["mae"] + g["mae_ci"].fillna(0),
                color=f"C{k}",
                alpha=0.2,
            )
        ax.set_title(target, fontsize=9)
        ax.set_xlabel("distance to the nearest border (px)", fontsize=8)
        ax.set_ylim(bottom=0)
    axes[0, 0].set_ylabel("mean |prediction - target|")
    _shared_legend(fig, axes[0], 5)
    save_figure(fig, out_png)


# ---- channel ranking -------------------------------------------------------------------------------------
def write_channel_ranking(
    backbone: dict,
    features: dict,
    stores: dict,
    manifests: dict,
    weights_file,
    readout: str,
    training: dict,
    targets,
    seeds,
    ks,
    out_ranking,
    out_topk,
    out_png,
    device: str = "cpu",
):
    """Rank a backbone's channels (posenc.analysis.channel_ranking) and train its top/bottom/random-k
    readouts. stores and manifests: {"train": ..., "test": ...}."""
    requests = {k: request_for(backbone, features, manifests[k], weights_file) for k in ("train", "test")}
    train = StoreReader(stores["train"], request=requests["train"])
    test = StoreReader(stores["test"], request=requests["test"])
    extractor, prep, records = _extractor(backbone, features, manifests["test"], weights_file, stores["test"])
    natural = [r for r in records if r.test_input == "natural"]
    images = torch.stack([load_checked(r, features["input_size"]) for r in natural])
    pooled = [
        cr.pooled_responses(extractor, prep, x, train.taps)
        for x in (images, images.flip(-1), images.flip(-2))
    ]
    frame = cr.ranking(train, cr.flip_scores(*pooled))
    frame.insert(0, "backbone", backbone["name"])
    _csv(frame, out_ranking)
    spec = ReadoutSpec.from_id(readout)
    spec = ReadoutSpec(spec.layers, spec.kernel, spec.padding, None, spec.hidden)
    cfg = TrainConfig.from_dict(training)
    device = str(resolve_device(device))
    per_seed = cr.topk_readouts(train, test, frame, ks, spec, list(targets), cfg, list(seeds), device)
    per_seed.insert(0, "backbone", backbone["name"])
    per_seed.insert(1, "readout", spec.id.replace("-all", "-selected"))
    per_seed["budget"] = f"{cfg.steps} steps" if cfg.steps else f"{cfg.epochs} epochs"
    per_seed["input_norm"] = cfg.input_norm
    summary = topk_summary(per_seed)
    _csv(summary, out_topk)
    channel_ranking_figure(frame, summary, out_png)
    return frame, summary


def topk_summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    keys = ["backbone", "readout", "budget", "input_norm", "subset", "k", "target"]
    rows = []
    for key, g in per_seed.groupby(keys, sort=False):
        spc, ci = mean_ci(g["spc"])
        rows.append(
            {
                **dict(zip(keys, key)),
                "spc": spc,
                "spc_ci": ci,
                "seeds": len(g),
                "n_failed": int((~g["learned"]).sum()),
            }
        )
    return pd.DataFrame(rows)


def channel_ranking_figure(frame: pd.DataFrame, summary: pd.DataFrame, out_png) -> None:
    """Left: every channel's position score by rank, coloured by tap; middle: flip score against it; right:
    SPC of readouts on the top-k, random-k and bottom-k channels."""
    fig, axes = new_figure(1, 3, (12, 3.2), layout="constrained")
    ordered = frame.sort_values("rank")
    for k, (tap, g) in enumerate(ordered.groupby("tap", sort=False)):
        axes[0].scatter(g["rank"], g["corr"], s=3, color=f"C{k % 10}", label=tap)
        axes[1].scatter(g["corr"], g["flip"], s=3, color=f"C{k % 10}", label=tap)
    axes[0].set_xlabel("rank (1 = most position)")
    axes[0].set_ylabel("max |corr| with H, V")
    axes[0].legend(fontsize=6, markerscale=3)
    agreement = frame[["corr", "flip"]].corr(method="spearman").iloc[0, 1]
    axes[1].set_xlabel("max |corr| with H, V")
    axes[1].set_ylabel("flip test: |GAP change| / |GAP|")
    axes[1].set_title(f"rank agreement (Spearman) {agreement:.2f}", fontsize=8)
    labels = [f"{t}\nk={k}" for k, t in dict.fromkeys(zip(summary["k"], summary["target"]))]
    groups = list(dict.fromkeys(zip(summary["k"], summary["target"])))
    width = 0.8 / len(cr.SUBSETS)
    for s, subset in enumerate(cr.SUBSETS):
        sel = summary[summary["subset"] == subset].set_index(["k", "target"]).reindex(groups)
        axes[2].bar(
            np.arange(len(groups)) + (s - 1) * width,
            sel["spc"],
            width,
            yerr=sel["spc_ci"].fillna(0),
            capsize=2,
            label=f"{subset}-k",
        )
    axes[2].set_xticks(np.arange(len(groups)), labels, fontsize=7)
    axes[2].set_ylim(-0.5, 1.05)
    axes[2].axhline(0, color="k", lw=0.5)
    axes[2].set_ylabel("SPC, natural test images")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"{frame['backbone'].iloc[0]}: channel-wise position ({len(frame)} channels)", fontsize=9)
    save_figure(fig, out_png)


# ---- canvas ----------------------------------------------------------------------------------------------
def write_canvas(
    backbone: dict, features: dict, store, manifest, weights_file, readout_paths, count, scale, out_csv
):
    """Per seed of the backbone's readout and per canvas: how well its H and V heads find a pasted image."""
    extractor, prep, records = _extractor(backbone, features, manifest, weights_file, store)
    natural = [r for r in records if r.test_input == "natural"][:count]
    images = torch.stack([load_checked(r, features["input_size"]) for r in natural])
    readouts, ids = {}, set()
    for path in readout_paths:
        heads, targets, spec, payload = load_heads(path)
        taps = spec.taps or [t["name"] for t in payload["store_provenance"]["taps"]]
        readouts[payload["seed"]] = (heads, list(targets), list(taps))
        ids.add(spec.id)
    estimates = cv.canvas_estimates(extractor, prep, readouts, images, scale)
    rows = [
        {
            "backbone": backbone["name"],
            "readout": "+".join(sorted(ids)),
            "seed": seed,
            "canvas": canvas,
            "scale": scale,
            **cv.score(g, features["input_size"], scale),
        }
        for (seed, canvas), g in estimates.groupby(["seed", "canvas"], sort=False)
    ]
    frame = pd.DataFrame(rows)
    _csv(frame, out_csv)
    return frame


def collect_canvas(csvs, out_csv, out_png) -> pd.DataFrame:
    """Mean and 95% interval over seeds of each backbone and canvas; the figure of cell accuracy."""
    per_seed = pd.concat([pd.read_csv(f) for f in csvs], ignore_index=True)
    metrics = ["cell_accuracy", "column_accuracy", "row_accuracy", "centre_error", "corr_x", "corr_y"]
    rows = []
    for (backbone, readout, canvas, scale), g in per_seed.groupby(
        ["backbone", "readout", "canvas", "scale"], sort=False
    ):
        row = {"backbone": backbone, "readout": readout, "canvas": canvas, "scale": scale, "seeds": len(g)}
        for m in metrics:
            row[m], row[f"{m}_ci"] = mean_ci(g[m])
        rows.append(row)
    frame = pd.DataFrame(rows)
    _csv(frame, out_csv)
    canvas_figure(frame, out_png)
    return frame


def canvas_figure(frame: pd.DataFrame, out_png) -> None:
    """Cell accuracy (chance 1/9) and centre error per canvas, a bar per backbone."""
    backbones = list(dict.fromkeys(frame["backbone"]))
    canvases = list(dict.fromkeys(frame["canvas"]))
    fig, axes = new_figure(1, 2, (9, 3), layout="constrained")
    width = 0.8 / len(backbones)
    for b, backbone in enumerate(backbones):
        sel = frame[frame["backbone"] == backbone].set_index("canvas").reindex(canvases)
        x = np.arange(len(canvases)) + (b - (len(backbones) - 1) / 2) * width
        for ax, m in zip(axes, ("cell_accuracy", "centre_error"), strict=True):
            ax.bar(x, sel[m], width, yerr=sel[f"{m}_ci"].fillna(0), capsize=2, label=backbone, color=f"C{b}")
    axes[0].axhline(1 / cv.GRID**2, color="k", ls=":", lw=1, label="chance (1/9)")
    axes[0].set_ylabel("pasted image put in the right cell")
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylabel("centre error (canvas sides)")
    for ax in axes:
        ax.set_xticks(np.arange(len(canvases)), [f"{c} canvas" for c in canvases])
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"An image at {frame['scale'].iloc[0]:g} of the canvas side pasted at the 9 cells of a 3x3 grid",
        fontsize=9,
    )
    save_figure(fig, out_png)


# ---- the padding's own pattern (Lin et al.) ------------------------------------------------------------
def write_padding_pattern(backbone: dict, features: dict, store, manifest, weights_file, images, out_csv):
    """Per tap and distance to the border: how much the backbone's padding changes its features (PPP)."""
    extractor, prep, records = _extractor(backbone, features, manifest, weights_file, store)
    natural = [r for r in records if r.test_input == "natural"][:images]
    strides = pp.tap_strides(extractor.native, features["input_size"])
    # the whole image at input.size + 2m, so that its central crop has the size the network is probed at
    side = features["input_size"] + 2 * pp.margin_for(strides)
    x = prep(torch.stack([load_checked(r, side) for r in natural]))
    parts = [pp.pattern_maps(extractor.native, x[i : i + 8], strides) for i in range(0, len(x), 8)]
    maps = {
        t: tuple(np.concatenate([p[t][k] for p in parts]) for k in (0, 1)) + (strides[t],) for t in parts[0]
    }
    profile = pp.pattern_profile(maps)
    mode = "no backbone" if backbone["arch"] == "pixels" else padding_mode(backbone.get("conv_padding", True))
    profile.insert(0, "backbone", backbone["name"])
    profile.insert(1, "conv_padding", mode)
    profile.insert(2, "margin_px", pp.margin_for(strides))
    profile["images"] = len(natural)
    _csv(profile, out_csv)
    return profile


def collect_padding_pattern(csvs, out_csv, out_png) -> pd.DataFrame:
    profile = collect(csvs, out_csv)
    padding_pattern_figure(profile, out_png)
    return profile


def padding_pattern_figure(profile: pd.DataFrame, out_png) -> None:
    """PPP against distance to the crop's border: a row per set of taps (architecture), a panel per tap in
    order, a line per backbone (one colour each, dashed without padding)."""
    taps_of = {b: tuple(dict.fromkeys(g["tap"])) for b, g in profile.groupby("backbone", sort=False)}
    rows = list(dict.fromkeys(taps_of.values()))
    width = max(len(r) for r in rows)
    colours = {b: k for k, b in enumerate(taps_of)}
    fig, axes = new_figure(
        len(rows), width, (2.8 * width, 2.6 * len(rows)), squeeze=False, layout="constrained"
    )
    for r, taps in enumerate(rows):
        members = [b for b, t in taps_of.items() if t == taps]
        for c in range(width):
            ax = axes[r, c]
            if c >= len(taps):
                ax.set_axis_off()
                continue
            sel = profile[(profile["tap"] == taps[c]) & profile["backbone"].isin(members)]
            for backbone, g in sel.groupby("backbone", sort=False):
                mode = g["conv_padding"].iloc[0]
                ax.plot(
                    g["distance_px"],
                    g["ppp"],
                    LINE_STYLES.get(mode, "-"),
                    marker=".",
                    color=f"C{colours[backbone] % 10}",
                    label=f"{backbone} ({mode})",
                )
            ax.set_title(f"{taps[c]} (stride {sel['stride'].iloc[0]})", fontsize=8)
            ax.set_xlabel("distance to the border (px)", fontsize=7)
            ax.set_ylim(bottom=0)
        axes[r, 0].set_ylabel("|f(crop) - f(image)| / rms |f|", fontsize=7)
    _shared_legend(fig, axes.ravel(), 4)
    save_figure(fig, out_png)
