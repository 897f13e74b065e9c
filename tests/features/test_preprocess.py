import numpy as np

from posenc.features.preprocess import resize_image


def test_resize_keeps_a_constant_image_constant():
    out = resize_image(np.full((300, 450, 3), 0.25, np.float32), 224)
    assert out.shape == (3, 224, 224)
    np.testing.assert_allclose(out.numpy(), 0.25, atol=1e-6)
