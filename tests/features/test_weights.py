import urllib.error

import h5py
import numpy as np
import pytest
import torch

from posenc.features import hed
from posenc.features.architectures import build_random
from posenc.features.registry import get_arch
from posenc.features.weights import WeightsUnavailable, imagenet_checkpoint_path, load_trunk


@pytest.fixture
def vgg_features_state():
    model = build_random(get_arch("vgg16"), 3)
    return {k: v for k, v in model.state_dict().items() if k.startswith("features.")}


def test_imagenet_offline_error_names_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailable) as err:
        load_trunk("vgg16", "imagenet")
    text = str(err.value)
    assert (
        "vgg16-397923af.pth" in text
        and str(tmp_path / "hub" / "checkpoints") in text
        and "TORCH_HOME" in text
    )


def test_imagenet_weights_placed_by_hand_are_used(tmp_path, monkeypatch, vgg_features_state):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = imagenet_checkpoint_path(get_arch("vgg16"))
    assert path == tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    path.parent.mkdir(parents=True)
    torch.save(vgg_features_state, path)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must not download"))
    trunk, info = load_trunk("vgg16", "imagenet")
    assert torch.equal(trunk[0].weight, vgg_features_state["features.0.weight"])
    assert info.native_preprocessing == "imagenet" and len(info.sha256) == 64 and info.file == str(path)


def test_checkpoint_wrapped_and_prefixed(tmp_path, vgg_features_state):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in vgg_features_state.items()}}, path)
    trunk, info = load_trunk("vgg16", "checkpoint", checkpoint=path)
    assert torch.equal(trunk[28].bias, vgg_features_state["features.28.bias"])
    assert info.source == "checkpoint" and info.native_preprocessing == "imagenet"
    partial = {k: v for k, v in vgg_features_state.items() if not k.startswith("features.28")}
    torch.save(partial, tmp_path / "partial.pt")
    with pytest.raises(WeightsUnavailable, match="lacks 2 tensors"):
        load_trunk("vgg16", "checkpoint", checkpoint=tmp_path / "partial.pt")
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_trunk("vgg16", "checkpoint", checkpoint=tmp_path / "nope.pt")


def fake_hed_h5(path, rng):
    shapes = {
        0: (3, 64),
        2: (64, 64),
        5: (64, 128),
        7: (128, 128),
        10: (128, 256),
        12: (256, 256),
        14: (256, 256),
        17: (256, 512),
        19: (512, 512),
        21: (512, 512),
        24: (512, 512),
        26: (512, 512),
        28: (512, 512),
    }
    with h5py.File(path, "w") as f:
        for index, group in hed.HED_CONVS.items():
            cin, cout = shapes[index]
            f[f"{group}/vars/0"] = rng.normal(0, 0.05, (3, 3, cin, cout)).astype(np.float32)
            f[f"{group}/vars/1"] = rng.normal(0, 0.05, (cout,)).astype(np.float32)


def test_hed_conversion_matches_keras_convolution_on_bgr_input(tmp_path):
    rng = np.random.default_rng(0)
    fake_hed_h5(tmp_path / "w.h5", rng)
    state = hed.hed_vgg16_state_dict(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5") as f:
        kernel, bias = f["block1/layers/conv2d/vars/0"][()], f["block1/layers/conv2d/vars/1"][()]
    rgb = rng.uniform(0, 1, (3, 6, 7)).astype(np.float32)
    bgr = np.pad(rgb[::-1], ((0, 0), (1, 1), (1, 1)))  # Keras 'same' padding for a 3x3 kernel
    want = np.zeros((64, 6, 7), np.float64)
    for dy in range(3):
        for dx in range(3):
            want += np.einsum("io,iyx->oyx", kernel[dy, dx], bgr[:, dy : dy + 6, dx : dx + 7])
    want += bias[:, None, None]
    got = torch.nn.functional.conv2d(
        torch.from_numpy(rgb)[None], state["features.0.weight"], state["features.0.bias"], padding=1
    )[0]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
    assert state["features.28.weight"].shape == (512, 512, 3, 3)


@pytest.mark.network
def test_real_hed_weights_fetch_verify_and_load(tmp_path):
    out = hed.fetch_hed_weights(tmp_path / "hed.h5")
    assert hed.verify_hed_h5(out) == hed.HED_H5_SHA256
    trunk, info = load_trunk("vgg16", "hed", weights_file=out)
    assert info.native_preprocessing == "caffe" and info.sha256 == hed.HED_H5_SHA256
    from posenc.features.extract import TapExtractor
    from posenc.features.preprocess import get_preprocessing

    x = get_preprocessing("caffe")(torch.rand(1, 3, 64, 64))
    with torch.no_grad():
        out = TapExtractor(trunk, get_arch("vgg16").taps, 8)(x)
    assert all(torch.isfinite(v).all() and v.max() > 0 for v in out.values())
