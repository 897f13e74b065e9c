"""Where the workflow keeps each output: one place for the Snakemake rules and the Python that reads them."""

from __future__ import annotations


def dataset(name: str) -> str:
    return f"resources/datasets/{name}"


DOWNLOADS = "resources/downloads"
ATTRIBUTION = "results/ATTRIBUTION.md"
DENSE_ATTRIBUTION = "results/dense/ATTRIBUTION.md"  # the photos and cut-outs of the dense tasks' composites


def photos(package: str, resources: str = "resources") -> str:
    """The unpacked photographs of a photo package (posenc.images.packages)."""
    return f"{resources}/photos/{package}"


def manifest(image_set: str) -> str:
    return f"results/images/{image_set}.json"


def store(backbone: str, image_set: str) -> str:
    return f"results/features/{backbone}/{image_set}.zarr"


def readout(backbone: str, readout: str, seed: int | str) -> str:
    return f"results/readouts/{backbone}/{readout}/seed{seed}.pt"


def metrics(backbone: str, readout: str, seed: int | str) -> str:
    return f"results/metrics/{backbone}/{readout}/seed{seed}.csv"


def predictions(backbone: str, readout: str, seed: int | str) -> str:
    return f"results/predictions/{backbone}/{readout}/seed{seed}.npz"


def table(name: str, ext: str = "csv") -> str:
    return f"results/{name}.{ext}"


def figure(name: str) -> str:
    return f"results/figures/{name}.png"


PER_SEED = "results/per_seed.csv"
MEAN_MAPS = "results/mean_maps.csv"


def mean_maps(backbone: str) -> str:
    return f"results/analyses/mean_maps/{backbone}.csv"


PADDING_MODES = "results/padding_modes.csv"
BORDER_DISTANCE = "results/border_distance.csv"
CHANNEL_RANKING = "results/channel_ranking.csv"  # every channel's scores and ranks, all backbones
CHANNEL_TOPK = "results/channel_topk.csv"  # top-k / bottom-k / random-k readouts, all backbones
CANVAS = "results/canvas.csv"
PADDING_PATTERN = "results/padding_pattern.csv"


def analysis(name: str, backbone: str) -> str:
    """A per-backbone analysis result, collected into results/<name>.csv."""
    return f"results/analyses/{name}/{backbone}.csv"


POSITION_BITS = "position_bits"  # results/position_bits.csv and .md (a table), and its figures


def bits_heads(backbone: str, readout: str, seed: int | str) -> str:
    """A backbone's position-bits heads (one per tap) of one seed."""
    return f"results/position_bits/{backbone}/{readout}/seed{seed}.pt"


def bits_metrics(backbone: str, readout: str) -> str:
    """A backbone's position bits, every seed, tap, grid size and test input."""
    return f"results/position_bits/{backbone}/{readout}/bits.csv"


COMPARISON = "results/paper_comparison.md"


DENSE_VARIANTS = ("padded", "unpadded")  # Table 5: trained with and without zero padding


def dense_model(task: str, variant: str) -> str:
    return f"results/dense/{task}/{variant}.pt"


def dense_metrics(task: str, variant: str) -> str:
    return f"results/dense/{task}/{variant}.csv"
