"""Position information in bits: the table over seeds, bits against depth, and the best tap of each backbone.

From the per-backbone files of posenc.probe.position_bits: the mean and 95% interval over seeds of every
(backbone, tap, K, test input), results/position_bits.csv and .md; a figure of bits against relative depth
per K for every backbone; and a summary figure of the bits at each backbone's best tap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from posenc.io import atomic_write_text
from posenc.probe.metrics import mean_ci
from posenc.report.figures import new_figure, save_figure

RUN_KEYS = ["backbone", "arch", "weights", "conv_padding", "pos_embed", "preprocessing", "readout"]
RUN_KEYS += ["classifier", "input_norm", "budget"]
KEYS = RUN_KEYS + ["tap", "depth", "n_taps", "stride", "K", "image_set", "test_input"]
PARTS = ("bits_rows", "bits_columns", "train_bits_finest")


def summarise(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval half-width over seeds of each (backbone, tap, K, image set, test input)."""
    rows = []
    frame = per_seed.fillna({"pos_embed": ""})
    for key, group in frame.groupby(KEYS, sort=False, dropna=False):
        bits, ci = mean_ci(group["bits"])
        row = {**dict(zip(KEYS, key)), "bits": bits, "bits_ci": ci, "max_bits": group["max_bits"].iloc[0]}
        row |= {part: group[part].mean() for part in PARTS if part in group}
        row |= {"n_seeds": int(group["seed"].nunique()), "n_images": int(group["n_images"].iloc[0])}
        rows.append(row)
    return pd.DataFrame(rows)


def best_taps(summary: pd.DataFrame, k: int, test_input: str = "natural") -> pd.DataFrame:
    """Per backbone, the tap with the most bits (mean over seeds) on the K grid for one test input, with the
    same tap's bits on every other test input beside it (columns bits_<input>, bits_ci_<input>)."""
    pick = summary[(summary["K"] == k) & (summary["test_input"] == test_input)]
    best = pick.loc[pick.groupby("backbone", sort=False)["bits"].idxmax()]
    others = summary[summary["K"] == k]
    for other in others["test_input"].unique():
        found = others[others["test_input"] == other].set_index(["backbone", "tap"])
        index = list(zip(best["backbone"], best["tap"]))
        best[f"bits_{other}"] = [found["bits"].get(i, np.nan) for i in index]
        best[f"bits_ci_{other}"] = [found["bits_ci"].get(i, np.nan) for i in index]
    return best.reset_index(drop=True)


def markdown(summary: pd.DataFrame, plan: dict) -> str:
    """Per test input, one line per (backbone, tap) with bits +- interval for each K."""
    grid = sorted(summary["K"].unique())
    lines = ["# Position information in bits (a lower bound, per tap)", ""]
    for test_input in [t for t in ("natural", "noise", "black", "white") if t in set(summary["test_input"])]:
        part = summary[summary["test_input"] == test_input]
        lines += [f"## {test_input} test images", ""]
        lines += [
            "| backbone | tap | "
            + " | ".join(f"K={k} (max {part[part['K'] == k]['max_bits'].iloc[0]:.2f})" for k in grid)
            + " |"
        ]
        lines += ["|---|---|" + "---|" * len(grid)]
        for backbone in plan["backbones"]:
            taps = part[part["backbone"] == backbone].drop_duplicates("tap")["tap"]
            for tap in taps:
                cells = []
                for k in grid:
                    hit = part[(part["backbone"] == backbone) & (part["tap"] == tap) & (part["K"] == k)]
                    cells.append(
                        f"{hit['bits'].iloc[0]:.2f} ± {hit['bits_ci'].iloc[0]:.2f}" if len(hit) else ""
                    )
                lines.append(
                    f"| {plan['labels'].get(backbone, backbone)} | {tap} | " + " | ".join(cells) + " |"
                )
        lines.append("")
    return "\n".join(lines + ["Notes:", *[f"- {note}" for note in plan["notes"]], ""])


