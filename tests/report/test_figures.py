import numpy as np
import pandas as pd
import torch
from PIL import Image

from posenc.probe.readout import upsample
from posenc.probe.targets import target_tensor
from posenc.report.figures import (
    error_map,
    fig4_predictions,
    fig6_padding,
    fig7_error_maps,
    full_size,
    summary_spc,
)


def fake_run(targets=("H", "V", "G"), n=3, size=26, perfect=True):
    """Predictions as evaluation saves them; `perfect` ones are the targets at readout size."""
    import torch.nn.functional as F

    maps = np.stack(
        [
            F.interpolate(
                target_tensor(t, 224)[None, None], size=(size, size), mode="bilinear", align_corners=False
            )[0, 0].numpy()
            for t in targets
        ]
    )
    pred = np.repeat(maps[None], n, axis=0) if perfect else np.full((n, len(targets), size, size), 0.5)
    return {
        "image": np.array([f"i{k}" for k in range(n)]),
        "test_input": np.array(["natural"] * n),
        "image_set": np.array(["natural"] * n),
        "targets": np.array(targets),
        "pred": pred.astype(np.float16),
    }


def assert_real_png(path):
    image = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 10  # not blank


def test_full_size_is_the_evaluation_upsampling():
    import torch

    pred = np.random.default_rng(0).random((2, 3, 26, 26)).astype(np.float32)
    np.testing.assert_allclose(full_size(pred), upsample(torch.from_numpy(pred)).numpy(), atol=1e-6)


def test_error_map_is_small_for_perfect_and_known_for_constant_predictions():
    good = error_map(fake_run())
    assert good.shape == (224, 224) and good.mean() < 0.02
    flat = error_map(fake_run(perfect=False), targets=("H",))
    np.testing.assert_allclose(flat, np.abs(0.5 - target_tensor("H").numpy()), atol=2e-3)


def test_figures_render_to_real_pngs(tmp_path):
    img = tmp_path / "i0.png"
    Image.fromarray((np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)).save(img)
    paths = {f"i{k}": str(img) for k in range(3)}
    runs = {"good": fake_run(), "flat": fake_run(perfect=False)}
    fig4_predictions(runs, paths, tmp_path / "f4.png")
    fig6_padding(runs, str(img), 0, tmp_path / "f6.png")
    fig7_error_maps(runs, tmp_path / "f7.png")
    table = pd.DataFrame(
        [
            {"target": t, "model": m, "natural_spc": v, "natural_spc_ci": 0.05}
            for t in ("H", "G")
            for m, v in (("A", 0.8), ("B", 0.1))
        ]
    )
    summary_spc(table, tmp_path / "s.png")
    for name in ("f4", "f6", "f7", "s"):
        assert_real_png(tmp_path / f"{name}.png")
    assert not list(tmp_path.glob("*.tmp-*"))


def test_training_curves_draw_every_head_relative_to_a_constant(tmp_path):
    from posenc.report.figures import training_curves

    def payload(scale):
        steps = torch.linspace(1, 0.3, 40)[:, None] * torch.tensor([scale, 1.0])[None]
        return {
            "targets": ["H", "G"],
            "history": {"steps": steps * 0.1, "constant_loss": {"H": 0.1, "G": 0.1}},
        }

    training_curves({"a": [payload(1.0), payload(0.9)], "b": [payload(1.2)]}, tmp_path / "c.png")
    image = np.asarray(Image.open(tmp_path / "c.png").convert("L"), dtype=np.float32)
    assert image.shape[0] > 150 and image.std() > 10
