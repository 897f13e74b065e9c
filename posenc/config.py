"""The workflow configuration: the schema (the one source of every default), validation, cross-checks.

Errors name the key, say what is wrong and how to fix it. The schema ships inside the package
(posenc/config.schema.yaml; workflow/schemas/ links to it); every key there has a description. A YAML
file with a key written twice is refused with both line numbers. What a valid config implies (runs,
tables, figures) is in posenc.plan.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, validators

from posenc.errors import ActionableError
from posenc.features.registry import ARCHS, get_arch, is_known_arch, min_unpadded_input, padding_mode
from posenc.images.packages import catalog
from posenc.io import parse_checksum
from posenc.plan import analysis_test_set, bits_readout, has_masks, row_readout, synthetic_test_sets
from posenc.schema import (  # noqa: F401 (the config's API)
    SCHEMA_PATH,
    image_set_defaults,
    load_schema,
    schema_defaults,
    schema_property,
)


class ConfigError(ActionableError, ValueError):
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


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with the same key twice (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{key_node.start_mark.name}: key `{key}` is written twice (lines {seen[key]} and {line}); "
                    f"keep one of them"
                )
            seen[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path) -> dict:
    """A YAML config file as a dictionary; duplicate keys and syntax errors are ConfigErrors with line numbers."""
    path = Path(path)
    try:
        with open(path) as fh:
            return yaml.load(fh, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"{path}: not valid YAML at {where}: {problem} (tabs are not allowed for indentation)"
        ) from None


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error) -> str:
    key = _key(error.absolute_path)
    desc = error.schema.get("description", "") if isinstance(error.schema, dict) else ""
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        hint = f"remove or rename {', '.join(extra)}" + (
            f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        )
        return f"config key `{key}`: unknown key(s) {', '.join(extra)}: {hint}"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"config key `{key}`: {error.instance!r} is not allowed; use one of {allowed}. {desc}"
    if error.validator == "required":
        return f"config key `{key}`: {error.message}; add it. {desc}"
    return f"config key `{key}`: {error.message}; set a valid value. {desc}"


def resolve_extends(config: dict, seen: tuple = ()) -> dict:
    """A config with `extends: FILE` becomes that file's config (itself resolved the same way) with this
    one's keys laid over it, in place: a mapping at the top level is merged entry by entry (an entry given
    here, e.g. `image_sets.train`, replaces the base's entry whole); any other key replaces the base's."""
    base_path = config.pop("extends", None)
    if base_path is None:
        return config
    if not Path(base_path).is_file():
        raise ConfigError(f"config key `extends`: {base_path} is not a file; name a posenc config file")
    if base_path in seen:
        raise ConfigError(f"config key `extends`: {base_path} extends itself (through {', '.join(seen)})")
    merged = resolve_extends(read_yaml(base_path), (*seen, base_path))
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    config.clear()
    config.update(merged)
    return config


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Fill defaults into `config` (in place, after resolving `extends`) and check it; raise ConfigError
    listing every problem."""
    resolve_extends(config)
    schema = schema or load_schema()
    errors = sorted(
        DefaultingValidator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path))
    )
    problems = [_describe(e) for e in errors]
    if not problems:
        problems = _cross_check(config)
    if problems:
        raise ConfigError("invalid posenc config:\n  - " + "\n  - ".join(problems))
    return config


def _photo_package_problems(name: str, entry: dict) -> list[str]:
    """Photo packages are catalogued photo packages; cut-outs come from a package of kind "cutouts" and go
    with background `packages` (composites only)."""
    where, problems = f"config key `image_sets.{name}", []
    if entry["source"] not in ("packages", "composite"):
        return problems
    for key in entry.get("packages", []):
        if key not in catalog():
            problems.append(
                f"{where}.packages`: unknown photo package {key!r}; choose among {', '.join(catalog())}"
            )
        elif catalog()[key].get("kind") == "cutouts":
            problems.append(
                f"{where}.packages`: {key} holds cut-outs, not photos; name it as a composite set's `cutouts`"
            )
    cutouts = entry.get("cutouts")
    if entry["source"] == "packages" or cutouts is None:
        if cutouts is not None or (entry["source"] == "composite" and entry.get("packages")):
            problems.append(
                f"{where}`: `cutouts` and `packages` go together, on a composite set (cut-outs pasted on photos)"
            )
        return problems
    kinds = [k for k, v in catalog().items() if v.get("kind") == "cutouts"]
    if catalog().get(cutouts, {}).get("kind") != "cutouts":
        problems.append(
            f"{where}.cutouts`: {cutouts!r} is not a package of cut-outs; choose among {', '.join(kinds)}"
        )
    if not entry.get("packages"):
        problems.append(
            f"{where}.packages`: the background photos' packages are needed with `cutouts`; add them"
        )
    categories = entry.get("categories", image_set_defaults()["categories"])
    if entry.get("task") == "segmentation" and entry.get("classes", 3) > len(categories):
        problems.append(
            f"{where}.classes`: {entry.get('classes', 3)} classes, but `categories` names {len(categories)}; "
            f"name a category per class"
        )
    return problems


