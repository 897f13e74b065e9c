import copy

import pytest
import yaml

from posenc.config import ConfigError, load_config, load_schema, validate_config
from posenc.plan import row_readout, run_targets, table_runs


@pytest.fixture
def default(root):
    with open(root / "config" / "config.yaml") as fh:
        return yaml.safe_load(fh)


def test_embedded_default_is_valid_and_gets_defaults(root, default):
    config = load_config(root / "config" / "config.yaml")
    assert config["training"]["lr"] == 0.1 and config["input"]["size"] == 224
    minimal = {"image_sets": default["image_sets"], "backbones": {"pixels": {"arch": "pixels"}}}
    filled = validate_config(minimal)
    assert filled["features"]["dtype"] == "float16" and filled["backbones"]["pixels"]["weights"] == "none"
    assert filled["readout"] == {"layers": 1, "kernel": 3, "padding": 0}
    assert filled["stripe_range"] == "unit" and filled["seeds"] == 1


def test_every_schema_key_has_a_description(root):
    def walk(node, where):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                if "$ref" not in sub and "allOf" not in sub and set(sub) - {"default"}:
                    assert sub.get("description"), f"{where}.{key} has no description"
                walk(sub, f"{where}.{key}")
            for key in ("additionalProperties", "items"):
                if isinstance(node.get(key), dict):
                    walk(node[key], where)
            for name, sub in node.get("definitions", {}).items():
                walk(sub, f"definitions.{name}")

    walk(load_schema(), "config")


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda c: c["training"].update(lr=0), "`training.lr`"),
        (lambda c: c["training"].update(learning_rate=0.1), "unknown key(s) learning_rate"),
        (lambda c: c.update(stripe_range="half"), "use one of unit, signed"),
        (lambda c: c["backbones"]["vgg16_hed"].update(arch="vgg17"), "unknown architecture 'vgg17'"),
        (
            lambda c: c.update(input={"size": 195}),
            "`input.size`: 195 px is too small for backbone vgg16_oxford_nopad (conv_padding: false): an "
            "unpadded vgg16 needs at least 196 px",
        ),
        (
            lambda c: c["backbones"].update(r={"arch": "resnet152", "weights": "hed"}),
            "not a weight source of resnet152",
        ),
        (
            lambda c: c["backbones"].update(
                r={"arch": "resnet152", "weights": "random", "conv_padding": False}
            ),
            "`backbones.r.conv_padding`",
        ),
        (
            lambda c: c["backbones"].update(k={"arch": "vgg16", "weights": "checkpoint"}),
            "`backbones.k.checkpoint`",
        ),
        (lambda c: c.update(test_sets=["natural", "pascal"]), "'pascal' is not an image set"),
        (
            lambda c: c["tables"]["table4"]["rows"].append({"label": "x", "backbone": "nope"}),
            "table4.rows.6.backbone",
        ),
        (
            lambda c: c["tables"]["table4"]["rows"].append(
                {"label": "x", "backbone": "vgg16_hed", "readout": {"taps": ["layer4"]}}
            ),
            "has no tap 'layer4'",
        ),
        (lambda c: c["image_sets"]["natural"].pop("packages"), "`image_sets.natural.packages`"),
        (lambda c: c["analyses"].update(canvas=["vgg17"]), "`analyses.canvas`: 'vgg17' is not defined"),
        (
            lambda c: c["analyses"].update(padding_modes=["vgg16_oxford", "vgg16_oxford_ac2020"]),
            "vgg16_oxford and vgg16_oxford_ac2020 are the same weights with the same padding (zeros)",
        ),
        (
            lambda c: c["analyses"].update(padding_modes=["vgg16_oxford", "vgg16_hed_nopad"]),
            "vgg16_oxford has no other padding mode of its weights listed",
        ),
        (lambda c: c.update(targets=["H", "G"]), "`analyses.canvas`: it asks the readouts' H and V heads"),
        (lambda c: c["analyses"].update(channel_k=[0]), "`analyses.channel_k.0`"),
        (
            lambda c: c.update(test_sets=["synthetic"]) or c["tables"].clear(),
            "`analyses.border_distance`: it scores natural test images",
        ),
    ],
)
def test_errors_name_the_key_and_the_fix(default, change, message):
    config = copy.deepcopy(default)
    change(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config)
    assert message in str(err.value)


