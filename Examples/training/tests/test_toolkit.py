"""Fast tests of the training toolkit: tiny networks, a few hundred images, seconds in all.

Skipped cleanly when PyTorch (or onnx/onnxruntime for the export tests) is not installed.
Run from Examples/training:  python -m pytest -q tests
"""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from hetrain import data as datasets  # noqa: E402
from hetrain.activations import PolyActivation, ReLUToPoly, Square, activation_modules, finalize, set_transition  # noqa: E402
from hetrain.convert import maxpool_to_avgpool, multiplicative_depth, replace_relu  # noqa: E402
from hetrain.distill import distillation_loss  # noqa: E402
from hetrain.fitting import collect_preactivations, fit_relu, fitted_activation  # noqa: E402
from hetrain.models import CryptoNetsNet, HENet, HEResNet, TenSEALTutorialNet  # noqa: E402
from hetrain.ranges import RangeMonitor  # noqa: E402

DATA = datasets.DEFAULT_DATA
needs_data = pytest.mark.skipif(not (DATA / "mnist").exists(), reason="shared MNIST data not present")


def test_quadratic_activation_is_per_channel_a_x2_b_x_c():
    coefficients = torch.tensor([[0.1, 0.5, 0.25], [-1.0, 2.0, 3.0]])
    act = PolyActivation(channels=2, degree=2, coefficients=coefficients)
    x = torch.randn(4, 2, 3, 3)
    expected = torch.stack([coefficients[c, 2] * x[:, c] ** 2 + coefficients[c, 1] * x[:, c] + coefficients[c, 0]
                            for c in range(2)], dim=1)
    assert torch.allclose(act(x), expected, atol=1e-6)
    dense = torch.randn(5, 2)
    assert act(dense).shape == (5, 2)


def test_higher_degree_and_shared_coefficients():
    coefficients = torch.tensor([[0.5, -1.0, 0.25, 0.125, -0.0625]])
    act = PolyActivation(channels=1, degree=4, coefficients=coefficients)
    x = torch.linspace(-2, 2, 11)
    expected = sum(coefficients[0, k] * x ** k for k in range(5))
    assert torch.allclose(act(x.view(1, 1, 11)).view(-1), expected, atol=1e-5)
    with pytest.raises(ValueError):
        PolyActivation(degree=9)
    with pytest.raises(ValueError):
        PolyActivation(channels=3, degree=2, coefficients=torch.zeros(2, 3))


def test_transition_mixes_relu_and_polynomial():
    poly = PolyActivation(channels=1, degree=2, coefficients=torch.tensor([[0.3, 0.2, 0.1]]))
    mixed = ReLUToPoly(poly)
    x = torch.linspace(-3, 3, 13)
    set_transition(mixed, 0.0)
    assert torch.equal(mixed(x), torch.relu(x))
    set_transition(mixed, 0.25)
    assert torch.allclose(mixed(x), 0.75 * torch.relu(x) + 0.25 * poly(x))
    set_transition(mixed, 7.0)  # clamped to 1
    assert torch.allclose(mixed(x), poly(x))
    model = nn.Sequential(nn.Linear(2, 2), mixed)
    finalize(model)
    assert isinstance(model[1], PolyActivation)


def test_distribution_aware_fit_beats_a_uniform_fit_where_the_data_is():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.5, 0.7, 20000)
    samples[:20] = rng.uniform(-6, 6, 20)  # a few outliers widen the support
    dapa = fit_relu(samples, 2)
    grid = np.linspace(samples.min(), samples.max(), 2001)
    uniform = fit_relu(grid, 2)
    def mse(c):
        return float(np.mean((np.polyval(c[::-1], samples) - np.maximum(samples, 0)) ** 2))
    assert mse(dapa) < 0.5 * mse(uniform)
    # Higher degrees fit better on the same distribution.
    assert mse(fit_relu(samples, 6)) < mse(dapa)
    with pytest.raises(ValueError):
        fit_relu(np.array([1.0, 2.0]), 4)


