# Validation and helpers; rules stay declarative and call these.
from posenc import __version__, paths
from posenc.config import backbone_params, run_targets, seed_list, table_runs, validate_config
from posenc.report.dense_figure import figure_inputs as dense_figure_inputs
from posenc.report.figures import configured_figures, figure_inputs, figure_runs

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
    figure="|".join(configured_figures(config)) or "no_figure",


def image_set_spec(wildcards):
    # a data set's image set also carries its data set's entry (so only that entry's changes rerun it)
    spec = config["image_sets"][wildcards.image_set]
    if spec["source"] == "dataset":
        return {**spec, "dataset_entry": config["datasets"][spec["dataset"]]}
    return spec


def image_set_inputs(wildcards):
    spec = config["image_sets"][wildcards.image_set]
    if spec["source"] == "dataset":
        return [paths.dataset(spec["dataset"])]
    return [spec["path"]] if spec["source"] == "folder" else []


def extract_inputs(wildcards):
    inputs = {"manifest": paths.manifest(wildcards.image_set)}
    if config["backbones"][wildcards.backbone]["weights"] == "hed":
        inputs["hed"] = config["hed_weights"]
    if config["backbones"][wildcards.backbone]["weights"] == "checkpoint":
        inputs["checkpoint"] = config["backbones"][wildcards.backbone]["checkpoint"]
    return inputs


def extract_params(wildcards):
    return backbone_params(config, wildcards.backbone)


def extract_threads(wildcards):
    # a backbone forward pass takes every core (one extraction at a time; the job uses at most the
    # CPUs it finds); raw pixels need one. On a cluster (no local core count) profiles set the threads.
    arch = config["backbones"][wildcards.backbone]["arch"]
    return 1 if arch == "pixels" else min(workflow.cores or 1, 64)


def extract_gpus(wildcards):
    # GPU rules ask for one GPU (Slurm: --gpus=1) unless the config pins the CPU; raw pixels need none
    arch = config["backbones"][wildcards.backbone]["arch"]
    return 0 if arch == "pixels" or config["features"]["device"] == "cpu" else 1


def training_gpus():
    return 0 if config["training"]["device"] == "cpu" else 1


def features_params():
    return {k: v for k, v in config["features"].items() if k != "device"}


def training_params():
    return {k: v for k, v in config["training"].items() if k != "device"}


def train_targets(wildcards):
    return run_targets(config, wildcards.backbone, wildcards.readout)


def test_stores(wildcards):
    return [paths.store(wildcards.backbone, s) for s in config["test_sets"]]


def table_spec(wildcards):
    return config["tables"][wildcards.table]


def table_metrics(wildcards):
    return [paths.metrics(b, r, s) for b, r in table_runs(config, wildcards.table) for s in seed_list(config)]


def all_metrics():
    runs = sorted({run for table in config["tables"] for run in table_runs(config, table)})
    return [paths.metrics(b, r, s) for b, r in runs for s in seed_list(config)]


def all_tables():
    return [paths.table(table, ext) for table in config["tables"] for ext in ("csv", "md")]


def all_figures():
    return [paths.figure(f) for f in configured_figures(config)]


def figure_files(wildcards):
    return figure_inputs(config, wildcards.figure)


def figure_params(wildcards):
    return figure_runs(config, wildcards.figure)


# ---- dense tasks (Table 5) -----------------------------------------------------------------------------
def dense_train_manifest(wildcards):
    return paths.manifest(config["dense_tasks"][wildcards.task]["train_set"])


def dense_test_manifests(wildcards):
    return [paths.manifest(name) for name in config["dense_tasks"][wildcards.task]["test_sets"]]


def dense_params(wildcards):
    return {k: v for k, v in config["dense_tasks"][wildcards.task].items() if k not in ("device", "test_sets")}


def dense_threads(wildcards):
    return min(workflow.cores or 1, 64)


def dense_gpus(wildcards):
    return 0 if config["dense_tasks"][wildcards.task]["device"] == "cpu" else 1


def all_dense_metrics():
    return [paths.dense_metrics(t, v) for t in config["dense_tasks"] for v in paths.DENSE_VARIANTS]


def all_dense_tables():
    # Table 5 and its figure
    if not config["dense_tasks"]:
        return []
    return [paths.table("table5", ext) for ext in ("csv", "md")] + [paths.figure("table5_predictions")]
