"""The position-bits table and figures from per-seed rows with known values."""

import pandas as pd
import pytest

from posenc.report.position_bits import best_taps, make_position_bits, summarise

RUN = {
    "arch": "vgg16",
    "weights": "random",
    "conv_padding": True,
    "pos_embed": "",
    "preprocessing": "official",
    "readout": "L1-k3-p0-all",
    "classifier": "rows_columns",
    "input_norm": "scale",
    "budget": "180 steps",
    "image_set": "natural",
    "n_images": 4,
    "max_bits": 6.0,
    "stride": 1,
    "n_taps": 2,
}


def _rows():
    rows = []
    # backbone a: tap deep carries more (2 bits at K=8) than shallow (1 bit); backbone b the reverse
    for backbone, values in (("a", {"shallow": 1.0, "deep": 2.0}), ("b", {"shallow": 3.0, "deep": 0.5})):
        for depth, (tap, bits) in enumerate(values.items(), start=1):
            for seed, noise in ((0, -0.1), (1, 0.1)):
                for test_input, factor in (("natural", 1.0), ("noise", 0.5)):
                    rows.append(
                        {
                            **RUN,
                            "backbone": backbone,
                            "tap": tap,
                            "depth": depth,
                            "K": 8,
                            "seed": seed,
                            "test_input": test_input,
                            "bits": factor * bits + noise,
                            "bits_rows": 0.5,
                            "bits_columns": 0.5,
                            "train_bits_finest": 4.0,
                        }  # fmt: skip
                    )
    return pd.DataFrame(rows)


def test_seeds_are_averaged_and_the_best_tap_is_chosen_on_natural_images():
    summary = summarise(_rows())
    assert len(summary) == 2 * 2 * 2  # backbones x taps x inputs
    line = summary[
        (summary["backbone"] == "a") & (summary["tap"] == "deep") & (summary["test_input"] == "natural")
    ]
    assert line["bits"].item() == pytest.approx(2.0) and line["bits_ci"].item() > 0
    assert line["n_seeds"].item() == 2
    best = best_taps(summary, 8).set_index("backbone")
    assert best.loc["a", "tap"] == "deep" and best.loc["b", "tap"] == "shallow"
    assert best.loc["b", "bits_noise"] == pytest.approx(1.5)  # the same tap on the noise image


def test_table_and_figures_are_written(tmp_path):
    paths = []
    for backbone, frame in _rows().groupby("backbone"):
        paths.append(tmp_path / f"{backbone}.csv")
        frame.to_csv(paths[-1], index=False)
    plan = {"backbones": ["b", "a"], "labels": {"a": "A net", "b": "B net"}, "grid": [8], "notes": ["n1"]}
    out = [tmp_path / name for name in ("bits.csv", "bits.md", "depth.png", "best.png")]
    summary = make_position_bits(plan, paths, *out)
    assert list(summary["backbone"].unique()) == ["b", "a"]  # the config's order
    md = out[1].read_text()
    assert "| B net | shallow | 3.00 ± " in md and "## noise test images" in md and "- n1" in md
    for png in out[2:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(out[0])["bits"].notna().all()