def test_collect_and_fit_per_channel():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU())
    batches = [torch.randn(8, 1, 6, 6) for _ in range(3)]
    samples = collect_preactivations(model, [model[1]], batches, per_channel_limit=100)
    assert len(samples) == 1 and len(samples[0]) == 3
    assert all(len(s) == 100 for s in samples[0])
    act = fitted_activation(samples[0], degree=2)
    assert act.coefficients.shape == (3, 3)
    shared = fitted_activation(samples[0], degree=2, shared=True)
    assert shared.coefficients.shape == (1, 3)


def test_distillation_loss():
    torch.manual_seed(0)
    s, t = torch.randn(6, 10), torch.randn(6, 10)
    y = torch.randint(0, 10, (6,))
    ce = nn.functional.cross_entropy(s, y)
    assert torch.allclose(distillation_loss(s, t, y, temperature=3.0, weight=0.0), ce)
    assert torch.allclose(distillation_loss(s, s, y, temperature=3.0, weight=1.0), torch.zeros(()), atol=1e-6)
    assert distillation_loss(s, t, y, 3.0, 1.0) > 0
    with pytest.raises(ValueError):
        distillation_loss(s, t, y, temperature=0.0)


def test_range_monitor_penalises_only_escaping_inputs():
    act = PolyActivation()
    monitor = RangeMonitor([act], bound=2.0)
    monitor.penalise = True
    monitor.start_batch()
    act(torch.tensor([[-1.5, 0.5, 1.9]]))
    assert float(monitor.penalty) == 0.0
    assert monitor.max_abs[0] == pytest.approx(1.9)
    monitor.start_batch()
    act(torch.tensor([[3.0, 0.0], [-4.5, 1.0]]))
    assert float(monitor.penalty) == pytest.approx((1.0 + 6.25) / 2)  # per-sample sums, batch mean
    monitor.close()


def test_maxpool_becomes_avgpool_and_depth_report():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    maxpool_to_avgpool(net)
    assert isinstance(net[2], nn.AvgPool2d)
    x = torch.randn(1, 1, 4, 4)
    conv = net[1](net[0](x))
    assert torch.allclose(net[2](conv), nn.functional.avg_pool2d(conv, 2))
    report = multiplicative_depth(net)
    assert any("not HE-evaluable" in kind for _, kind, _ in report["layers"])
    replace_relu(net, lambda _n, c: PolyActivation(), {"1": 2})
    report = multiplicative_depth(net)
    assert report["depth"] == 3  # conv, x^2, dense
    assert report["depth_without_folding"] == 4


def test_henet_student_conversion():
    teacher = HENet(1, 12, 2, 3, 4)
    student = replace_relu(HENet(1, 12, 2, 3, 4), lambda _n, c: ReLUToPoly(PolyActivation(c)),
                           teacher.activation_channels)
    names = [n for n, _ in activation_modules(student)]
    assert names == ["act1", "act2", "act3"]
    assert student(torch.randn(2, 1, 12, 12)).shape == (2, 10)


def test_tenseal_tutorial_net_is_the_tutorials_network():
    net = TenSEALTutorialNet()
    x = torch.randn(3, 1, 28, 28)
    conv = net.conv1(x)
    assert conv.shape == (3, 4, 8, 8)  # k7, s3, no padding
    # Same computation written out: square, channel-major flatten (x.view(-1, 256)), fc, square, fc.
    hidden = net.fc1((conv * conv).reshape(3, 256))
    assert torch.allclose(net(x), net.fc2(hidden * hidden), atol=1e-5)
    assert [n for n, _ in activation_modules(net)] == ["act1", "act2"]
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, PolyActivation)) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == 4 * 49 + 4 + 256 * 64 + 64 + 64 * 10 + 10
    report = multiplicative_depth(net)
    assert [kind for _, kind, _ in report["layers"]] == ["Conv2d", "square", "Linear", "square", "Linear"]
    assert report["depth"] == report["depth_without_folding"] == 5
    assert torch.equal(Square()(torch.tensor([-3.0, 2.0])), torch.tensor([9.0, 4.0]))


