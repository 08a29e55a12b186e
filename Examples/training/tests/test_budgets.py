"""Tests of HE-aware pruning, depth budgets and nested budgets: block geometry against the engine's
tiling and a real compile report, exact zeros in the exported file, the depth bound, merging,
and the he_tool.budgets metadata round trip. Tiny models; seconds; skipped without PyTorch."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from hetrain import data as datasets  # noqa: E402
from hetrain.activations import PolyActivation  # noqa: E402
from hetrain.blocks import BlockGeometry, block_norms, element_mask, geometry, zero_blocks  # noqa: E402
from hetrain.convert import multiplicative_depth  # noqa: E402
from hetrain.layers import linear_layers  # noqa: E402
from hetrain.merge import henet_stages, merged_network  # noqa: E402
from hetrain.models import HENet  # noqa: E402
from hetrain.tiling import PlanError, engine_extra_levels, layouts_from_report, layouts_from_tiling, parse_tiling  # noqa: E402

needs_data = pytest.mark.skipif(not (datasets.DEFAULT_DATA / "mnist").exists(), reason="shared MNIST data not present")

# The step table of `he-tool compile Examples/mnist/model.onnx` (columns: step, input layout,
# level, mulPlain, rot, hoist, mul, est. ms), as the engine printed it.
REPORT = """parameters: n16384-d8-s36-k5: N = 16384, 9 ciphertext primes
tiling 8×16×8×8×1 (t0×t1×tX×tY×tB), 1 image(s) per evaluation, 21 rotation steps

#   step                       input layout                       level mulPlain    rot  hoist   mul     est. ms
0   conv 16×4×3×3 s1 p0        [4/8, */16, 16~/8, 16~/8, 1/1]         8      36     12     12     0       206.1
1   x⊙(x+β)                    [*/8, 16/16, 14~?/8, 14~?/8, 1/1]      7       0      0      0     4        42.1
2   +γ                         [*/8, 16/16, 14~?/8, 14~?/8, 1/1]      6       0      0      0     0         1.2
3   conv 32×16×3×3 s2 p1       [*/8, 16/16, 14~?/8, 14~?/8, 1/1]      6      36     16      5     0       163.4
4   x⊙(x+β)                    [32/8, 1?/16, 7~?/8, 7~?/8, 1/1]       5       0      0      0     4        31.6
5   conv 100×32×7×7 s1 p0      [32/8, 1?/16, 7~?/8, 7~?/8, 1/1]       4      32     79      0     0       257.2
6   x⊙(x+β)                    [*/8, 100/16, 1~?/8, 1~?/8, 1/1]       2       0      0      0     7        27.8
7   conv 10×100×1×1 s1 p0      [*/8, 100/16, 1~?/8, 1~?/8, 1/1]       1      14      8      0     0        18.7

best rejected plans:
  tiling 8×16×8×8×1@0 → 4×32×8×8×1@5, depth 8, n16384-d8-s36-k5: 852.1 ms per evaluation
