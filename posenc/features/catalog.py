"""Architectures by name from torchvision and timm, beside the registry's hand-written entries.

`resnet50`, `convnext_tiny`, ... name torchvision's classification CNNs (transformers left out);
`timm/<name>` names any timm model, and a timm name that is not torchvision's may be given bare
(`vit_small_patch16_224`, `deit_tiny_patch16_224`, `swin_tiny_patch4_window7_224`). Their names are
listed in catalog.json (shipped, and checked by a test against the installed libraries), so that a config
is validated without importing torch; their taps are derived from the network itself when it is built
(posenc.features.architectures.derive_taps).
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path

CATALOG = Path(__file__).with_name("catalog.json")
TIMM_PREFIX = "timm/"
TRANSFORMERS = ("vit_", "swin", "maxvit")  # torchvision models that are not convolutional


def build_catalog() -> dict:
    """The names torchvision and timm provide now (imports both; writes nothing)."""
    import timm
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    return {
        "torchvision_version": torchvision.__version__.split("+")[0],
        "timm_version": timm.__version__,
        "torchvision": sorted(n for n in names if not n.startswith(TRANSFORMERS)),
        "timm": sorted(timm.list_models()),
    }


@cache
def catalog() -> dict:
    return json.loads(CATALOG.read_text())


def library_model(name: str) -> tuple[str, str] | None:
    """("torchvision" | "timm", model name) for a catalogued architecture name, else None."""
    if name.startswith(TIMM_PREFIX):
        model = name[len(TIMM_PREFIX) :]
        return ("timm", model) if model in catalog()["timm"] else None
    if name in catalog()["torchvision"]:
        return ("torchvision", name)
    return ("timm", name) if name in catalog()["timm"] else None


def catalog_names() -> list[str]:
    return catalog()["torchvision"] + [TIMM_PREFIX + n for n in catalog()["timm"]]


def close_names(name: str, n: int = 5) -> list[str]:
    return difflib.get_close_matches(name, catalog_names(), n=n, cutoff=0.6)
