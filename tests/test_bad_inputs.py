"""A catalogue of bad inputs: images, image sets, config values, checkpoints, weight files, data sets, stores.

Each case makes one bad input, runs the posenc function a workflow job would run, and checks that the
error (1) names the problem (the file or config key), (2) says what to do, and (3) left nothing behind
that a rerun would take for a finished output.
"""

from __future__ import annotations

import copy
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from posenc.config import load_config, read_yaml, validate_config
from posenc.features.store import StoreReader, StoreWriter
from posenc.features.weights import load_trunk
from posenc.features.wheels import HED, verify_weights
from posenc.images.download import fetch_dataset
from posenc.images.sets import build_image_set
from tests.helpers import ROOT, bomb_png, write

DEFAULT = load_config(ROOT / "config" / "config.yaml")


@dataclass
class Case:
    name: str
    run: Callable[[Path], object]  # raises
    problem: str  # what the message must name (formatted with tmp=the case's folder)
    fix: str  # and the words that say what to do
    outputs: list[str] = field(default_factory=list)  # must not exist afterwards (relative to tmp)


# ---- images: a folder set with one bad file ----------------------------------------------------------
def image_folder(tmp: Path, name: str, data: bytes | None = None, image=None) -> Path:
    folder = tmp / "imgs"
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(folder / "good.png")  # above min_size
    if image is not None:
        image.save(folder / name)
    else:
        (folder / name).write_bytes(data)
    return folder


def folder_set(name, data=None, image=None):
    def run(tmp):
        folder = image_folder(tmp, name, data, image)
        build_image_set("mine", {"source": "folder", "path": str(folder)}, tmp / "m.json")

    return run


def png_bytes(size=80):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes():
    buf = io.BytesIO()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def small_image_refused(tmp):
    folder = image_folder(tmp, "tiny.png", image=Image.fromarray(np.zeros((10, 10, 3), np.uint8)))
    build_image_set(
        "mine", {"source": "folder", "path": str(folder), "small_images": "refuse"}, tmp / "m.json"
    )


IMAGE_FIX = "skip_unreadable: true"
IMAGE_CASES = [
    Case(
        "decompression bomb",
        folder_set("bomb.png", bomb_png()),
        "{tmp}/imgs/bomb.png: it declares 20000x20000 = 400,000,000 pixels",
        "raise max_pixels",
        ["m.json"],
    ),
    Case(
        "image under min_size, refused",
        small_image_refused,
        "{tmp}/imgs/tiny.png is 10x10 pixels, under the set's min_size of 64",
        "lower image_sets.mine.min_size, or set image_sets.mine.small_images: skip",
        ["m.json"],
    ),
    Case("empty file", folder_set("bad.png", b""), "{tmp}/imgs/bad.png", IMAGE_FIX, ["m.json"]),
    Case(
        "truncated png", folder_set("bad.png", png_bytes()[:40]), "{tmp}/imgs/bad.png", IMAGE_FIX, ["m.json"]
    ),
    Case("text named jpg", folder_set("bad.jpg", b"hello"), "{tmp}/imgs/bad.jpg", IMAGE_FIX, ["m.json"]),
    Case(
        "html saved as png",
        folder_set("bad.png", b"<!DOCTYPE html><html>404</html>"),
        "{tmp}/imgs/bad.png",
        IMAGE_FIX,
        ["m.json"],
    ),
    Case(
        "jpeg header only",
        folder_set("bad.jpg", jpeg_bytes()[:200]),
        "{tmp}/imgs/bad.jpg",
        IMAGE_FIX,
        ["m.json"],
    ),
    Case(
        "one pixel",
        folder_set("bad.png", image=Image.fromarray(np.zeros((1, 1, 3), np.uint8))),
        "only 1x1 pixels",
        IMAGE_FIX,
        ["m.json"],
    ),
    Case(
        "float image beyond [0, 1]",
        folder_set("bad.tif", image=Image.fromarray(np.full((8, 8), 7.0, np.float32))),
        "{tmp}/imgs/bad.tif",
        IMAGE_FIX,
        ["m.json"],
    ),
    Case(
        "float image with NaN",
        folder_set("bad.tif", image=Image.fromarray(np.full((8, 8), np.nan, np.float32))),
        "{tmp}/imgs/bad.tif",
        IMAGE_FIX,
        ["m.json"],
    ),
]


