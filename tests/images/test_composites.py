import numpy as np
import pytest
from PIL import Image

from posenc.images.composites import SHAPES, build_composites, shape_mask
from posenc.images.manifest import read_manifest, write_manifest
from posenc.images.masks import IGNORE, load_mask, segmentation_target
from posenc.images.sets import MissingImages, build_image_set, folder_records


def test_saliency_composites_have_exact_centre_biased_masks(tmp_path):
    records = build_composites("saliency", "train", 24, tmp_path)
    centres = []
    for rec in records:
        image, mask = np.asarray(Image.open(rec.path)), load_mask(rec.mask)
        assert image.shape == (256, 256, 3) and mask.shape == (256, 256)
        assert set(np.unique(mask)) == {0, 255}
        assert 0.03 < (mask > 0).mean() < 0.5
        ys, xs = np.nonzero(mask)
        centres.append((ys.mean() / 256, xs.mean() / 256))
    centres = np.array(centres)
    # objects sit around the image centre (sd 0.12 of the side), as in saliency data sets
    assert np.allclose(centres.mean(0), 0.5, atol=0.06) and centres.std(0).max() < 0.2


def test_segmentation_composites_label_their_shapes(tmp_path):
    records = build_composites("segmentation", "test", 12, tmp_path, classes=3)
    seen = set()
    for rec in records:
        labels = load_mask(rec.mask)
        seen |= set(np.unique(labels).tolist())
    assert seen == {0, 1, 2, 3}
    square = shape_mask("rectangle", 50, 50, 20 * np.sqrt(2), 0.0, side=100)  # axis-aligned 40 x 40 square
    assert abs(square.sum() - 40 * 40) < 200 and square[50, 50] and not square[5, 5]


def test_composites_are_deterministic_and_masks_enter_the_list_hash(tmp_path):
    a = write_manifest("s", build_composites("saliency", "test", 3, tmp_path / "a"), tmp_path / "a.json")
    b = write_manifest("s", build_composites("saliency", "test", 3, tmp_path / "b"), tmp_path / "b.json")
    assert a["list_hash"] == b["list_hash"] and all(r["mask_sha256"] for r in a["images"])
    mask = tmp_path / "b" / "saliency_test_00000.mask.png"
    Image.fromarray(np.zeros((256, 256), np.uint8)).save(mask)  # same images, another ground truth
    c = write_manifest(
        "s",
        folder_records(tmp_path / "b", pattern="*[0-9].png", masks=tmp_path / "b", mask_suffix=".mask.png"),
        tmp_path / "c.json",
    )
    assert c["count"] == 3 and c["list_hash"] != a["list_hash"]


def test_folder_masks_pair_by_name_and_a_missing_one_is_named(tmp_path):
    images, masks = tmp_path / "img", tmp_path / "gt"
    images.mkdir(), masks.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(images / f"{name}.jpg")
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(masks / f"{name}.png")
    (tmp_path / "list.txt").write_text("a\nc\n")
    records = folder_records(images, masks=masks, list_file=tmp_path / "list.txt")
    assert [r.name for r in records] == ["a.jpg", "c.jpg"] and records[1].mask == str(masks / "c.png")
    with pytest.raises(MissingImages, match=r"image list .*nolist.txt does not exist"):
        folder_records(images, list_file=tmp_path / "nolist.txt")
    (masks / "b.png").unlink()
    with pytest.raises(MissingImages, match=r"b\.jpg has no mask .*b\.png"):
        folder_records(images, masks=masks)


def test_image_set_of_composites_through_the_config_entry(tmp_path):
    spec = {"source": "composite", "task": "segmentation", "classes": 2, "split": "train", "count": 4}
    manifest = build_image_set("seg", spec, tmp_path / "seg.json", resources_dir=tmp_path)
    _, records = read_manifest(tmp_path / "seg.json")
    assert manifest["count"] == 4 and all(r.mask for r in records)
    assert set(np.unique(np.concatenate([load_mask(r.mask).ravel() for r in records]))) <= {0, 1, 2}


def test_voc_style_palette_masks_keep_class_indices_and_borders_are_ignored(tmp_path):
    labels = np.array([[0, 1, 255], [20, 3, 0]], np.uint8)
    img = Image.fromarray(labels, mode="P")
    img.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    img.save(tmp_path / "voc.png")
    loaded = load_mask(tmp_path / "voc.png")
    assert (loaded == labels).all()
    target = segmentation_target(loaded, classes=3)
    assert target.tolist() == [[0, 1, IGNORE], [IGNORE, 3, 0]]
    assert len(SHAPES) >= 3
