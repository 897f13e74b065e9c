import json
import os

import numpy as np
import pytest
from PIL import Image

from posenc.errors import ActionableError
from posenc.images.decode import ImageDecodeError, load_image
from posenc.images.embedded import EMBEDDED_SOURCES, build_embedded, embedded_crop_plan, synthetic_records
from posenc.images.manifest import read_manifest, write_manifest
from posenc.images.sets import build_image_set, folder_contents, folder_records, manifest_changes
from tests.helpers import bomb_png


def test_embedded_train_and_test_use_disjoint_photos():
    assert not set(EMBEDDED_SOURCES["train"]) & set(EMBEDDED_SOURCES["test"])
    train = {s for s, *_ in embedded_crop_plan("train", 256)}
    test = {s for s, *_ in embedded_crop_plan("test", 64)}
    assert train == set(EMBEDDED_SOURCES["train"]) and test == set(EMBEDDED_SOURCES["test"])


def test_embedded_set_is_deterministic(tmp_path):
    a = write_manifest("x", build_embedded("test", 7, tmp_path / "a"), tmp_path / "a.json")
    b = write_manifest("x", build_embedded("test", 7, tmp_path / "b"), tmp_path / "b.json")
    assert a["count"] == 7 and a["list_hash"] == b["list_hash"]
    img = load_image(a["images"][0]["path"])
    assert img.shape == (256, 256, 3)
    other = write_manifest("x", build_embedded("test", 7, tmp_path / "c", seed=1), tmp_path / "c.json")
    assert other["list_hash"] != a["list_hash"]


def test_synthetic_inputs_are_the_official_files():
    recs = synthetic_records()
    assert [r.test_input for r in recs] == ["black", "white", "noise"]
    black, white, noise = (load_image(r.path) for r in recs)
    assert black.max() == 0 and white.min() == 1
    assert abs(noise.mean() - 25 / 255) < 0.01 and abs(noise.std() - 24 / 255) < 0.01