def test_table_runs_follow_the_rows(default):
    config = validate_config(copy.deepcopy(default))
    runs = table_runs(config, "table4")
    assert runs[:3] == [("pixels", "L1-k3-p0-all"), ("pixels", "L1-k3-p1-all"), ("pixels", "L1-k3-p2-all")]
    assert ("vgg16_oxford_nopad", "L1-k3-p0-all") in runs and len(runs) == 6
    # Table 4's targets, and V because the canvas analysis asks its readout where things are
    assert run_targets(config, "vgg16_oxford_nopad", "L1-k3-p0-all") == ["H", "V", "G", "HS"]
    config["analyses"]["canvas"] = []
    assert run_targets(config, "vgg16_oxford_nopad", "L1-k3-p0-all") == ["H", "V", "G", "HS"]  # table_vit: V
    del config["tables"]["table_vit"]
    assert run_targets(config, "vgg16_oxford_nopad", "L1-k3-p0-all") == ["H", "G", "HS"]  # Table 4 only
    assert run_targets(config, "vgg16_oxford", "L1-k3-p0-all") == [
        "H",
        "V",
        "G",
        "HS",
        "VS",
    ]  # Tables 1, 3, 4
    row = {"label": "f5", "backbone": "vgg16_hed", "readout": {"taps": ["relu5_3"], "kernel": 7}}
    assert row_readout(config, row).id == "L1-k7-p0-relu5_3"


def test_dense_tasks_need_sets_with_masks_of_their_task(default):
    bad = copy.deepcopy(default)
    bad["dense_tasks"]["sod"]["test_sets"] = {"natural": "pascals"}  # crops without masks
    bad["dense_tasks"]["seg"]["train_set"] = "sod_train"  # saliency composites
    bad["dense_tasks"]["seg"]["arch"] = "resnet152"  # padding not removable
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    text = str(err.value)
    assert "`dense_tasks.sod.test_sets`: image set 'natural' has no masks" in text
    assert "`dense_tasks.seg`: image set 'sod_train' holds saliency composites, not segmentation" in text
    assert "`dense_tasks.seg.arch`: 'resnet152' cannot be trained with and without padding" in text
    wrong_column = copy.deepcopy(default)
    wrong_column["dense_tasks"]["sod"]["test_sets"] = {"sod_test": "msra"}
    with pytest.raises(ConfigError, match=r"`dense_tasks.sod.test_sets.sod_test`: 'msra' is not allowed"):
        validate_config(wrong_column)


def test_dense_composites_of_cutouts_cannot_share_objects_or_backgrounds(default):
    bad = copy.deepcopy(default)
    bad["image_sets"]["sod_test"]["split"] = "train"  # the training objects
    bad["image_sets"]["seg_test"]["packages"] = ["scratch", "mate-backgrounds"]  # a training background
    bad["image_sets"]["seg_train"]["classes"] = bad["dense_tasks"]["seg"]["classes"] = 3
    bad["image_sets"]["seg_train"]["categories"] = ["animals", "plants"]
    bad["image_sets"]["natural"]["packages"] = ["tuxpaint-stamps-default"]  # cut-outs as test photos
    bad["image_sets"]["sod_train"]["cutouts"] = "scratch"  # photos, not cut-outs
    del bad["image_sets"]["seg_test"]["cutouts"]
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    text = str(err.value)
    assert "`image_sets.sod_test.split`: 'train', as the training set 'sod_train' of dense_tasks.sod" in text
    assert "`image_sets.seg_test.packages`: scratch also give the backgrounds of 'seg_train'" in text
    assert "`image_sets.seg_train.classes`: 3 classes, but `categories` names 2" in text
    assert "`image_sets.natural.packages`: tuxpaint-stamps-default holds cut-outs, not photos" in text
    assert "`image_sets.sod_train.cutouts`: 'scratch' is not a package of cut-outs" in text
    assert "`image_sets.seg_test`: `cutouts` and `packages` go together" in text


def test_dataclass_defaults_are_the_schema_defaults():
    """One source for every default: each settings dataclass has exactly the schema's keys and defaults."""
    from dataclasses import fields

    from posenc.config import schema_defaults, schema_property
    from posenc.dense.training import DenseConfig
    from posenc.features.extract import FeatureConfig
    from posenc.probe.training import TrainConfig

    def defaults(cls):
        return {f.name: f.default for f in fields(cls)}

    training = schema_defaults("training")
    training.pop("device")
    want = {**training, "lr_milestones": tuple(training["lr_milestones"])}
    want |= {
        "output_size": schema_defaults("input")["size"],
        "stripe_range": schema_property("stripe_range")["default"],
    }
    assert defaults(TrainConfig) == want
    features = schema_defaults("features")
    features.pop("device")
    inputs = schema_defaults("input")
    assert defaults(FeatureConfig) == {
        **features,
        "input_size": inputs["size"],
        "preprocessing": inputs["preprocessing"],
    }
    dense = schema_property("dense_tasks")["additionalProperties"]["properties"]
    dense_defaults = {k: v["default"] for k, v in dense.items() if "default" in v and k != "device"}
    got = defaults(DenseConfig)
    assert {k: got[k] for k in dense_defaults} == dense_defaults
    assert set(got) - set(dense_defaults) == {"task"}  # required in the schema: no default


