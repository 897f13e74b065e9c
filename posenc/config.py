"""The workflow configuration: schema validation with defaults, cross-checks, and what it implies.

Errors name the key, say what is wrong and how to fix it. The schema lives in
workflow/schemas/config.schema.yaml; every key there has a description.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators

from posenc.features.registry import REGISTRY, get_backbone
from posenc.images.download import parse_checksum
from posenc.probe.readout import ReadoutSpec

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


def _with_defaults(cls):
    check_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": set_defaults})


DefaultingValidator = _with_defaults(Draft7Validator)


def load_schema(path=SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error) -> str:
    key = _key(error.absolute_path)
    desc = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        hint = f"remove or rename {', '.join(extra)}" + (f"; allowed keys: {', '.join(allowed)}" if allowed else "")
        return f"config key `{key}`: unknown key(s) {', '.join(extra)}: {hint}"
    if error.validator == "enum":
        return f"config key `{key}`: {error.instance!r} is not allowed; use one of {', '.join(map(str, error.validator_value))}. {desc}"
    if error.validator == "required":
        return f"config key `{key}`: {error.message}; add it. {desc}"
    return f"config key `{key}`: {error.message}. {desc}"


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Fill defaults into `config` (in place) and check it; raise ConfigError listing every problem."""
    schema = schema or load_schema()
    errors = sorted(DefaultingValidator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        problems = _cross_check(config)
    if problems:
        raise ConfigError("invalid posenc config:\n  - " + "\n  - ".join(problems))
    return config


def _cross_check(config: dict) -> list[str]:
    problems = []
    sets = config["image_sets"]
    for name, spec in sets.items():
        needs = {"embedded": ("split", "count"), "composite": ("task", "split", "count"), "folder": ("path",),
                 "synthetic": (), "dataset": ("dataset",)}
        for key in needs[spec["source"]]:
            if key not in spec:
                problems.append(f"config key `image_sets.{name}.{key}`: required for source {spec['source']}; add it")
        if spec["source"] == "dataset" and spec.get("dataset") not in (None, *config["datasets"]):
            problems.append(f"config key `image_sets.{name}.dataset`: {spec['dataset']!r} is not defined under "
                            f"datasets ({', '.join(config['datasets']) or 'none defined'}); add it there")
    for name, ds in config["datasets"].items():
        for key in ("checksum", "masks_checksum"):
            try:
                parse_checksum(ds[key])
            except ValueError as err:
                problems.append(f"config key `datasets.{name}.{key}`: {err}")
        if ds.get("masks_url") and not ds.get("masks"):
            problems.append(f"config key `datasets.{name}.masks`: masks_url needs the mask folder inside its "
                            f"archive; add `masks`")
    for key, names in (("train_set", [config["train_set"]]), ("test_sets", config["test_sets"])):
        for n in names:
            if n not in sets:
                problems.append(f"config key `{key}`: {n!r} is not an image set; define it under image_sets "
                                f"(defined: {', '.join(sets)})")
    for name, b in config["backbones"].items():
        where = f"backbones.{name}"
        if b["arch"] not in REGISTRY:
            problems.append(f"config key `{where}.arch`: unknown architecture {b['arch']!r}; use one of {', '.join(REGISTRY)}")
            continue
        spec = get_backbone(b["arch"])
        if b["weights"] not in spec.weight_sources:
            problems.append(f"config key `{where}.weights`: {b['weights']!r} is not a weight source of {b['arch']}; "
                            f"use one of {', '.join(spec.weight_sources)}")
        if b["weights"] == "checkpoint" and not b.get("checkpoint"):
            problems.append(f"config key `{where}.checkpoint`: weights checkpoint needs the path of a state dict file")
        if not b["conv_padding"] and not spec.removable_padding:
            problems.append(f"config key `{where}.conv_padding`: removing padding is only defined for plain conv "
                            f"stacks (vgg16), not {b['arch']}; set it to true")
    problems += _check_dense_tasks(config)
    synthetic_sets = synthetic_test_sets(config)
    for table, tspec in config["tables"].items():
        if "natural" in tspec["inputs"] and tspec["test_set"] not in config["test_sets"]:
            problems.append(f"config key `tables.{table}.test_set`: {tspec['test_set']!r} is not one of test_sets "
                            f"({', '.join(config['test_sets'])})")
        if set(tspec["inputs"]) - {"natural"} and not synthetic_sets:
            problems.append(f"config key `tables.{table}.inputs`: black/white/noise need a synthetic image set in "
                            f"test_sets; add one (source: synthetic) or drop those inputs")
        missing = [t for t in tspec["targets"] if t not in config["targets"]]
        if missing:
            problems.append(f"config key `tables.{table}.targets`: {', '.join(missing)} not trained; add them to "
                            f"the top-level `targets`")
        for i, row in enumerate(tspec.get("rows", [])):
            where = f"tables.{table}.rows.{i}"
            if row["backbone"] not in config["backbones"]:
                problems.append(f"config key `{where}.backbone`: {row['backbone']!r} is not defined under backbones "
                                f"({', '.join(config['backbones'])})")
                continue
            taps = row_readout(config, row).taps or ()
            if config["backbones"][row["backbone"]]["arch"] not in REGISTRY:
                continue  # reported above
            arch = get_backbone(config["backbones"][row["backbone"]]["arch"])
            for tap in taps:
                if tap not in [t.name for t in arch.taps]:
                    problems.append(f"config key `{where}.readout.taps`: {arch.name} has no tap {tap!r}; "
                                    f"its taps are {', '.join(t.name for t in arch.taps)}")
    return problems


def has_masks(config: dict, image_set: str) -> bool:
    """Whether an image set comes with ground-truth masks (a dense task can train or score on it)."""
    spec = config["image_sets"][image_set]
    if spec["source"] == "composite":
        return True
    if spec["source"] == "folder":
        return bool(spec.get("masks"))
    if spec["source"] == "dataset":
        return bool(config["datasets"].get(spec.get("dataset"), {}).get("masks"))
    return False


def _check_dense_tasks(config: dict) -> list[str]:
    problems = []
    for name, task in config["dense_tasks"].items():
        where = f"dense_tasks.{name}"
        if task["arch"] not in REGISTRY or not get_backbone(task["arch"]).removable_padding:
            usable = [n for n, s in REGISTRY.items() if s.removable_padding]
            problems.append(f"config key `{where}.arch`: {task['arch']!r} cannot be trained with and without "
                            f"padding; use one of {', '.join(usable)}")
        for key, sets in (("train_set", [task["train_set"]]), ("test_sets", list(task["test_sets"]))):
            for image_set in sets:
                if image_set not in config["image_sets"]:
                    problems.append(f"config key `{where}.{key}`: {image_set!r} is not an image set; define it "
                                    f"under image_sets")
                elif not has_masks(config, image_set):
                    problems.append(f"config key `{where}.{key}`: image set {image_set!r} has no masks; use a "
                                    f"composite set, or give the folder or data set `masks`")
        for image_set in [task["train_set"], *task["test_sets"]]:
            spec = config["image_sets"].get(image_set, {})
            if spec.get("source") == "composite" and spec.get("task") != task["task"]:
                problems.append(f"config key `{where}`: image set {image_set!r} holds {spec.get('task')} "
                                f"composites, not {task['task']}; use a set of the same task")
            if (task["task"] == "segmentation" and spec.get("source") == "composite"
                    and spec.get("classes") != task["classes"]):
                problems.append(f"config key `{where}.classes`: {task['classes']}, but image set {image_set!r} "
                                f"has {spec.get('classes')} classes; make them equal")
    return problems


def load_config(path) -> dict:
    with open(path) as fh:
        config = yaml.safe_load(fh) or {}
    return validate_config(config)


# ---- what a valid config implies -----------------------------------------------------------------------
def row_readout(config: dict, row: dict) -> ReadoutSpec:
    """The readout of a table row: the top-level readout with the row's overrides."""
    merged = {**config["readout"], **row.get("readout", {})}
    taps = merged.get("taps")
    return ReadoutSpec(merged["layers"], merged["kernel"], merged["padding"], tuple(taps) if taps else None,
                       merged.get("hidden"))


def table_runs(config: dict, table: str) -> list[tuple[str, str]]:
    """(backbone, readout id) of every row of a table, in row order, without repeats."""
    runs = []
    for row in config["tables"][table]["rows"]:
        run = (row["backbone"], row_readout(config, row).id)
        if run not in runs:
            runs.append(run)
    return runs


def run_targets(config: dict, backbone: str, readout: str) -> list[str]:
    """Targets a run's heads are trained for: every target some table reports from it, in `targets` order."""
    wanted = set()
    for table, spec in config["tables"].items():
        if (backbone, readout) in table_runs(config, table):
            wanted.update(spec["targets"])
    return [t for t in config["targets"] if t in wanted] or list(config["targets"])


def synthetic_test_sets(config: dict) -> list[str]:
    """Test sets holding the synthetic inputs (black, white, noise)."""
    return [s for s in config["test_sets"] if config["image_sets"].get(s, {}).get("source") == "synthetic"]


def seed_list(config: dict) -> list[int]:
    return list(range(config["seeds"]))


def backbone_params(config: dict, name: str) -> dict:
    return {"name": name, **config["backbones"][name]}
