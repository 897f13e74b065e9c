"""Extraction: images -> frozen backbone -> taps resized to the feature size -> a feature store.

All taps come from one forward pass (forward hooks on the trunk's tap modules), are resized bilinearly to
feature_size x feature_size (align_corners=True as the official code, or False as its 2020 version) and
streamed to the store in image order. Since the readout only ever sees those maps, caching them is exact
(docs/protocol.md §4).
"""

from __future__ import annotations

import datetime as _dt
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from posenc import __version__, paths
from posenc.errors import ActionableError, snakemake_command
from posenc.features.architectures import TokenMaps, derive_taps
from posenc.features.preprocess import get_preprocessing, resize_image
from posenc.features.registry import get_arch
from posenc.features.request import check_request, store_request, weight_file
from posenc.features.store import FLOAT16_MAX, StoreWriter, check_provenance
from posenc.features.weights import load_trunk
from posenc.images.decode import load_image
from posenc.images.manifest import read_manifest
from posenc.io import file_sha256
from posenc.runtime import resolve_device
from posenc.schema import schema_defaults

PRECISIONS = ("float32", "bfloat16")


def resize_rule(align_corners: bool) -> str:
    """How taps are resized to the stored size, as provenance records it."""
    return f"bilinear, align_corners={align_corners}"


class _AllTapsSeen(Exception):
    """Raised by the last tap's hook: nothing after it (a classifier head) needs to run."""


class TapExtractor(nn.Module):
    """Runs a trunk once and returns its taps, each resized to (size, size); the forward pass stops when
    every tap has been seen.

    Its forward hooks stay on the trunk's modules until `remove()`; as a context manager (`with
    TapExtractor(...) as ex:`) it removes them on leaving, so the trunk is left as it was found.
    """

    def __init__(self, trunk: nn.Module, taps, size: int = 28, align_corners: bool = True):
        super().__init__()
        self.trunk, self.taps, self.size, self.align_corners = trunk, list(taps), size, align_corners
        self._seen: dict[str, torch.Tensor] = {}
        self._running = False
        modules = dict(trunk.named_modules())
        missing = [tap for tap in self.taps if tap.module not in modules]
        if missing:
            raise KeyError(f"tap {missing[0].name}: module {missing[0].module!r} is not in the trunk")
        self._handles = [modules[tap.module].register_forward_hook(self._hook(tap.name)) for tap in self.taps]

    def remove(self) -> None:
        """Take the hooks off the trunk (the extractor returns no taps afterwards)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def _hook(self, name):
        def save(_module, _inputs, output):
            if not self._running:  # another extractor on the same trunk is running it
                return
            self._seen[name] = output
            if len(self._seen) == len(self.taps):
                raise _AllTapsSeen

        return save

    def native(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Tap outputs at their own resolution."""
        self._seen, self._running = {}, True
        try:
            self.trunk(x)
        except _AllTapsSeen:
            pass
        finally:
            self._running = False
        seen, self._seen = self._seen, {}
        return {t.name: seen[t.name] for t in self.taps}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            name: F.interpolate(
                out.float(), size=(self.size, self.size), mode="bilinear", align_corners=self.align_corners
            )
            for name, out in self.native(x).items()
        }


def native_sizes(extractor: TapExtractor, input_size: int) -> dict[str, int]:
    with torch.no_grad():
        out = extractor.native(torch.zeros(1, 3, input_size, input_size))
    return {name: int(t.shape[-1]) for name, t in out.items()}


_INPUT, _FEATURES = schema_defaults("input"), schema_defaults("features")


