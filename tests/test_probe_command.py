"""`posenc probe`: the config it writes for one network (the workflow it runs is the tested one)."""

import numpy as np
import pytest
from PIL import Image

from posenc.config import validate_config
from posenc.errors import ActionableError
from posenc.probe_command import probe_config, run_name


def test_a_probe_config_is_valid_and_pairs_the_network_with_pixels_and_other_padding(tmp_path):
    config = validate_config(probe_config("resnet18", "random", tmp_path))
    backbones = config["backbones"]
    assert backbones["model"]["arch"] == "resnet18" and backbones["model"]["weights"] == "random"
    assert backbones["model_other_padding"]["conv_padding"] == "reflect"  # padding not removable: changed
    assert [r["backbone"] for r in config["tables"]["table4"]["rows"]] == [
        "pixels",
        "model",
        "model_other_padding",
    ]
    vgg = validate_config(probe_config("vgg16", "random", tmp_path))
    assert vgg["backbones"]["model_other_padding"]["conv_padding"] is False  # a plain stack: removed
    assert config["image_sets"]["train"]["source"] == "packages"  # the default's photos
    assert run_name("timm/resnet18", "/x/my weights.pth") == "timm_resnet18-my_weights"
    vit = validate_config(probe_config("vit_tiny_patch16_224", "random", tmp_path))
    other = vit["backbones"]["model_other_padding"]
    assert other["pos_embed"] == "zero" and other["conv_padding"] is True  # a transformer: the embedding
    assert vit["tables"]["table4"]["rows"][2]["label"].endswith("w/o pos_embed")


def test_user_images_are_split_four_to_one(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(12):
        Image.fromarray(np.full((16, 16, 3), k, np.uint8)).save(photos / f"p{k:02d}.png")
    checkpoint = tmp_path / "w.pt"
    checkpoint.write_bytes(b"x")
    config = validate_config(probe_config("resnet18", str(checkpoint), tmp_path, images=photos))
    train = (tmp_path / "train.txt").read_text().split()
    test = (tmp_path / "test.txt").read_text().split()
    assert len(train) == 10 and test == ["p04", "p09"]
    assert config["image_sets"]["natural"]["list"] == str(tmp_path / "test.txt")
    assert config["backbones"]["model"] == {
        **config["backbones"]["model"],
        "weights": "checkpoint",
        "checkpoint": str(checkpoint),
    }


def test_bad_probe_arguments_say_what_to_give(tmp_path):
    with pytest.raises(ActionableError, match="neither imagenet, random"):
        probe_config("resnet18", str(tmp_path / "none.pt"), tmp_path)
    with pytest.raises(ValueError, match="close: resnet18"):
        probe_config("resnet1", "random", tmp_path)


def test_the_probe_runs_snakemake_on_its_own_folder_and_prints_the_table(tmp_path, monkeypatch, capsys):
    import subprocess

    import posenc.probe_command as pc

    seen = []

    def fake_run(command):
        seen.append(command)
        folder = tmp_path / "run"
        (folder / "results").mkdir(parents=True, exist_ok=True)
        (folder / "results" / "table4.md").write_text("| the table |\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(pc.subprocess, "run", fake_run)
    assert pc.probe("resnet18", "random", out=tmp_path / "run", cores=4) == 0
    command = seen[0]
    # the targets come before --configfile (which takes every value after it)
    assert command[-2:] == ["--configfile", str(tmp_path / "run" / "config" / "probe.yaml")]
    assert command[command.index("-d") + 1] == str(tmp_path / "run") and "results/table4.md" in command
    assert "| the table |" in capsys.readouterr().out


def test_a_second_probe_into_the_same_folder_is_refused_before_it_writes(tmp_path, monkeypatch):
    import subprocess

    import posenc.probe_command as pc

    folder = tmp_path / "run"
    attempts = []

    def fake_run(command):
        # while the first probe's workflow runs, a second probe (other arguments) into its folder
        written = (folder / "config" / "probe.yaml").read_text()
        with pytest.raises(
            ActionableError, match=rf"another posenc probe is running in {folder} \(pid \d+\)"
        ):
            pc.probe("vgg16", "random", out=folder, seeds=1)
        attempts.append((folder / "config" / "probe.yaml").read_text() == written)
        (folder / "results").mkdir(exist_ok=True)
        (folder / "results" / "table4.md").write_text("| the table |\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(pc.subprocess, "run", fake_run)
    assert pc.probe("resnet18", "random", out=folder, seeds=3) == 0
    assert attempts == [True]  # the running probe's config was left as it was
    assert pc.probe("resnet18", "random", out=folder, seeds=3) == 0  # the lock is released afterwards


def test_probes_share_the_checkouts_photo_packages(tmp_path, monkeypatch):
    import posenc.probe_command as pc

    monkeypatch.setattr(pc, "ROOT", tmp_path / "checkout")
    for run in ("a", "b"):
        pc.share_photo_cache(tmp_path / run)
    (tmp_path / "checkout" / "resources" / "photos" / "scratch").mkdir()
    for run in ("a", "b"):
        assert (tmp_path / run / "resources" / "photos" / "scratch").is_dir()
        assert (
            tmp_path / run / "resources" / "downloads"
        ).resolve() == tmp_path / "checkout" / "resources" / "downloads"
