"""Converter: trace, BN folding, calibration, balancing, replacement, SN placement, clear errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _nets import build, make_data
from torch import nn

from bsnn_lib.convert import (
    ConversionError,
    UnsupportedLayerError,
    calibrate,
    convert,
    fold_batchnorm,
    trace,
)
from bsnn_lib.methods import method_config
from bsnn_lib.simulate import spike_counts

MEAN, STD = (0.0,), (1.0,)


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
def test_bn_folding_preserves_outputs(kind):
    model = build(kind)
    x = torch.randn(8, 1, 8, 8)
    folded = fold_batchnorm(trace(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
def test_converted_graph_in_ann_mode_is_the_ann(kind):
    """Biases moved into the neurons, ReLUs replaced: in ANN mode it is still the same net."""
    model = build(kind)
    _, loader = make_data(model)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    x = torch.randn(8, 1, 8, 8)
    torch.testing.assert_close(snn.ann(x)[0].float(), model(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("channelwise", [False, True])
@pytest.mark.parametrize("p", [99.9, 99.99, 100.0])
def test_calibration_is_the_exact_inverted_cdf_percentile(p, channelwise):
    model = build("vgg")
    ds, loader = make_data(model, n=40, batch_size=7)
    gm = fold_batchnorm(trace(model))
    lam = calibrate(gm, loader, method_config("rate", percentile=p, channelwise=channelwise))
    acts = {}
    hook = gm.get_submodule("2").register_forward_hook(lambda m, i, o: acts.setdefault("a", o.detach()))
    gm(ds.tensors[0])
    hook.remove()
    a = acts["a"].double()
    if channelwise:
        want = [np.percentile(a[:, c].numpy(), p, method="inverted_cdf") for c in range(a.shape[1])]
        got = lam["2"].double().numpy()
    else:
        want, got = np.percentile(a.numpy(), p, method="inverted_cdf"), float(lam["2"])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_calibration_does_not_depend_on_loader_order():
    model = build("resnet")
    ds, loader = make_data(model, n=40, batch_size=8)
    shuffled = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(3))
    gm = fold_batchnorm(trace(model))
    cfg = method_config("rate", percentile=99.9)
    a, b = calibrate(gm, loader, cfg), calibrate(gm, shuffled, cfg)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_positive_only_calibration_is_not_below_zeros_included():
    model = build("vgg")
    _, loader = make_data(model)
    gm = fold_batchnorm(trace(model))
    base = calibrate(gm, loader, method_config("rate", percentile=99.0))
    pos = calibrate(gm, loader, method_config("rate", percentile=99.0, calib_positive_only=True))
    assert all(float(pos[k]) >= float(base[k]) for k in base)


def test_weight_scaling_and_threshold_balancing_are_equivalent():
    model = build("vgg")
    _, loader = make_data(model)
    x = next(iter(loader))[0].double()
    for method, opts in (("rate", {}), ("bsnn", {"K": 4})):
        a = convert(model, loader, method_config(method, balance="threshold", **opts), mean=MEAN, std=STD).double()
        b = convert(model, loader, method_config(method, balance="weights", **opts), mean=MEAN, std=STD).double()
        assert all(float(n.threshold.max()) == 1.0 for n in b.neurons())
        ca, pa = spike_counts(a, x, 40)
        cb, pb = spike_counts(b, x, 40)
        assert torch.equal(pa, pb)
        for name in ca:
            assert (ca[name] != cb[name]).float().mean() < 1e-3, name


def test_weight_scaling_refuses_identity_shortcuts():
    model = build("resnet")
    _, loader = make_data(model)
    with pytest.raises(ConversionError, match="balance='threshold'"):
        convert(model, loader, method_config("rate", balance="weights"), mean=MEAN, std=STD)


def test_layers_table_names_every_converted_relu_and_relay():
    model = build("resnet")
    _, loader = make_data(model)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    table = snn.layers()
    relus = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert set(table.loc[table.kind == "neuron", "name"]) == set(relus)
    assert (table.kind == "relay").sum() == 2  # one per block: the branch has one extra layer
    assert snn.num_layers == 5
    assert (table.threshold_mean > 0).all()


def test_relay_sits_before_the_projection_conv():
    model = build("resnet")
    _, loader = make_data(model)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    proj_conv = next(n for n in snn.graph.graph.nodes if n.op == "call_module" and n.target == "4.shortcut.0")
    src = proj_conv.args[0]
    assert src.op == "call_module" and src.target.startswith("sn_"), "relay must feed the 1x1 conv"
    relay = snn.graph.get_submodule(src.target)
    assert relay.role == "relay" and relay.source == "3.relu2"  # on the block input, its threshold
    torch.testing.assert_close(relay.threshold, snn.graph.get_submodule("3.relu2").threshold)


def test_without_sn_no_relays_and_the_two_inputs_of_an_add_differ_in_depth():
    model = build("resnet")
    _, loader = make_data(model)
    without = convert(model, loader, method_config("bsnn", K=4, sn=False), mean=MEAN, std=STD)
    with_sn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    assert (without.layers().kind == "relay").sum() == 0
    for snn, gap in ((without, 1), (with_sn, 0)):
        depth = {
            n.target: snn.graph.get_submodule(n.target).depth
            for n in snn.graph.graph.nodes
            if n.op == "call_module" and n.target in snn.neuron_names
        }
        # block 3 (identity shortcut): the add sums relu1 -> conv2 (depth of 3.relu1) and the
        # shortcut (the block input 2, or its relay); the branch is one spiking layer deeper
        shortcut = next(
            (r for r in snn.neuron_names if r.startswith("sn_") and snn.graph.get_submodule(r).source == "2"), "2"
        )
        assert depth["3.relu1"] - depth[shortcut] == gap


class FunctionalRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class ReusedRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3, self.act = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2), nn.ReLU()

    def forward(self, x):
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


@pytest.mark.parametrize(
    "model, pattern",
    [
        (FunctionalRelu(), "functional ReLU call"),
        (ReusedRelu(), r"\['act'\].*more than once"),
        (nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)), r"'1' \(Sigmoid\) is not supported"),
        (
            nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2)),
            "BatchNorm '2' does not directly follow",
        ),
    ],
)
def test_unsupported_models_raise_errors_that_name_the_module(model, pattern):
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4), torch.zeros(8)), batch_size=4)
    with pytest.raises(UnsupportedLayerError, match=pattern):
        convert(model.eval(), data, method_config("rate"), mean=MEAN, std=STD)


def test_max_pooling_is_refused_for_rate_coding_and_accepted_for_bsnn():
    model = build("vgg", pool="max")
    _, loader = make_data(model)
    with pytest.raises(UnsupportedLayerError, match="MaxPool2d '3'.*pool='avg'"):
        convert(model, loader, method_config("rate"), mean=MEAN, std=STD)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    assert snn.num_layers == 3


def test_last_layer_must_be_a_linear_classifier():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU())
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 4), torch.zeros(8)), batch_size=4)
    with pytest.raises(ConversionError, match="nn.Linear classifier"):
        convert(model, data, method_config("rate"), mean=MEAN, std=STD)