@needs_data
def test_tenseal_tutorial_tiny_run_exports_mul_squares(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx
    from hetrain.train import main

    summary = main(["--arch", "tenseal-tutorial", "--dataset", "mnist", "--out", str(tmp_path), "--limit", "2000",
                    "--test-limit", "200", "--epochs-student", "2", "--images", "1"])
    model = onnx.load(tmp_path / "model.onnx")
    ops = [n.op_type for n in model.graph.node]
    assert model.opset_import[0].version == 17
    assert ops.count("Conv") == 1 and ops.count("Gemm") == 2 and ops.count("Mul") == 2 and "Relu" not in ops
    assert all(n.input[0] == n.input[1] for n in model.graph.node if n.op_type == "Mul")  # plain x * x
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["he_tool.preprocessing"]["mean"] == [0.1307] and meta["he_tool.preprocessing"]["std"] == [0.3081]
    assert meta["he_tool.class_names"] == [str(i) for i in range(10)]
    assert meta["he_tool.activation_ranges"] == [8.0, 8.0]
    assert summary["arch"] == "tenseal-tutorial" and summary["teacher_accuracy"] is None
    assert summary["depth"]["depth"] == 5
    assert summary["onnxruntime_accuracy"] == summary["student_accuracy_torch"] > 0.3
    card = (tmp_path / "model-card.md").read_text()
    assert "TenSEAL tutorial CNN" in card and "ReLU teacher" not in card and "**5**." in card


def test_cryptonets_net_is_the_papers_network():
    net = CryptoNetsNet()
    x = torch.randn(3, 1, 28, 28)
    conv = net.conv1(x)
    assert conv.shape == (3, 5, 13, 13)  # k5, s2, padding 1: 5 x 13 x 13 = 845
    assert net.conv1.kernel_size == (5, 5) and net.conv1.stride == (2, 2) and net.conv1.padding == (1, 1)
    hidden = net.fc1((conv * conv).reshape(3, 845))
    assert torch.allclose(net(x), net.fc2(hidden * hidden), atol=1e-4)
    assert [n for n, _ in activation_modules(net)] == ["act1", "act2"]
    assert all(isinstance(m, Square) for _, m in activation_modules(net))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, PolyActivation)) for m in net.modules())
    assert sum(p.numel() for p in net.parameters()) == 5 * 25 + 5 + 845 * 100 + 100 + 100 * 10 + 10
    report = multiplicative_depth(net)
    assert [kind for _, kind, _ in report["layers"]] == ["Conv2d", "square", "Linear", "square", "Linear"]
    assert report["depth"] == report["depth_without_folding"] == 5


