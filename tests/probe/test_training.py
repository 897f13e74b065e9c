import numpy as np
import pytest
import torch

from posenc.features.store import StoreReader, StoreWriter
from posenc.plan import ReadoutSpec
from posenc.probe.evaluate import evaluate_store
from posenc.probe.training import BatchSource, TrainConfig, load_heads, save_heads, train_heads


def make_store(path, n, kind="coords", seed=0, size=28):
    """coords: channels 0/1 are the x/y coordinate (position is in the features), 2 is noise."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    feats = rng.normal(0, 1, (n, 3, size, size)).astype(np.float32)
    if kind == "coords":
        feats[:, 0] = x
        feats[:, 1] = y
    elif kind == "index":
        feats[:] = np.arange(n, dtype=np.float32)[:, None, None, None]
    prov = {
        "backbone": "toy",
        "arch": "toy",
        "weights_source": "random",
        "conv_padding": True,
        "preprocessing": {"name": "official"},
        "image_set": path.stem,
        "image_list_hash": path.stem,
        "taps": [{"name": "f", "channels": 3, "stride": 1, "native_size": size}],
    }
    with StoreWriter(
        path,
        [("f", 3)],
        [f"i{k}" for k in range(n)],
        prov,
        size=size,
        dtype="float32",
        chunk_mb=3 * size * size * 4 * 5 / 2**20,
    ) as w:
        w.append({"f": feats})
    return path


@pytest.mark.parametrize("buffer", [100, 12])  # kept in memory / streamed through a 12-image buffer
def test_every_image_once_per_epoch(tmp_path, buffer):
    reader = StoreReader(make_store(tmp_path / "s.zarr", 23, "index"))
    assert reader.chunk == 5
    source = BatchSource(reader, batch_size=4, buffer=buffer)
    rng = np.random.default_rng(0)
    orders = []
    for _ in range(2):
        seen = np.concatenate(
            [b[:, 0, 0, 0].numpy().copy() for b in source.epoch(rng)]
        )  # a batch lives until the next
        assert sorted(seen) == list(range(23))
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch


def test_joint_training_equals_training_one_by_one(tmp_path):
    store = make_store(tmp_path / "s.zarr", 12)
    cfg = TrainConfig(epochs=2, batch_size=4, lr_milestones=(1,))
    joint, joint_history, _ = train_heads(store, ReadoutSpec(), ["H", "G"], cfg, seed=5, progress=False)
    for k, target in enumerate(["H", "G"]):
        alone, history, _ = train_heads(store, ReadoutSpec(), [target], cfg, seed=5, progress=False)
        assert [h[target] for h in history] == pytest.approx([h[target] for h in joint_history], rel=1e-5)
        for name, a in alone.state_dict().items():
            b = joint.state_dict()[name]
            if name.endswith("num_batches_tracked"):
                assert torch.equal(a, b)
            else:  # head k is channel k of the packed network
                torch.testing.assert_close(b[k : k + 1], a, rtol=1e-4, atol=1e-6, msg=f"{target} {name}")


def test_position_in_features_is_recovered_and_pure_noise_is_not(tmp_path):
    cfg = TrainConfig(epochs=8, batch_size=8, lr_milestones=(6,))
    results = {}
    for kind in ("coords", "noise"):
        train = make_store(tmp_path / f"{kind}_train.zarr", 32, kind)
        test = make_store(tmp_path / f"{kind}_test.zarr", 8, kind, seed=1)
        heads, history, prov = train_heads(train, ReadoutSpec(), ["H", "V"], cfg, seed=0, progress=False)
        assert len(history) == 8 and history[-1]["H"] < history[0]["H"] * 1.01
        save_heads(tmp_path / f"{kind}.pt", heads, ["H", "V"], cfg, 0, history, prov)
        loaded, targets, spec, _ = load_heads(tmp_path / f"{kind}.pt")
        assert targets == ["H", "V"] and spec == ReadoutSpec()
        rows = evaluate_store(loaded, targets, spec, test, prov)
        results[kind] = {t: np.mean([r["spc"] for r in rows if r["target"] == t]) for t in ("H", "V")}
    assert results["coords"]["H"] > 0.95 and results["coords"]["V"] > 0.95
    assert abs(results["noise"]["H"]) < 0.3 and abs(results["noise"]["V"]) < 0.3
