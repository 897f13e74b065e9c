"""posenc.plan: what a config implies."""

import pytest

from posenc import paths, plan
from posenc.config import load_config
from posenc.readout_spec import ReadoutSpec


@pytest.fixture(scope="module")
def config():
    from tests.helpers import ROOT

    return load_config(ROOT / "config" / "config.yaml")


def test_table_plan_resolves_rows_sources_and_notes(config):
    t4 = plan.table_plan(config, "table4")
    assert t4["layout"] == "by_target" and t4["targets"] == ["H", "G", "HS"]
    assert [r["readout"] for r in t4["rows"][:3]] == ["L1-k3-p0-all", "L1-k3-p1-all", "L1-k3-p2-all"]
    assert t4["sources"] == {"natural": "natural"}
    t1 = plan.table_plan(config, "table1")
    assert t1["sources"] == {
        "natural": "natural",
        "black": "synthetic",
        "white": "synthetic",
        "noise": "synthetic",
    }
    assert any("stripe target range: unit" in n for n in t1["notes"])


def test_runs_targets_and_metric_files(config):
    assert ("pixels", "L1-k3-p1-all") in plan.table_runs(config, "table4")
    # Table 1 asks VGG16 (oxford) for all five targets, Tables 2-4 for fewer: the run trains the union
    assert plan.run_targets(config, "vgg16_oxford", "L1-k3-p0-all") == ["H", "V", "G", "HS", "VS"]
    assert plan.run_targets(config, "vgg16_oxford", "L1-k3-p0-relu1_2") == ["H", "G"]
    files = plan.table_metrics(config, "table4")
    assert len(files) == 6 * config["seeds"] and paths.metrics("pixels", "L1-k3-p0-all", 0) in files


def test_figure_inputs_follow_their_table_rows(config):
    fig6 = plan.figure_inputs(config, "fig6_padding")
    labels = plan.figure_plan(config, "fig6_padding")["labels"]
    assert len(fig6["predictions"]) == len(labels) == 6 and fig6["manifest"] == [paths.manifest("natural")]
    assert plan.figure_inputs(config, "summary_spc") == {"table": [paths.table("table1")]}
    dense = plan.dense_figure_inputs(config)
    assert dense["models"][:2] == [paths.dense_model("sod", "padded"), paths.dense_model("sod", "unpadded")]


def test_readout_ids_round_trip():
    spec = ReadoutSpec(3, 3, 0, ("relu1_2", "relu5_3"), 8)
    assert spec.id == "L3-k3-p0-h8-relu1_2+relu5_3" and ReadoutSpec.from_id(spec.id) == spec
    assert ReadoutSpec(1, 3, 0, None, 8).hidden is None  # a one-layer readout has no hidden layer
    with pytest.raises(ValueError, match="not a readout id"):
        ReadoutSpec.from_id("L1-k3")


def test_position_bits_plan_of_the_embedded_default(config):
    # the top-level readout with position_bits.readout's kernel 1, every tap alone
    assert plan.bits_readout(config) == ReadoutSpec(1, 1, 0)
    files = plan.bits_metric_files(config)
    assert files[0] == paths.bits_metrics("pixels", "L1-k1-p0-all") and len(files) == 7
    bits = plan.bits_plan(config)
    assert bits["labels"]["vgg16_oxford"] == "VGG16 (oxford)" and bits["grid"] == [2, 4, 8]
    assert bits["labels"]["vit_small_random_nope"] == "ViT-S/16 (random) w/o pos_embed"
    assert "180 SGD steps" in bits["notes"][0] and "log2(K^2) - CE / ln 2" in bits["notes"][1]
    assert paths.figure("position_bits_best") in plan.position_bits_outputs(config)