def test_plan_settings_build_the_dataclasses(root):
    """What the rules pass (posenc.plan) is exactly what the dataclasses take, for the shipped configs."""
    from posenc import plan
    from posenc.dense.training import DenseConfig
    from posenc.features.extract import FeatureConfig
    from posenc.probe.training import TrainConfig

    for name in ("config.yaml", "paper.yaml"):
        config = load_config(root / "config" / name)
        assert TrainConfig.from_dict(plan.training_settings(config)).epochs == config["training"]["epochs"]
        assert FeatureConfig.from_dict(plan.feature_settings(config)).size == config["features"]["size"]
        for task in config["dense_tasks"]:
            assert (
                DenseConfig.from_dict(plan.dense_settings(config, task)).task
                == config["dense_tasks"][task]["task"]
            )
    with pytest.raises(ValueError, match="no setting epoch"):
        TrainConfig.from_dict({"epoch": 3})


def test_duplicate_yaml_keys_are_refused_with_line_numbers(tmp_path):
    from posenc.config import read_yaml

    path = tmp_path / "c.yaml"
    path.write_text("seeds: 2\ntargets: [H]\nseeds: 3\n")
    with pytest.raises(ConfigError, match=r"`seeds` is written twice \(lines 1 and 3\)"):
        read_yaml(path)
    path.write_text("training:\n\tepochs: 3\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_yaml(path)


def test_config_validation_and_planning_import_neither_torch_nor_matplotlib():
    # what workflow/rules/common.smk imports: a dry run plans every job without loading torch
    import subprocess
    import sys

    code = (
        "import sys; import posenc.config, posenc.plan, posenc.paths, posenc.stamps, posenc.images.sets, "
        "posenc.features.request, posenc.features.wheels; "
        "print(sorted(m for m in ('torch', 'matplotlib', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_least_unpadded_vgg16_input_is_what_the_network_takes():
    """196 px, from the registry's arithmetic, agrees with the network itself (195 px leaves relu5_3 empty)."""
    import torch

    from posenc.features.extract import TapExtractor, native_sizes
    from posenc.features.registry import get_arch, min_unpadded_input, vgg16_unpadded_side
    from posenc.features.weights import load_trunk

    arch = get_arch("vgg16")
    assert min_unpadded_input(arch) == 196 and vgg16_unpadded_side(224) == 2
    trunk, _ = load_trunk("vgg16", "random", conv_padding=False)
    assert native_sizes(TapExtractor(trunk, arch.taps), 196)["relu5_3"] == 1
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            TapExtractor(trunk, arch.taps).native(torch.zeros(1, 3, 195, 195))


def test_the_analyses_score_table1s_test_set_else_the_first_natural_one(default):
    from posenc.plan import analysis_test_set

    config = copy.deepcopy(default)
    assert analysis_test_set(config) == "natural"
    del config["tables"]["table1"]
    config["test_sets"] = ["synthetic", "natural"]
    assert analysis_test_set(config) == "natural"
    config["test_sets"] = ["synthetic"]
    assert analysis_test_set(config) is None


def test_each_cross_check_passes_the_default_alone_and_catches_its_own_problem(root):
    from posenc import config as cfg

    default = load_config(root / "config" / "config.yaml")
    assert all(check(default) == [] for check in cfg.CROSS_CHECKS)
    assert all(check.__doc__ for check in cfg.CROSS_CHECKS)
    broken = copy.deepcopy(default)
    broken["train_set"] = "nope"
    assert cfg._check_splits(broken) == [
        f"config key `train_set`: 'nope' is not an image set; define it under image_sets (defined: "
        f"{', '.join(default['image_sets'])})"
    ]
    assert cfg._check_backbones(broken) == []  # the others do not see it


def test_position_bits_settings_are_checked(default):
    bad = copy.deepcopy(default)
    bad["position_bits"] = {"backbones": ["nope"], "grid": [3, 8], "readout": {"taps": ["relu1_2"]}}
    with pytest.raises(ConfigError) as err:
        validate_config(bad)
    text = str(err.value)
    assert "`position_bits.backbones`: 'nope' is not defined" in text
    assert "`position_bits.readout.taps`" in text and "must divide the largest (8)" in text
    big = copy.deepcopy(default)
    big["position_bits"]["grid"] = [2, 32]
    with pytest.raises(ConfigError, match=r"K = 32 exceeds the readout's output side \(28 at"):
        validate_config(big)
