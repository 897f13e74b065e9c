"""Report of an analysis: a backbone's mean feature maps (posenc.analysis.mean_maps) as a CSV and a figure,
one panel per tap, and the CSV of all backbones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from posenc.analysis.mean_maps import summarise
from posenc.features.request import request_for
from posenc.io import atomic_write_text
from posenc.report.figures import new_figure, save_figure


def write_mean_maps(store, backbone: dict, features: dict, manifest, weights_file, out_csv, out_png) -> None:
    """Summarise a backbone's store (refused if built otherwise than the config asks) into its CSV and figure."""
    request = request_for(backbone, features, manifest, weights_file)
    maps, rows = summarise(store, backbone, features["input_size"], request)
    atomic_write_text(out_csv, pd.DataFrame(rows).to_csv(index=False, float_format="%.4g"))
    mean_maps_figure(maps, rows, out_png)


def collect_mean_maps(csvs, out_csv) -> None:
    frame = pd.concat([pd.read_csv(f) for f in csvs], ignore_index=True)
    atomic_write_text(out_csv, frame.to_csv(index=False))


def mean_maps_figure(maps: dict[str, np.ndarray], rows: list[dict], out_png) -> None:
    """Each tap's mean map on its own colour scale, titled with its border contrast and asymmetries; the
    layers that pad unevenly at this input size under the panels."""
    fig, axes = new_figure(1, len(maps), (2.2 * len(maps), 2.6), squeeze=False, layout="constrained")
    for ax, (tap, m), row in zip(axes[0], maps.items(), rows, strict=True):
        ax.imshow(m, cmap="viridis")
        ax.set_title(
            f"{tap}\nborder {row['border_contrast']:+.2f}\nL-R {row['lr_asymmetry']:+.2f} "
            f"T-B {row['tb_asymmetry']:+.2f}",
            fontsize=8,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    first = rows[0]
    uneven = first["uneven_padding"] or "none"
    fig.suptitle(
        f"{first['backbone']} ({first['arch']}, conv_padding {first['conv_padding']}): mean over images and "
        f"channels",
        fontsize=9,
    )
    fig.supxlabel(f"uneven padding at this input size: {uneven}"[:200], fontsize=7)
    save_figure(fig, out_png)
