import numpy as np
import pandas as pd
import pytest
import torch

from posenc.dense.model import DenseNet
from posenc.dense.training import (
    DenseConfig,
    MissingMasks,
    evaluate_dense_model,
    load_dense,
    save_dense,
    train_dense,
)
from posenc.features.extract import TapExtractor
from posenc.features.registry import get_arch
from posenc.features.weights import load_trunk
from posenc.images.composites import build_composites
from posenc.images.embedded import build_embedded
from posenc.images.manifest import write_manifest
from posenc.report.table5 import build_table5


@pytest.mark.parametrize("padding, size", [(True, 224), (False, 196)])
def test_dense_net_predicts_at_input_size_with_and_without_padding(padding, size):
    model = DenseNet("vgg16_bn_slim", 4, conv_padding=padding).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, 4, size, size) and torch.isfinite(out).all()
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert {c.padding for c in convs} == {(1, 1) if padding else (0, 0)}


@pytest.fixture(scope="module")
def tiny_sod(tmp_path_factory):
    root = tmp_path_factory.mktemp("sod")
    write_manifest("tr", build_composites("saliency", "train", 12, root / "tr"), root / "tr.json")
    write_manifest("te", build_composites("saliency", "test", 4, root / "te"), root / "te.json")
    cfg = DenseConfig(task="saliency", epochs=3, batch_size=4, lr=0.003, input_size=196)
    torch.manual_seed(0)
    model, history, manifest = train_dense(root / "tr.json", cfg, conv_padding=True)
    return root, cfg, model, history, manifest


def test_dense_training_lowers_the_loss_and_round_trips(tiny_sod, tmp_path):
    root, cfg, model, history, manifest = tiny_sod
    assert len(history) == 3 and history[-1]["loss"] < history[0]["loss"]
    save_dense(tmp_path / "m.pt", model, cfg, True, history, manifest)
    loaded, cfg2, payload = load_dense(tmp_path / "m.pt")
    x = torch.rand(1, 3, 196, 196)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert cfg2 == cfg and payload["train_list_hash"] == manifest["list_hash"]
    scores = evaluate_dense_model(
        tmp_path / "m.pt", {"te": root / "te.json"}, tmp_path / "m.csv", "sod", "padded", "cpu"
    )
    line = scores.iloc[0]
    assert line["n_images"] == 4 and 0 <= line["mae"] <= 1 and 0 <= line["max_f"] <= 1
    assert pd.read_csv(tmp_path / "m.csv").shape[0] == 1


def test_a_dense_checkpoint_is_probed_with_the_networks_own_encoder(tiny_sod, tmp_path):
    # Table 6 reads the trained backbone through the checkpoint weight source: its taps must be the
    # very activations of the trained network
    root, cfg, model, history, manifest = tiny_sod
    save_dense(tmp_path / "m.pt", model, cfg, True, history, manifest)
    trunk, info = load_trunk("vgg16_bn_slim", "checkpoint", checkpoint=tmp_path / "m.pt")
    assert info.source == "checkpoint" and len(info.sha256) == 64
    spec = get_arch("vgg16_bn_slim")
    x = torch.rand(2, 3, 224, 224)
    probe = TapExtractor(trunk, spec.taps).native(x)
    own = TapExtractor(model.encoder, spec.taps).native(x)
    for tap in spec.taps:
        assert torch.allclose(probe[tap.name], own[tap.name])


def test_unpadded_training_skips_a_last_batch_of_one(tiny_sod):
    # 13 images in batches of 4 leave one image; at 196 px an unpadded relu5_3 is 1x1, where BatchNorm
    # cannot train on a single image
    root = tiny_sod[0]
    write_manifest("odd", build_composites("saliency", "train", 13, root / "odd"), root / "odd.json")
    cfg = DenseConfig(task="saliency", epochs=1, batch_size=4, input_size=196)
    model, history, _ = train_dense(root / "odd.json", cfg, conv_padding=False)
    assert np.isfinite(history[0]["loss"])


def test_dense_training_refuses_a_set_without_masks(tmp_path):
    write_manifest("plain", build_embedded("test", 2, tmp_path / "p"), tmp_path / "plain.json")
    with pytest.raises(MissingMasks, match="has no masks"):
        train_dense(tmp_path / "plain.json", DenseConfig(epochs=1), conv_padding=True)


def test_table5_puts_scores_beside_the_papers():
    tasks = {
        "sod": {"task": "saliency", "arch": "vgg16_bn_slim", "test_sets": {"a": "pascals", "b": ""}},
        "seg": {"task": "segmentation", "arch": "vgg16_bn_slim", "test_sets": {"c": "voc2012_val"}},
    }
    rows = []
    for variant, f in (("padded", 0.7), ("unpadded", 0.4)):
        rows += [
            {"task": "sod", "variant": variant, "test_set": s, "n_images": 5, "max_f": f, "mae": 0.2}
            for s in ("a", "b")
        ]
        rows.append({"task": "seg", "variant": variant, "test_set": "c", "n_images": 5, "miou": f / 2})
    table = build_table5(tasks, pd.DataFrame(rows))
    sod = table[(table["task"] == "sod") & (table["test_set"] == "a")].set_index("variant")
    assert sod.loc["padded", "paper_max_f"] == 0.66 and sod.loc["unpadded", "paper_mae"] == 0.48
    assert np.isnan(table[(table["test_set"] == "b")]["paper_max_f"]).all()
    seg = table[table["task"] == "seg"].set_index("variant")
    assert np.isclose(seg.loc["padded", "paper_miou"], 0.231) and seg.loc["unpadded", "miou"] == 0.2