def depth_figure(summary: pd.DataFrame, plan: dict, out_png, test_input: str = "natural") -> None:
    """Bits against relative depth (tap index / taps; raw pixels at 0), one panel per K, one line per backbone."""
    grid = sorted(summary["K"].unique())
    fig, axes = new_figure(1, len(grid), (4.2 * len(grid), 3.8), squeeze=False, layout="constrained")
    part = summary[summary["test_input"] == test_input]
    for ax, k in zip(axes[0], grid):
        for b, backbone in enumerate(plan["backbones"]):
            line = part[(part["backbone"] == backbone) & (part["K"] == k)].sort_values("depth")
            if line.empty:
                continue
            x = 0 * line["depth"] if line["arch"].iloc[0] == "pixels" else line["depth"] / line["n_taps"]
            style = (
                "--" if _family(line.iloc[0]) in ("unpadded CNN", "ViT without position embedding") else "-"
            )
            ax.errorbar(x, line["bits"], yerr=line["bits_ci"], marker="o", ms=3, capsize=2, ls=style,
                        color=f"C{b % 10}", label=plan["labels"].get(backbone, backbone))  # fmt: skip
        ax.axhline(part[part["K"] == k]["max_bits"].iloc[0], color="0.6", lw=0.8, ls=":")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set(title=f"K = {k} (at most {np.log2(k * k):.0f} bits)", xlabel="relative depth (tap / taps)")
        ax.set_xlim(0, 1.05)
    axes[0][0].set_ylabel(f"bits of position ({test_input} test images)")
    fig.suptitle(plan.get("setting", ""), fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)), fontsize=7)
    save_figure(fig, out_png)


FAMILY_COLOURS = {
    "raw pixels": "0.5",
    "padded CNN": "C0",
    "unpadded CNN": "C9",
    "ViT with position embedding": "C3",
    "ViT without position embedding": "C1",
}


def _family(row) -> str:
    if row["arch"] == "pixels":
        return "raw pixels"
    if row.get("pos_embed"):
        return (
            "ViT without position embedding" if row["pos_embed"] == "zero" else "ViT with position embedding"
        )
    return "unpadded CNN" if str(row["conv_padding"]).lower() in ("false", "none") else "padded CNN"


def best_figure(best: pd.DataFrame, plan: dict, out_png, k: int) -> None:
    """Bits at each backbone's best tap (natural test images, 95% interval over seeds), coloured by family,
    with the same tap on the noise image beside it where the noise input was scored."""
    best = best.set_index("backbone").reindex([b for b in plan["backbones"] if b in set(best["backbone"])])
    fig, ax = new_figure(1, 1, (7.5, 0.42 * len(best) + 1.6), layout="constrained")
    y = np.arange(len(best))[::-1]
    families = [_family(row) for _, row in best.reset_index().iterrows()]
    ax.barh(y, best["bits"], xerr=best["bits_ci"], color=[FAMILY_COLOURS[f] for f in families], capsize=3)
    if "bits_noise" in best:
        ax.scatter(best["bits_noise"], y, marker="D", s=22, facecolor="white", edgecolor="k", zorder=3,
                   label="same tap, noise image")  # fmt: skip
    ax.axvline(best["max_bits"].iloc[0], color="0.6", lw=0.8, ls=":")
    ax.axvline(0, color="0.3", lw=0.6)
    ax.set_yticks(
        y, [f"{plan['labels'].get(b, b)} [{tap}]" for b, tap in zip(best.index, best["tap"])], fontsize=8
    )
    ax.set_xlabel(f"bits of position at the best tap, K = {k} (lower bound; at most {np.log2(k * k):.0f})")
    ax.set_title(plan.get("setting", ""), fontsize=8)
    for family in dict.fromkeys(families):
        ax.barh([np.nan], [np.nan], color=FAMILY_COLOURS[family], label=family)
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, out_png)


def make_position_bits(plan: dict, metric_paths, out_csv, out_md, depth_png, best_png) -> pd.DataFrame:
    per_seed = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in metric_paths])
    summary = summarise(per_seed)
    order = {b: i for i, b in enumerate(plan["backbones"])}
    rank = summary["backbone"].map(order)
    summary = summary.assign(_rank=rank).sort_values(["test_input", "_rank", "depth", "K"], kind="stable")
    summary = summary.drop(columns="_rank").reset_index(drop=True)
    k = max(plan["grid"])
    depth_figure(summary, plan, depth_png)
    best_figure(best_taps(summary, k), plan, best_png, k)
    atomic_write_text(out_md, markdown(summary, plan))
    atomic_write_text(out_csv, summary.to_csv(index=False, float_format="%.4g"))
    return summary
