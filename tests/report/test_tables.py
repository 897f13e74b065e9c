import numpy as np
import pandas as pd
import pytest

from posenc.probe.summary import across_seeds, seed_summary
from posenc.report.paper import paper_reference, paper_table
from posenc.report.tables import build_table, markdown_beside_paper
from tests.helpers import RUN


def per_image():
    rows = []
    for seed, base in ((0, 0.5), (1, 0.7)):
        for i, offset in enumerate((-0.1, 0.1)):
            rows.append(
                {
                    **RUN,
                    "seed": seed,
                    "image_set": "natural",
                    "image": f"i{i}",
                    "test_input": "natural",
                    "target": "H",
                    "spc": base + offset,
                    "mae": 0.2,
                    "heldout_ratio": 0.6,
                }
            )
        rows.append(
            {
                **RUN,
                "seed": seed,
                "image_set": "synthetic",
                "image": "black",
                "test_input": "black",
                "target": "H",
                "spc": 0.0,
                "mae": 0.25,
                "heldout_ratio": 1.0,
            }
        )
    return pd.DataFrame(rows)


def test_seed_summary_averages_images_per_seed_and_input():
    s = seed_summary(per_image())
    nat = s[s["test_input"] == "natural"].set_index("seed")
    assert nat.loc[0, "spc"] == pytest.approx(0.5) and nat.loc[1, "spc"] == pytest.approx(0.7)
    assert list(nat["n_images"]) == [2, 2]
    assert len(s[s["test_input"] == "black"]) == 2


def test_across_seeds_mean_and_interval():
    a = across_seeds(seed_summary(per_image()))
    nat = a[a["test_input"] == "natural"].iloc[0]
    assert nat["spc"] == pytest.approx(0.6) and nat["n_seeds"] == 2
    # t(0.975, 1) * sd / sqrt(2) with sd = 0.1414: 12.706 * 0.1
    assert nat["spc_ci"] == pytest.approx(12.7062 * 0.1, rel=1e-4)


def plan_with(layout, inputs):
    """A table plan as posenc.plan.table_plan builds it."""
    sources = {i: "natural" if i == "natural" else "synthetic" for i in inputs}
    return {
        "name": "t",
        "title": "T",
        "layout": layout,
        "targets": ["H"],
        "test_set": "natural",
        "sources": sources,
        "rows": [{"label": "VGG16 (hed)", "backbone": "b", "readout": "L1-k3-p0-all", "paper": "VGG"}],
        "notes": [],
    }


def test_by_input_table_has_a_line_per_target_and_row_with_columns_per_input():
    summary = across_seeds(seed_summary(per_image()))
    table = build_table(plan_with("by_input", ["natural", "black"]), summary)
    assert len(table) == 1 and table.loc[0, "target"] == "H" and table.loc[0, "model"] == "VGG16 (hed)"
    assert table.loc[0, "natural_spc"] == pytest.approx(0.6) and table.loc[0, "black_mae"] == pytest.approx(
        0.25
    )
    wide = build_table(plan_with("by_target", ["natural"]), summary)
    assert "target" not in wide.columns and wide.loc[0, "h_spc"] == pytest.approx(0.6)
    assert {"h_spc_ci", "h_mae", "h_mae_ci", "n_seeds"} <= set(wide.columns)


def test_markdown_puts_the_paper_beside_ours():
    table = pd.DataFrame(
        [
            {
                "model": "VGG16 (hed)",
                "paper_model": "VGG16",
                "backbone": "b",
                "n_seeds": 3,
                **{f"{t}_{m}{c}": 0.5 for t in ("h", "g", "hs") for m in ("spc", "mae") for c in ("", "_ci")},
            }
        ]
    )
    md = markdown_beside_paper(
        table, paper_reference("table4"), "by_target", ["H", "G", "HS"], ["natural"], "T4"
    )
    line = [row for row in md.splitlines() if row.startswith("| VGG16 (hed)")][0]
    assert "0.500 ± 0.500 (0.742, Δ -0.242)" in line
    assert np.isclose(paper_table("table4").set_index("model").loc["VGG16 w/o padding", "h_spc"], 0.381)


def test_paper_reference_covers_every_table():
    t1 = paper_reference("table1").set_index(["key", "target", "input"])
    assert t1.loc[("ResNet", "H", "natural"), "spc"] == pytest.approx(0.933)
    assert t1.loc[("VGG", "G", "white"), "mae"] == pytest.approx(0.116)
    t2 = paper_reference("table2").set_index(["key", "target", "input"])
    assert t2.loc[("VGG layers=3", "H", "natural"), "spc"] == pytest.approx(0.830)
    assert t2.loc[("PosENet kernel=7x7", "G", "natural"), "mae"] == pytest.approx(0.187)
    t3 = paper_reference("table3").set_index(["key", "target", "input"])
    assert t3.loc[("f5", "G", "natural"), "spc"] == pytest.approx(0.693)
    t4 = paper_reference("table4").set_index(["key", "target", "input"])
    assert t4.loc[("PosENet padding=2", "HS", "natural"), "mae"] == pytest.approx(0.595)


def test_a_head_that_did_not_learn_is_flagged_not_hidden():
    frame = per_image()
    third = frame[frame["seed"] == 0].assign(seed=2, spc=0.0, final_loss_ratio=0.97, learned=False)
    summary = across_seeds(seed_summary(pd.concat([frame, third], ignore_index=True)))
    nat = summary[summary["test_input"] == "natural"].iloc[0]
    assert nat["spc"] == pytest.approx(0.4) and nat["n_seeds"] == 3 and nat["n_failed"] == 1
    table = build_table(plan_with("by_target", ["natural"]), summary)
    assert table.loc[0, "h_failed"] == 1 and table.loc[0, "n_seeds"] == 3
    md = markdown_beside_paper(table, paper_reference("table4"), "by_target", ["H"], ["natural"], "T")
    assert "0.400 ± 0.896 †1" in md and "did not learn" in md


def test_a_head_no_better_than_a_constant_on_the_test_images_is_flagged():
    """‡k counts the seeds whose mean held-out MSE ratio over the cell's images reaches 1: the black image
    (ratio 1 for both seeds) is flagged, the natural images (0.6) are not, until one seed's images reach 1."""
    frame = per_image()
    summary = across_seeds(seed_summary(frame))
    by_input = summary.set_index("test_input")["n_heldout"]
    assert by_input["black"] == 2 and by_input["natural"] == 0
    worse = frame.copy()
    worse.loc[(worse["seed"] == 1) & (worse["test_input"] == "natural"), "heldout_ratio"] = [0.9, 1.3]
    table = build_table(plan_with("by_target", ["natural"]), across_seeds(seed_summary(worse)))
    assert table.loc[0, "h_heldout"] == 1 and table.loc[0, "h_failed"] == 0
    md = markdown_beside_paper(table, paper_reference("table4"), "by_target", ["H"], ["natural"], "T")
    assert "0.600 ± 1.271 ‡1" in md and "no better than" in md


def test_a_metrics_file_of_an_older_posenc_is_refused_with_the_fix(tmp_path):
    from posenc.errors import ActionableError
    from posenc.probe.summary import read_metrics

    path = tmp_path / "seed0.csv"
    per_image().drop(columns="heldout_ratio").to_csv(path, index=False)
    with pytest.raises(ActionableError, match="no column heldout_ratio.*snakemake"):
        read_metrics([path])
    per_image().to_csv(path, index=False)
    assert len(read_metrics([path])) == len(per_image())