"""


def mnist_layers():
    return [layer for _, layer in linear_layers(HENet(1, 28, 16, 32, 100), (1, 28, 28))]


def test_blocks_follow_the_tiles_of_the_mirrored_layouts():
    layouts = layouts_from_tiling(mnist_layers(), parse_tiling("8x16x8x8x1"))
    geo = {s.layer.name: geometry(s) for s in layouts}
    # conv1 on the stride-2 space-to-depth packing: 4 packed channels in one t0 = 8 tile, 16 filters in t1 = 16,
    # taps (dy // 2, dx // 2): 3 x 3 blocks, each a 2 x 2 group of the original 5 x 5 taps.
    assert geo["conv1"].grid == (1, 1, 3, 3) and geo["conv1"].row_groups == (0, 0, 1, 1, 2)
    # conv2 channels-first: channels by t1 = 16, filters by t0 = 8, one block per tap.
    assert (geo["conv2"].filters_per_block, geo["conv2"].channels_per_block, geo["conv2"].grid) == (8, 16, (4, 1, 3, 3))
    # fc1 is the full-image convolution on 32 x 7 x 7 (7~/8: one image tile): filters by t1, channels by t0.
    assert (geo["fc1"].shape, geo["fc1"].filters_per_block, geo["fc1"].channels_per_block, geo["fc1"].grid) == \
        ((100, 32, 7, 7), 16, 8, (7, 4, 1, 1))
    assert (geo["fc2"].filters_per_block, geo["fc2"].channels_per_block, geo["fc2"].count) == (8, 16, 14)
    # Every element of a block lies in one filter tile, one channel tile and one tap group.
    ids = geo["conv2"].ids()
    f, c, dy, dx = np.meshgrid(*[np.arange(n) for n in ids.shape], indexing="ij")
    assert np.array_equal(ids, ((f // 8 * 1 + c // 16) * 3 + dy) * 3 + dx)
    assert np.bincount(geo["fc1"].ids().ravel()).tolist()[:3] == [16 * 8 * 49] * 3


def test_compile_report_layouts_match_the_tiling_and_its_product_counts():
    layers = mnist_layers()
    from_report, tiling = layouts_from_report(layers, REPORT)
    assert tiling.startswith("tiling 8×16×8×8×1")
    from_tiling = layouts_from_tiling(layers, parse_tiling("8×16×8×8×1"))
    assert [geometry(a) for a in from_report] == [geometry(b) for b in from_tiling]
    assert [s.s2d for s in from_report] == [2, 1, 1, 1]
    # The report's mulPlain: one product per block and output tile (conv1: 2 x 2 output tiles of 14~/8;
    # conv2: one 7~/8 tile), fc1 one per block plus 4 for the duplication of its [32/8, 1?/16] input.
    blocks = [geometry(s).count for s in from_report]
    assert (blocks[0] * 4, blocks[1], blocks[2] + 4, blocks[3]) == (36, 36, 32, 14)
    with pytest.raises(PlanError):
        layouts_from_report(layers, "no tiling here")
    with pytest.raises(PlanError):
        parse_tiling("8x16x8x8")


def test_space_to_depth_needs_whole_parities_per_channel_tile_and_interleaved_pixel_groups():
    layers = mnist_layers()
    layouts = layouts_from_tiling(layers, (2, 4, 4, 4, 2))
    with pytest.raises(PlanError):
        geometry(layouts[0])  # a channel tile of 2 cannot hold the 4 parities of a stride-2 packing
    fc1 = geometry(layouts[2])  # 7~/4: e = 2 tiles, row y in tile y mod 2
    assert fc1.row_groups == (0, 1, 0, 1, 0, 1, 0) and fc1.grid == (100 // 4, 32 // 2, 2, 2)
    assert geometry(layouts_from_tiling(layers, (8, 16, 8, 8, 1), space_to_depth=False)[0]).row_groups == (0, 1, 2, 3, 4)


def test_masks_zero_exactly_the_listed_blocks():
    geo = BlockGeometry((6, 4, 3, 3), 2, 2, (0, 1, 2), (0, 1, 2))
    rng = np.random.default_rng(0)
    w = rng.normal(size=geo.shape)
    w = w * element_mask([0, 5, 17], geo)
    assert zero_blocks(w, geo) == [0, 5, 17]
    assert block_norms(w, geo)[[0, 5, 17]].tolist() == [0.0, 0.0, 0.0]
    assert BlockGeometry.from_json(json.loads(json.dumps(geo.to_json()))) == geo
    assert engine_extra_levels(4) == 1 and engine_extra_levels(2) == 0 and engine_extra_levels(5) == 2


def test_merging_dense_runs_is_exact_and_conv_runs_match_inside():
    torch.manual_seed(0)
    net = HENet(1, 12, 3, 4, 5)
    for bn in (net.bn1, net.bn2, net.bn3):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(3, 1, 12, 12)

    def reference(keep):
        h = net.bn1(net.conv1(x))
        h = torch.relu(h) if "act1" in keep else h
        h = net.bn2(net.conv2(h))
        h = torch.relu(h) if "act2" in keep else h
        h = net.bn3(net.fc1(net.flatten(h)))
        h = torch.relu(h) if "act3" in keep else h
        return net.fc2(h)

    for keep in ({"act1"}, {"act1", "act2"}, {"act1", "act3"}):  # dense runs: exact
        merged = merged_network(henet_stages(net), keep, (1, 12, 12), lambda _n, _c: nn.ReLU()).eval()
        assert torch.allclose(merged(x), reference(keep), atol=1e-4), keep
    # conv1 and conv2 merged (act1 dropped): 5 x 5 s2 then 3 x 3 s2 is 9 x 9 s4, padding 2 + 1 * 2.
    merged = merged_network(henet_stages(net), {"act2", "act3"}, (1, 12, 12), lambda _n, _c: nn.ReLU()).eval()
    conv = merged.linear1
    assert (conv.kernel_size, conv.stride, conv.padding) == ((9, 9), (4, 4), (4, 4))
    inner = net.conv2(net.bn1(net.conv1(x)))  # 3 x 3 output; (1, 1) reads no padding of conv2
    assert torch.allclose(conv(x)[:, :, 1, 1], inner[:, :, 1, 1], atol=1e-4)
    assert not torch.allclose(conv(x)[:, :, 0, 0], inner[:, :, 0, 0], atol=1e-4)  # the border differs
    student = merged_network(henet_stages(net), {"act1"}, (1, 12, 12), lambda _n, c: PolyActivation(c))
    assert multiplicative_depth(student)["depth"] == 3


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    if not (datasets.DEFAULT_DATA / "mnist").exists():
        pytest.skip("shared MNIST data not present")
    from hetrain.train import main
    out = tmp_path_factory.mktemp("base")
    main(["--dataset", "mnist", "--out", str(out), "--limit", "1500", "--test-limit", "200", "--epochs-teacher", "1",
          "--epochs-student", "1", "--transition-epochs", "1", "--width1", "4", "--width2", "8", "--hidden", "16",
          "--images", "1"])
    return out


TINY = ["--limit", "1500", "--test-limit", "200", "--images", "1"]


def test_rebuilt_base_reproduces_the_file(tiny_base):
    from hetrain.onnxload import load_folder
    model, summary, meta = load_folder(tiny_base)  # raises when it differs from onnxruntime
    assert isinstance(model.bn3, nn.Identity) and model.act3.coefficients.shape == (16, 3)


def test_pruned_export_runs_and_its_blocks_are_exactly_zero(tiny_base, tmp_path):
    import onnx
    import onnxruntime as ort
    from hetrain.onnxmeta import initializer_arrays
    from hetrain.prune import main

    summary = main([str(tiny_base), "--tile", "2x4x4x4x1", "--out", str(tmp_path), "--ratios", "0.25,0.5",
                    "--epochs-per-step", "0.2", "--max-loss", "1.0", *TINY])
    assert summary["kept_ratio"] == 0.5
    proto = onnx.load(tmp_path / "model.onnx")
    meta = {p.key: json.loads(p.value) for p in proto.metadata_props}
    arrays = initializer_arrays(proto)
    record = meta["he_tool.block_pruning"]
    assert [l["module"] for l in record["layers"]] == ["conv2", "fc1"]
    for layer in record["layers"]:
        geo = BlockGeometry.from_json(layer["geometry"])
        assert len(layer["zeroed"]) == round(0.5 * geo.count) == round(0.5 * layer["blocks"])
        w = arrays[layer["initializer"]].reshape(geo.shape)
        assert np.all(w[element_mask(layer["zeroed"], geo) == 0] == 0)
        assert zero_blocks(w, geo) == layer["zeroed"]  # no block is zero by accident
    assert meta["he_tool.activation_ranges"] == [8.0, 8.0, 8.0] and "he_tool.preprocessing" in meta
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.run(None, {"input": np.zeros((1, 1, 28, 28), np.float32)})[0].shape == (1, 10)
    assert "Trade-off curve" in (tmp_path / "model-card.md").read_text()


def test_max_ratio_caps_one_layer(tiny_base, tmp_path):
    import onnx
    from hetrain.prune import main

    summary = main([str(tiny_base), "--tile", "2x4x4x4x1", "--out", str(tmp_path), "--ratios", "0.5",
                    "--max-ratio", "conv2=0.25", "--epochs-per-step", "0.2", "--max-loss", "1.0", *TINY])
    assert summary["kept_ratio"] == 0.5
    meta = {p.key: json.loads(p.value) for p in onnx.load(tmp_path / "model.onnx").metadata_props}
    zeroed = {l["module"]: (len(l["zeroed"]), l["blocks"]) for l in meta["he_tool.block_pruning"]["layers"]}
    assert zeroed["conv2"][0] == round(0.25 * zeroed["conv2"][1])   # capped
    assert zeroed["fc1"][0] == round(0.5 * zeroed["fc1"][1])        # as --ratios says
    with pytest.raises(SystemExit):
        main([str(tiny_base), "--tile", "2x4x4x4x1", "--out", str(tmp_path / "x"), "--max-ratio", "conv9=0.5", *TINY])


def test_max_depth_bounds_the_toolkit_depth(tiny_base, tmp_path):
    import onnx
    from hetrain.depth import main

    summary = main([str(tiny_base), "--max-depth", "4", "--out", str(tmp_path), "--epochs-teacher", "1",
                    "--search-relu-epochs", "0.1", "--search-epochs", "1", "--relu-epochs", "0.1",
                    "--epochs-student", "1", *TINY])
    assert summary["depth"]["depth"] <= 4
    fitting = [c for c in summary["candidates"] if c["depth"] <= 4]
    assert summary["kept_activations"] == max(fitting, key=lambda c: (c["search_accuracy"], -c["depth"]))["keep"]
    assert {c["depth"] for c in summary["candidates"]} == {7, 5, 3, 1}
    ops = [n.op_type for n in onnx.load(tmp_path / "model.onnx").graph.node]
    linear = ops.count("Conv") + ops.count("Gemm")
    assert linear == summary["depth"]["linear_layers"] == summary["depth"]["depth"] - len(summary["kept_activations"])
    # he-tool inspect's count: a quadratic as 2 levels
    assert summary["depth"]["depth_without_folding"] == summary["depth"]["depth"] + len(summary["kept_activations"])


def test_budget_metadata_round_trips(tiny_base, tmp_path):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    from hetrain.budgets import main
    from hetrain.export import onnx_accuracy
    from hetrain.finetune import load_data

    summary = main([str(tiny_base), "--tile", "2x4x4x4x1", "--out", str(tmp_path), "--epochs", "2",
                    "--budgets", "full:0,half:0.5,lite:0.75:act1+act3", *TINY])
    proto = onnx.load(tmp_path / "model.onnx")
    record = json.loads(next(p.value for p in proto.metadata_props if p.key == "he_tool.budgets"))
    assert record["format"] == 1 and record["default"] == "full" and record["activations"] == ["act1", "act2", "act3"]
    budgets = {b["name"]: b for b in record["budgets"]}
    assert budgets["lite"]["kept_activations"] == [0, 2] and budgets["lite"]["depth"] == 6
    layers = {l["module"]: l for l in record["layers"]}
    for name in layers:  # nested: every larger budget's zeroed blocks contain the smaller ones'
        assert set(budgets["half"]["zeroed"][name]) <= set(budgets["lite"]["zeroed"][name])
        assert budgets["full"]["zeroed"][name] == []
    # Apply "half" from the metadata alone to the file's initialisers: onnxruntime gives the recorded accuracy.
    for layer in layers.values():
        init = next(i for i in proto.graph.initializer if i.name == layer["initializer"])
        geo = BlockGeometry.from_json(layer["geometry"])
        w = numpy_helper.to_array(init).reshape(geo.shape) * element_mask(budgets["half"]["zeroed"][layer["module"]], geo)
        init.CopyFrom(numpy_helper.from_array(w.reshape(numpy_helper.to_array(init).shape).astype(np.float32), init.name))
    onnx.save(proto, tmp_path / "half.onnx")
    _, _, xt, _, _, labels, _, _ = load_data("mnist", datasets.DEFAULT_DATA, 10, 200)
    assert onnx_accuracy(tmp_path / "half.onnx", xt.numpy(), labels) == budgets["half"]["accuracy_onnxruntime"]
    assert ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert summary["budgets"][0]["accuracy_onnxruntime"] == summary["onnxruntime_accuracy"]


def test_product_estimate_is_the_reports_plaintext_product_count():
    layouts, _ = layouts_from_report(mnist_layers(), REPORT)
    # mulPlain per conv step: 36, 36, 32 (28 + the duplication's 4), 14.
    assert [geometry(s).count * s.output_tiles for s in layouts] == [36, 36, 28, 14]


def test_inspect_depth_counts_a_polynomial_before_folding():
    from hetrain.convert import inspect_depth
    net = HENet(1, 28, 4, 8, 16)
    quadratic = merged_network(henet_stages(net), {"act1", "act2", "act3"}, (1, 28, 28), lambda _n, c: PolyActivation(c))
    cubic = merged_network(henet_stages(net), {"act2"}, (1, 28, 28), lambda _n, c: PolyActivation(c, 3))
    # What he-tool inspect printed for Examples/mnist (10) and Examples/mnist-depth4 (4).
    assert inspect_depth(multiplicative_depth(quadratic)) == 10 == multiplicative_depth(quadratic)["depth_without_folding"]
    assert inspect_depth(multiplicative_depth(cubic)) == 4 == multiplicative_depth(cubic)["depth"]


def test_group_order_zeroes_whole_groups_weakest_first():
    from hetrain.blocks import pruning_order, whole_groups
    geo = BlockGeometry((4, 2, 1, 1), 2, 1, (0,), (0,))  # grid 2 filter tiles x 2 channel tiles
    norms = np.array([0.1, 5.0, 0.2, 0.3])  # filter tile 0: blocks 0, 1 (RMS 3.5); tile 1: blocks 2, 3 (0.25)
    assert pruning_order(norms, geo) == [0, 2, 3, 1]
    assert pruning_order(norms, geo, "filters") == [2, 3, 0, 1]
    assert whole_groups([2, 3], geo)["filter_tiles"] == (1, 2)
    assert pruning_order(norms, geo, "channels") == [0, 2, 3, 1]  # channel tile 0: 0.1, 0.2
