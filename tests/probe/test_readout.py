import math

import pytest
import torch
import torch.nn.functional as F

from posenc.probe.readout import PosENet, UpsampledMSE, build_heads, upsample
from posenc.probe.targets import target_stack
from posenc.readout_spec import ReadoutSpec


@pytest.mark.parametrize(
    "layers,kernel,padding,size",
    [(1, 3, 0, 26), (1, 3, 1, 28), (1, 3, 2, 30), (3, 3, 0, 22), (1, 1, 0, 28), (1, 7, 0, 22)],
)
def test_output_size(layers, kernel, padding, size):
    spec = ReadoutSpec(layers, kernel, padding)
    head = PosENet(5, spec)
    out = head(torch.rand(2, 5, 28, 28))
    assert out.shape == (2, 1, size, size) == (2, 1, spec.output_size(28), spec.output_size(28))
    assert 0 <= out.min() and out.max() <= 1
    assert upsample(out).shape == (2, 1, 224, 224)


def test_hidden_width_narrows_the_hidden_layers_per_head():
    head = PosENet(40, ReadoutSpec(layers=3, hidden=4), n_heads=2)
    convs = [m for m in head.body if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.groups) for c in convs] == [(40, 8, 1), (8, 8, 2), (8, 2, 2)]
    assert head(torch.rand(2, 40, 28, 28)).shape == (2, 2, 22, 22)


def test_structure_and_init():
    head = PosENet(8, ReadoutSpec(layers=2))  # one head
    kinds = [type(m).__name__ for m in head.body]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "Sigmoid"]
    assert head.body[0].out_channels == 8 and head.body[3].out_channels == 1
    bound = math.sqrt(6 / (8 * 9 + 8 * 9))  # Xavier-uniform for an 8 -> 8 3x3 conv
    assert head.body[0].weight.abs().max() <= bound and torch.all(head.body[0].bias == 0)
    assert torch.all(head.body[1].weight == 1) and torch.all(head.body[1].bias == 0)


def test_id_round_trip():
    for spec in (
        ReadoutSpec(),
        ReadoutSpec(3, 7, 2),
        ReadoutSpec(1, 3, 0, ("relu1_2", "relu5_3")),
        ReadoutSpec(2, 3, 0, None, 16),
    ):
        assert ReadoutSpec.from_id(spec.id) == spec
    assert ReadoutSpec(2, 3, 0, None, 16).id == "L2-k3-p0-h16-all"
    assert ReadoutSpec(1, 3, 0, None, 16) == ReadoutSpec()  # no hidden layer, nothing to narrow
    assert ReadoutSpec().id == "L1-k3-p0-all"
    with pytest.raises(ValueError, match="readout id"):
        ReadoutSpec.from_id("L1-k3")


def test_head_init_depends_on_seed_and_target_only():
    a = build_heads(4, ReadoutSpec(), 0, ["H"]).body[0].weight
    assert torch.equal(a, build_heads(4, ReadoutSpec(), 0, ["H"]).body[0].weight)
    assert torch.equal(
        a, build_heads(4, ReadoutSpec(), 0, ["G", "H"]).body[0].weight[1:]
    )  # packed with others
    assert not torch.equal(a, build_heads(4, ReadoutSpec(), 1, ["H"]).body[0].weight)
    assert not torch.equal(a, build_heads(4, ReadoutSpec(), 0, ["G"]).body[0].weight)


def test_packed_heads_compute_what_lone_heads_compute():
    spec = ReadoutSpec(layers=2, kernel=3, padding=1)
    packed = build_heads(4, spec, 0, ["H", "G", "HS"]).eval()
    x = torch.rand(3, 4, 28, 28)
    for k, target in enumerate(["H", "G", "HS"]):
        alone = build_heads(4, spec, 0, [target]).eval()
        torch.testing.assert_close(packed(x)[:, k : k + 1], alone(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pred_size", [26, 28, 30])
def test_closed_form_loss_equals_mse_at_224(pred_size):
    targets = target_stack(["H", "G", "HS"], 224)
    loss = UpsampledMSE(targets, pred_size)
    pred = torch.rand(4, 3, pred_size, pred_size, requires_grad=True)
    fast = loss(pred)
    up = upsample(pred, 224)
    slow = torch.stack([F.mse_loss(up[:, k], targets[k].expand(4, 224, 224)) for k in range(3)])
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-7)
    g_fast = torch.autograd.grad(fast.sum(), pred)[0]
    g_slow = torch.autograd.grad(slow.sum(), pred)[0]
    torch.testing.assert_close(g_fast, g_slow, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("padding,channels_last", [(0, False), (1, True), (2, True)])
def test_shift_conv_equals_conv2d(padding, channels_last):
    from posenc.probe.readout import ShiftConv2d

    conv = torch.nn.Conv2d(40, 3, 3, padding=padding)
    shift = ShiftConv2d(40, 3, 3, padding=padding)
    shift.load_state_dict(conv.state_dict())
    x = torch.rand(2, 40, 28, 28)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(shift(x), conv(x), rtol=1e-5, atol=1e-5)
    g1 = torch.autograd.grad(shift(x).square().sum(), shift.weight)[0]
    g2 = torch.autograd.grad(conv(x).square().sum(), conv.weight)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-4)


def test_wide_inputs_use_the_matrix_product_conv():
    from posenc.probe.readout import ShiftConv2d

    assert type(PosENet(1472, ReadoutSpec(), 5).body[0]) is ShiftConv2d
    assert type(PosENet(3, ReadoutSpec(), 5).body[0]) is torch.nn.Conv2d  # raw pixels: direct conv