@needs_data
def test_cryptonets_tiny_run_exports_mul_squares_and_reloads(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx
    from hetrain.onnxload import load_folder
    from hetrain.train import main

    summary = main(["--arch", "cryptonets", "--dataset", "mnist", "--out", str(tmp_path), "--limit", "2000",
                    "--test-limit", "200", "--epochs-student", "2", "--images", "1"])
    model = onnx.load(tmp_path / "model.onnx")
    assert [n.op_type for n in model.graph.node] == ["Conv", "Mul", "Flatten", "Gemm", "Mul", "Gemm"]
    assert all(n.input[0] == n.input[1] for n in model.graph.node if n.op_type == "Mul")  # plain x * x
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs["kernel_shape"] == [5, 5] and attrs["strides"] == [2, 2] and attrs["pads"] == [1, 1, 1, 1]
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    assert shapes["conv1.weight"] == [5, 1, 5, 5] and shapes["fc1.weight"] == [100, 845]
    assert shapes["fc2.weight"] == [10, 100] and {"conv1.bias", "fc1.bias", "fc2.bias"} <= set(shapes)
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["he_tool.preprocessing"]["input_shape"] == [1, 28, 28]
    assert meta["he_tool.preprocessing"]["mean"] == [0.1307] and meta["he_tool.preprocessing"]["std"] == [0.3081]
    assert meta["he_tool.activation_ranges"] == [8.0, 8.0] and len(meta["he_tool.activation_observed_max"]) == 2
    assert summary["arch"] == "cryptonets" and summary["teacher_accuracy"] is None
    assert summary["depth"]["depth"] == 5
    assert summary["onnxruntime_accuracy"] == summary["student_accuracy_torch"] > 0.3
    card = (tmp_path / "model-card.md").read_text()
    assert "# mnist: CryptoNets" in card and "--arch cryptonets" in card and "ReLU teacher" not in card
    assert "**5**." in card
    rebuilt, _, _ = load_folder(tmp_path)  # hetrain.onnxload rebuilds it (checked against onnxruntime)
    assert isinstance(rebuilt, CryptoNetsNet)



    images, labels = datasets.load_split("mnist", "test")
    assert images.shape == (10000, 1, 28, 28)
    assert list(labels[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert list(np.bincount(labels)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    raw = gzip.decompress((DATA / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(datasets.DataError, match="expected"):
        datasets.read_idx(tmp_path / "short")
    (tmp_path / "magic").write_bytes(b"\x01" + raw[1:])
    with pytest.raises(datasets.DataError, match="not an IDX"):
        datasets.read_idx(tmp_path / "magic")
    with pytest.raises(datasets.DataError, match="no such file"):
        datasets.read_idx(tmp_path / "missing.gz")


def test_cmnist32_is_deterministic():
    rng = np.random.default_rng(3)
    digits = (rng.random((4, 1, 28, 28)) * 255).astype(np.uint8)
    a = datasets.colour_mnist(digits, np.zeros(4), seed=5)
    b = datasets.colour_mnist(digits, np.zeros(4), seed=5)
    c = datasets.colour_mnist(digits, np.zeros(4), seed=6)
    assert a.shape == (4, 3, 32, 32) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@needs_data
def test_end_to_end_tiny_run_exports_a_checked_model(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx
    from hetrain.train import main

    summary = main(["--dataset", "mnist", "--out", str(tmp_path), "--limit", "2000", "--test-limit", "200",
                    "--epochs-teacher", "1", "--epochs-student", "2", "--transition-epochs", "1",
                    "--width1", "4", "--width2", "8", "--hidden", "16", "--images", "2"])
    model = onnx.load(tmp_path / "model.onnx")
    ops = {n.op_type for n in model.graph.node}
    assert "Relu" not in ops and {"Conv", "Gemm", "Mul", "Add"} <= ops
    assert model.opset_import[0].version == 17
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["he_tool.preprocessing"]["input_shape"] == [1, 28, 28]
    assert meta["he_tool.preprocessing"]["mean"] == [0.1307]
    assert len(meta["he_tool.class_names"]) == 10
    assert meta["he_tool.activation_ranges"] == [8.0, 8.0, 8.0]
    assert len(meta["he_tool.activation_observed_max"]) == 3
    assert summary["onnxruntime_accuracy"] == summary["student_accuracy_torch"]
    assert summary["onnxruntime_accuracy"] > 0.3  # well above chance (0.1) after 2000 images
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["test-00-label-7.png", "test-01-label-2.png"]
    assert Path(tmp_path / "training-summary.json").exists()
    card = (tmp_path / "model-card.md").read_text()
    assert "onnxruntime" in card and "act3" in card and "Seed 1" in card


def test_resnet_blocks_shortcuts_and_depth():
    teacher = HEResNet(3, (4, 8, 8))
    assert isinstance(teacher.block1.shortcut, nn.Identity)  # 4 -> 4, stride 1
    for block in (teacher.block2, teacher.block3):  # stride 2: 1 x 1 stride-2 conv + BN projections
        conv, bn = block.shortcut
        assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and isinstance(bn, nn.BatchNorm2d)
    x = torch.randn(2, 3, 32, 32)
    assert teacher.block1(teacher.act1(teacher.bn1(teacher.conv1(x)))).shape == (2, 4, 16, 16)
    assert teacher(x).shape == (2, 10)
    student = replace_relu(HEResNet(3, (4, 8, 8)), lambda _n, c: ReLUToPoly(PolyActivation(c)),
                           teacher.activation_channels)
    names = [n for n, _ in activation_modules(student)]
    assert names == ["act1", "block1.act1", "block1.act2", "block2.act1", "block2.act2", "block3.act1",
                     "block3.act2"]
    assert [m.poly.channels for _, m in activation_modules(student)] == [4, 4, 4, 8, 8, 8, 8]
    set_transition(student, 1.0)
    finalize(student)
    assert not any(isinstance(m, (nn.ReLU, ReLUToPoly)) for m in student.modules())
    report = multiplicative_depth(student)
    # Longest path: stem conv + act, 3 x (conv, act, conv, act), dense; the shortcuts run in parallel.
    assert report["depth"] == 2 + 3 * 4 + 1 == 15
    assert report["depth_without_folding"] == 15 + 7
    parallel = [name for name, kind, _ in report["layers"] if "parallel" in kind]
    assert parallel == ["block2.shortcut.0", "block3.shortcut.0"]


def test_export_drops_identity_nodes_of_shared_initialisers(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx
    from hetrain.export import export_onnx

    torch.manual_seed(0)
    student = replace_relu(HEResNet(3, (4, 8)), lambda _n, c: PolyActivation(c), HEResNet(3, (4, 8)).activation_channels)
    student.eval()  # every activation has the same default coefficients: the exporter shares them
    ranges = [{"range": [-8.0, 8.0], "observed_max_abs": 1.0}] * 5
    export_onnx(student, (3, 16, 16), tmp_path / "m.onnx", preprocess={}, class_names=[], activation_ranges=ranges,
                check_inputs=np.random.default_rng(0).normal(size=(2, 3, 16, 16)).astype(np.float32))
    ops = [n.op_type for n in onnx.load(tmp_path / "m.onnx").graph.node]
    assert "Identity" not in ops and ops.count("Conv") == 6


@needs_data
def test_resnet_tiny_run_exports_a_residual_graph_he_tool_imports(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnx
    from hetrain.train import main

    summary = main(["--arch", "resnet-cmnist32", "--dataset", "cmnist32", "--out", str(tmp_path), "--limit", "1000",
                    "--test-limit", "200", "--epochs-teacher", "1", "--epochs-student", "1", "--transition-epochs", "1",
                    "--widths", "4,8,8", "--images", "1"])
    model = onnx.shape_inference.infer_shapes(onnx.load(tmp_path / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert set(ops) <= {"Conv", "Add", "Mul", "GlobalAveragePool", "Flatten", "Gemm"}, set(ops)
    assert ops.count("Conv") == 9 and ops.count("GlobalAveragePool") == 1 and ops.count("Gemm") == 1
    assert model.opset_import[0].version == 17
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    initialisers = {i.name for i in model.graph.initializer}
    joins = [n for n in model.graph.node if n.op_type == "Add" and not initialisers & set(n.input)]
    residual = [n for n in joins if "act" not in n.name]
    assert len(residual) == 3  # one per block, each joining two tensors of one shape
    for node in joins:
        assert shapes[node.input[0]] == shapes[node.input[1]], node.name
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["he_tool.preprocessing"]["input_shape"] == [3, 32, 32]
    assert meta["he_tool.activation_ranges"] == [8.0] * 7
    assert summary["arch"] == "resnet-cmnist32" and summary["depth"]["depth"] == 15
    assert summary["onnxruntime_accuracy"] == summary["student_accuracy_torch"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["test-00-label-7.png"]
    card = (tmp_path / "model-card.md").read_text()
    assert "HE-friendly ResNet" in card and "block3.act2" in card and "**15**" in card


def test_resnet20_shape_script(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import importlib.util
    import onnx

    path = Path(__file__).resolve().parents[2] / "resnet20_shape.py"
    spec = importlib.util.spec_from_file_location("resnet20_shape", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "resnet20-shape.onnx"
    script.main(["--out", str(out), "--images", "2", "--calibration", "16"])
    model = onnx.load(out)
    ops = [n.op_type for n in model.graph.node]
    assert (ops.count("Conv"), ops.count("Mul"), ops.count("Add"), ops.count("Gemm")) == (21, 19, 9, 1)
    assert script.depth(model.graph) == 39
    assert all(n.input[0] == n.input[1] for n in model.graph.node if n.op_type == "Mul")  # plain x * x
    logits = np.load(tmp_path / "expected-logits.npy")
    assert logits.shape == (2, 10) and np.isfinite(logits).all() and np.abs(logits).max() < 10
    assert np.load(tmp_path / "image-1.npy").shape == (1, 3, 32, 32) and (tmp_path / "image-1.png").exists()
