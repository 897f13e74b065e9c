import pandas as pd

from posenc.report.claims import assess, comparison_markdown

RUN = {"conv_padding": True, "readout_padding": 0, "layers": 1, "kernel": 3, "taps": "all"}


def table1(vgg_h=0.8, pixels_h=0.02):
    rows = []
    for target in ("H", "G"):
        rows.append(
            {
                **RUN,
                "target": target,
                "model": "PosENet",
                "arch": "pixels",
                "weights": "none",
                "natural_spc": pixels_h,
            }
        )
        rows.append(
            {
                **RUN,
                "target": target,
                "model": "VGG16 (hed)",
                "arch": "vgg16",
                "weights": "hed",
                "natural_spc": vgg_h,
            }
        )
    return pd.DataFrame(rows)


def table3(values=(0.1, 0.3, 0.5, 0.6, 0.7), every=0.8):
    taps = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    rows = [
        {**RUN, "target": "H", "model": t, "arch": "vgg16", "weights": "hed", "taps": t, "natural_spc": v}
        for t, v in zip(taps, values)
    ]
    return pd.DataFrame(
        rows
        + [{**RUN, "target": "H", "model": "all", "arch": "vgg16", "weights": "hed", "natural_spc": every}]
    )


def table4(nopad=0.2):
    base = {"backbone": "b", "layers": 1, "kernel": 3, "taps": "all"}
    return pd.DataFrame(
        [
            {
                **base,
                "model": "P0",
                "arch": "pixels",
                "weights": "none",
                "conv_padding": True,
                "readout_padding": 0,
                "h_spc": 0.0,
                "g_spc": 0.0,
            },
            {
                **base,
                "model": "P2",
                "arch": "pixels",
                "weights": "none",
                "conv_padding": True,
                "readout_padding": 2,
                "h_spc": 0.4,
                "g_spc": 0.4,
            },
            {
                **base,
                "model": "V",
                "arch": "vgg16",
                "weights": "hed",
                "conv_padding": True,
                "readout_padding": 0,
                "h_spc": 0.8,
                "g_spc": 0.8,
            },
            {
                **base,
                "model": "Vn",
                "arch": "vgg16",
                "weights": "hed",
                "conv_padding": False,
                "readout_padding": 0,
                "h_spc": nopad,
                "g_spc": nopad,
            },
        ]
    )


def verdicts(**tables):
    return {v.number: v.verdict for v in assess(tables)}


def test_claims_follow_the_numbers():
    v = verdicts(table1=table1(), table3=table3(), table4=table4())
    assert v[1] == "supported" and v[3] == "supported" and v[5] == "supported"
    assert v[2] == "partly supported"  # trained VGG16 only, no trained ResNet-152 in this run
    assert v[4] == "not testable here" and v[6] == "not testable here"
    v = verdicts(
        table1=table1(vgg_h=0.05, pixels_h=0.3),
        table3=table3(values=(0.7, 0.6, 0.5, 0.4, 0.3), every=0.5),
        table4=table4(nopad=0.79),
    )
    assert (
        v[1] == "not supported"
        and v[2] == "not supported"
        and v[3] == "not supported"
        and v[5] == "partly supported"
    )


def test_comparison_has_every_table_and_every_claim():
    md = comparison_markdown({"table1": table1()}, {"table1": "# Table 1\n| a |\n", "table4": "# Table 4\n"})
    assert "## Table 1" in md and "## Table 4" in md
    for n in range(1, 7):
        assert f"**Claim {n}:" in md
    assert "PosENet natural-image SPC per target: H 0.020, G 0.020" in md


def table5(sod=(0.7, 0.4), seg=(0.5, 0.3)):
    rows = []
    for variant, f, iou in (("padded", sod[0], seg[0]), ("unpadded", sod[1], seg[1])):
        rows.append(
            {"task": "sod", "kind": "saliency", "variant": variant, "test_set": "a", "max_f": f, "mae": 0.2}
        )
        rows.append({"task": "seg", "kind": "segmentation", "variant": variant, "test_set": "b", "miou": iou})
    return pd.DataFrame(rows)


def table6(dense=0.9, reference=0.5, reference_weights="imagenet"):
    rows = []
    for model, arch, weights, spc in (
        ("VGG", "vgg16", reference_weights, reference),
        ("SOD", "vgg16", "checkpoint", dense),
        ("SS", "vgg16", "checkpoint", dense),
    ):
        for target in ("H", "G"):
            rows.append(
                {
                    **RUN,
                    "target": target,
                    "model": model,
                    "arch": arch,
                    "weights": weights,
                    "natural_spc": spc,
                }
            )
    return pd.DataFrame(rows)


def test_claim6_from_tables_5_and_6():
    assert verdicts(table5=table5(), table6=table6())[6] == "supported"
    assert verdicts(table5=table5(sod=(0.4, 0.7)), table6=table6())[6] == "partly supported"
    assert (
        verdicts(table5=table5(sod=(0.4, 0.7), seg=(0.1, 0.2)), table6=table6(dense=0.5))[6]
        == "not supported"
    )
    # offline there is no classification backbone: the untrained architecture stands in, half the claim is open
    assert verdicts(table5=table5(), table6=table6(reference_weights="random"))[6] == "partly supported"
    assert verdicts(table5=table5())[6] == "partly supported"  # Table 6 missing
    md = comparison_markdown({"table5": table5(), "table6": table6()}, {})
    assert "Table 5 sod on a: max_f with padding 0.700, without 0.400" in md
    assert "dense-task backbones SOD 0.900, SS 0.900; ImageNet classification backbones VGG 0.500" in md
