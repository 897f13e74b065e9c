import os

import numpy as np
import pandas as pd
import pytest
import torch

from posenc.features.store import StoreReader, StoreWriter
from posenc.probe.evaluate import evaluate_readout, evaluate_readouts, evaluate_store
from posenc.probe.training import (
    BatchSource,
    TrainConfig,
    load_heads,
    save_heads,
    train_heads,
    train_readout,
    train_readouts,
)
from posenc.readout_spec import ReadoutSpec


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
        "weights_sha256": "0" * 64,
        "weights_seed": 0,
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
        assert [h[target] for h in history["epochs"]] == pytest.approx(
            [h[target] for h in joint_history["epochs"]], rel=1e-5
        )
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
        assert len(history["epochs"]) == 8 and history["epochs"][-1]["H"] < history["epochs"][0]["H"] * 1.01
        save_heads(tmp_path / f"{kind}.pt", heads, ["H", "V"], cfg, 0, history, prov)
        loaded, targets, spec, _ = load_heads(tmp_path / f"{kind}.pt")
        assert targets == ["H", "V"] and spec == ReadoutSpec()
        rows = evaluate_store(loaded, targets, spec, test, prov)
        results[kind] = {t: np.mean([r["spc"] for r in rows if r["target"] == t]) for t in ("H", "V")}
    assert results["coords"]["H"] > 0.95 and results["coords"]["V"] > 0.95
    assert abs(results["noise"]["H"]) < 0.3 and abs(results["noise"]["V"]) < 0.3


def make_scaled_store(path, n, scales, seed=0, size=28):
    """Channel 0 is the x coordinate, the others noise; channel k multiplied by scales[k]."""
    rng = np.random.default_rng(seed)
    x = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="xy")[0]
    feats = rng.normal(0, 1, (n, len(scales), size, size)).astype(np.float32)
    feats[:, 0] = x
    feats *= np.asarray(scales, np.float32)[None, :, None, None]
    prov = {"backbone": "toy", "arch": "toy", "weights_source": "random", "conv_padding": True,
            "preprocessing": {"name": "official"}, "image_set": path.stem, "image_list_hash": path.stem,
            "taps": [{"name": "f", "channels": len(scales), "stride": 1, "native_size": size}]}  # fmt: skip
    with StoreWriter(
        path, [("f", len(scales))], [f"i{k}" for k in range(n)], prov, size=size, dtype="float32"
    ) as w:
        w.append({"f": feats})
    return path


def test_input_norm_standardises_with_the_training_statistics(tmp_path):
    store = make_scaled_store(tmp_path / "s.zarr", 16, [1e-3, 50.0, 1.0])
    cfg = TrainConfig(steps=2, lr_milestones=(1,), input_norm="channel")
    heads, _, _ = train_heads(store, ReadoutSpec(), ["H"], cfg, seed=0, progress=False)
    data = torch.from_numpy(StoreReader(store).read(0, 16)).double()
    norm = heads.input_norm
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(dim=(0, 2, 3)).numpy(), rtol=1e-5, atol=1e-9)
    standardised = norm(data.float()[:2].contiguous(memory_format=torch.channels_last))
    want = (data[:2] - data.mean(dim=(0, 2, 3), keepdim=True)) / data.std(
        dim=(0, 2, 3), unbiased=False, keepdim=True
    )
    np.testing.assert_allclose(standardised.numpy(), want.numpy(), atol=1e-4)
    constant = make_scaled_store(tmp_path / "c.zarr", 4, [1.0, 0.0, 1.0])  # channel 1 is 0 everywhere
    heads, _, _ = train_heads(constant, ReadoutSpec(), ["H"], cfg, seed=0, progress=False)
    assert heads.input_norm.inv_std[1] == 0  # a channel that never varies contributes nothing


def test_steps_budget_and_learned_flag(tmp_path):
    """A budget in steps trains exactly that many steps, the milestone counted in steps; a head whose
    features hold its target learns (loss far below a constant's), one on noise does not (ratio ~1)."""
    store = make_scaled_store(tmp_path / "s.zarr", 20, [1.0, 1.0])
    cfg = TrainConfig(steps=30, lr_milestones=(20,), batch_size=8, input_norm="channel")
    heads, history, _ = train_heads(store, ReadoutSpec(kernel=1), ["H", "V"], cfg, seed=0, progress=False)
    assert history["steps"].shape == (30, 2) and len(history["epochs"]) == 10  # 3 batches an epoch
    assert history["final_loss_ratio"]["H"] < 0.2  # channel 0 is the x coordinate: H is in the features
    assert history["final_loss_ratio"]["V"] > 0.9  # nothing vertical in them: the V head cannot learn
    assert history["constant_loss"]["H"] == pytest.approx(1 / 12, rel=0.02)  # variance of a linear ramp


