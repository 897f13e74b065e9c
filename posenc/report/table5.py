"""Table 5: dense networks trained with and without zero padding, their scores beside the paper's."""

from __future__ import annotations

import pandas as pd

from posenc.io import atomic_write_text
from posenc.probe.summary import read_metrics
from posenc.report.paper import paper_table
from posenc.report.tables import format_cell

PAPER_ROWS = {"padded": "VGG", "unpadded": "VGG w/o padding"}
LABELS = {"padded": "with padding", "unpadded": "w/o padding"}
# what each task reports, as (column in our metrics, label, paper column suffix, scale of the paper's value)
MEASURES = {
    "saliency": (("max_f", "max F", "_fm", 1.0), ("mae", "MAE", "_mae", 1.0)),
    "segmentation": (("miou", "mIoU", "_miou_pct", 0.01),),
}


def build_table5(dense_tasks: dict, metrics: pd.DataFrame) -> pd.DataFrame:
    """One line per task, variant and test set with its scores and the paper's (where mapped)."""
    paper = {
        "saliency": paper_table("table5a").set_index("model"),
        "segmentation": paper_table("table5b").set_index("model"),
    }
    lines = []
    for task, entry in dense_tasks.items():
        for variant in PAPER_ROWS:
            for test_set, paper_column in entry["test_sets"].items():
                sel = metrics[
                    (metrics["task"] == task)
                    & (metrics["variant"] == variant)
                    & (metrics["test_set"] == test_set)
                ]
                if len(sel) != 1:
                    raise ValueError(
                        f"table5: expected one metrics line for {task} {variant} on {test_set}, found {len(sel)}"
                    )
                row = sel.iloc[0]
                line = {
                    "task": task,
                    "kind": entry["task"],
                    "model": f"{entry['arch']} {LABELS[variant]}",
                    "variant": variant,
                    "arch": entry["arch"],
                    "test_set": test_set,
                    "n_images": int(row["n_images"]),
                    "paper_model": PAPER_ROWS[variant],
                    "paper_column": paper_column,
                }
                for column, _, suffix, scale in MEASURES[entry["task"]]:
                    line[column] = float(row[column])
                    ref = paper[entry["task"]]
                    key = f"{paper_column}{suffix}"
                    line[f"paper_{column}"] = (
                        float(ref.loc[PAPER_ROWS[variant], key]) * scale
                        if paper_column and key in ref.columns
                        else float("nan")
                    )
                lines.append(line)
    return pd.DataFrame(lines)


def table5_markdown(table: pd.DataFrame, dense_tasks: dict) -> str:
    lines = [
        "# Table 5: dense networks trained from scratch with and without zero padding",
        "",
        "Each cell: this run's score (the paper's value for the mapped data set, difference).",
        "",
    ]
    for task, entry in dense_tasks.items():
        measures = MEASURES[entry["task"]]
        part = table[table["task"] == task]
        header = ["model", "test set (paper's)", "images"] + [label for _, label, _, _ in measures]
        lines += [
            f"## {task} ({entry['task']}; {entry['arch']}, {entry['epochs']} epochs on {entry['train_set']!r})",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for _, row in part.iterrows():
            cells = [row["model"], f"{row['test_set']} ({row['paper_column'] or '-'})", str(row["n_images"])]
            for column, _, _, _ in measures:
                cells.append(
                    format_cell(row[column], float("nan"), row[f"paper_{column}"])
                )  # one run: no interval
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "- saliency: max F-measure (beta^2 = 0.3) over 256 thresholds of the mean curve over images, and MAE "
        "on [0, 1]; segmentation: mean IoU over classes including background (the paper gives %).",
        "- decoder (not given by the paper): FCN-style, a 1x1 convolution per VGG tap, upsampled and summed.",
    ]
    return "\n".join(lines) + "\n"


def make_table5(dense_tasks: dict, metric_paths, out_csv, out_md) -> pd.DataFrame:
    table = build_table5(dense_tasks, read_metrics(metric_paths, required=("task", "variant")))
    atomic_write_text(out_csv, table.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out_md, table5_markdown(table, dense_tasks))
    return table
