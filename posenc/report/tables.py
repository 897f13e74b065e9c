"""From per-image metrics to tables: per-seed summaries, mean and 95% interval over seeds, paper side by side.

Every table is built from the same per-seed long frame (one row per backbone, weights, readout, seed,
image set, test input and target); the per-image files written by evaluation are its only source.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from posenc.probe.metrics import mean_ci

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


def write_per_seed(metric_paths, out_csv) -> pd.DataFrame:
    """The tidy long file: one row per run (backbone, weights, readout), seed, image set, test input, target."""
    from posenc.io import atomic_write_text

    frame = seed_summary(read_metrics(metric_paths))
    atomic_write_text(out_csv, frame.to_csv(index=False, float_format="%.6g"))
    return frame


def _metric_columns(summary: pd.DataFrame, prefix: str) -> dict:
    """{prefix_spc, prefix_spc_ci, prefix_mae, prefix_mae_ci} from a one-line summary selection."""
    if len(summary) != 1:
        raise ValueError(f"expected one summary line for {prefix}, found {len(summary)}")
    line = summary.iloc[0]
    return {f"{prefix}_{m}{c}": float(line[f"{m}{c}"]) for m in ("spc", "mae") for c in ("", "_ci")}


def input_sources(config: dict, table: str) -> dict[str, str]:
    """Test input -> the image set holding it, for one table."""
    from posenc.config import synthetic_test_sets

    spec = config["tables"][table]
    synthetic = (synthetic_test_sets(config) or [""])[0]
    return {i: spec["test_set"] if i == "natural" else synthetic for i in spec["inputs"]}


def build_table(config: dict, table: str, summary: pd.DataFrame) -> pd.DataFrame:
    """A configured table from the across-seeds summary, in its layout (by_input or by_target)."""
    from posenc.config import row_readout

    spec = config["tables"][table]
    sources = input_sources(config, table)
    lines = []
    for target in spec["targets"] if spec["layout"] == "by_input" else [None]:
        for row in spec["rows"]:
            readout = row_readout(config, row)
            run = summary[(summary["backbone"] == row["backbone"]) & (summary["readout"] == readout.id)]
            if run.empty:
                raise ValueError(f"{table}: no metrics for row {row['label']!r} ({row['backbone']}, {readout.id})")
            first = run.iloc[0]
            line = {"pattern": target, "model": row["label"], "paper_model": row.get("paper", ""),
                    **{c: first[c] for c in RUN_COLUMNS}, "test_set": spec["test_set"],
                    "n_seeds": int(run["n_seeds"].max())}
            if spec["layout"] == "by_target":
                nat = run[(run["image_set"] == sources["natural"]) & (run["test_input"] == "natural")]
                for t in spec["targets"]:
                    line.update(_metric_columns(nat[nat["target"] == t], t.lower()))
                line.pop("pattern")
            else:
                for test_input, image_set in sources.items():
                    sel = run[(run["image_set"] == image_set) & (run["test_input"] == test_input) & (run["target"] == target)]
                    line.update(_metric_columns(sel, test_input))
            lines.append(line)
    return pd.DataFrame(lines)


# ---- the paper's numbers, in one long form: key (paper row), target, input, spc, mae ---------------------
def _paper_long(frame: pd.DataFrame, key, pattern, prefixes) -> pd.DataFrame:
    rows = []
    for _, line in frame.iterrows():
        for name, (col_prefix, test_input) in prefixes.items():
            rows.append({"key": key(line, name), "target": pattern(line, name), "input": test_input,
                         "spc": line.get(f"{col_prefix}spc"), "mae": line.get(f"{col_prefix}mae")})
    return pd.DataFrame(rows).dropna(subset=["spc"])


def paper_reference(table: str) -> pd.DataFrame:
    """The paper's values for a table as rows (key, target, input, spc, mae); key is a row's `paper`."""
    inputs = {"natural": "pascals_", "black": "black_", "white": "white_", "noise": "noise_"}
    if table in ("table1", "table6"):
        return _paper_long(paper_table(table), lambda l, n: l["model"], lambda l, n: l["pattern"],
                           {i: (p, i) for i, p in inputs.items()})
    if table == "table2":
        parts = []
        for part, column, fmt in (("table2a", "layers", "{} layers={}"), ("table2b", "kernel", "{} kernel={}")):
            parts.append(_paper_long(paper_table(part), lambda l, n, c=column, f=fmt: f.format(n, l[c]),
                                     lambda l, n: l["pattern"], {"PosENet": ("posenet_", "natural"),
                                                                 "VGG": ("vgg_", "natural")}))
        return pd.concat(parts, ignore_index=True)
    if table == "table3":
        return _paper_long(paper_table("table3"), lambda l, n: l["features"], lambda l, n: l["pattern"],
                           {"": ("", "natural")})
    if table == "table4":
        return _paper_long(paper_table("table4"), lambda l, n: l["model"], lambda l, n: n,
                           {t: (f"{t.lower()}_", "natural") for t in ("H", "G", "HS")})
    return pd.DataFrame(columns=["key", "target", "input", "spc", "mae"])


def paper_table(name: str) -> pd.DataFrame:
    return pd.read_csv(Path(str(PAPER_DIR / f"{name}.csv")))


def _cell(value: float, ci: float, paper: float | None) -> str:
    text = "n/a" if pd.isna(value) else f"{value:.3f}"
    if not pd.isna(ci):
        text += f" ± {ci:.3f}"
    if paper is not None and not pd.isna(paper):
        text += f" ({paper:.3f}, Δ {value - paper:+.3f})"
    return text


def markdown_beside_paper(table: pd.DataFrame, reference: pd.DataFrame, layout: str, targets, inputs,
                          title: str, notes=()) -> str:
    """Markdown: each value as `ours ± ci (paper, Δ)` where the row has a paper counterpart."""
    ref = {(r.key, r.target, r.input): r for r in reference.itertuples()}
    if layout == "by_target":
        groups = [(t.lower(), t, "natural") for t in targets]
        header = ["model", "backbone", "seeds"]
    else:
        groups = [(i, None, i) for i in inputs]
        header = ["pattern", "model", "backbone", "seeds"]
    header += [f"{label.upper()} {m.upper()}" for label, _, _ in groups for m in ("spc", "mae")]
    lines = [f"# {title}", "", "Each cell: this run's mean ± 95% interval over seeds (the paper's value, difference).", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = ([] if layout == "by_target" else [row["pattern"]]) + [row["model"], row["backbone"], str(row["n_seeds"])]
        for prefix, target, test_input in groups:
            paper = ref.get((row["paper_model"], target or row.get("pattern"), test_input))
            for m in ("spc", "mae"):
                cells.append(_cell(row[f"{prefix}_{m}"], row[f"{prefix}_{m}_ci"], getattr(paper, m, None)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, csv_path, md_text: str | None = None, md_path=None) -> None:
    from posenc.io import atomic_write_text

    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    if md_path is not None:
        atomic_write_text(md_path, md_text)


TITLES = {
    "table1": "Table 1: position information in backbones, per target and test input",
    "table2": "Table 2: readout layers and kernel size",
    "table3": "Table 3: position information per level (taps f1..f5) and all levels",
    "table4": "Table 4: padding as a source of absolute position information",
    "table6": "Table 6: position information in backbones trained for dense tasks (Table 5's padded networks)",
}


def table_notes(config: dict, table: str) -> list[str]:
    spec = config["tables"][table]
    range_note = ("[0, 1], as the official PNGs; the paper's stripe MAE implies [-1, 1]" if config["stripe_range"] == "unit"
                  else "[-1, 1], the range the paper's stripe MAE implies")
    return [
        f"natural test images: image set {spec['test_set']!r} (the paper: PASCAL-S)",
        f"stripe target range: {config['stripe_range']} ({range_note})",
        f"input preprocessing: {config['input']['preprocessing']}; readouts trained {config['training']['epochs']} "
        f"epochs on image set {config['train_set']!r}, {config['seeds']} seed(s)",
    ]


def make_table(config: dict, table: str, metric_paths, out_csv, out_md) -> pd.DataFrame:
    """Build one configured table as CSV, and as markdown beside the paper's numbers."""
    summary = across_seeds(seed_summary(read_metrics(metric_paths)))
    spec = config["tables"][table]
    frame = build_table(config, table, summary)
    md = markdown_beside_paper(frame, paper_reference(table), spec["layout"], spec["targets"], spec["inputs"],
                               TITLES.get(table, table), table_notes(config, table))
    write_table(frame, out_csv, md, out_md)
    return frame