@dataclass(frozen=True)
class FeatureConfig:
    """How every store is made: the `input` and `features` sections of the config (defaults from the schema),
    the device apart (it is where, not what)."""

    input_size: int = _INPUT["size"]
    preprocessing: str = _INPUT[
        "preprocessing"
    ]  # official, native, imagenet, caffe (a backbone may override)
    size: int = _FEATURES["size"]  # side of the stored maps
    dtype: str = _FEATURES["dtype"]
    precision: str = _FEATURES["precision"]
    chunk_mb: float = _FEATURES["chunk_mb"]
    compression_level: int = _FEATURES["compression_level"]
    batch_size: int = _FEATURES["batch_size"]
    align_corners: bool = _FEATURES["align_corners"]  # a backbone entry may override it

    @classmethod
    def from_dict(cls, values: dict) -> FeatureConfig:
        """From posenc.plan.feature_settings; a key that is not a field is an error (no silent drop)."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"FeatureConfig has no setting {', '.join(sorted(unknown))}")
        return cls(**values)

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")


def build_provenance(
    backbone: dict, arch, taps, weights_info, prep, cfg: FeatureConfig, manifest: dict, sizes: dict
) -> dict:
    """What a store records about how it was made (the key fields decide whether it may be reused)."""
    return {
        "backbone": backbone.get("name", arch.name),
        "arch": arch.name,
        "weights_source": weights_info.source,
        "weights_sha256": weights_info.sha256,
        "weights_file": weights_info.file,
        "weights_seed": weights_info.seed,
        "conv_padding": backbone.get("conv_padding", True),
        "preprocessing": prep.as_dict(),
        "input_size": cfg.input_size,
        "feature_size": cfg.size,
        "resize": resize_rule(backbone.get("align_corners", cfg.align_corners)),
        "image_set": manifest["image_set"],
        "image_list_hash": manifest["list_hash"],
        "image_count": manifest["count"],
        "taps": [
            {
                "name": t.name,
                "module": t.module,
                "channels": t.channels,
                "stride": t.stride,
                "native_size": sizes[t.name],
            }
            for t in taps
        ],
        "dtype": cfg.dtype,
        "precision": cfg.precision,
        "device": "",
        "posenc_version": __version__,
        "torch_version": torch.__version__,
        "host": platform.node(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def backbone_taps(arch, trunk, modules=None):
    """The taps a store holds: the registry's (hand-written entries), or derived from the network (modules a
    config names in `taps`, else the stage outputs of an architecture by name)."""
    if arch.taps and not modules:
        return arch.taps
    try:
        return derive_taps(trunk, modules)
    except ValueError as err:
        raise ActionableError(f"backbone {arch.name}, config key taps: {err}") from None


def prepare(backbone: dict, manifest_path, cfg: FeatureConfig = FeatureConfig(), weights_file=None):
    """Load the trunk and everything the store's provenance needs; nothing is computed on images yet."""
    arch = get_arch(backbone["arch"])
    trunk, info = load_trunk(
        arch.name,
        backbone.get("weights", "none"),
        seed=backbone.get("seed", 0),
        checkpoint=backbone.get("checkpoint"),
        weights_file=weights_file,
        conv_padding=backbone.get("conv_padding", True),
        checkpoint_preprocessing=backbone.get("checkpoint_preprocessing", "imagenet"),
        pos_embed=backbone.get("pos_embed", "keep"),
    )
    prep_name = backbone.get("preprocessing") or cfg.preprocessing
    prep = get_preprocessing(info.native_preprocessing if prep_name == "native" else prep_name)
    taps = backbone_taps(arch, trunk, backbone.get("taps"))
    extractor = TapExtractor(trunk, taps, cfg.size, backbone.get("align_corners", cfg.align_corners))
    try:
        sizes = native_sizes(extractor, cfg.input_size)
    except (RuntimeError, AssertionError) as err:
        if "doesn't match model" in str(err):  # timm's fixed-size patch embedding
            raise ActionableError(
                f"backbone {backbone.get('name', arch.name)}: {err}. Set input.size to the size {arch.name} "
                f"was built for (the number in its name, e.g. 224)"
            ) from None
        if "Padding size should be less" not in str(err):
            raise
        raise ActionableError(
            f"backbone {backbone.get('name', arch.name)}: conv_padding {backbone.get('conv_padding')!r} mirrors "
            f"the map at each border, which the deepest maps of {arch.name} at input.size "
            f"{cfg.input_size} are too small for; raise input.size, or use replicate or zeros padding"
        ) from None
    manifest, records = read_manifest(manifest_path)
    provenance = build_provenance(backbone, arch, taps, info, prep, cfg, manifest, sizes)
    if isinstance(trunk, TokenMaps):  # how a transformer's tokens became maps
        provenance["tokens"] = {**trunk.layout(), "pos_embed": backbone.get("pos_embed", "keep")}
    file_hash = info.sha256 if weight_file(backbone, weights_file) else None
    provenance["request"] = store_request(backbone, asdict(cfg), manifest, file_hash)
    return extractor, prep, records, provenance