def test_scale_norm_keeps_zero_at_zero(tmp_path):
    """input_norm scale divides by the root mean square and subtracts nothing: a zero input (the readout's
    own zero padding, a dead channel) stays zero, which `channel` standardisation does not keep."""
    store = make_scaled_store(tmp_path / "s.zarr", 16, [1e-3, 50.0, 1.0])
    data = torch.from_numpy(StoreReader(store).read(0, 16)).double()
    rms = data.pow(2).mean(dim=(0, 2, 3)).sqrt()
    heads, _, _ = train_heads(
        store, ReadoutSpec(), ["H"], TrainConfig(steps=1, input_norm="scale"), progress=False
    )
    np.testing.assert_allclose(heads.input_norm.inv_std.numpy(), (1 / rms).numpy(), rtol=1e-4)
    zero = torch.zeros(1, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    assert heads.input_norm(zero).abs().max() == 0
    heads, _, _ = train_heads(
        store, ReadoutSpec(), ["H"], TrainConfig(steps=1, input_norm="channel"), progress=False
    )
    assert heads.input_norm(zero).abs().max() > 0.1


def test_evaluation_scores_a_readout_and_refuses_one_trained_for_other_targets(tmp_path):
    """evaluate_readout writes one row per image and target with the head's learned flag; asked for another
    stripe range or output size than the readout was trained with, it stops: the readout is stale."""
    import pandas as pd

    from posenc.errors import ActionableError
    from posenc.probe.evaluate import evaluate_readout

    train = make_store(tmp_path / "train.zarr", 16, "coords")
    test = make_store(tmp_path / "test.zarr", 4, "coords", seed=1)
    cfg = TrainConfig(steps=20, lr_milestones=(15,), batch_size=8)
    heads, history, prov = train_heads(train, ReadoutSpec(), ["H", "HS"], cfg, seed=0, progress=False)
    save_heads(tmp_path / "r.pt", heads, ["H", "HS"], cfg, 0, history, prov)
    n = evaluate_readout(tmp_path / "r.pt", [test], tmp_path / "m.csv", output_size=224, stripe_range="unit")
    rows = pd.read_csv(tmp_path / "m.csv")
    assert n == len(rows) == 4 * 2 and set(rows["budget"]) == {"20 steps"}
    assert rows.loc[rows["target"] == "H", "learned"].all()
    for asked in (
        {"output_size": 224, "stripe_range": "signed"},
        {"output_size": 112, "stripe_range": "unit"},
    ):
        with pytest.raises(ActionableError, match="stale"):
            evaluate_readout(tmp_path / "r.pt", [test], tmp_path / "m2.csv", **asked)
    assert not (tmp_path / "m2.csv").exists()


class _Fixed(torch.nn.Module):
    """A stand-in readout that outputs the same maps whatever the features."""

    def __init__(self, maps: torch.Tensor):
        super().__init__()
        self.maps = maps

    def forward(self, x):
        return self.maps.expand(len(x), -1, -1, -1)


def test_heldout_ratio_is_one_for_a_constant_and_near_zero_for_the_target(tmp_path):
    """heldout_ratio = an image's MSE over the best constant's: the target's mean scores exactly 1, the
    target itself (at the readout's size, upsampled) nearly 0."""
    from posenc.probe.targets import target_tensor

    store = make_store(tmp_path / "t.zarr", 3)
    prov = StoreReader(store).provenance
    spec = ReadoutSpec()
    h, hs = target_tensor("H", 224), target_tensor("HS", 224)
    constant = torch.tensor([float(h.mean()), float(hs.mean())]).reshape(1, 2, 1, 1).expand(1, 2, 26, 26)
    rows = evaluate_store(_Fixed(constant), ["H", "HS"], spec, store, prov)
    assert [r["heldout_ratio"] for r in rows] == pytest.approx([1.0] * 6, abs=1e-6)
    exact = torch.stack([target_tensor("H", 26), target_tensor("HS", 26)])[None]
    rows = evaluate_store(_Fixed(exact), ["H", "HS"], spec, store, prov)
    by_target = {t: max(r["heldout_ratio"] for r in rows if r["target"] == t) for t in ("H", "HS")}
    assert by_target["H"] < 1e-3 and by_target["HS"] < 1e-2  # only the upsampling's rounding is left


# ---- one job per readout: every seed trained and scored together ----
CFG = TrainConfig(steps=12, lr_milestones=(8,), batch_size=4)


def _weights(path):
    return torch.load(path, weights_only=False)["state_dict"]


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_seeds_trained_together_equal_seeds_trained_alone(tmp_path):
    store = make_store(tmp_path / "train.zarr", 12, "coords")
    together = [tmp_path / f"together{s}.pt" for s in (0, 1, 2)]
    train_readouts(store, together, ReadoutSpec(), ["H", "G"], CFG, [0, 1, 2], "cpu", progress=False)
    for seed, path in zip((0, 1, 2), together, strict=True):
        alone = tmp_path / f"alone{seed}.pt"
        train_readout(store, alone, ReadoutSpec(), ["H", "G"], CFG, seed, "cpu", progress=False)
        assert _same(_weights(path), _weights(alone))
    assert not _same(_weights(together[0]), _weights(together[1]))  # the seeds do differ


def test_a_current_seed_is_kept_and_a_changed_store_or_setting_retrains(tmp_path, capsys):
    store = make_store(tmp_path / "train.zarr", 12, "coords")
    outs = [tmp_path / f"seed{s}.pt" for s in (0, 1, 2)]
    train_readouts(store, outs[:2], ReadoutSpec(), ["H"], CFG, [0, 1], "cpu", progress=False)
    stamps = [os.stat(p).st_mtime_ns for p in outs[:2]]
    # one more seed: only it is trained
    trained = train_readouts(store, outs, ReadoutSpec(), ["H"], CFG, [0, 1, 2], "cpu", progress=False)
    assert list(trained) == [2]
    assert [os.stat(p).st_mtime_ns for p in outs[:2]] == stamps
    assert capsys.readouterr().err.count(": kept") == 2
    # another training setting, another code fingerprint: every seed again
    other = TrainConfig(steps=12, lr_milestones=(8,), batch_size=4, lr=CFG.lr / 2)
    assert list(
        train_readouts(store, outs, ReadoutSpec(), ["H"], other, [0, 1, 2], "cpu", progress=False)
    ) == [
        0,
        1,
        2,
    ]
    assert list(
        train_readouts(store, outs, ReadoutSpec(), ["H"], other, [0, 1, 2], "cpu", progress=False, code="x")
    ) == [0, 1, 2]
    # the store rebuilt with other content (same provenance, same image names): every seed again
    make_store(tmp_path / "train.zarr", 12, "coords", seed=7)
    retrained = train_readouts(
        store, outs, ReadoutSpec(), ["H"], other, [0, 1, 2], "cpu", progress=False, code="x"
    )
    assert list(retrained) == [0, 1, 2]
    payload = torch.load(outs[0], weights_only=False)
    assert len(payload["store_digest"]) == 64 and len(payload["key"]) == 16
    # a damaged file is said so and retrained
    outs[1].write_bytes(b"not a readout")
    trained = train_readouts(
        store, outs, ReadoutSpec(), ["H"], other, [0, 1, 2], "cpu", progress=False, code="x"
    )
    assert list(trained) == [1] and "cannot be read" in capsys.readouterr().err


def test_seeds_scored_together_equal_seeds_scored_alone(tmp_path):
    train = make_store(tmp_path / "train.zarr", 12, "coords")
    tests = [
        make_store(tmp_path / "a.zarr", 5, "coords", seed=1),
        make_store(tmp_path / "b.zarr", 3, "coords", seed=2),
    ]
    readouts = [tmp_path / f"r{s}.pt" for s in (0, 1)]
    train_readouts(train, readouts, ReadoutSpec(), ["H", "HS"], CFG, [0, 1], "cpu", progress=False)
    kwargs = {"output_size": 224, "stripe_range": "unit"}
    together = [tmp_path / f"t{s}.csv" for s in (0, 1)]
    predictions = [tmp_path / f"t{s}.npz" for s in (0, 1)]
    assert evaluate_readouts(readouts, tests, together, predictions, **kwargs) == [(5 + 3) * 2] * 2
    for seed in (0, 1):
        alone = tmp_path / f"alone{seed}.csv"
        evaluate_readout(readouts[seed], tests, alone, tmp_path / f"alone{seed}.npz", **kwargs)
        assert together[seed].read_text() == alone.read_text()
        assert set(pd.read_csv(alone)["seed"]) == {seed}
        digests = pd.read_csv(alone).groupby("image_set")["store_digest"].unique()
        assert all(len(d) == 1 and len(d[0]) == 64 for d in digests) and digests["a"][0] != digests["b"][0]
    assert together[0].read_text() != together[1].read_text()