def _shared_packages(config: dict) -> list[str]:
    """No test set is drawn from a package the training set uses (it would score the same content)."""
    sets, train = config["image_sets"], config["image_sets"].get(config["train_set"], {})
    problems = []
    if config.get("allow_shared_photos"):
        return problems
    for test in config["test_sets"]:
        shared = set(train.get("packages", [])) & set(sets.get(test, {}).get("packages", []))
        if shared and train.get("source") == "packages" and sets[test].get("source") == "packages":
            problems.append(
                f"config key `image_sets.{test}.packages`: {', '.join(sorted(shared))} also feed the training "
                f"set {config['train_set']!r}; test on packages the training set does not use (or set "
                f"allow_shared_photos: true)"
            )
    return problems


# what each image source needs besides `source`
SOURCE_NEEDS = {
    "embedded": ("split", "count"),
    "packages": ("packages",),
    "composite": ("task", "split", "count"),
    "folder": ("path",),
    "synthetic": (),
    "dataset": ("dataset",),
}


def _check_image_sets(config: dict) -> list[str]:
    """Each image set has the keys its source needs, names a defined data set, and valid photo packages."""
    problems = []
    for name, entry in config["image_sets"].items():
        for key in SOURCE_NEEDS[entry["source"]]:
            if key not in entry:
                problems.append(
                    f"config key `image_sets.{name}.{key}`: required for source {entry['source']}; add it"
                )
        if entry["source"] == "dataset" and entry.get("dataset") not in (None, *config["datasets"]):
            problems.append(
                f"config key `image_sets.{name}.dataset`: {entry['dataset']!r} is not defined under "
                f"datasets ({', '.join(config['datasets']) or 'none defined'}); add it there"
            )
        problems += _photo_package_problems(name, entry)
    return problems


def _check_datasets(config: dict) -> list[str]:
    """Each data set's checksums parse; masks from a second archive say where they lie in it."""
    problems = []
    for name, ds in config["datasets"].items():
        for key in ("checksum", "masks_checksum"):
            try:
                parse_checksum(ds[key])
            except ValueError as err:
                problems.append(f"config key `datasets.{name}.{key}`: {err}")
        if ds.get("masks_url") and not ds.get("masks"):
            problems.append(
                f"config key `datasets.{name}.masks`: masks_url needs the mask folder inside its "
                f"archive; add `masks`"
            )
    return problems


def _check_splits(config: dict) -> list[str]:
    """train_set and test_sets name defined image sets."""
    sets = config["image_sets"]
    return [
        f"config key `{key}`: {n!r} is not an image set; define it under image_sets (defined: {', '.join(sets)})"
        for key, names in (("train_set", [config["train_set"]]), ("test_sets", config["test_sets"]))
        for n in names
        if n not in sets
    ]


def _check_backbones(config: dict) -> list[str]:
    """Each backbone names a known architecture, one of its weight sources, and a padding it supports."""
    problems = []
    for name, b in config["backbones"].items():
        where = f"backbones.{name}"
        try:
            arch = get_arch(b["arch"])
        except ValueError as err:
            problems.append(f"config key `{where}.arch`: {err}")
            continue
        if b["weights"] not in arch.weight_sources:
            problems.append(
                f"config key `{where}.weights`: {b['weights']!r} is not a weight source of {b['arch']}; "
                f"use one of {', '.join(arch.weight_sources)}"
            )
        if b["weights"] == "checkpoint" and not b.get("checkpoint"):
            problems.append(
                f"config key `{where}.checkpoint`: weights checkpoint needs the path of a state dict file"
            )
        least = min_unpadded_input(arch)
        unpadded = padding_mode(b["conv_padding"]) == "none"
        if unpadded and arch.removable_padding and config["input"]["size"] < least:
            problems.append(
                f"config key `input.size`: {config['input']['size']} px is too small for backbone {name} "
                f"(conv_padding: false): an unpadded {b['arch']} needs at least {least} px; set input.size to "
                f"{least} or more, or drop that backbone"
            )
        if b["pos_embed"] != "keep" and arch.library != "timm":
            problems.append(
                f"config key `{where}.pos_embed`: {b['pos_embed']!r} changes a vision transformer's position "
                f"embedding, and {b['arch']} is not a timm transformer; leave it at keep or drop it"
            )
        if unpadded and not arch.removable_padding:
            problems.append(
                f"config key `{where}.conv_padding`: removing padding is only defined for plain conv "
                f"stacks (vgg16), not {b['arch']}; set it to true (zeros, as trained) or reflect, replicate "
                f"or circular"
            )
    return problems


