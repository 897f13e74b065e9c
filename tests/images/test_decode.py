import numpy as np
import pytest
from PIL import Image

from posenc.images.decode import ImageDecodeError, load_image


def save(tmp_path, name, array, mode=None, **kw):
    path = tmp_path / name
    Image.fromarray(array, mode=mode).save(path, **kw) if mode else Image.fromarray(array).save(path, **kw)
    return path


def test_grayscale_becomes_three_equal_channels(tmp_path):
    img = load_image(save(tmp_path, "g.png", np.full((5, 6), 51, np.uint8)))
    assert img.shape == (5, 6, 3) and img.dtype == np.float32
    np.testing.assert_allclose(img, 0.2, atol=1e-6)


def test_rgba_is_composited_over_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 128  # half transparent red
    img = load_image(save(tmp_path, "a.png", rgba))
    np.testing.assert_allclose(img[..., 0], 128 / 255, atol=1e-6)
    np.testing.assert_allclose(img[..., 1:], 0)


def test_palette_image(tmp_path):
    p = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    p.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    p.save(tmp_path / "p.png")
    img = load_image(tmp_path / "p.png")
    np.testing.assert_allclose(img[0, 1], [1, 1, 0])
    np.testing.assert_allclose(img[0, 0], [0, 0, 0])


def test_16_bit_greyscale_uses_the_full_range(tmp_path):
    arr = np.array([[0, 65535], [32768, 1000]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "d.png")
    img = load_image(tmp_path / "d.png")
    np.testing.assert_allclose(img[..., 0], arr / 65535, atol=1e-6)


def test_corrupt_and_truncated_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageDecodeError, match="bad.jpg") as err:
        load_image(bad)
    assert "skip_unreadable" in str(err.value)
    good = save(tmp_path, "t.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageDecodeError, match="cut.png"):
        load_image(cut)
    with pytest.raises(ImageDecodeError, match="no such file"):
        load_image(tmp_path / "missing.png")
