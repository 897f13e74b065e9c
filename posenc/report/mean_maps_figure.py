"""Figure of an analysis: a backbone's mean feature maps, one panel per tap (posenc.analysis.mean_maps)."""

from __future__ import annotations

import numpy as np

from posenc.report.figures import new_figure, save_figure


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
