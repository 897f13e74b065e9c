"""Execution profiles: every entry explained, and what they make Snakemake ask of a cluster."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ["default", "slurm"]


def entries_without_comment(text: str):
    """Top-level and nested keys with no comment on their line or on the line(s) right above."""
    lines = text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z0-9_\-]+):", line)
        if not m:
            continue
        above = lines[i - 1].strip() if i else ""
        if "#" not in line and not above.startswith("#"):
            missing.append(m.group(2))
    return missing


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_entry_is_commented(name):
    text = (ROOT / "profiles" / name / "config.yaml").read_text()
    assert yaml.safe_load(text), "profile is empty"
    assert entries_without_comment(text) == []


def test_comment_check_finds_a_bare_entry():
    assert entries_without_comment("# jobs\njobs: 5\nlatency-wait: 3\n") == ["latency-wait"]


def test_slurm_profile_settings():
    prof = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    assert prof["executor"] == "slurm"
    gpu_rules = {"extract_features", "train_readout", "train_dense_model"}
    for rule in gpu_rules:
        assert prof["set-resources"][rule]["slurm_partition"] == "gpu"
    # rules named in the profile exist in the workflow
    rules = set(
        re.findall(
            r"^rule (\w+):",
            "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk")),
            re.M,
        )
    )
    assert set(prof["set-resources"]) <= rules and set(prof["set-threads"]) <= rules
    # the local profile must stay valid beside the cluster one: no core count, executor or resources
    default = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert not {"cores", "executor", "resources", "set-resources", "set-threads", "jobs"} & set(default)


def test_gpu_rules_ask_for_a_gpu_unless_the_config_pins_the_cpu(tmp_path):
    """Dry run of the tiny config: VGG16 extraction and readout training request gpu=1, raw pixels none."""
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    def resources():
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "-s",
                str(ROOT / "Snakefile"),
                "-d",
                str(tmp_path),
                "-n",
                "--cores",
                "2",
                "results/table4.csv",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = {}
        for block in out.split("\nrule ")[1:]:
            rule = block.split(":", 1)[0]
            wc = re.search(r"wildcards: (.*)", block)
            res = re.search(r"resources: (.*)", block)
            found[(rule, wc.group(1) if wc else "")] = res.group(1) if res else ""
        return found

    found = resources()
    assert "gpu=1" in found[("extract_features", "backbone=vgg16_random, image_set=train")]
    assert "gpu=0" in found[("extract_features", "backbone=pixels, image_set=train")]
    assert "gpu=1" in found[("train_readout", "backbone=pixels, readout=L1-k3-p0-all")]
    assert "gpu" not in found[("prepare_image_set", "image_set=train")]

    config["features"] = {**config["features"], "device": "cpu"}
    config["training"] = {**config["training"], "device": "cpu"}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    found = resources()
    assert "gpu=0" in found[("extract_features", "backbone=vgg16_random, image_set=train")]
    assert "gpu=0" in found[("train_readout", "backbone=pixels, readout=L1-k3-p0-all")]


def test_conda_environment_pins_the_tested_versions():
    """workflow/envs/posenc.yaml (rules under --sdm conda) holds the pins of requirements.txt, minus tools."""
    env = yaml.safe_load((ROOT / "workflow" / "envs" / "posenc.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    tools = ("pytest", "snakemake", "onnxruntime", "ruff", "snakefmt")
    pins = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(tools)
    ]
    assert pip == pins
