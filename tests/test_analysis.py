"""Analysis: SIN metrics on hand-made cases, SOP counting, latency, energy."""

import pytest
import torch
from _nets import build, make_data
from torch import nn

from bsnn_lib.analysis import latency, neuron_trace
from bsnn_lib.convert import convert
from bsnn_lib.cost import ann_macs, fanout_maps
from bsnn_lib.methods import method_config
from bsnn_lib.simulate import error_parts, simulate, sin_counts


def test_a_neuron_fed_plus_then_minus_two_theta_is_one_sin():
    """+2 theta, then -2 theta: the rate neuron fires once; its ANN activation relu(0) is 0."""
    trace = neuron_trace(method_config("rate"), [2.0, -2.0])
    count = torch.tensor([int(trace.spike.sum())])
    pre = torch.tensor([sum(trace.input) / len(trace)])  # the ANN sees the mean input, 0
    assert int(count) == 1
    s = sin_counts(count, pre <= 0)
    assert s == {"inactive": 1.0, "sin_neurons": 1.0, "sin_spikes": 1.0, "spikes": 1.0}


def test_sin_counts_mixed_layer():
    count = torch.tensor([0, 3, 1, 2])
    inactive = torch.tensor([True, True, False, False])
    s = sin_counts(count, inactive)
    assert s["sin_neurons"] / s["inactive"] == 0.5  # SIN neuron rate
    assert s["sin_spikes"] / s["spikes"] == 0.5  # SIN spike share: 3 of 6 spikes


def test_error_parts_split_sin_clip_and_rest():
    theta = torch.tensor(1.0)
    pre = torch.tensor([-1.0, 2.0, 0.5])
    rate = torch.tensor([0.25, 1.0, 0.25])
    parts = error_parts(rate, pre, theta)
    assert parts == {"err_sin": 0.0625, "err_clip": 1.0, "err_rest": 0.0625, "a_sq": 4.25}


def test_sop_count_matches_a_hand_computed_layer():
    """Spikes of a 1-channel map feed a 3x3 conv (pad 1) with 5 output channels: an interior
    spike costs 5*9 accumulates, a corner spike 5*4, an edge spike 5*6."""
    model = nn.Sequential(
        nn.Conv2d(1, 1, 1), nn.ReLU(), nn.Conv2d(1, 5, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 4 * 4, 3)
    ).eval()
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.rand(4, 1, 4, 4), torch.zeros(4)), batch_size=4
    )
    snn = convert(model, data, method_config("rate"), mean=(0.0,), std=(1.0,))
    fan = fanout_maps(snn)["0" if "0" in snn.neuron_names else snn.neuron_names[0]]
    assert fan.shape == (1, 4, 4)
    assert float(fan[0, 1, 1]) == 45 and float(fan[0, 0, 0]) == 20 and float(fan[0, 0, 1]) == 30
    assert float(fanout_maps(snn)[snn.neuron_names[1]].max()) == 3  # into the 3-way classifier
    macs = ann_macs(snn)
    assert macs["__input__"] == 16  # the 1x1 input conv: 16 outputs x 1 input each
    assert sum(v for k, v in macs.items() if k != "__input__") == 16 + 5 * 16 * 9 + 80 * 3


def test_latency_is_the_first_t_from_which_the_curve_stays_within_tolerance():
    acc = [0.1, 0.95, 0.90, 0.985, 0.99, 0.99]
    assert latency(acc, 0.99, 0.01) == 4
    assert latency(acc, 0.99, 0.0) == 5
    assert latency([0.5, 0.6], 0.99, 0.01) is None


def test_energy_table_adds_sops_and_input_macs():
    model = build("vgg")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config("rate"), mean=(0.0,), std=(1.0,))
    res = simulate(snn, loader, 16, progress=False)
    e = res.energy()
    assert list(e.t) == [8, 16]
    assert (e.sops_per_image.diff().dropna() > 0).all()
    row = e.iloc[-1]
    assert row.snn_input_macs_per_image == 16 * res.input_macs
    assert row.snn_energy_nj == pytest.approx((row.sops_per_image * 0.9 + row.snn_input_macs_per_image * 4.6) / 1e3)


def test_pareto_front_keeps_exactly_the_non_dominated_points():
    import pandas as pd

    from bsnn_lib.analysis import pareto_front

    pts = pd.DataFrame(
        {
            "variant": list("abcdef"),
            "t": [4, 8, 8, 16, 32, 2],
            "accuracy": [0.50, 0.90, 0.80, 0.90, 0.95, 0.10],
        }
    )
    front = pareto_front(pts, "t")
    assert list(front["variant"]) == ["f", "a", "b", "e"]  # c: b is as cheap and better; d: b is cheaper
    for _, p in pts.iterrows():  # every point off the front is dominated by one on it
        if p["variant"] not in set(front["variant"]):
            assert ((front["t"] <= p["t"]) & (front["accuracy"] >= p["accuracy"])).any()
