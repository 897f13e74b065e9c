"""The real Snakemake workflow: a dry run of the embedded default and a full run of the tiny config."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.helpers import ENV, ROOT, SNAKEMAKE, make_zip, sha256


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(SNAKEMAKE + ["-d", str(workdir), *args], capture_output=True, text=True, env=ENV)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc.stdout + proc.stderr


def test_dry_run_of_the_embedded_default():
    out = snakemake(ROOT, "-n", "--cores", "8", "results/table4.csv", "--forcerun", "make_table")
    assert "make_table" in out


def test_only_training_store_extractions_take_more_than_one_thread():
    # a test set's extraction never holds cores the training stores (which every readout waits for) need
    out = snakemake(ROOT, "-n", "--cores", "8", "results/table4.csv", "--forcerun", "extract_features")
    blocks = [b for b in out.split("\nrule ")[1:] if b.startswith("extract_features:")]
    threads = {
        re.search(r"wildcards: (.*)", b).group(1): int((re.search(r"threads: (\d+)", b) or [0, 1])[1])
        for b in blocks
    }
    many = {w for w, n in threads.items() if n > 1}
    assert many and all(w.endswith("image_set=train") and "pixels" not in w for w in many)
    assert all(n == 1 for w, n in threads.items() if not w.endswith("image_set=train"))


def test_bad_config_stops_before_any_job(tmp_path):
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    config["training"]["epochs"] = 0
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(tmp_path, "-n", "--cores", "1", check=False)
    assert "config key `training.epochs`: 0 is less than the minimum of 1" in out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ROOT / ".test" / "config", workdir / "config")
    out = snakemake(workdir, "--cores", "2", "all")
    return workdir, out


@pytest.mark.slow
def test_tiny_workflow_builds_table4(tiny_run):
    workdir, _ = tiny_run
    table = pd.read_csv(workdir / "results" / "table4.csv")
    assert list(table["model"]) == [
        "PosENet",
        "PosENet padding=1",
        "VGG16 (random)",
        "VGG16 (random) w/o padding",
    ]
    assert "target" not in table.columns
    for col in (
        "h_spc",
        "h_mae",
        "g_spc",
        "g_mae",
        "hs_spc",
        "hs_mae",
        "h_spc_ci",
        "backbone",
        "weights",
        "conv_padding",
        "readout_padding",
        "test_set",
    ):
        assert col in table.columns
    assert table["n_seeds"].tolist() == [2, 2, 2, 2]
    assert table["test_set"].eq("natural").all()
    assert table[["h_spc", "g_spc", "hs_spc"]].abs().le(1).all().all()
    assert table[["h_mae", "g_mae", "hs_mae"]].gt(0).all().all()
    assert table.loc[table["model"] == "VGG16 (random) w/o padding", "conv_padding"].item() == False  # noqa: E712
    md = (workdir / "results" / "table4.md").read_text()
    assert "(0.012, Δ" in md  # PosENet's paper H SPC beside ours
    per_image = pd.read_csv(workdir / "results" / "metrics" / "vgg16_random" / "L1-k3-p0-all" / "seed1.csv")
    assert len(per_image) == (4 + 3) * 5  # images x targets (Table 1 reports all five from this run)
    assert set(per_image["test_input"]) == {"natural", "black", "white", "noise"}
    assert (workdir / "logs" / "extract_features" / "vgg16_random" / "train.log").read_text().count(
        "extract"
    ) >= 1


@pytest.mark.slow
def test_tiny_workflow_builds_the_transformer_table_and_position_bits(tiny_run):
    workdir, _ = tiny_run
    vit = pd.read_csv(workdir / "results" / "table_vit.csv")
    assert list(dict.fromkeys(vit["model"])) == [
        "ViT-Ti (random)",
        "ViT-Ti (random) w/o pos_embed",
        "VGG16 (random)",
    ]
    assert {"natural_spc", "noise_spc"} <= set(vit.columns)
    bits = pd.read_csv(workdir / "results" / "position_bits.csv", keep_default_na=False)
    assert set(bits["backbone"]) == {"pixels", "vgg16_random", "vgg16_random_nopad", "vit", "vit_nope"}
    assert set(bits["K"]) == {2, 4} and set(bits["test_input"]) == {"natural", "black", "white", "noise"}
    taps = bits[bits["backbone"] == "vit"].drop_duplicates("tap")
    assert list(taps["tap"]) == ["blocks_2", "blocks_5", "blocks_8", "blocks_11"]
    assert set(bits.loc[bits["backbone"] == "vit_nope", "pos_embed"]) == {"zero"}
    assert bits["n_seeds"].eq(2).all() and (bits["bits"] <= bits["max_bits"] + 1e-6).all()
    store = workdir / "results" / "features" / "vit_nope" / "train.zarr" / "zarr.json"
    tokens = json.loads(store.read_text())["attributes"]["posenc"]["tokens"]
    assert tokens["pos_embed"] == "zero" and tokens["prefix_tokens_dropped"] == 1
    for figure in ("position_bits", "position_bits_best"):
        assert (workdir / "results" / "figures" / f"{figure}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_rerun_does_nothing_and_seeds_retrain_without_reextracting(tiny_run):
    workdir, _ = tiny_run
    assert "Nothing to be done" in snakemake(workdir, "-n", "--cores", "2", "all")
    stamps = {p: p.read_bytes() for p in (workdir / "results" / ".stamps").rglob("*.json")}
    out = snakemake(workdir, "-n", "--cores", "2", "all", "--config", "seeds=3")
    assert "train_readout" in out and "make_table" in out
    assert "extract_features" not in out and "prepare_image_set" not in out
    # the dry run planned the retraining without writing a stamp under results/
    assert {p: p.read_bytes() for p in (workdir / "results" / ".stamps").rglob("*.json")} == stamps


def test_two_targets_of_one_rule_in_one_call(tmp_path):
    # each job's settings stamp is written while Snakemake plans, after it listed the stamp folders: a stamp
    # beside another job's would be taken for missing (MissingInputException), one in its own folder is not
    shutil.copytree(ROOT / ".test" / "config", tmp_path / "config")
    out = snakemake(tmp_path, "--cores", "2", "results/images/train.json", "results/images/natural.json")
    assert "2 of 2 steps (100%) done" in out
    assert (tmp_path / "results" / "images" / "natural.json").is_file()


def test_a_dry_run_writes_nothing_under_results(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / ".test" / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    out = snakemake(tmp_path, "-n", "--cores", "2", "results/table4.csv")
    assert "extract_features" in out
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_store_is_inspectable(tiny_run):
    workdir, _ = tiny_run
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "posenc.cli",
            "inspect",
            str(workdir / "results" / "features" / "vgg16_random_nopad" / "train.zarr"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "relu5_3" in out and "native 2px" in out and "conv_padding: false" in out


@pytest.mark.slow
def test_tiny_workflow_builds_every_table_figure_and_the_comparison(tiny_run):
    workdir, _ = tiny_run
    results = workdir / "results"
    t1 = pd.read_csv(results / "table1.csv")
    assert len(t1) == 5 * 2 and set(t1["target"]) == {"H", "V", "G", "HS", "VS"}
    for test_input in ("natural", "black", "white", "noise"):
        assert {f"{test_input}_spc", f"{test_input}_spc_ci", f"{test_input}_mae"} <= set(t1.columns)
    pixels_black = t1[(t1["model"] == "PosENet")]["black_spc"]
    assert (pixels_black == 0).all()  # a constant image through a padding-free readout: constant prediction
    t2 = pd.read_csv(results / "table2.csv")
    assert len(t2) == 3 * 6 and set(t2["readout"]) >= {"L2-k3-p0-h2-all", "L1-k1-p0-all"}
    t3 = pd.read_csv(results / "table3.csv")
    assert len(t3) == 2 * 3 and set(t3["taps"]) == {"relu1_2", "relu5_3", "all"}
    per_seed = pd.read_csv(results / "per_seed.csv")
    assert set(per_seed["seed"]) == {0, 1}
    # every number carries what made it: weights hash and seed, training budget, input normalisation, learning
    assert {"weights_sha256", "weights_seed", "budget", "input_norm", "learned", "final_loss_ratio"} <= set(
        per_seed.columns
    )
    assert set(per_seed["budget"]) == {"2 epochs"} and per_seed["final_loss_ratio"].gt(0).all()
    assert len(
        per_seed.drop_duplicates(["backbone", "readout", "seed", "image_set", "test_input", "target"])
    ) == len(per_seed)
    for fig in (
        "fig4_predictions",
        "fig5_readout_size",
        "fig6_padding",
        "fig7_error_maps",
        "summary_spc",
        "table5_predictions",
        "training_curves",
    ):
        image = np.asarray(Image.open(results / "figures" / f"{fig}.png").convert("L"), dtype=np.float32)
        assert image.shape[0] > 100 and image.std() > 10, fig
    t5 = pd.read_csv(results / "table5.csv")
    assert list(zip(t5["task"], t5["variant"])) == [
        ("sod", "padded"),
        ("sod", "unpadded"),
        ("seg", "padded"),
        ("seg", "unpadded"),
    ]
    assert (
        t5["n_images"].eq(3).all()
        and t5["max_f"].iloc[:2].between(0, 1).all()
        and t5["miou"].iloc[2:].between(0, 1).all()
    )
    assert "(0.660, Δ" in (results / "table5.md").read_text()  # the paper's PASCAL-S F-measure of VGG
    t6 = pd.read_csv(results / "table6.csv")
    assert list(t6["model"].unique()) == ["VGG16 (random)", "VGG16-slim SOD"] and {"black_spc"} <= set(
        t6.columns
    )
    assert t6.loc[t6["model"] == "VGG16-slim SOD", "weights"].eq("checkpoint").all()
    comparison = (results / "paper_comparison.md").read_text()
    assert comparison.count("**Claim ") == 6 and "## Table 3" in comparison
    snakemake(workdir, "--cores", "1", "all", "--report", "report.html")
    html = (workdir / "report.html").read_text()
    assert "fig7_error_maps" in html and "table1.csv" in html and "table5_predictions" in html


def test_data_set_rules_download_unpack_and_list_images(tmp_path):
    """image sets from `datasets`: download (file:// URL), unpack, count, manifest; an unreachable URL is a
    clear error that says where to place the archive, and leaves nothing that looks complete."""

    archive = make_zip(tmp_path / "DS-TR.zip", n_images=5)
    run = tmp_path / "run"
    (run / "config").mkdir(parents=True)
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    config["datasets"] = {
        "ds_train": {
            "url": archive.as_uri(),
            "checksum": f"sha256:{sha256(archive)}",
            "images": "DS-TR/DS-TR-Image",
            "count": 5,
        },
        "ds_gone": {"url": "http://127.0.0.1:9/DS-TE.zip", "images": "DS-TE/DS-TE-Image", "count": 3},
    }
    config["image_sets"]["train"] = {"source": "dataset", "dataset": "ds_train"}
    config["image_sets"]["natural"] = {"source": "dataset", "dataset": "ds_gone"}
    (run / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    snakemake(run, "--cores", "1", "results/images/train.json")
    manifest = json.loads((run / "results" / "images" / "train.json").read_text())
    assert manifest["count"] == 5 and manifest["images"][0]["name"] == "img_0.jpg"
    assert (run / "resources" / "datasets" / "ds_train" / "posenc-dataset.json").is_file()

    out = snakemake(run, "--cores", "1", "results/images/natural.json", check=False)
    assert "could not download http://127.0.0.1:9/DS-TE.zip" in out
    assert str((run / "resources" / "downloads" / "DS-TE.zip").resolve()) in out
    assert not (run / "resources" / "datasets" / "ds_gone").exists()
    assert not (run / "results" / "images" / "natural.json").exists()


def job_counts(dry_run_output: str) -> dict:
    table = dry_run_output.split("Job stats:")[1].split("total")[0]
    return {m[0]: int(m[1]) for m in (line.split() for line in table.splitlines()[3:]) if len(m) == 2}


def test_paper_mode_dry_run(tmp_path):
    """config/paper.yaml: 6 data sets downloaded, 8 image sets, 6 backbones x 3 sets, no HED weights, Tables
    1-6 with 2 dense tasks x (padded, unpadded)."""
    out = snakemake(
        tmp_path, "-n", "--cores", "8", "all", "--configfile", str(ROOT / "config" / "paper.yaml")
    )
    jobs = job_counts(out)
    assert jobs["download_dataset"] == 6 and jobs["prepare_image_set"] == 8
    assert jobs["extract_features"] == 18 and jobs["make_table"] == 5 and jobs["make_table5"] == 1
    assert jobs["train_dense_model"] == jobs["evaluate_dense_model"] == 4
    assert "fetch_hed_weights" not in jobs
    assert (
        jobs["train_readout"] == jobs["evaluate_readout"] == 21
    )  # 21 distinct readouts, their 3 seeds in each


def test_a_configfile_replaces_the_default_instead_of_merging(tmp_path):
    shutil.copytree(ROOT / ".test" / "config", tmp_path / "config")
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    config["tables"] = {"table4": config["tables"]["table4"]}
    (tmp_path / "only4.yaml").write_text(yaml.safe_dump(config))
    assert (
        job_counts(snakemake(tmp_path, "-n", "--cores", "2", "all"))["make_table"] == 6
    )  # 1-4, 6, table_vit
    out = snakemake(tmp_path, "-n", "--cores", "2", "all", "--configfile", str(tmp_path / "only4.yaml"))
    assert job_counts(out)["make_table"] == 1


@pytest.mark.parametrize(
    "change,target,message",
    [
        (
            (
                "natural: {source: embedded, split: test, count: 4}",
                "natural: {source: folder, path: /nonexistent/x}",
            ),
            "results/table4.csv",
            "config key image_sets.natural.path: /nonexistent/x is not a folder; set it to the folder",
        ),
        (
            ("checkpoint: results/dense/sod/padded.pt", "checkpoint: /nonexistent/w.pt"),
            "results/table6.csv",
            "config key backbones.slim_sod.checkpoint: /nonexistent/w.pt does not exist; set it to a state dict",
        ),
    ],
    ids=["image folder", "checkpoint"],
)
def test_a_missing_folder_or_checkpoint_names_its_config_key(tmp_path, change, target, message):
    (tmp_path / "config").mkdir()
    text = (ROOT / ".test" / "config" / "config.yaml").read_text()
    assert change[0] in text
    (tmp_path / "config" / "config.yaml").write_text(text.replace(*change))
    out = snakemake(tmp_path, "-n", "--cores", "1", target, check=False)
    assert message in out


@pytest.mark.slow
def test_mean_maps_come_from_the_cache_and_show_the_padded_border(tiny_run):
    workdir, out = tiny_run
    maps = pd.read_csv(workdir / "results" / "mean_maps.csv").set_index(["backbone", "tap"])
    padded, unpadded = maps.loc[("vgg16_random", "relu5_3")], maps.loc[("vgg16_random_nopad", "relu5_3")]
    assert padded["border_contrast"] < -0.1 and abs(unpadded["border_contrast"]) < 0.05
    for backbone in ("vgg16_random", "vgg16_random_nopad"):
        assert (workdir / "results" / "figures" / f"mean_maps_{backbone}.png").stat().st_size > 10_000
    log = (workdir / "logs" / "mean_maps" / "vgg16_random.log").read_text()
    assert "extract" not in log  # read from the stores; nothing extracted again


@pytest.mark.slow
def test_the_analyses_come_from_the_cache_with_their_csvs_and_figures(tiny_run):
    workdir, _ = tiny_run
    results = workdir / "results"
    modes = pd.read_csv(results / "padding_modes.csv")
    assert list(dict.fromkeys(modes["padding"])) == ["zeros", "circular", "none"]
    assert set(modes["test_input"]) == {"natural", "black", "white", "noise"}
    # a constant image through circular padding is constant everywhere: nothing for any head to read
    black = modes[(modes["padding"] == "circular") & (modes["test_input"] == "black")]
    assert black["spc"].abs().max() < 1e-6
    border = pd.read_csv(results / "border_distance.csv")
    assert set(border["backbone"]) == {"pixels", "vgg16_random", "vgg16_random_nopad"}
    assert border.groupby(["backbone", "target"])["distance_lo"].min().eq(0).all()
    ranking = pd.read_csv(results / "channel_ranking.csv")
    assert len(ranking) == 1472 and sorted(ranking["rank"]) == list(range(1, 1473))
    assert ranking["flip"].ge(0).all()
    topk = pd.read_csv(results / "channel_topk.csv")
    assert set(topk["subset"]) == {"top", "bottom", "random"} and set(topk["k"]) == {4}
    canvas = pd.read_csv(results / "canvas.csv")
    assert list(canvas["canvas"]) == ["black", "white", "mean"] and canvas["seeds"].eq(2).all()
    assert canvas["cell_accuracy"].between(0, 1).all()
    pattern = pd.read_csv(results / "padding_pattern.csv").groupby(["backbone", "distance_px"])["ppp"].max()
    assert pattern["vgg16_random_nopad"].max() < 1e-4  # no padding, no pattern: exact, whatever the image
    assert pattern["vgg16_random"][0] > 0.2 and pattern["vgg16_random_circular"][0] > 0.05
    for name in (
        "padding_modes",
        "border_distance",
        "channel_ranking_vgg16_random",
        "canvas",
        "padding_pattern",
    ):
        assert (results / "figures" / f"{name}.png").stat().st_size > 10_000
    for log in ("channel_ranking/vgg16_random.log", "canvas/vgg16_random.log"):
        assert "extract vgg16_random on" not in (workdir / "logs" / log).read_text()  # no store rebuilt
