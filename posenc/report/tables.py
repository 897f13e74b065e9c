"""From per-image metrics to tables: per-seed summaries, mean and 95% interval over seeds, paper side by side.

Every table is built from the same per-seed long frame (one row per backbone, weights, readout, seed,
image set, test input and target); the per-image files written by evaluation are its only source.
"""

from __future__ import annotations

import sys

import pandas as pd

from posenc.images.sets import leak_warning
from posenc.io import atomic_write_text
from posenc.probe.summary import RUN_COLUMNS, across_seeds, read_metrics, seed_summary
from posenc.report.paper import paper_reference


def write_per_seed(metric_paths, out_csv) -> pd.DataFrame:
    """The tidy long file: one row per run (backbone, weights, readout), seed, image set, test input, target."""
    frame = seed_summary(read_metrics(metric_paths))
    atomic_write_text(out_csv, frame.to_csv(index=False, float_format="%.6g"))
    return frame


def _metric_columns(summary: pd.DataFrame, prefix: str) -> dict:
    """{prefix_spc, prefix_spc_ci, prefix_mae, prefix_mae_ci} from a one-line summary selection."""
    if len(summary) != 1:
        raise ValueError(f"expected one summary line for {prefix}, found {len(summary)}")
    line = summary.iloc[0]
    columns = {f"{prefix}_{m}{c}": float(line[f"{m}{c}"]) for m in ("spc", "mae") for c in ("", "_ci")}
    return {**columns, f"{prefix}_failed": int(line["n_failed"]), f"{prefix}_heldout": int(line["n_heldout"])}


def build_table(plan: dict, summary: pd.DataFrame) -> pd.DataFrame:
    """A table (posenc.plan.table_plan) from the across-seeds summary, in its layout (by_input or by_target)."""
    sources = plan["sources"]
    lines = []
    for target in plan["targets"] if plan["layout"] == "by_input" else [None]:
        for row in plan["rows"]:
            run = summary[(summary["backbone"] == row["backbone"]) & (summary["readout"] == row["readout"])]
            if run.empty:
                raise ValueError(
                    f"{plan['name']}: no metrics for row {row['label']!r} ({row['backbone']}, {row['readout']})"
                )
            first = run.iloc[0]
            line = {
                "target": target,
                "model": row["label"],
                "paper_model": row["paper"],
                **{c: first[c] for c in RUN_COLUMNS},
                "test_set": plan["test_set"],
                "n_seeds": int(run["n_seeds"].max()),
            }
            if plan["layout"] == "by_target":
                nat = run[(run["image_set"] == sources["natural"]) & (run["test_input"] == "natural")]
                for t in plan["targets"]:
                    line.update(_metric_columns(nat[nat["target"] == t], t.lower()))
                line.pop("target")
            else:
                for test_input, image_set in sources.items():
                    sel = run[
                        (run["image_set"] == image_set)
                        & (run["test_input"] == test_input)
                        & (run["target"] == target)
                    ]
                    line.update(_metric_columns(sel, test_input))
            lines.append(line)
    return pd.DataFrame(lines)


def format_cell(value: float, ci: float, paper: float | None, failed: int = 0, heldout: int = 0) -> str:
    """`ours ± ci †failed ‡heldout (paper, Δ difference)`, leaving out what is missing."""
    text = "n/a" if pd.isna(value) else f"{value:.3f}"
    if not pd.isna(ci):
        text += f" ± {ci:.3f}"
    if failed:
        text += f" †{failed}"
    if heldout:
        text += f" ‡{heldout}"
    if paper is not None and not pd.isna(paper):
        text += f" ({paper:.3f}, Δ {value - paper:+.3f})"
    return text


def markdown_beside_paper(
    table: pd.DataFrame, reference: pd.DataFrame, layout: str, targets, inputs, title: str, notes=()
) -> str:
    """Markdown: each value as `ours ± ci (paper, Δ)` where the row has a paper counterpart."""
    ref = {(r.key, r.target, r.input): r for r in reference.itertuples()}
    if layout == "by_target":
        columns = [(t.lower(), t, "natural") for t in targets]
        header = ["model", "backbone", "seeds"]
    else:
        columns = [(i, None, i) for i in inputs]
        header = ["target", "model", "backbone", "seeds"]
    header += [f"{label.upper()} {m.upper()}" for label, _, _ in columns for m in ("spc", "mae")]
    lines = [
        f"# {title}",
        "",
        "Each cell: this run's mean ± 95% interval over seeds (the paper's value, difference).",
        "",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [] if layout == "by_target" else [row["target"]]
        cells += [row["model"], row["backbone"], str(row["n_seeds"])]
        for prefix, target, test_input in columns:
            paper = ref.get((row["paper_model"], target or row.get("target"), test_input))
            failed = int(row.get(f"{prefix}_failed", 0) or 0)
            heldout = int(row.get(f"{prefix}_heldout", 0) or 0)
            for m in ("spc", "mae"):
                cells.append(
                    format_cell(
                        row[f"{prefix}_{m}"],
                        row[f"{prefix}_{m}_ci"],
                        getattr(paper, m, None),
                        failed,
                        heldout,
                    )
                )
        lines.append("| " + " | ".join(cells) + " |")
    failed_note = (
        "†k: k of the seeds of this cell's head did not learn (final training loss >= 0.9 x a constant "
        "prediction's); they are in the mean and interval"
    )
    heldout_note = (
        "‡k: on these test images, k of the seeds of this cell's head predict the position map no better than "
        "a constant would (mean squared error >= the constant prediction's): what they learned on the "
        "training images does not carry over, and the SPC then measures ranking alone; they are in the mean"
    )
    lines += [""] + [f"- {n}" for n in [*notes, failed_note, heldout_note]]
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, csv_path, md_text: str | None = None, md_path=None) -> None:
    atomic_write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    if md_path is not None:
        atomic_write_text(md_path, md_text)


def make_table(plan: dict, metric_paths, out_csv, out_md, manifests=()) -> pd.DataFrame:
    """Build one table (posenc.plan.table_plan) as CSV, and as markdown beside the paper's numbers. With
    `manifests` (the training set's and the test set's), photos found in both are named in a warning on
    stderr and in the markdown's notes."""
    leak = leak_warning(*manifests) if manifests else ""
    if leak:
        print(f"posenc: WARNING: {plan['name']}: {leak}", file=sys.stderr)
        plan = {**plan, "notes": [*plan["notes"], f"WARNING: {leak}"]}
    summary = across_seeds(seed_summary(read_metrics(metric_paths)))
    frame = build_table(plan, summary)
    md = markdown_beside_paper(
        frame,
        paper_reference(plan["name"]),
        plan["layout"],
        plan["targets"],
        [i for i in plan["sources"]],
        plan["title"],
        plan["notes"],
    )
    write_table(frame, out_csv, md, out_md)
    return frame
