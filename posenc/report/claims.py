"""The paper's claims (docs/protocol.md §8), each judged from this run's tables, never written by hand.

Every claim names the table lines it needs by role (raw pixels, a trained VGG16, ...), found from the
lines' backbone, weights and readout columns; a claim whose lines are missing is "not testable here".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from posenc.io import atomic_write_text

TRAINED = ("imagenet", "oxford", "hed", "checkpoint")
CLASSIFICATION = (
    "imagenet",
    "oxford",
)  # ImageNet classification weights (torchvision, or the Oxford release)
NEAR_ZERO = 0.1  # |SPC| below this counts as "almost nothing"
GAIN = 0.1  # an SPC difference above this counts as "more"


@dataclass
class Verdict:
    number: int
    claim: str
    verdict: str  # supported | not supported | partly supported | not testable here
    evidence: str


def _natural(frame: pd.DataFrame, column: str = "spc") -> pd.Series:
    return frame[f"natural_{column}"] if f"natural_{column}" in frame.columns else frame[column]


def _lines(table: pd.DataFrame | None, **where) -> pd.DataFrame:
    if table is None or table.empty:
        return pd.DataFrame()
    mask = np.ones(len(table), dtype=bool)
    for column, wanted in where.items():
        values = table[column]
        mask &= (
            values.isin(wanted).to_numpy()
            if isinstance(wanted, (list, tuple, set))
            else (values == wanted).to_numpy()
        )
    return table[mask]


def _fmt(values) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in values.items())


def claim1(t1) -> Verdict:
    text = "A readout on raw pixels (PosENet, padding 0) recovers almost nothing (SPC near 0)."
    lines = _lines(t1, arch="pixels", readout_padding=0)
    if lines.empty:
        return Verdict(
            1, text, "not testable here", "no PosENet (raw pixels, readout padding 0) lines in Table 1"
        )
    spc = lines.set_index("target")["natural_spc"]
    ok = bool((spc.abs() < NEAR_ZERO).all())
    return Verdict(
        1,
        text,
        "supported" if ok else "not supported",
        f"PosENet natural-image SPC per target: {_fmt(spc)} (|SPC| < {NEAR_ZERO} counts as near 0).",
    )


def claim2(t1) -> Verdict:
    text = "Trained VGG16 and ResNet-152 features let the same readout recover position well (paper H SPC .74, .93)."
    pixels = _lines(t1, arch="pixels", readout_padding=0)
    trained = _lines(t1, weights=TRAINED, conv_padding=True)
    if pixels.empty or trained.empty:
        return Verdict(
            2,
            text,
            "not testable here",
            "Table 1 needs PosENet and a backbone with trained weights (imagenet, hed or checkpoint).",
        )
    base = pixels.set_index("target")["natural_spc"]
    parts, wins = [], []
    for model, group in trained.groupby("model", sort=False):
        spc = group.set_index("target")["natural_spc"]
        gain = (spc - base.reindex(spc.index)).dropna()
        wins.append(bool((gain > GAIN).all()))
        parts.append(f"{model}: {_fmt(spc)} (gain over PosENet {_fmt(gain)})")
    archs = set(trained["arch"])
    verdict = "supported" if all(wins) else ("partly supported" if any(wins) else "not supported")
    if all(wins) and not {"vgg16", "resnet152"} <= archs:
        verdict = "partly supported"
        parts.append(f"only {', '.join(sorted(archs))} had trained weights in this run")
    return Verdict(2, text, verdict, "; ".join(parts) + ".")


def claim3(t3) -> Verdict:
    text = "Deeper levels carry more position information; all levels together carry the most."
    if t3 is None or t3.empty:
        return Verdict(3, text, "not testable here", "Table 3 was not built")
    parts, ok = [], []
    for target, group in t3.groupby("target", sort=False):
        every = group[group["taps"] == "all"]
        # the levels of the backbone whose all-level row is there (rows of other backbones, such as the same
        # level resized another way, are not levels), each once
        same = (
            group[group["backbone"].isin(every["backbone"])] if len(every) and "backbone" in group else group
        )
        single = same[same["taps"] != "all"].drop_duplicates("taps")
        spc = single.set_index("taps")["natural_spc"]
        rising = (
            float(pd.Series(range(len(spc))).corr(pd.Series(spc.values), method="spearman"))
            if len(spc) > 1
            else float("nan")
        )
        best_all = float(every["natural_spc"].max()) if len(every) else float("nan")
        ok.append(rising > 0.5 and best_all >= spc.max() - 0.02)
        parts.append(
            f"{target}: per level {_fmt(spc)}; all levels {best_all:.3f}; "
            f"rank correlation of SPC with depth {rising:.2f}"
        )
    return Verdict(
        3,
        text,
        "supported" if all(ok) else ("partly supported" if any(ok) else "not supported"),
        "; ".join(parts) + ".",
    )


def claim4(t2) -> Verdict:
    text = "Bigger readouts (more layers, larger kernels) recover more from VGG16, not from raw pixels."
    if t2 is None or t2.empty:
        return Verdict(4, text, "not testable here", "Table 2 was not built")
    parts, verdicts = [], []
    for arch, expect_gain in (("vgg16", True), ("pixels", False)):
        rows = _lines(t2, arch=arch)
        if rows.empty:
            continue
        for column, fixed_col, fixed in (("layers", "kernel", 3), ("kernel", "layers", 1)):
            part = rows[(rows[fixed_col] == fixed) & (rows["readout_padding"] == 0)]
            for target, group in part.groupby("target", sort=False):
                group = group.sort_values(column)
                if len(group) < 2:
                    continue
                gain = float(group["natural_spc"].iloc[-1] - group["natural_spc"].iloc[0])
                verdicts.append(gain > GAIN if expect_gain else gain <= GAIN)
                parts.append(
                    f"{arch} {target} {column} {group[column].iloc[0]}->{group[column].iloc[-1]}: SPC "
                    f"{group['natural_spc'].iloc[0]:.3f} -> {group['natural_spc'].iloc[-1]:.3f}"
                )
    if not verdicts:
        return Verdict(4, text, "not testable here", "Table 2 has no layer or kernel series")
    verdict = "supported" if all(verdicts) else ("partly supported" if any(verdicts) else "not supported")
    return Verdict(4, text, verdict, "; ".join(parts) + f" (a gain above {GAIN} counts as more).")


def claim5(t4) -> Verdict:
    text = (
        "Zero padding is a source: padding in the readout adds position information to raw pixels; removing "
        "VGG16's padding cuts what can be recovered by about half."
    )
    if t4 is None or t4.empty:
        return Verdict(5, text, "not testable here", "Table 4 was not built")
    spc_cols = [c for c in t4.columns if c.endswith("_spc") and not c.startswith("natural")]
    mean = t4.set_index("model")[spc_cols].mean(axis=1)
    pixels = _lines(t4, arch="pixels").sort_values("readout_padding")
    parts, verdicts = [], []
    if len(pixels) > 1:
        p = pixels.set_index("readout_padding")[spc_cols].mean(axis=1)
        verdicts.append(bool(p.iloc[-1] - p.iloc[0] > GAIN))
        parts.append("PosENet mean SPC by readout padding: " + _fmt({f"p={k}": v for k, v in p.items()}))
    vgg = _lines(t4, arch="vgg16")
    for weights, group in vgg.groupby("weights", sort=False):
        padding = group["conv_padding"].astype(bool)
        padded, bare = group[padding], group[~padding]
        if padded.empty or bare.empty:
            continue
        a, b = float(mean[padded["model"]].iloc[0]), float(mean[bare["model"]].iloc[0])
        verdicts.append(b <= 0.6 * a)
        parts.append(
            f"VGG16 ({weights}) mean SPC with padding {a:.3f}, without {b:.3f} "
            f"(ratio {b / a if a else float('nan'):.2f})"
        )
    if not verdicts:
        return Verdict(
            5, text, "not testable here", "Table 4 lacks the PosENet padding series or a VGG16 pair"
        )
    verdict = "supported" if all(verdicts) else ("partly supported" if any(verdicts) else "not supported")
    return Verdict(
        5,
        text,
        verdict,
        "; ".join(parts) + " (mean SPC over the table's targets; a cut to 60% or "
        "less counts as about half or more).",
    )


def claim6(t5=None, t6=None) -> Verdict:
    text = (
        "Networks trained for dense tasks (SOD, segmentation) encode more position than classification ones, "
        "and models trained without padding do worse on those tasks."
    )
    parts, verdicts = [], []
    dense = _lines(t6, weights="checkpoint")
    if not dense.empty:
        dense_spc = dense.groupby("model")["natural_spc"].mean()
        classification = _lines(t6, weights=CLASSIFICATION)
        if classification.empty:  # offline: the same architecture untrained stands in
            reference = _lines(t6, weights="random", arch=list(dense["arch"].unique()))
            ref_name = "the same architecture untrained (no classification backbone in Table 6)"
        else:
            reference, ref_name = classification, "ImageNet classification backbones"
        if not reference.empty:
            ref_spc = reference.groupby("model")["natural_spc"].mean()
            verdicts.append(bool((dense_spc > ref_spc.max() + GAIN).all()))
            parts.append(
                f"Table 6 mean natural SPC: dense-task backbones {_fmt(dense_spc)}; {ref_name} "
                f"{_fmt(ref_spc)}"
            )
            if classification.empty:
                verdicts.append(None)  # the classification half is not testable here
    if dense.empty:
        verdicts.append(None)
        parts.append("Table 6 (backbones trained for dense tasks, probed) is not in this run")
    if t5 is None or t5.empty:
        verdicts.append(None)
        parts.append("Table 5 (dense networks with and without padding) is not in this run")
    else:
        for (task, test_set), group in t5.groupby(["task", "test_set"], sort=False):
            by = group.set_index("variant")
            if not {"padded", "unpadded"} <= set(by.index):
                continue
            score = "miou" if by.loc["padded", "kind"] == "segmentation" else "max_f"
            padded, unpadded = float(by.loc["padded", score]), float(by.loc["unpadded", score])
            verdicts.append(padded > unpadded)
            parts.append(
                f"Table 5 {task} on {test_set}: {score} with padding {padded:.3f}, without {unpadded:.3f}"
            )
    if all(v is None for v in verdicts):
        return Verdict(
            6,
            text,
            "not testable here",
            "needs Table 5 (dense networks with and without padding) and "
            "Table 6 (their backbones probed); configure `dense_tasks` and `tables.table6`",
        )
    known = [v for v in verdicts if v is not None]
    verdict = (
        "supported"
        if all(known) and len(known) == len(verdicts)
        else "partly supported"
        if any(known)
        else "not supported"
    )
    return Verdict(
        6, text, verdict, "; ".join(parts) + f' ("more" = mean SPC above the reference by over {GAIN}).'
    )


def assess(tables: dict[str, pd.DataFrame]) -> list[Verdict]:
    return [
        claim1(tables.get("table1")),
        claim2(tables.get("table1")),
        claim3(tables.get("table3")),
        claim4(tables.get("table2")),
        claim5(tables.get("table4")),
        claim6(tables.get("table5"), tables.get("table6")),
    ]


def comparison_markdown(tables: dict[str, pd.DataFrame], table_markdown: dict[str, str]) -> str:
    """Every table beside the paper's, then one paragraph per claim with its verdict and numbers."""
    lines = ["# This run beside the paper", ""]
    for name in sorted(table_markdown):
        lines += [table_markdown[name].replace("# ", "## ", 1), ""]
    lines += ["## The paper's claims, judged from this run", ""]
    for v in assess(tables):
        lines += [f"**Claim {v.number}: {v.verdict}.** {v.claim} {v.evidence}", ""]
    return "\n".join(lines)


def write_comparison(table_csvs: dict, table_mds: dict, out_md) -> str:
    """results/paper_comparison.md from the tables' CSV and markdown files (name -> path)."""
    tables = {name: pd.read_csv(path) for name, path in table_csvs.items()}
    markdown = {name: Path(path).read_text() for name, path in table_mds.items()}
    text = comparison_markdown(tables, markdown)
    atomic_write_text(out_md, text)
    return text