def test_folder_set_skips_unreadable_only_when_asked(tmp_path, capsys):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.ones((80, 80), np.uint8)).save(folder / "sub" / "b.jpg")
    (folder / "c.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("not an image")
    assert [r.name for r in folder_records(folder)] == ["a.png", "c.png", "sub/b.jpg"]
    with pytest.raises(ImageDecodeError, match="c.png"):
        build_image_set("mine", {"source": "folder", "path": str(folder)}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()  # no half-written manifest
    m = build_image_set(
        "mine", {"source": "folder", "path": str(folder), "skip_unreadable": True}, tmp_path / "m.json"
    )
    assert m["count"] == 2 and len(m["skipped"]) == 1 and m["skipped"][0]["path"].endswith("c.png")
    log = capsys.readouterr().err  # the job's log says which file was left out and why
    assert f"image set mine: skipped {folder / 'c.png'}" in log and "1 file(s) skipped" in log
    manifest, records = read_manifest(tmp_path / "m.json")
    assert [r.name for r in records] == ["a.png", "sub/b.jpg"]


def test_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="set `path`"):
        folder_records(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"config key image_sets.mine\)"):
        build_image_set("mine", {"source": "folder", "path": str(tmp_path / "nope")}, tmp_path / "m.json")


def test_an_extreme_aspect_ratio_is_named_in_the_log(tmp_path, capsys):
    Image.fromarray(np.zeros((70, 4000, 3), np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.zeros((70, 90, 3), np.uint8)).save(tmp_path / "fine.png")
    build_image_set("mine", {"source": "folder", "path": str(tmp_path)}, tmp_path / "m.json")
    log = capsys.readouterr().err
    assert "wide.png is 4000x70; it is squashed to a square" in log and "fine.png" not in log


def test_files_changed_in_place_are_found_by_stat_then_hash(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((80, 80, 3), k, np.uint8)).save(folder / f"{k}.png")
    entry = {"source": "folder", "path": str(folder)}
    manifest = tmp_path / "m.json"
    before = folder_contents("mine", entry, manifest)  # no manifest yet: every file hashed
    build_image_set("mine", entry, manifest)
    assert folder_contents("mine", entry, manifest) == before and manifest_changes(manifest) == []
    os.utime(folder / "1.png", (1, 1))  # touched, same content: nothing changed
    assert folder_contents("mine", entry, manifest) == before and manifest_changes(manifest) == []
    Image.fromarray(np.full((80, 80, 3), 9, np.uint8)).save(folder / "1.png")  # edited in place
    after = folder_contents("mine", entry, manifest)
    assert [a for a, b in zip(after, before) if a != b] == [[str(folder / "1.png"), after[1][1]]]
    assert manifest_changes(manifest) == [f"{folder / '1.png'} (content changed)"]
    assert folder_contents("mine", {"source": "embedded"}, manifest) is None


def test_tampered_manifest_is_refused(tmp_path):
    m = write_manifest("s", synthetic_records(), tmp_path / "s.json")
    m["images"][0]["sha256"] = "0" * 64
    (tmp_path / "s.json").write_text(json.dumps(m))
    with pytest.raises(ActionableError, match="inconsistent"):
        read_manifest(tmp_path / "s.json")


def _folder(tmp_path, images: dict) -> str:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, array in images.items():
        Image.fromarray(array).save(folder / name)
    return str(folder)


def test_duplicates_are_dropped_and_listed_unless_kept(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (70, 90, 3), dtype=np.uint8) for _ in range(2))
    folder = _folder(tmp_path, {"a.png": a, "b.png": b, "c.png": a})  # c is a's file, byte for byte
    manifest = build_image_set("s", {"source": "folder", "path": folder}, tmp_path / "m.json")
    assert [r["name"] for r in manifest["images"]] == ["a.png", "b.png"]
    assert manifest["duplicates"] == [{"path": f"{folder}/c.png", "same_as": f"{folder}/a.png"}]
    assert f"dropped {folder}/c.png, the same file as {folder}/a.png" in capsys.readouterr().err
    kept = build_image_set(
        "s", {"source": "folder", "path": folder, "duplicates": "keep"}, tmp_path / "k.json"
    )
    assert kept["count"] == 3 and kept["duplicates"] == [] and kept["rules"]["duplicates"] == "keep"


def test_small_images_are_skipped_with_their_size_never_upscaled(tmp_path, capsys):
    folder = _folder(
        tmp_path, {"big.png": np.zeros((80, 100, 3), np.uint8), "tiny.png": np.zeros((10, 30, 3), np.uint8)}
    )
    manifest = build_image_set("s", {"source": "folder", "path": folder}, tmp_path / "m.json")
    assert [r["name"] for r in manifest["images"]] == ["big.png"]
    assert manifest["skipped"] == [
        {
            "path": f"{folder}/tiny.png",
            "reason": "30x10 pixels, under the set's min_size of 64 on the short side",
        }
    ]
    assert "it would be upscaled" in capsys.readouterr().err
    every = build_image_set("s", {"source": "folder", "path": folder, "min_size": 0}, tmp_path / "e.json")
    assert every["count"] == 2


def test_a_decompression_bomb_is_named_from_its_header_and_skipped_when_asked(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(folder / "good.png")
    (folder / "bomb.png").write_bytes(bomb_png())
    with pytest.raises(ImageDecodeError, match="bomb.png: it declares 20000x20000 = 400,000,000 pixels"):
        build_image_set("s", {"source": "folder", "path": str(folder)}, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
    entry = {"source": "folder", "path": str(folder), "skip_unreadable": True}
    manifest = build_image_set("s", entry, tmp_path / "m.json")
    assert manifest["count"] == 1 and manifest["skipped"][0]["path"].endswith("bomb.png")
    # a genuine large image passes under a raised limit (the header is what is checked)
    with pytest.raises(
        ImageDecodeError, match="declares 80x80 = 6,400 pixels, beyond the image set's max_pixels of 100"
    ):
        load_image(folder / "good.png", max_pixels=100)
    assert load_image(folder / "good.png", max_pixels=6400).shape == (80, 80, 3)


def test_a_test_set_holding_training_photos_is_refused_unless_allowed(tmp_path):
    from posenc.images.sets import check_disjoint, leak_warning

    train = write_manifest("train", build_embedded("test", 4, tmp_path / "a"), tmp_path / "train.json")
    assert train["count"] == 4
    same = write_manifest("natural", build_embedded("test", 4, tmp_path / "b"), tmp_path / "same.json")
    other = write_manifest("synthetic", synthetic_records(), tmp_path / "other.json")
    assert same["count"] == 4
    check_disjoint(tmp_path / "train.json", [tmp_path / "other.json"])  # disjoint: no word
    with pytest.raises(
        ActionableError, match=r"test set 'natural' holds 4 of its 4 images also in the training set 'train'"
    ):
        check_disjoint(tmp_path / "train.json", [tmp_path / "other.json", tmp_path / "same.json"])
    check_disjoint(tmp_path / "train.json", [tmp_path / "same.json"], allow=True)
    assert "4 of the 4 images of test set 'natural'" in leak_warning(
        tmp_path / "train.json", tmp_path / "same.json"
    )
    assert other["count"] == 3
