"""Vision transformers as backbones: block taps of patch tokens, position-embedding variants, and the known
answer that a ViT without position embedding (and a patch embedding that does not pad) is permutation-
equivariant over patches."""

import pytest
import torch

from posenc.config import validate_config
from posenc.errors import ActionableError
from posenc.features.architectures import TokenMaps, derive_taps
from posenc.features.extract import TapExtractor
from posenc.features.registry import get_arch
from posenc.features.request import store_request
from posenc.features.weights import load_trunk

VIT = "vit_tiny_patch16_224"  # 12 blocks of 192 channels, 16-px patches, one class token
PATCH, GRID = 16, 14


def test_a_bare_timm_name_is_a_timm_architecture_with_block_taps():
    arch = get_arch(VIT)
    assert (arch.library, arch.model, arch.trunk) == ("timm", VIT, "timm")
    assert get_arch("resnet50").library == "torchvision"  # torchvision's name comes first
    trunk, _ = load_trunk(VIT, "random")
    assert isinstance(trunk, TokenMaps)
    taps = derive_taps(trunk)
    assert [t.module for t in taps] == ["blocks.2", "blocks.5", "blocks.8", "blocks.11"]
    assert {(t.channels, t.stride) for t in taps} == {(192, 16)}
    assert trunk.layout()["prefix_tokens_dropped"] == 1
    chosen = derive_taps(trunk, ["blocks.0", "blocks.7"])
    assert [t.name for t in chosen] == ["blocks_0", "blocks_7"]


def test_swin_stages_are_taps_with_their_own_strides():
    trunk, _ = load_trunk("swin_tiny_patch4_window7_224", "random")
    taps = derive_taps(trunk)
    assert [(t.module, t.channels, t.stride) for t in taps] == [
        ("layers.0", 96, 4),
        ("layers.1", 192, 8),
        ("layers.2", 384, 16),
        ("layers.3", 768, 32),
    ]


def _patches_permuted(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """The image with its GRID x GRID patches moved: patch k of the result is patch order[k] of x."""
    n, c = x.shape[:2]
    p = (
        x.reshape(n, c, GRID, PATCH, GRID, PATCH)
        .permute(0, 2, 4, 1, 3, 5)
        .reshape(n, GRID * GRID, c, PATCH, PATCH)
    )
    p = p[:, order].reshape(n, GRID, GRID, c, PATCH, PATCH).permute(0, 3, 1, 4, 2, 5)
    return p.reshape(n, c, GRID * PATCH, GRID * PATCH)


def _map_permuted(m: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    n, c = m.shape[:2]
    return m.reshape(n, c, GRID * GRID)[:, :, order].reshape(n, c, GRID, GRID)


@pytest.mark.parametrize("pos_embed", ["zero", "keep"])
def test_a_vit_without_position_embedding_is_equivariant_to_patch_permutations(pos_embed):
    trunk, _ = load_trunk(VIT, "random", pos_embed=pos_embed)
    taps = derive_taps(trunk)
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(GRID * GRID, generator=torch.Generator().manual_seed(1))
    with TapExtractor(trunk, taps) as extractor, torch.no_grad():
        plain = extractor.native(x)
        moved = extractor.native(_patches_permuted(x, order))
    for tap in taps:
        expected = _map_permuted(plain[tap.name], order)
        error = float((moved[tap.name] - expected).abs().max() / expected.abs().max())
        if pos_embed == "zero":  # exactly equivariant, up to float rounding
            assert error < 1e-4, tap.name
        else:  # the random embedding tells the patches apart
            assert error > 0.05, tap.name


def test_shuffle_permutes_the_patch_rows_and_leaves_the_class_token_row():
    kept, _ = load_trunk(VIT, "random", seed=3)
    shuffled, info = load_trunk(VIT, "random", seed=3, pos_embed="shuffle")
    a, b = kept.net.pos_embed[0], shuffled.net.pos_embed[0]
    assert torch.equal(a[0], b[0])  # the class token's row
    assert not torch.equal(a[1:], b[1:])
    rows = {tuple(r.tolist()) for r in a[1:]}
    assert {tuple(r.tolist()) for r in b[1:]} == rows  # the same rows, elsewhere
    again, again_info = load_trunk(VIT, "random", seed=3, pos_embed="shuffle")
    assert torch.equal(again.net.pos_embed, shuffled.net.pos_embed) and again_info.sha256 == info.sha256
    zero, zero_info = load_trunk(VIT, "random", seed=3, pos_embed="zero")
    assert float(zero.net.pos_embed.abs().sum()) == 0
    assert len({info.sha256, zero_info.sha256, load_trunk(VIT, "random", seed=3)[1].sha256}) == 3


def test_a_transformer_without_absolute_embedding_refuses_a_variant():
    with pytest.raises(ActionableError, match="has none.*leave pos_embed at keep"):
        load_trunk("swin_tiny_patch4_window7_224", "random", pos_embed="zero")


def test_pos_embed_is_in_the_store_request_and_refused_for_cnns():
    manifest = {"image_set": "s", "list_hash": "h"}
    features = {"preprocessing": "official", "align_corners": True, "input_size": 224, "size": 28}
    features |= {"dtype": "float16", "precision": "float32"}
    keep = store_request({"arch": VIT, "weights": "random"}, features, manifest)
    shuffle = store_request({"arch": VIT, "weights": "random", "pos_embed": "shuffle"}, features, manifest)
    assert (keep["pos_embed"], keep["pos_embed_seed"]) == ("keep", None)
    assert (shuffle["pos_embed"], shuffle["pos_embed_seed"]) == ("shuffle", 0)
    config = {
        "image_sets": {"train": {"source": "embedded", "split": "train", "count": 4}},
        "backbones": {"cnn": {"arch": "vgg16", "weights": "random", "pos_embed": "zero"}},
    }
    with pytest.raises(ValueError, match=r"backbones\.cnn\.pos_embed.*not a timm transformer"):
        validate_config(config)


def test_a_checkpoint_of_the_timm_model_loads_and_a_foreign_one_is_named(tmp_path):
    trunk, _ = load_trunk(VIT, "random", seed=5)
    path = tmp_path / "vit.pth"
    torch.save(trunk.net.state_dict(), path)
    loaded, info = load_trunk(VIT, "checkpoint", checkpoint=path)
    assert torch.equal(loaded.net.pos_embed, trunk.net.pos_embed) and info.file == str(path)
    state = trunk.net.state_dict()
    del state["blocks.3.attn.qkv.weight"]
    torch.save(state, path)
    with pytest.raises(ActionableError, match=r"lacks 1 tensors.*blocks\.3\.attn\.qkv\.weight"):
        load_trunk(VIT, "checkpoint", checkpoint=path)
