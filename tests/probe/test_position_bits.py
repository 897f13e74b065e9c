"""Position in bits: the bound's arithmetic, and its two known answers. Constant images through the raw-pixel
readout without padding carry no position (about 0 bits); coordinate channels (CoordConv) carry all of it
(about log2(K^2) bits)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from posenc.features.store import StoreWriter
from posenc.probe import cells
from posenc.probe.position_bits import BitsConfig, CellHeads, load_cell_heads, position_bits
from posenc.probe.training import TrainConfig
from posenc.readout_spec import ReadoutSpec
from tests.helpers import provenance

SIZE = 28  # stored map side; a k=3, p=0 readout outputs 26 x 26


def test_cells_of_the_output_grid_and_their_entropy():
    assert cells.cell_index(4, 2).tolist() == [0, 0, 1, 1]
    counts = cells.cell_index(26, 8).bincount().tolist()  # each location in the band of its centre
    assert counts == counts[::-1] and set(counts) == {3, 4} and sum(counts) == 26
    assert cells.max_bits(24, 8) == pytest.approx(6.0)  # K divides the side: log2(K^2)
    p = np.array(counts) / 26
    assert cells.max_bits(26, 8) == pytest.approx(-2 * (p * np.log2(p)).sum())  # a little under 6
    assert cells.outputs(8, "rows_columns") == 16 and cells.outputs(8, "cells") == 64
    # uniform logits: the cross-entropy is log(K) per band, the bound exactly 0 where K divides the side
    rows, cols = cells.cross_entropy(torch.zeros(2, 8, 24, 24), 4, 4, "rows_columns")
    assert float(rows) == pytest.approx(math.log(4)) and float(cols) == pytest.approx(math.log(4))
    assert cells.bits(float(rows + cols), 24, 4) == pytest.approx(0.0, abs=1e-5)
    # logits that are the truth, scaled up: the bound reaches H(C)
    truth = torch.nn.functional.one_hot(cells.cell_index(24, 4), 4).T.float()  # (4, 24)
    logits = 50 * torch.cat([truth[:, :, None].expand(4, 24, 24), truth[:, None, :].expand(4, 24, 24)])[None]
    rows, cols = cells.cross_entropy(logits, 4, 4, "rows_columns")
    assert cells.bits(float(rows + cols), 24, 4) == pytest.approx(4.0, abs=1e-5)
    # the coarse grid read from the fine head: its cells are unions of fine ones, the bound exact again
    rows, cols = cells.cross_entropy(logits, 4, 2, "rows_columns")
    assert cells.bits(float(rows + cols), 24, 2) == pytest.approx(2.0, abs=1e-5)


@pytest.mark.parametrize("side", [24, 26, 13, 7])
def test_coarse_bands_are_unions_of_fine_ones(side):
    fine = cells.cell_index(side, 8)
    assert torch.equal(fine // 2, cells.cell_index(side, 4)) and torch.equal(
        fine // 4, cells.cell_index(side, 2)
    )
    with pytest.raises(ValueError, match="divide the largest"):
        cells.check_grid([2, 3, 8])


def test_coarse_cells_add_the_probabilities_of_the_fine_cells():
    logits = torch.randn(1, 16, 3, 3, generator=torch.Generator().manual_seed(0))  # a 4 x 4 grid's cells
    fine = torch.softmax(logits, 1).reshape(1, 4, 4, 3, 3)  # (rows, columns)
    coarse = cells.log_probs(logits, 4, 2, "cells")[0].exp().reshape(1, 2, 2, 3, 3)
    assert torch.allclose(coarse[0, 1, 0], fine[0, 2:, :2].sum(dim=(0, 1)))  # bottom-left = 4 fine cells
    assert torch.allclose(coarse.sum(dim=(1, 2)), torch.ones(1, 3, 3))


def _store(path, maps: np.ndarray, name="toy", test_inputs=None):
    """A store of one tap `rgb` holding maps (n, c, SIZE, SIZE)."""
    n, c = maps.shape[:2]
    prov = provenance(backbone=name, taps=[{"name": "rgb", "channels": c, "stride": 1, "native_size": SIZE}])
    with StoreWriter(path, [("rgb", c)], [f"i{k}" for k in range(n)], prov, size=SIZE, dtype="float32",
                     test_inputs=test_inputs) as w:  # fmt: skip
        w.append({"rgb": maps.astype(np.float32)})
    return path


def _run(tmp_path, train, test, bits=None, steps=150, lr=0.1, spec=ReadoutSpec(1, 3, 0), **training):
    bits = bits or BitsConfig()
    cfg = TrainConfig(steps=steps, lr=lr, lr_milestones=(int(steps * 0.7),), batch_size=8, **training)
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "bits.csv"
    heads = [tmp_path / f"seed{s}.pt" for s in (0, 1)]
    position_bits(train, [test], heads, out, spec, bits, cfg, [0, 1], device="cpu", progress=False)
    return pd.read_csv(out), heads


def test_constant_images_through_unpadded_pixels_carry_no_position(tmp_path):
    rng = np.random.default_rng(0)
    colours = rng.uniform(0, 1, (48, 3, 1, 1)) * np.ones((1, 1, SIZE, SIZE))
    train = _store(tmp_path / "train.zarr", colours[:32])
    test = _store(tmp_path / "test.zarr", colours[32:])
    frame, _ = _run(tmp_path, train, test)
    assert len(frame) == 2 * 3  # seeds x K
    assert frame["bits"].abs().max() < 0.05, frame[["K", "seed", "bits"]]
    assert frame["bits_rows"].abs().max() < 0.05 and frame["bits_columns"].abs().max() < 0.05
    # the readout's own zero padding tells the border apart (the paper's Table 4, PosENet padding=1)
    padded, _ = _run(tmp_path / "padded", train, test, spec=ReadoutSpec(1, 3, 1))
    assert (padded["bits"] > 0.1).all()


# A perfectly informative input: centred coordinates in map pixels. The heads' last BatchNorm bounds how fast
# they sharpen (their logits' scale learns at the learning rate), so the bound approaches log2(K^2) over
# thousands of steps: after 2000 steps at lr 5 it was within 0.05, 0.14 and 0.31 bits for K = 2, 4, 8
# (rows_columns). The K^2-way classifier fits the grid more slowly still (K = 8 left out).
@pytest.mark.parametrize("classifier, grid", [("rows_columns", (2, 4, 8)), ("cells", (2, 4))])
def test_coordinate_channels_carry_all_of_it(tmp_path, classifier, grid):
    rng = np.random.default_rng(1)
    ramp = np.arange(SIZE) - (SIZE - 1) / 2
    coords = np.stack([ramp[:, None] * np.ones(SIZE), np.ones(SIZE)[:, None] * ramp])  # (2, y, x): y then x
    noise = rng.normal(size=(40, 1, SIZE, SIZE))  # a channel without position
    maps = np.concatenate([np.broadcast_to(coords, (40, 2, SIZE, SIZE)), noise], 1)
    train = _store(tmp_path / "train.zarr", maps[:32])
    test = _store(tmp_path / "test.zarr", maps[32:])
    frame, _ = _run(tmp_path, train, test, BitsConfig(grid, classifier), steps=2000, lr=5.0, weight_decay=0.0)
    assert sorted(frame["K"].unique()) == list(grid)
    for k, group in frame.groupby("K"):
        best = cells.max_bits(26, k)
        assert group["max_bits"].iloc[0] == pytest.approx(best, abs=1e-5)  # written with 6 digits
        assert (group["bits"] > 0.94 * best).all(), group[["K", "seed", "bits"]]
        assert (group["bits"] <= best + 1e-5).all()


def test_heads_are_kept_when_nothing_changed_and_each_tap_reads_its_own_channels(tmp_path):
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(24, 4, SIZE, SIZE))
    train = _store(tmp_path / "train.zarr", maps[:16])
    test = _store(tmp_path / "test.zarr", maps[16:])
    first, paths = _run(tmp_path, train, test, steps=10)
    stamp = [p.stat().st_mtime_ns for p in paths]
    again, _ = _run(tmp_path, train, test, steps=10)
    assert [p.stat().st_mtime_ns for p in paths] == stamp  # same key: not retrained
    pd.testing.assert_frame_equal(first, again)
    heads, payload = load_cell_heads(paths[0])
    assert [tuple(t) for t in payload["taps"]] == [("rgb", 4)] and not heads.training
    two = CellHeads([("a", 3), ("b", 5)], ReadoutSpec(1, 1, 0), BitsConfig((2,)), 0).eval()
    x = torch.randn(2, 8, 4, 4)
    changed = x.clone()
    changed[:, 3:] += 1.0  # only tap b's channels change
    before, after = two(x), two(changed)
    assert torch.equal(before["a"], after["a"]) and not torch.allclose(before["b"], after["b"])