def _check_analysis_backbones(config: dict) -> list[str]:
    """The analyses list defined backbones."""
    return [
        f"config key `analyses.{key}`: {name!r} is not defined under backbones "
        f"({', '.join(config['backbones'])}); add it there or drop it"
        for key in ANALYSES_OF_BACKBONES
        for name in config["analyses"].get(key, [])
        if name not in config["backbones"]
    ]


def _check_tables(config: dict) -> list[str]:
    """Each table scores a test set that is run, on inputs that exist, with trained targets, and its rows
    name defined backbones and taps they have."""
    problems = []
    synthetic_sets = synthetic_test_sets(config)
    for table, entry in config["tables"].items():
        if "natural" in entry["inputs"] and entry["test_set"] not in config["test_sets"]:
            problems.append(
                f"config key `tables.{table}.test_set`: {entry['test_set']!r} is not one of test_sets "
                f"({', '.join(config['test_sets'])})"
            )
        if set(entry["inputs"]) - {"natural"} and not synthetic_sets:
            problems.append(
                f"config key `tables.{table}.inputs`: black/white/noise need a synthetic image set in "
                f"test_sets; add one (source: synthetic) or drop those inputs"
            )
        missing = [t for t in entry["targets"] if t not in config["targets"]]
        if missing:
            problems.append(
                f"config key `tables.{table}.targets`: {', '.join(missing)} not trained; add them to "
                f"the top-level `targets`"
            )
        for i, row in enumerate(entry.get("rows", [])):
            problems += _check_row(config, f"tables.{table}.rows.{i}", row)
    return problems


def _check_row(config: dict, where: str, row: dict) -> list[str]:
    if row["backbone"] not in config["backbones"]:
        return [
            f"config key `{where}.backbone`: {row['backbone']!r} is not defined under backbones "
            f"({', '.join(config['backbones'])})"
        ]
    backbone = config["backbones"][row["backbone"]]
    if not is_known_arch(backbone["arch"]) or backbone.get("taps"):
        return []  # reported above, or taps chosen by module name (checked when the network is built)
    arch = get_arch(backbone["arch"])
    if not arch.taps:
        return []  # derived when the network is built (architectures by name)
    return [
        f"config key `{where}.readout.taps`: {arch.name} has no tap {tap!r}; its taps are "
        f"{', '.join(t.name for t in arch.taps)}"
        for tap in row_readout(config, row).taps or ()
        if tap not in [t.name for t in arch.taps]
    ]


def _cross_check(config: dict) -> list[str]:
    """Every check across keys that the schema cannot express (CROSS_CHECKS), each problem one sentence
    naming the key and the fix."""
    return [problem for check in CROSS_CHECKS for problem in check(config)]


ANALYSES_OF_BACKBONES = (
    "mean_maps",
    "padding_modes",
    "border_distance",
    "channel_ranking",
    "canvas",
    "padding_pattern",
)


def _check_analyses(config: dict) -> list[str]:
    """What the analyses need beyond known backbone names: padding modes of one set of weights, each once;
    the canvas readout's H and V heads."""
    problems = []
    analyses, backbones = config["analyses"], config["backbones"]
    seen: dict[tuple, dict[str, str]] = {}
    for name in analyses.get("padding_modes", []):
        b = backbones.get(name)
        if b is None:
            continue
        weights = (b["arch"], b.get("weights"), b.get("seed"), b.get("checkpoint"), b.get("preprocessing"))
        mode = padding_mode(b.get("conv_padding", True))
        other = seen.setdefault(weights, {}).get(mode)
        if other:
            problems.append(
                f"config key `analyses.padding_modes`: {other} and {name} are the same weights with the same "
                f"padding ({mode}); list each padding mode of a network once"
            )
        seen[weights][mode] = name
    for modes in seen.values():
        if len(modes) > 1:
            continue
        (name,) = modes.values()
        problems.append(
            f"config key `analyses.padding_modes`: {name} has no other padding mode of its weights listed; add "
            f"backbones with the same arch and weights and another conv_padding (e.g. reflect)"
        )
    scored = [
        k for k in ("border_distance", "channel_ranking", "canvas", "padding_pattern") if analyses.get(k)
    ]
    if scored and analysis_test_set(config) is None:
        problems.append(
            f"config key `analyses.{scored[0]}`: it scores natural test images and `test_sets` has only "
            f"synthetic ones; add a set of natural images to test_sets"
        )
    missing = {"H", "V"} - set(config["targets"])
    if analyses.get("canvas") and missing:
        problems.append(
            f"config key `analyses.canvas`: it asks the readouts' H and V heads, and `targets` has no "
            f"{' or '.join(sorted(missing))}; add them to `targets`"
        )
    return problems


