"""The paper's printed numbers (vendored CSVs of its Tables 1-6 and Figure 6), in the forms reports use."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

PAPER_DIR = resources.files("posenc") / "data" / "paper"
INPUT_PREFIXES = {"natural": "pascals_", "black": "black_", "white": "white_", "noise": "noise_"}


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables as printed (columns as in posenc/data/paper/<name>.csv)."""
    return pd.read_csv(Path(str(PAPER_DIR / f"{name}.csv")))


def _long(frame: pd.DataFrame, key, target, prefixes) -> pd.DataFrame:
    rows = []
    for _, line in frame.iterrows():
        for name, (col_prefix, test_input) in prefixes.items():
            rows.append(
                {
                    "key": key(line, name),
                    "target": target(line, name),
                    "input": test_input,
                    "spc": line.get(f"{col_prefix}spc"),
                    "mae": line.get(f"{col_prefix}mae"),
                }
            )
    return pd.DataFrame(rows).dropna(subset=["spc"])


def paper_reference(table: str) -> pd.DataFrame:
    """The paper's values for a table as rows (key, target, input, spc, mae); key is a table row's `paper`."""
    if table in ("table1", "table6"):
        return _long(
            paper_table(table),
            lambda line, _: line["model"],
            lambda line, _: line["pattern"],
            {i: (p, i) for i, p in INPUT_PREFIXES.items()},
        )
    if table == "table2":
        parts = []
        for part, column, fmt in (
            ("table2a", "layers", "{} layers={}"),
            ("table2b", "kernel", "{} kernel={}"),
        ):
            parts.append(
                _long(
                    paper_table(part),
                    lambda line, name, c=column, f=fmt: f.format(name, line[c]),
                    lambda line, _: line["pattern"],
                    {"PosENet": ("posenet_", "natural"), "VGG": ("vgg_", "natural")},
                )
            )
        return pd.concat(parts, ignore_index=True)
    if table == "table3":
        return _long(
            paper_table("table3"),
            lambda line, _: line["features"],
            lambda line, _: line["pattern"],
            {"": ("", "natural")},
        )
    if table == "table4":
        return _long(
            paper_table("table4"),
            lambda line, _: line["model"],
            lambda _, name: name,
            {t: (f"{t.lower()}_", "natural") for t in ("H", "G", "HS")},
        )
    return pd.DataFrame(columns=["key", "target", "input", "spc", "mae"])