def load_checked(record, input_size: int, image_set: str = "") -> torch.Tensor:
    """Decode one image of a manifest, refusing a file that changed since the manifest was written."""
    if record.sha256 and file_sha256(record.path) != record.sha256:
        target = paths.manifest(image_set) if image_set else "the image set's manifest"
        raise ActionableError(
            f"{record.path} changed after its image set's manifest was written. Rerun your snakemake command "
            f"(every run notices changed images and rebuilds the set), or rebuild the manifest alone: "
            f"{snakemake_command(target, force=True)}"
        )
    return resize_image(load_image(record.path), input_size)


def _batches(records, batch_size, input_size, image_set=""):
    """Decoded, resized image batches in order; decoding runs a batch ahead in a thread."""

    def load(batch):
        return torch.stack([load_checked(r, input_size, image_set) for r in batch])

    chunks = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            batch = pending.result()
            if k + 1 < len(chunks):
                pending = pool.submit(load, chunks[k + 1])
            yield batch


def _to_host(values: torch.Tensor, dtype) -> np.ndarray:
    """A tap's batch as a host array, cast to the store's dtype where it happens (half the copy from a GPU)
    when that loses nothing but precision; values that float16 cannot hold stay float32 for the writer's
    checks to report."""
    if dtype == np.float16 and values.device.type != "cpu":
        if bool(torch.isfinite(values).all()) and float(values.abs().amax()) <= FLOAT16_MAX:
            return values.half().cpu().numpy()
    return values.float().cpu().numpy()


def extract_features(
    backbone: dict,
    manifest_path,
    out_path,
    cfg: FeatureConfig = FeatureConfig(),
    *,
    device="auto",
    weights_file=None,
    progress: bool = True,
) -> Path:
    """Write the store of `backbone` (a config entry) on the images of a manifest to out_path; return out_path.

    An existing complete store with the same provenance is kept as it is; one with other provenance is
    refused (delete it to rebuild).
    """
    out_path = Path(out_path)
    extractor, prep, records, provenance = prepare(backbone, manifest_path, cfg, weights_file)
    with extractor:
        return _extract(extractor, prep, records, provenance, out_path, cfg, device, progress)


def _extract(extractor, prep, records, provenance, out_path: Path, cfg, device, progress) -> Path:
    if out_path.exists():
        found = check_provenance(out_path, provenance)  # raises when it differs
        check_request(out_path, found.get("request"), provenance["request"])
        return out_path
    dev = resolve_device(device)
    provenance["device"] = dev.type
    extractor.to(dev)
    channels_last = cfg.precision == "bfloat16"
    if channels_last:
        extractor.to(memory_format=torch.channels_last)
    taps = [(t.name, t.channels) for t in extractor.taps]
    writer = StoreWriter(
        out_path,
        taps,
        [r.name for r in records],
        provenance,
        size=cfg.size,
        dtype=cfg.dtype,
        chunk_mb=cfg.chunk_mb,
        compression_level=cfg.compression_level,
        test_inputs=[r.test_input for r in records],
    )
    label = f"extract {provenance['backbone']} on {provenance['image_set']}"
    with writer, tqdm(total=len(records), desc=label, unit="img", disable=not progress, mininterval=2) as bar:
        for images in _batches(records, cfg.batch_size, cfg.input_size, provenance["image_set"]):
            x = prep(images).to(dev)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=channels_last):
                feats = extractor(x)
            writer.append({k: _to_host(v, writer.dtype) for k, v in feats.items()})
            bar.update(len(images))
    return out_path
