"""Tests of hetrain.shrink (dead dense neurons removed exactly) and `hetrain.prune --shrink`:
the shrunk file computes the source's logits, has the expected shapes and consistent metadata.
Tiny models; seconds; skipped without PyTorch."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hetrain import data as datasets  # noqa: E402
from hetrain.activations import PolyActivation  # noqa: E402
from hetrain.blocks import BlockGeometry, element_mask, zero_blocks  # noqa: E402
from hetrain.convert import replace_relu  # noqa: E402
from hetrain.models import HENet  # noqa: E402

INPUT = (1, 12, 12)
PRE = {"scale": 1 / 255, "mean": [0.1307], "std": [0.3081], "layout": "NCHW", "input_shape": list(INPUT)}


def meta_of(path):
    import onnx
    return {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}


def arrays_of(path):
    import onnx
    from onnx import numpy_helper
    proto = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    return {n.name: [inits[i] for i in n.input if i in inits] for n in proto.graph.node}


def logits(path, x):
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": xi[None]})[0] for xi in x])


@pytest.fixture
def dead_model(tmp_path):
    """A tiny HENet (widths 4 / 8 / 16) with random quadratics and a BatchNorm after fc1 (kept as
    a BatchNormalization node), fc1 rows 0-7 zero (two whole 4-row tiles; their biases are not),
    fc2 column 12 zero; exported with a block_pruning record for fc1."""
    from hetrain.export import export_onnx
    from hetrain.onnxmeta import set_metadata
    torch.manual_seed(0)
    model = HENet(1, 12, 4, 8, 16)
    replace_relu(model, lambda _n, c: PolyActivation(c), model.activation_channels)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, PolyActivation):
                m.coefficients.copy_(torch.randn_like(m.coefficients) * 0.3 + torch.tensor([0.2, 0.5, 0.1]))
        for bn in (model.bn1, model.bn2, model.bn3):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.normal_(1.0, 0.2)
            bn.bias.normal_()
        model.fc1.weight[:8] = 0
        model.fc1.bias.normal_()
        model.fc2.weight[:, 12] = 0
    model.eval()
    path = tmp_path / "model.onnx"
    x = torch.randn(6, *INPUT).numpy()
    export_onnx(model, INPUT, path, preprocess=PRE, class_names=[str(i) for i in range(10)],
                activation_ranges=[{"range": [-8, 8], "observed_max_abs": 1.0}] * 3, check_inputs=x)
    geo = BlockGeometry((16, 8, 3, 3), 4, 8, (0, 0, 0), (0, 0, 0))
    record = {"format": 1, "source": "test", "layers": [
        {"layer": "/fc1/Gemm", "module": "fc1", "initializer": "fc1.weight", "blocks": geo.count,
         "geometry": geo.to_json(), "zeroed": [0, 1]}]}
    set_metadata(path, {"he_tool.block_pruning": record})
    return path


def test_shrunk_file_gives_the_same_logits_with_fewer_neurons(dead_model, tmp_path):
    from hetrain.shrink import shrink_file
    before = arrays_of(dead_model)
    assert "/bn3/BatchNormalization" in before  # the run holds a BatchNormalization
    target = tmp_path / "shrunk.onnx"
    runs = shrink_file(dead_model, target)
    assert len(runs) == 1 and runs[0]["layer"] == "/fc1/Gemm" and runs[0]["next"] == "/fc2/Gemm"
    kept = [8, 9, 10, 11, 13, 14, 15]
    assert runs[0]["kept"] == kept and runs[0]["zero_rows"] == 8 and runs[0]["zero_columns_only"] == 1

    x = np.random.default_rng(1).normal(size=(20, *INPUT)).astype(np.float32)
    a, b = logits(dead_model, x), logits(target, x)
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()

    after = arrays_of(target)
    w1, b1 = after["/fc1/Gemm"]
    w2, b2 = after["/fc2/Gemm"]
    assert w1.shape == (7, 72) and b1.shape == (7,) and w2.shape == (10, 7)
    np.testing.assert_array_equal(w1, before["/fc1/Gemm"][0][kept])
    assert not np.allclose(b2, before["/fc2/Gemm"][1])  # the constants went into fc2's bias
    assert all(a.shape[-1] == 7 for a in after["/bn3/BatchNormalization"])
    assert all(a.size == 7 for n, arrs in after.items() if n.startswith("/act3/") for a in arrs)

    meta = meta_of(target)
    assert meta["he_tool.activation_ranges"] == [8, 8, 8] and meta["he_tool.preprocessing"] == PRE
    layer = meta["he_tool.block_pruning"]["layers"][0]
    geo = BlockGeometry.from_json(layer["geometry"])
    assert geo.shape == (7, 8, 3, 3) and layer["blocks"] == geo.count == 2 and layer["zeroed"] == []
    assert meta["he_tool.shrink"]["runs"][0]["kept"] == kept


def test_nothing_dead_is_unchanged_and_budgets_are_refused(dead_model, tmp_path):
    import onnx
    from hetrain.onnxmeta import set_metadata
    from hetrain.shrink import ShrinkError, shrink_file
    once = tmp_path / "once.onnx"
    shrink_file(dead_model, once)
    assert shrink_file(once, tmp_path / "twice.onnx") == []  # a shrunk file has no dead neuron left
    assert len(onnx.load(str(tmp_path / "twice.onnx")).graph.initializer) == len(onnx.load(str(once)).graph.initializer)
    set_metadata(once, {"he_tool.budgets": {"format": 1}})
    with pytest.raises(ShrinkError):
        shrink_file(once, tmp_path / "x.onnx")


@pytest.fixture(scope="module")
def tiny_pruned(tmp_path_factory):
    """A tiny base trained for a moment, pruned with whole fc1 output tiles first."""
    if not (datasets.DEFAULT_DATA / "mnist").exists():
        pytest.skip("shared MNIST data not present")
    from hetrain.prune import main as prune
    from hetrain.train import main as train
    base = tmp_path_factory.mktemp("base")
    train(["--dataset", "mnist", "--out", str(base), "--limit", "1500", "--test-limit", "200", "--epochs-teacher", "1",
           "--epochs-student", "1", "--transition-epochs", "1", "--width1", "4", "--width2", "8", "--hidden", "16",
           "--images", "1"])
    return base, prune


TINY = ["--limit", "1500", "--test-limit", "200", "--images", "1"]


def test_prune_with_shrink_and_the_shrink_command(tiny_pruned, tmp_path):
    from hetrain.onnxload import load_folder
    from hetrain.shrink import main as shrink
    base, prune = tiny_pruned
    common = [str(base), "--tile", "2x4x4x4x1", "--ratios", "0.5", "--groups", "fc1=filters", "--epochs-per-step", "0.2",
              "--max-loss", "1.0", *TINY]
    plain = prune([*common, "--out", str(tmp_path / "pruned")])
    shrunk = prune([*common, "--out", str(tmp_path / "pruned-shrunk"), "--shrink"])
    assert "shrink" not in plain and plain["onnxruntime_accuracy"] == shrunk["onnxruntime_accuracy"]
    run = shrunk["shrink"]["runs"][0]
    assert run["layer"] == "/fc1/Gemm" and run["channels"] == 16 and len(run["kept"]) == 8  # 2 of 4 tiles of 4
    w = arrays_of(tmp_path / "pruned-shrunk" / "model.onnx")["/fc1/Gemm"][0]
    layer = next(l for l in meta_of(tmp_path / "pruned-shrunk" / "model.onnx")["he_tool.block_pruning"]["layers"]
                 if l["module"] == "fc1")
    geo = BlockGeometry.from_json(layer["geometry"])
    assert geo.shape[0] == 8 and zero_blocks(w, geo) == layer["zeroed"]
    assert np.all(w.reshape(geo.shape)[element_mask(layer["zeroed"], geo) == 0] == 0)
    assert "Shrunk (`--shrink`" in (tmp_path / "pruned-shrunk" / "model-card.md").read_text()
    model, _, _ = load_folder(tmp_path / "pruned-shrunk")  # rebuilt with the file's widths
    assert model.fc1.out_features == 8 and model.act3.coefficients.shape == (8, 3)

    out = shrink([str(tmp_path / "pruned"), "--out", str(tmp_path / "shrunk"), "--test-limit", "200", "--images", "1"])
    assert out["onnxruntime_accuracy"] == out["shrink"]["source_onnxruntime_accuracy"] == plain["onnxruntime_accuracy"]
    assert out["shrink"]["predictions_changed"] == 0 and len(out["shrink"]["runs"][0]["kept"]) == 8
    assert (tmp_path / "shrunk" / "test-00-label-7.png").exists()
    card = (tmp_path / "shrunk" / "model-card.md").read_text()
    assert "## What was removed" in card and "## The source model's card" in card
    x = np.random.default_rng(2).normal(size=(5, 1, 28, 28)).astype(np.float32)
    a, b = logits(tmp_path / "pruned" / "model.onnx", x), logits(tmp_path / "shrunk" / "model.onnx", x)
    assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max()
