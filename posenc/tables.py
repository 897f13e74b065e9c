"""From per-image metrics to tables: per-seed summaries, mean and 95% interval over seeds, paper side by side.

Every table is built from the same per-seed long frame (one row per backbone, weights, readout, seed,
image set, test input and target); the per-image files written by evaluation are its only source.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from .metrics import mean_ci

RUN_COLUMNS = ["backbone", "arch", "weights", "conv_padding", "preprocessing", "readout", "layers", "kernel",
               "readout_padding", "taps", "stripe_range"]
SEED_KEYS = RUN_COLUMNS + ["seed", "image_set", "test_input", "target"]
PAPER_DIR = resources.files("posenc") / "data" / "paper"


def read_metrics(paths) -> pd.DataFrame:
    frames = [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in paths]
    if not frames:
        raise ValueError("no metric files given")
    return pd.concat(frames, ignore_index=True)


def seed_summary(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean SPC and MAE over the images of each (run, seed, image set, test input, target)."""
    grouped = per_image.groupby(SEED_KEYS, sort=False, dropna=False)
    out = grouped.agg(spc=("spc", "mean"), mae=("mae", "mean"), n_images=("image", "count")).reset_index()
    return out


def across_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval half-width over seeds of each (run, image set, test input, target)."""
    keys = [k for k in SEED_KEYS if k != "seed"]
    rows = []
    for key, group in seeds.groupby(keys, sort=False, dropna=False):
        spc, spc_ci = mean_ci(group["spc"])
        mae, mae_ci = mean_ci(group["mae"])
        rows.append({**dict(zip(keys, key)), "spc": spc, "spc_ci": spc_ci, "mae": mae, "mae_ci": mae_ci,
                     "n_seeds": int(group["seed"].nunique())})
    return pd.DataFrame(rows)


def wide_row(summary: pd.DataFrame, targets, metrics=("spc", "mae")) -> dict:
    """One table row: {h_spc, h_spc_ci, h_mae, ...} for the given targets from a filtered summary."""
    row = {}
    for target in targets:
        hit = summary[summary["target"] == target]
        if len(hit) != 1:
            raise ValueError(f"expected one summary row for target {target}, found {len(hit)}")
        for m in metrics:
            row[f"{target.lower()}_{m}"] = float(hit[m].iloc[0])
            row[f"{target.lower()}_{m}_ci"] = float(hit[f"{m}_ci"].iloc[0])
    return row


def build_row_table(config: dict, table: str, summary: pd.DataFrame, targets, test_input: str = "natural") -> pd.DataFrame:
    """A table with one row per configured row (backbone + readout) on one test set and test input."""
    from .config import row_readout

    tspec = config["tables"][table]
    rows = []
    for row in tspec["rows"]:
        readout = row_readout(config, row)
        sel = summary[(summary["backbone"] == row["backbone"]) & (summary["readout"] == readout.id)
                      & (summary["image_set"] == tspec["test_set"]) & (summary["test_input"] == test_input)]
        if sel.empty:
            raise ValueError(f"{table}: no metrics for row {row['label']!r} ({row['backbone']}, {readout.id}) "
                             f"on {tspec['test_set']}/{test_input}")
        first = sel.iloc[0]
        rows.append({
            "model": row["label"], "paper_model": row.get("paper", ""),
            **{c: first[c] for c in RUN_COLUMNS},
            "test_set": tspec["test_set"], "test_input": test_input, "n_seeds": int(sel["n_seeds"].max()),
            **wide_row(sel, targets),
        })
    return pd.DataFrame(rows)


def paper_table(name: str) -> pd.DataFrame:
    return pd.read_csv(Path(str(PAPER_DIR / f"{name}.csv")))


def _cell(value: float, ci: float, paper: float | None) -> str:
    text = "n/a" if pd.isna(value) else f"{value:.3f}"
    if not pd.isna(ci):
        text += f" ± {ci:.3f}"
    if paper is not None and not pd.isna(paper):
        text += f" ({paper:.3f}, Δ {value - paper:+.3f})"
    return text


def markdown_beside_paper(table: pd.DataFrame, paper: pd.DataFrame, targets, title: str, notes=()) -> str:
    """Markdown: each value as `ours ± ci (paper, Δ)` where the row has a paper counterpart."""
    metric_cols = [f"{t.lower()}_{m}" for t in targets for m in ("spc", "mae")]
    header = ["model", "backbone", "seeds"] + [c.replace("_", " ").upper() for c in metric_cols]
    lines = [f"# {title}", "", "Each cell: this run's mean ± 95% interval over seeds (the paper's value, difference).", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    paper_rows = paper.set_index("model") if "model" in paper.columns else pd.DataFrame()
    for _, row in table.iterrows():
        ref = paper_rows.loc[row["paper_model"]] if row["paper_model"] in paper_rows.index else None
        cells = [row["model"], row["backbone"], str(row["n_seeds"])]
        cells += [_cell(row[c], row[f"{c}_ci"], None if ref is None else ref.get(c)) for c in metric_cols]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, csv_path, md_text: str | None = None, md_path=None) -> None:
    from .io import atomic_write_text

    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    if md_path is not None:
        atomic_write_text(md_path, md_text)


TABLE4_TARGETS = ("H", "G", "HS")


def make_table4(config: dict, metric_paths, out_csv, out_md) -> pd.DataFrame:
    """Table 4 (padding and position information) as CSV, and as markdown beside the paper's numbers."""
    summary = across_seeds(seed_summary(read_metrics(metric_paths)))
    table = build_row_table(config, "table4", summary, TABLE4_TARGETS)
    notes = [
        f"test set: {config['tables']['table4']['test_set']} (natural images); paper: PASCAL-S",
        f"stripe target range: {config['stripe_range']} "
        + ("([0, 1], as the official PNGs; the paper's HS MAE implies [-1, 1])" if config["stripe_range"] == "unit"
           else "([-1, 1], the range the paper's HS MAE implies)"),
        f"input preprocessing: {config['input']['preprocessing']}; readout trained {config['training']['epochs']} "
        f"epochs on image set {config['train_set']!r}",
    ]
    md = markdown_beside_paper(table, paper_table("table4"), TABLE4_TARGETS, "Table 4: padding as a source of "
                               "absolute position information", notes)
    write_table(table, out_csv, md, out_md)
    return table
