"""Known answers for the analyses beyond the paper: padding modes, distance to the border, channel ranking and
the canvas (posenc.analysis), on tiny synthetic cases."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from posenc.analysis import border_distance as bd
from posenc.analysis import canvas as cv
from posenc.analysis import channel_ranking as cr
from posenc.analysis.padding_modes import padding_modes
from posenc.features.store import StoreReader, StoreWriter
from posenc.probe.training import TrainConfig
from posenc.readout_spec import ReadoutSpec
from posenc.report.figures import full_size
from tests.helpers import RUN, provenance


# ---- padding modes ---------------------------------------------------------------------------------------
def test_circular_padding_leaves_a_constant_image_constant_and_zero_padding_does_not(tmp_path):
    """The reason padding modes differ: on a constant image, circular padding gives every tap a spatially
    constant map (no border, nothing for a readout to find); zero padding marks the border."""
    from posenc.features.extract import FeatureConfig, extract_features
    from posenc.images.embedded import synthetic_records
    from posenc.images.manifest import write_manifest

    white = [r for r in synthetic_records() if r.test_input == "white"]
    write_manifest("s", white, tmp_path / "m.json")
    cfg = FeatureConfig(input_size=196, size=14, dtype="float32", batch_size=4)
    spread = {}
    for mode in ("zeros", "circular"):
        entry = {"name": mode, "arch": "vgg16_bn_slim", "weights": "random", "conv_padding": mode}
        store = extract_features(entry, tmp_path / "m.json", tmp_path / f"{mode}.zarr", cfg, progress=False)
        block = StoreReader(store).read(0, 1)[0]  # (C, s, s)
        spread[mode] = float(block.std(axis=(1, 2)).max() / (np.abs(block).mean() + 1e-12))
    assert spread["circular"] < 1e-4
    assert spread["zeros"] > 1e-2


def _metrics(tmp_path, backbone, values, heldout_ratio=0.5):
    rows = [
        {**RUN, "backbone": backbone, "seed": seed, "image_set": "natural", "image": image}
        | {"test_input": "natural", "target": "H", "spc": spc, "mae": 0.1, "heldout_ratio": heldout_ratio}
        for seed, spc in enumerate(values)
        for image in ("a", "b")
    ]
    path = tmp_path / f"{backbone}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_padding_modes_name_each_mode_and_average_over_seeds(tmp_path):
    files = [_metrics(tmp_path, "net_circ", [0.1, 0.3], 1.2), _metrics(tmp_path, "net", [0.8, 0.6])]
    backbones = {
        "net": {"arch": "vgg16", "conv_padding": True},
        "net_circ": {"arch": "vgg16", "conv_padding": "circular"},
    }
    frame = padding_modes(files, backbones)
    assert frame["padding"].tolist() == ["zeros", "circular"]  # zeros first, whatever the file order
    assert frame["spc"].round(6).tolist() == [0.7, 0.2]
    assert frame["n_seeds"].tolist() == [2, 2]
    assert frame["n_heldout"].tolist() == [0, 2]  # both circular seeds no better than a constant
    assert (frame["spc_ci"] > 0).all()


# ---- distance to the border ------------------------------------------------------------------------------
def test_distance_to_the_border():
    np.testing.assert_array_equal(
        bd.border_distance_map(5),
        [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 2, 1, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]],
    )


def test_an_error_confined_to_the_border_lands_in_the_first_bin():
    size, bin_px = 16, 4
    target = np.tile(np.arange(size) / (size - 1), (size, 1))
    pred = np.repeat(target[None], 3, axis=0)
    pred[:, bd.border_distance_map(size) < 4] += 0.3
    frame = bd.binned_errors(pred, target, bin_px)
    assert frame["distance_lo"].tolist() == [0, 4]
    assert frame["distance_hi"].tolist() == [3, 7]
    np.testing.assert_allclose(frame["mae"], [0.3, 0.0], atol=1e-12)
    assert frame["pixels"].sum() == 3 * size * size


def test_a_constant_prediction_of_h_errs_most_at_the_border():
    """A readout that knows nothing predicts the mean: its H error falls from the border inwards."""
    size = 32
    target = np.tile(np.arange(size) / (size - 1), (size, 1))
    frame = bd.binned_errors(np.full((1, size, size), 0.5), target, 2)
    assert (np.diff(frame["mae"]) < 0).all()
    assert frame["mae"].iloc[0] > 2 * frame["mae"].iloc[-1]


def test_seed_curves_read_only_the_natural_images_of_the_test_set():
    preds = {
        "test_input": np.array(["natural", "natural", "black"]),
        "image_set": np.array(["natural", "natural", "synthetic"]),
        "targets": np.array(["H"]),
        "pred": np.concatenate([np.full((2, 1, 8, 8), 0.5), np.full((1, 1, 8, 8), 9.0)]).astype(np.float16),
    }
    frame = bd.seed_curves(preds, full_size, 32, "unit", 4, "natural")
    from posenc.probe.targets import target_tensor

    expected = bd.binned_errors(np.full((1, 32, 32), 0.5), target_tensor("H", 32).numpy(), 4)
    np.testing.assert_allclose(frame["mae"], expected["mae"], rtol=1e-5)
    assert (frame["images"] == 2).all()
    with pytest.raises(ValueError, match="no natural images"):
        bd.seed_curves(preds, full_size, 32, "unit", 4, "other")


# ---- channel ranking -------------------------------------------------------------------------------------
def _position_store(path, n=24, size=8, seed=0):
    """Tap "low": channel 0 = the H map (plus noise), 1 = noise, 2 = constant; tap "high": channel 0 = -V map,
    1..2 = noise (the -V map with more noise than the H map). Images are noise otherwise."""
    rng = np.random.default_rng(seed)
    coord = np.arange(size) / (size - 1)
    h = np.broadcast_to(coord[None, :], (size, size))
    low = rng.normal(0, 1, (n, 3, size, size)).astype(np.float32)
    low[:, 0] = h + rng.normal(0, 0.01, (n, size, size))
    low[:, 2] = 1.0
    high = rng.normal(0, 1, (n, 3, size, size)).astype(np.float32)
    high[:, 0] = -h.T + rng.normal(0, 0.2, (n, size, size))  # less clean than the H channel
    prov = provenance(feature_size=size, dtype="float32")
    prov["taps"] = [{"name": "low", "channels": 3}, {"name": "high", "channels": 3}]
    with StoreWriter(
        path, [("low", 3), ("high", 3)], [f"i{k}" for k in range(n)], prov, size, "float32"
    ) as w:
        w.append({"low": low, "high": high})
    return StoreReader(path)


def test_the_channel_that_is_the_h_map_ranks_first(tmp_path):
    frame = cr.ranking(_position_store(tmp_path / "s.zarr"))
    assert frame[["tap", "channel"]].values.tolist()[:3] == [["low", 0], ["low", 1], ["low", 2]]
    ranked = frame.sort_values("rank")
    assert ranked[["tap", "channel"]].values.tolist()[:2] == [["low", 0], ["high", 0]]
    assert frame.loc[0, "r_H"] > 0.99 and abs(frame.loc[0, "r_V"]) < 0.05
    assert frame.loc[3, "r_V"] < -0.7  # -V: a negative correlation counts as much position
    assert frame.loc[2, "corr"] == 0  # a constant channel carries none
    assert ranked["corr"].iloc[2] < 0.1


def test_flip_scores_have_known_answers():
    pooled = np.array([[1.0, 2.0]])
    assert cr.flip_scores(pooled, pooled, pooled).tolist() == [0.0, 0.0]
    np.testing.assert_allclose(cr.flip_scores(pooled, np.array([[1.0, 0.0]]), pooled), [0.0, 0.75])


def test_globally_pooled_raw_pixels_do_not_change_when_flipped():
    images = torch.rand(4, 3, 16, 16)

    def extractor(x):
        return {"rgb": x}

    pooled = [
        cr.pooled_responses(extractor, lambda x: x, x, ["rgb"])
        for x in (images, images.flip(-1), images.flip(-2))
    ]
    np.testing.assert_allclose(cr.flip_scores(*pooled), 0.0, atol=1e-6)


def test_top_k_channels_carry_position_and_bottom_k_do_not(tmp_path):
    train = _position_store(tmp_path / "train.zarr", n=32, seed=0)
    test = _position_store(tmp_path / "test.zarr", n=8, seed=1)
    frame = cr.ranking(train)
    cfg = TrainConfig(steps=150, batch_size=8, lr_milestones=(120,), input_norm="scale", output_size=32)
    rows = cr.topk_readouts(train, test, frame, [1], ReadoutSpec(1, 1, 0), ["H"], cfg, [0, 1])
    spc = rows.groupby("subset")["spc"].mean()
    assert spc["top"] > 0.95
    assert abs(spc["bottom"]) < 0.3  # a noise channel: nothing to read (the constant one is never picked)
    assert ~frame.loc[2, "active"] and cr.pick(frame, "bottom", 5, 0).tolist() == [0, 1, 3, 4, 5]
    assert set(rows["k"]) == {1} and len(rows) == 3 * 2


# ---- canvas ----------------------------------------------------------------------------------------------
def test_placements_and_paste():
    cells = cv.placements(224, 0.5)
    assert [(c["y0"], c["x0"]) for c in cells[:3]] == [(0, 0), (0, 56), (0, 112)]
    assert cells[4]["true_x"] == pytest.approx(0.5) and cells[0]["side"] == 112
    img = torch.full((3, 224, 224), 0.25)
    out = cv.paste(img, "white", 112, 56, 112)
    assert out[:, 56:168, 112:224].eq(0.25).all() and out[:, :56].eq(1).all() and out[:, :, :112].eq(1).all()
    assert cv.paste(img, "mean", 112, 0, 0).allclose(torch.tensor(0.25))


def test_scores_of_a_perfect_and_of_a_blind_readout():
    cells = pd.DataFrame(cv.placements(224, 0.5))
    perfect = cv.score(cells.assign(est_x=cells["true_x"], est_y=cells["true_y"]), 224, 0.5)
    assert (
        perfect["cell_accuracy"] == 1
        and perfect["centre_error"] == 0
        and perfect["corr_x"] == pytest.approx(1)
    )
    blind = cv.score(cells.assign(est_x=0.5, est_y=0.5), 224, 0.5)
    assert blind["cell_accuracy"] == pytest.approx(1 / 9) and blind["column_accuracy"] == pytest.approx(1 / 3)
    assert blind["corr_x"] == 0


def test_a_readout_that_knows_where_each_pixel_is_finds_every_pasted_image():
    """The plumbing: features that are the coordinate maps, read out as they are, put each paste in its cell."""
    size = 64
    coord = torch.arange(size, dtype=torch.float32) / (size - 1)
    maps = torch.stack([coord[None, :].expand(size, size), coord[:, None].expand(size, size)])

    def extractor(x):
        return {"xy": maps[None].expand(len(x), 2, size, size)}

    readouts = {0: (nn.Identity(), ["H", "V"], ["xy"]), 1: (nn.Identity(), ["V", "H"], ["xy"])}
    estimates = cv.canvas_estimates(extractor, lambda x: x, readouts, torch.rand(2, 3, size, size), 0.5)
    assert len(estimates) == 2 * 3 * 9 * 2  # readouts x canvases x cells x images
    for (seed, _), g in estimates.groupby(["seed", "canvas"]):
        result = cv.score(g, size, 0.5)
        if seed == 0:
            assert result["cell_accuracy"] == 1 and result["centre_error"] < 1e-3
        else:  # heads in the other order: x and y swapped, right only on the diagonal
            assert result["cell_accuracy"] == pytest.approx(3 / 9)


# ---- the padding's own pattern (Lin et al.) --------------------------------------------------------------
def _box_net(padding, mode="zeros"):
    conv = nn.Conv2d(1, 1, 3, padding=padding, padding_mode=mode, bias=False)
    nn.init.constant_(conv.weight, 1 / 9)

    def native(x):
        return {"box": conv(x[:, :1])}

    return native


def test_a_zero_padded_box_filter_shows_its_pattern_on_the_outer_ring_only():
    from posenc.analysis import padding_pattern as pp

    native = _box_net(1)
    strides = pp.tap_strides(native, 96)
    assert strides == {"box": 1} and pp.margin_for(strides) == 32
    profile = pp.pattern_profile(pp.pattern_maps(native, torch.ones(2, 3, 96, 96), strides))
    n = 96 - 64  # the crop's map side
    corners, edges = 4 * 5 / 9, (4 * n - 8) * 3 / 9  # a corner misses 5 of 9 ones, an edge cell 3
    assert profile["ppp"].iloc[0] == pytest.approx((corners + edges) / (4 * n - 4), rel=1e-5)
    assert profile["ppp"].iloc[1:].abs().max() < 1e-6
    summary = pp.reach(profile)
    assert summary["reach_px"].item() == 1 and summary["ppp_centre"].item() < 1e-6


@pytest.mark.parametrize("padding,mode", [(0, "zeros"), (1, "circular")])
def test_no_padding_leaves_no_pattern_and_circular_none_on_a_constant_image(padding, mode):
    from posenc.analysis import padding_pattern as pp

    native = _box_net(padding, mode)
    x = torch.ones(1, 3, 96, 96) if padding else torch.rand(2, 3, 96, 96)  # without padding: any image
    profile = pp.pattern_profile(pp.pattern_maps(native, x, pp.tap_strides(native, 96)))
    assert profile["ppp"].abs().max() < 1e-5
