import numpy as np
import pytest
from PIL import Image

from posenc.probe.targets import TARGETS, target_map, target_stack, target_tensor
from tests.helpers import OFFICIAL


def official(name):
    return np.asarray(Image.open(OFFICIAL / "groundtruth" / f"{name}.png")).astype(np.float64)


def test_gradients_equal_official_pngs_exactly():
    assert np.array_equal(np.round(target_map("H") * 255), official("gt_hor"))
    assert np.array_equal(np.round(target_map("V") * 255), official("gt_ver"))


def test_gaussian_equals_official_png_exactly():
    # centre and sigma S/2, min-max scaled, written with truncation to 8 bits
    assert np.array_equal(np.floor(target_map("G") * 255), official("gt_gau"))


@pytest.mark.parametrize(
    "name,png,edge", [("HS", "gt_horstp", (0, slice(None))), ("VS", "gt_verstp", (slice(None), 0))]
)
def test_stripes_match_official_within_3_of_255(name, png, edge):
    diff = np.abs(target_map(name) * 255 - official(png))
    inner = diff.copy()
    inner[edge] = 0  # the official file's first line rings (251 where the cosine gives 254.9)
    assert inner.max() <= 3.0
    assert diff.max() <= 4.0


def test_signed_stripes_are_the_raw_cosine():
    unit, signed = target_map("HS"), target_map("HS", stripe_range="signed")
    assert signed.min() < -0.99 and signed.max() > 0.99
    np.testing.assert_allclose(unit, 0.5 * (1 + signed))
    # gradients and the Gaussian do not depend on the stripe range
    assert np.array_equal(target_map("G", stripe_range="signed"), target_map("G"))


def test_evaluation_size_maps():
    stack = target_stack(TARGETS, 224)
    assert stack.shape == (5, 224, 224)
    h = target_tensor("H", 224).numpy()
    assert np.all(np.diff(h, axis=1) > 0) and np.allclose(np.ptp(h, axis=0), 0)
    g = target_tensor("G", 224).numpy()
    assert np.unravel_index(g.argmax(), g.shape) in {(111, 111), (111, 112), (112, 111), (112, 112)}


def test_unknown_target_and_range_are_errors():
    with pytest.raises(ValueError, match="unknown target"):
        target_map("X")
    with pytest.raises(ValueError, match="stripe_range"):
        target_map("HS", stripe_range="half")