# ---- image sets ----------------------------------------------------------------------------------------
def missing_folder(tmp):
    build_image_set("mine", {"source": "folder", "path": str(tmp / "nope")}, tmp / "m.json")


def empty_folder(tmp):
    (tmp / "imgs").mkdir()
    (tmp / "imgs" / "notes.txt").write_text("no images here")
    build_image_set("mine", {"source": "folder", "path": str(tmp / "imgs")}, tmp / "m.json")


def wrong_count(tmp):
    folder = image_folder(tmp, "b.png", png_bytes())
    build_image_set("mine", {"source": "folder", "path": str(folder), "expected_count": 5}, tmp / "m.json")


def missing_mask(tmp):
    folder = image_folder(tmp, "b.png", png_bytes())
    (tmp / "masks").mkdir()
    Image.fromarray(np.zeros((80, 80), np.uint8)).save(tmp / "masks" / "good.png")
    entry = {"source": "folder", "path": str(folder), "masks": str(tmp / "masks")}
    build_image_set("mine", entry, tmp / "m.json")


SET_CASES = [
    Case("missing folder", missing_folder, "image_sets.mine", "set `path`", ["m.json"]),
    Case(
        "folder without images", empty_folder, "no image files", "point the image set at a folder", ["m.json"]
    ),
    Case(
        "unexpected image count",
        wrong_count,
        "image_sets.mine.expected_count",
        "drop expected_count",
        ["m.json"],
    ),
    Case("image without mask", missing_mask, "has no mask", "check `masks` and `mask_suffix`", ["m.json"]),
]


# ---- config values -------------------------------------------------------------------------------------
def config_with(change):
    def run(tmp):
        config = copy.deepcopy(DEFAULT)
        change(config)
        validate_config(config)

    return run


