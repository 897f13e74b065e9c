import numpy as np
from torch import nn

from posenc.analysis.mean_maps import border_stats, mean_maps, summarise
from posenc.features.architectures import uneven_padding
from tests.helpers import write


def test_the_mean_map_is_the_mean_over_images_and_channels(tmp_path):
    store = tmp_path / "s.zarr"
    write(store)  # the helper's taps hold known values
    from posenc.features.store import StoreReader

    reader = StoreReader(store)
    maps = mean_maps(store)
    for name, array in zip(reader.taps, reader.arrays, strict=True):
        np.testing.assert_allclose(maps[name], array[:].astype(np.float32).mean(axis=(0, 1)), rtol=1e-6)


def test_border_contrast_and_asymmetry_have_known_answers():
    flat = np.ones((8, 8), np.float32)
    assert border_stats(flat) == {"border_contrast": 0.0, "lr_asymmetry": 0.0, "tb_asymmetry": 0.0}
    ring = flat.copy()
    ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = 3.0
    assert border_stats(ring)["border_contrast"] > 1 and border_stats(ring)["lr_asymmetry"] == 0
    left = flat.copy()
    left[:, 0] = 0.0  # a zero-padded conv that pads only the left side
    stats = border_stats(left)
    assert stats["lr_asymmetry"] < 0 and stats["tb_asymmetry"] == 0


def test_uneven_padding_is_found_where_the_last_padding_row_is_never_used():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.Conv2d(4, 4, 3, stride=1, padding=1))
    assert uneven_padding(net, 9) == []  # (9 + 2 - 3) % 2 == 0
    assert uneven_padding(net, 8) == [{"module": "0", "input": 8, "kernel": 3, "stride": 2, "padding": 1}]


def test_a_zero_padded_network_shows_its_border_and_an_unpadded_one_does_not(tmp_path):
    from posenc.features.extract import FeatureConfig, extract_features
    from posenc.images.embedded import synthetic_records
    from posenc.images.manifest import write_manifest

    white = [r for r in synthetic_records() if r.test_input == "white"]  # a constant image
    write_manifest("s", white, tmp_path / "m.json")
    cfg = FeatureConfig(input_size=196, size=14, dtype="float32", batch_size=4)
    stats = {}
    for padding in (True, False):
        entry = {
            "name": f"slim_{padding}",
            "arch": "vgg16_bn_slim",
            "weights": "random",
            "conv_padding": padding,
        }
        store = extract_features(
            entry, tmp_path / "m.json", tmp_path / f"{padding}.zarr", cfg, progress=False
        )
        maps, rows = summarise(store, entry, 196)
        stats[padding] = {r["tap"]: r for r in rows}
        assert set(maps) == {r["tap"] for r in rows}
    for tap in stats[True]:
        # without padding a constant image stays constant everywhere; zero padding marks the border
        assert abs(stats[False][tap]["border_contrast"]) < 1e-4
        assert abs(stats[True][tap]["border_contrast"]) > 0.01
    # 196 px: 196 -> 98 -> 49, and a 2x2 pool of 49 rows never reads the last one
    assert stats[True]["relu5_3"]["uneven_padding"].endswith("(in 49, k2 s2 p0)")
    assert stats[False]["relu5_3"]["uneven_layers"] == 0  # unpadded: 192, 92, 40, 14 rows reach the pools
