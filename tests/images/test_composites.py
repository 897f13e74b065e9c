import numpy as np
import pytest
from PIL import Image

from posenc.images.composites import (
    SHAPES,
    Cutout,
    RealParts,
    build_composites,
    cutout_category,
    cutout_split,
    shape_mask,
)
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


def _disc_cutout(name, category, colour, side=120):
    """An RGBA cut-out: a disc of one colour, opaque inside, its alpha falling to 0 over a soft rim."""
    yy, xx = np.mgrid[0:side, 0:side]
    r = np.hypot(yy - side / 2, xx - side / 2) / (side / 2)
    alpha = np.clip((1.0 - r) / 0.2, 0, 1) * 255
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = alpha.astype(np.uint8)
    return Cutout(name, rgba, category)


def _parts(categories=()):
    backgrounds = {"bg/a.png": np.full((300, 400, 3), (0, 200, 0), np.uint8)}
    cutouts = (
        _disc_cutout("c/red.png", "animals", (250, 10, 10)),
        _disc_cutout("c/blue.png", "plants", (10, 10, 250)),
    )
    return RealParts(backgrounds, cutouts, 128, tuple(categories))


def test_real_cutouts_paste_exactly_the_pixels_their_mask_holds(tmp_path):
    records = build_composites("saliency", "train", 30, tmp_path, parts=_parts())
    centres = []
    for rec in records:
        image, mask = np.asarray(Image.open(rec.path)), load_mask(rec.mask)
        changed = (image != (0, 200, 0)).any(-1)
        assert (changed == (mask == 255)).all()  # the mask is exactly the pasted pixels, no blended rim
        assert set(np.unique(mask)) == {0, 255}
        assert rec.parts.startswith("bg/a.png + c/")
        ys, xs = np.nonzero(mask)
        centres.append((ys.mean() / 256, xs.mean() / 256))
    # one object, centred as in saliency data sets, its long side 40-75% of the image
    assert np.allclose(np.mean(centres, 0), 0.5, atol=0.06)
    assert 0.4 * 256 * 0.75 <= min(np.ptp(np.nonzero(load_mask(r.mask))[0]) for r in records[:5])


def test_real_segmentation_takes_its_classes_from_the_cutouts_categories(tmp_path):
    records = build_composites(
        "segmentation", "test", 20, tmp_path, classes=2, parts=_parts(["plants", "animals"])
    )
    seen = set()
    for rec in records:
        image, labels = np.asarray(Image.open(rec.path)), load_mask(rec.mask)
        # class 1 = the first category (plants: the blue disc), class 2 = animals (red)
        for cls, colour in ((1, (10, 10, 250)), (2, (250, 10, 10))):  # resampled: within a few levels
            assert (np.abs(image[labels == cls].astype(int) - colour) <= 4).all()
        assert ((labels == 0) == (image == (0, 200, 0)).all(-1)).all()
        seen |= set(np.unique(labels).tolist())
    assert seen == {0, 1, 2}


def test_the_catalogued_cutouts_split_by_content_into_disjoint_train_and_test():
    from posenc.images.packages import package_photos

    stamps = package_photos("tuxpaint-stamps-default")
    splits = {s: [p for p in stamps if cutout_split(p.sha256) == s] for s in ("train", "test")}
    assert len(splits["train"]) + len(splits["test"]) == len(stamps) >= 200
    assert 0.15 < len(splits["test"]) / len(stamps) < 0.35
    for category in ("animals", "plants", "household"):  # the default's segmentation classes
        for split in splits.values():
            assert any(cutout_category("tuxpaint-stamps-default", p.member) == category for p in split)


def test_the_attribution_of_composites_lists_every_photo_and_cutout_they_use(tmp_path):
    from posenc.images.attribution import attribution_markdown
    from posenc.images.packages import package_photos

    background = package_photos("scratch")[0]
    stamp = package_photos("tuxpaint-stamps-default")[0]
    parts = RealParts(
        {f"scratch/{background.file_name}": np.full((300, 300, 3), 90, np.uint8)},
        (_disc_cutout(f"tuxpaint-stamps-default/{stamp.file_name}", "animals", (1, 2, 3)),),
        128,
    )
    write_manifest(
        "sod", build_composites("saliency", "train", 3, tmp_path / "s", parts=parts), tmp_path / "m.json"
    )
    page = attribution_markdown([tmp_path / "m.json"])
    assert "## Image set `sod` (3 composites of 2 photographs and cut-outs)" in page
    assert f"`{stamp.member}` | GPL-2 |" in page and f"`{background.member}` | {background.licence} |" in page
    assert "tuxpaint-stamps-default 2022.06.04-1" in page and "2 distinct files in all" in page