def set_key(*path_and_value):
    *path, value = path_and_value

    def change(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def yaml_file(text):
    def run(tmp):
        (tmp / "c.yaml").write_text(text)
        read_yaml(tmp / "c.yaml")

    return run


def first_row(field_name, value):
    def change(config):
        config["tables"]["table4"]["rows"][0][field_name] = value

    return change


CONFIG_CASES = [
    Case(
        "misspelt top-level key", config_with(set_key("seed", 3)), "unknown key(s) seed", "remove or rename"
    ),
    Case("seeds as a string", config_with(set_key("seeds", "3")), "config key `seeds`", "set a valid value"),
    Case("zero seeds", config_with(set_key("seeds", 0)), "config key `seeds`", "minimum of 1"),
    Case("zero epochs", config_with(set_key("training", "epochs", 0)), "`training.epochs`", "minimum of 1"),
    Case(
        "unknown weight source",
        config_with(set_key("backbones", "vgg16_random", "weights", "imagenett")),
        "`backbones.vgg16_random.weights`",
        "use one of",
    ),
    Case(
        "row names an undefined backbone",
        config_with(first_row("backbone", "vgg19")),
        "`tables.table4.rows.0.backbone`",
        "is not defined under backbones",
    ),
    Case(
        "backbone without arch",
        config_with(lambda c: c["backbones"]["pixels"].pop("arch")),
        "`backbones.pixels`",
        "add it",
    ),
    Case(
        "malformed checksum",
        config_with(
            set_key(
                "datasets", "mine", {"url": "https://x.org/a.tar", "images": "img", "checksum": "sha256:ab"}
            )
        ),
        "`datasets.mine.checksum`",
        "sha256:<64 hex digits>",
    ),
    Case(
        "unpadded VGG16 on small inputs",
        config_with(set_key("input", "size", 128)),
        "`input.size`",
        "set input.size to 196 or more",
    ),
    Case(
        "key written twice",
        yaml_file("seeds: 2\nseeds: 3\n"),
        "`seeds` is written twice (lines 1 and 2)",
        "keep one",
    ),
    Case("tab indentation", yaml_file("training:\n\tepochs: 3\n"), "line 2", "tabs are not allowed"),
    Case(
        "image set of an undefined data set",
        config_with(set_key("image_sets", "mine", {"source": "dataset", "dataset": "nope"})),
        "`image_sets.mine.dataset`",
        "add it there",
    ),
    Case(
        "table tests on a set that is not a test set",
        config_with(set_key("tables", "table4", "test_set", "train")),
        "`tables.table4.test_set`",
        "is not one of test_sets",
    ),
    Case(
        "negative readout padding",
        config_with(set_key("readout", "padding", -1)),
        "`readout.padding`",
        "minimum of 0",
    ),
    Case(
        "unknown stripe range",
        config_with(set_key("stripe_range", "percent")),
        "`stripe_range`",
        "use one of",
    ),
    Case(
        "tap the backbone does not have",
        config_with(first_row("readout", {"taps": ["conv9_9"]})),
        "has no tap 'conv9_9'",
        "its taps are",
    ),
]


# ---- checkpoints and weight files ----------------------------------------------------------------------
def checkpoint(write):
    def run(tmp):
        path = tmp / "w.pt"
        write(path)
        load_trunk("vgg16_bn_slim", "checkpoint", checkpoint=str(path))

    return run


def truncated(path):
    torch.save({"a": torch.zeros(100)}, path)
    path.write_bytes(path.read_bytes()[:300])


def other_arch(path):
    torch.save({"layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3)}, path)


SAVE_FIX = "torch.save(model.state_dict()"
WEIGHT_CASES = [
    Case("missing checkpoint", checkpoint(lambda p: None), "{tmp}/w.pt does not exist", "set `checkpoint`"),
    Case(
        "garbage checkpoint",
        checkpoint(lambda p: p.write_bytes(b"\x80\x02garbage" * 50)),
        "{tmp}/w.pt",
        SAVE_FIX,
    ),
    Case(
        "pickled model instead of a state dict",
        checkpoint(lambda p: torch.save(torch.nn.Linear(2, 2), p)),
        "holds Python objects besides tensors",
        SAVE_FIX,
    ),
    Case("truncated checkpoint", checkpoint(truncated), "not a readable PyTorch file", SAVE_FIX),
    Case("checkpoint holding a list", checkpoint(lambda p: torch.save([1, 2], p)), "holds a list", SAVE_FIX),
    Case(
        "state dict of another network", checkpoint(other_arch), "lacks", "torchvision-layout vgg16_bn_slim"
    ),
    Case(
        "weight file not fetched",
        lambda tmp: verify_weights(HED, tmp / "hed.h5"),
        "not found at {tmp}/hed.h5",
        "snakemake --cores all {tmp}/hed.h5",
    ),
    Case(
        "weight file damaged",
        lambda tmp: (tmp / "hed.h5").write_bytes(b"x") and verify_weights(HED, tmp / "hed.h5"),
        "{tmp}/hed.h5 has sha256",
        "snakemake --cores all --force {tmp}/hed.h5",
    ),
]


# ---- data sets -----------------------------------------------------------------------------------------
def tar_of(tmp: Path, folder: str, n: int) -> Path:
    path = tmp / "set.tar"
    with tarfile.open(path, "w") as tf:
        for k in range(n):
            data = png_bytes()
            info = tarfile.TarInfo(f"{folder}/{k}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def dataset(entry_of):
    def run(tmp):
        fetch_dataset("mine", entry_of(tmp), tmp / "out", downloads_dir=tmp / "dl", progress=False)

    return run


DATASET_CASES = [
    Case(
        "archive checksum differs",
        dataset(
            lambda tmp: {
                "url": tar_of(tmp, "img", 2).as_uri(),
                "images": "img",
                "checksum": "sha256:" + "0" * 64,
            }
        ),
        "datasets.mine",
        "rm {tmp}/dl/set.tar",
        ["out"],
    ),
    Case(
        "archive without the image folder",
        dataset(lambda tmp: {"url": tar_of(tmp, "img", 2).as_uri(), "images": "JPEGImages"}),
        "has no folder 'JPEGImages'",
        "set `datasets.mine.images`",
        ["out"],
    ),
    Case(
        "archive with another image count",
        dataset(lambda tmp: {"url": tar_of(tmp, "img", 2).as_uri(), "images": "img", "count": 3}),
        "holds 2 images, expected 3",
        "set `datasets.mine.count` to 2",
        ["out"],
    ),
    Case(
        "unreachable URL",
        dataset(lambda tmp: {"url": (tmp / "gone.tar").as_uri(), "images": "img"}),
        "could not download",
        "{tmp}/dl",
        ["out", "dl/gone.tar"],
    ),
]


# ---- feature stores ------------------------------------------------------------------------------------
def overflow(tmp):
    prov = {"taps": [{"name": "a", "channels": 1, "stride": 1, "native_size": 4}]}
    with StoreWriter(tmp / "s.zarr", [("a", 1)], ["x"], prov, size=4) as writer:
        writer.append({"a": np.full((1, 1, 4, 4), 1e8, np.float32)})


def incomplete(tmp):
    (tmp / "s.zarr").mkdir()
    (tmp / "s.zarr" / "zarr.json").write_text(
        '{"zarr_format": 3, "node_type": "group", "attributes": {"posenc": {"complete": false}}}'
    )
    StoreReader(tmp / "s.zarr")


def damaged_store(where):
    def run(tmp):
        write(tmp / "s.zarr")
        chunk = tmp / "s.zarr" / "low" / "c" / "1" / "0" / "0" / "0"
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2 if where == "payload" else 1] ^= 0xFF
        chunk.write_bytes(bytes(data))
        StoreReader(tmp / "s.zarr").read(0, 10)

    return run


def lost_chunk(tmp):
    write(tmp / "s.zarr")
    (tmp / "s.zarr" / "high" / "c" / "2" / "0" / "0" / "0").unlink()
    StoreReader(tmp / "s.zarr")


def older_store(tmp):
    write(tmp / "s.zarr")
    meta = json.loads((tmp / "s.zarr" / "zarr.json").read_text())
    meta["attributes"]["posenc"]["store_format"] = 1
    (tmp / "s.zarr" / "zarr.json").write_text(json.dumps(meta))
    StoreReader(tmp / "s.zarr")


STORE_FIX = "rebuild the store: snakemake --cores all --force {tmp}/s.zarr"
STORE_CASES = [
    Case("activations beyond float16", overflow, "reaches 1e+08", "features.dtype: float32", ["s.zarr"]),
    Case("incomplete store", incomplete, "is incomplete", "snakemake --cores all --force {tmp}/s.zarr"),
    Case(
        "flipped byte in a chunk's data", damaged_store("payload"), "tap low, chunk 1 (images 4..7", STORE_FIX
    ),
    Case(
        "flipped byte in a chunk's header",
        damaged_store("header"),
        "tap low, chunk 1 (images 4..7",
        STORE_FIX,
    ),
    Case("lost chunk file", lost_chunk, "lost chunk files (high chunk 2 (images 8..9))", STORE_FIX),
    Case("store of an older format", older_store, "written by an older posenc", STORE_FIX),
]


# ---- splits and set rules ------------------------------------------------------------------------------
def shared_photos(tmp):
    from posenc.images.embedded import build_embedded
    from posenc.images.manifest import write_manifest
    from posenc.images.sets import check_disjoint

    write_manifest("train", build_embedded("test", 3, tmp / "a"), tmp / "train.json")
    write_manifest("natural", build_embedded("test", 3, tmp / "b"), tmp / "natural.json")
    check_disjoint(tmp / "train.json", [tmp / "natural.json"])


def all_small(tmp):
    folder = tmp / "imgs"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((20, 30, 3), k, np.uint8)).save(folder / f"{k}.png")
    build_image_set("mine", {"source": "folder", "path": str(folder)}, tmp / "m.json")


def tampered_manifest(tmp):
    from posenc.images.manifest import read_manifest

    folder = image_folder(tmp, "b.png", png_bytes())
    build_image_set("mine", {"source": "folder", "path": str(folder)}, tmp / "m.json")
    manifest = json.loads((tmp / "m.json").read_text())
    manifest["images"][0]["sha256"] = "0" * 64
    (tmp / "m.json").write_text(json.dumps(manifest))
    read_manifest(tmp / "m.json")


def store_of_another_backbone(tmp):
    from posenc.probe.evaluate import check_same_backbone
    from tests.helpers import provenance

    check_same_backbone(
        provenance(), provenance(conv_padding=False, image_list_hash="h2"), str(tmp / "t.zarr")
    )


SPLIT_CASES = [
    Case(
        "every image under min_size",
        all_small,
        "has no usable images: all 3 were skipped",
        "relax the rule that skipped them (image_sets.mine.min_size",
        ["m.json"],
    ),
    Case("manifest edited by hand", tampered_manifest, "is inconsistent (list hash differs)", "rebuild it"),
    Case(
        "test store of another backbone",
        store_of_another_backbone,
        "{tmp}/t.zarr was not extracted like the training store (differs in conv_padding)",
        "rebuild it with the same backbone settings",
    ),
    Case(
        "unknown small_images rule",
        config_with(set_key("image_sets", "natural", "small_images", "upscale")),
        "`image_sets.natural.small_images`",
        "skip",
    ),
    Case(
        "min_size as a word",
        config_with(set_key("image_sets", "train", "min_size", "large")),
        "`image_sets.train.min_size`",
        "set a valid value",
    ),
    Case(
        "unknown feature precision",
        config_with(set_key("features", "precision", "float8")),
        "`features.precision`",
        "bfloat16",
    ),
    Case(
        "zero training steps",
        config_with(set_key("training", "steps", 0)),
        "`training.steps`",
        "minimum of 1",
    ),
    Case(
        "test set holding training photos",
        shared_photos,
        "test set 'natural' holds 3 of its 3 images also in the training set 'train'",
        "set allow_shared_photos: true",
    ),
    Case(
        "unknown duplicates rule",
        config_with(set_key("image_sets", "train", "duplicates", "merge")),
        "`image_sets.train.duplicates`",
        "drop",
    ),
    Case(
        "negative min_size",
        config_with(set_key("image_sets", "train", "min_size", -1)),
        "`image_sets.train.min_size`",
        "minimum of 0",
    ),
    Case(
        "max_pixels of zero",
        config_with(set_key("image_sets", "natural", "max_pixels", 0)),
        "`image_sets.natural.max_pixels`",
        "minimum of 1",
    ),
    Case(
        "allow_shared_photos as a word",
        config_with(set_key("allow_shared_photos", "yes")),
        "`allow_shared_photos`",
        "set a valid value",
    ),
]

CASES = IMAGE_CASES + SET_CASES + CONFIG_CASES + WEIGHT_CASES + DATASET_CASES + STORE_CASES + SPLIT_CASES


def test_the_catalogue_is_large():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_the_problem_and_the_fix_and_leaves_nothing(case, tmp_path, monkeypatch):
    monkeypatch.delenv("POSENC_CONFIGFILES", raising=False)
    with pytest.raises((Exception, SystemExit)) as err:
        case.run(tmp_path)
    message = str(err.value)
    assert "Traceback" not in message
    for words in (case.problem, case.fix):
        assert words.format(tmp=tmp_path) in message, message
    for output in case.outputs:
        assert not (tmp_path / output).exists(), output
    leftovers = [p for p in tmp_path.rglob("*.tmp-*")]
    assert leftovers == []
    assert not isinstance(err.value, KeyError | TypeError | IndexError | AttributeError)  # never a raw slip