def _check_position_bits(config: dict) -> list[str]:
    """position_bits names defined backbones, a readout without taps, and grid sizes one head can serve."""
    entry = config["position_bits"]
    problems = [
        f"config key `position_bits.backbones`: {name!r} is not defined under backbones; add it there or drop it"
        for name in entry["backbones"]
        if name not in config["backbones"]
    ]
    if entry.get("readout", {}).get("taps"):
        problems.append(
            "config key `position_bits.readout.taps`: every tap is measured alone; drop `taps` (a backbone's "
            "own `taps` chooses which modules its store holds)"
        )
    grid = sorted(entry["grid"])
    if any(grid[-1] % k for k in grid):
        problems.append(
            f"config key `position_bits.grid`: {grid}: every K must divide the largest ({grid[-1]}), whose "
            f"cells the one head per tap classifies; e.g. [2, 4, 8]"
        )
    side = bits_readout(config).output_size(config["features"]["size"])
    if grid[-1] > side:
        problems.append(
            f"config key `position_bits.grid`: K = {grid[-1]} exceeds the readout's output side ({side} at "
            f"features.size {config['features']['size']}); use smaller K or a larger features.size"
        )
    return problems


def _check_dense_tasks(config: dict) -> list[str]:
    """Each dense task trains and tests on defined image sets that carry masks, on a known backbone."""
    problems = []
    for name, task in config["dense_tasks"].items():
        where = f"dense_tasks.{name}"
        if task["arch"] not in ARCHS or not get_arch(task["arch"]).removable_padding:
            usable = [n for n, s in ARCHS.items() if s.removable_padding]
            problems.append(
                f"config key `{where}.arch`: {task['arch']!r} cannot be trained with and without "
                f"padding; use one of {', '.join(usable)}"
            )
        for key, sets in (("train_set", [task["train_set"]]), ("test_sets", list(task["test_sets"]))):
            for image_set in sets:
                if image_set not in config["image_sets"]:
                    problems.append(
                        f"config key `{where}.{key}`: {image_set!r} is not an image set; define it "
                        f"under image_sets"
                    )
                elif not has_masks(config, image_set):
                    problems.append(
                        f"config key `{where}.{key}`: image set {image_set!r} has no masks; use a "
                        f"composite set, or give the folder or data set `masks`"
                    )
        for image_set in [task["train_set"], *task["test_sets"]]:
            entry = config["image_sets"].get(image_set, {})
            if entry.get("source") == "composite" and entry.get("task") != task["task"]:
                problems.append(
                    f"config key `{where}`: image set {image_set!r} holds {entry.get('task')} "
                    f"composites, not {task['task']}; use a set of the same task"
                )
            if (
                task["task"] == "segmentation"
                and entry.get("source") == "composite"
                and entry.get("classes") != task["classes"]
            ):
                problems.append(
                    f"config key `{where}.classes`: {task['classes']}, but image set {image_set!r} "
                    f"has {entry.get('classes')} classes; make them equal"
                )
        problems += _dense_leaks(config, name, task)
    return problems


def _dense_leaks(config: dict, name: str, task: dict) -> list[str]:
    """A dense task's composite test sets take other objects (split) and other backgrounds (packages) than
    its training set."""
    sets, problems = config["image_sets"], []
    train = sets.get(task["train_set"], {})
    for test in task["test_sets"]:
        entry = sets.get(test, {})
        if "composite" != train.get("source") or "composite" != entry.get("source"):
            continue
        if train.get("split") == entry.get("split"):
            problems.append(
                f"config key `image_sets.{test}.split`: {entry.get('split')!r}, as the training set "
                f"{task['train_set']!r} of dense_tasks.{name}: test on the other split"
            )
        shared = set(train.get("packages", [])) & set(entry.get("packages", []))
        if shared:
            problems.append(
                f"config key `image_sets.{test}.packages`: {', '.join(sorted(shared))} also give the backgrounds "
                f"of {task['train_set']!r} (dense_tasks.{name}); take the test backgrounds from other packages"
            )
    return problems


# The checks across keys, in the order their problems are reported.
CROSS_CHECKS = (
    _check_image_sets,
    _shared_packages,
    _check_datasets,
    _check_splits,
    _check_backbones,
    _check_analysis_backbones,
    _check_analyses,
    _check_dense_tasks,
    _check_tables,
    _check_position_bits,
)


def load_config(path) -> dict:
    return validate_config(read_yaml(path))
