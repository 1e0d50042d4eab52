"""The simulator: both engines agree spike for spike; acc(t) bookkeeping; statistics."""

import numpy as np
import pytest
import torch
from _nets import build, make_data, record_kernel_calls

from bsnn_lib.convert import convert
from bsnn_lib.methods import method_config
from bsnn_lib.simulate import simulate, spike_counts

MEAN, STD = (0.0,), (1.0,)

CASES = [
    ("vgg", "rate", {}),
    ("vgg", "rate", {"v_init": 0.5, "reset": "zero"}),
    ("vgg", "phase", {"K": 4}),
    ("vgg", "phase", {"K": 5, "input_coding": "bits"}),
    ("vgg", "bsnn", {"K": 4}),
    ("vgg", "bsnn", {"K": 3, "residual": "clear", "bias": "first", "input_coding": "analog"}),
    ("vgg", "bsnn", {"K": 4, "gate": False}),
    ("vgg", "bsnn-rate", {"K": 4}),
    ("resnet", "rate", {"channelwise": True}),
    ("resnet", "bsnn", {"K": 4}),
    ("resnet", "bsnn", {"K": 4, "sn": False, "offphase": "defer"}),
    ("resnet", "bsnn-rate", {"K": 3, "sn": False}),
    ("vgg-max", "bsnn", {"K": 4}),  # SpikeMaxPool: online max of MSB-first spike trains
    ("vgg-max", "bsnn", {"K": 3, "residual": "clear"}),
    ("vgg-max", "bsnn-rate", {"K": 4}),
    ("vgg", "bsnn", {"K": 4, "rounding": "nearest"}),
    ("resnet", "bsnn", {"K": 3, "rounding": "nearest", "residual": "clear", "readout": "frame"}),
    ("vgg", "phase", {"K": 4, "rounding": "nearest", "readout": "frame"}),
    ("vgg", "bsnn-rate", {"K": 4, "rounding": "nearest"}),
    ("vgg", "bsnn-double", {"K": 4}),
    ("vgg", "bsnn-double", {"K": 3, "residual": "clear", "rounding": "nearest", "bias": "first"}),
    ("vgg", "bsnn-double", {"K": 4, "gate": False}),
    ("resnet", "bsnn-double", {"K": 4}),
    ("resnet", "bsnn-double", {"K": 3, "sn": False, "offphase": "defer"}),
    ("vgg-max", "bsnn-double", {"K": 4}),
]


@pytest.mark.parametrize("kind, method, opts", CASES)
def test_fast_path_gives_the_same_spikes_as_the_reference(kind, method, opts):
    model = build("vgg", pool="max") if kind == "vgg-max" else build(kind)
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config(method, **opts), mean=MEAN, std=STD).double()
    x = next(iter(loader))[0].double()
    T = 7 * snn.schedule.K + 3 if snn.schedule.K > 1 else 37
    ref_counts, ref_preds = spike_counts(snn, x, T, engine="reference")
    for chunk in (1, 5):  # 1: the step loop with fused kernels and cached layers; 5: time folded
        fast_counts, fast_preds = spike_counts(snn, x, T, engine="fast", chunk=chunk)
        assert torch.equal(ref_preds, fast_preds), chunk
        for name, c in ref_counts.items():
            assert torch.equal(c, fast_counts[name]), f"{name}: spikes differ (chunk={chunk})"
    assert sum(int(c.sum()) for c in ref_counts.values()) > 0


@pytest.mark.parametrize(
    "method, opts",
    [("rate", {}), ("rate", {"channelwise": True, "reset": "zero"}), ("phase", {"K": 4}), ("bsnn", {"K": 4})],
)
def test_the_fast_engine_in_channels_last_layout_gives_the_reference_spikes(method, opts):
    from bsnn_lib import kernels
    from bsnn_lib.simulate import memory_layout

    model = build("resnet")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config(method, **opts), mean=MEAN, std=STD).double()
    x = next(iter(loader))[0].double()
    T = 6 * snn.schedule.K + 3
    ref_counts, ref_preds = spike_counts(snn, x, T, engine="reference")
    memory_layout(snn, "cpu", True)
    x = x.contiguous(memory_format=torch.channels_last)
    fast_counts, fast_preds = spike_counts(snn, x, T, engine="fast", chunk=1)
    assert torch.equal(ref_preds, fast_preds)
    for name, c in ref_counts.items():
        assert torch.equal(c, fast_counts[name]), name
    if method != "bsnn" and kernels.available():  # the fused kernel ran (it is not a silent fallback)
        first = snn.graph.get_submodule(snn.neuron_names[0])
        assert first.__dict__.get("_fused") is None  # cleared by the reset after the run
        snn.reset(record=True)
        first.fast_step(snn.graph.get_submodule("0")(x) * 0 + 1.0, 0)
        assert first.__dict__["_fused"] and all(a is not None for a in next(iter(first._fused.values())))


@pytest.mark.parametrize("channels_last", [False, True])
def test_a_residual_add_runs_inside_the_fused_if_step_with_the_reference_spikes(channels_last, monkeypatch):
    """The fast step view hands a residual block's ``a + b`` to the IF neuron it feeds, which adds
    the two in the kernel's pass: the spikes of the separate add, and the kernel really ran."""
    from bsnn_lib import kernels
    from bsnn_lib.simulate import memory_layout

    if not kernels.available():
        pytest.skip("no C++ compiler for the fused kernels")
    model = build("resnet")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config("rate", v_init=0.5), mean=MEAN, std=STD).double()
    x = next(iter(loader))[0].double()
    ref = spike_counts(snn, x, 29, engine="reference")
    assert "fast_step_add" in snn.view("fast_step", fast=True).code
    memory_layout(snn, "cpu", channels_last)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    shortcuts = []  # per call: a shortcut given, and the kernel took it (no eager fallback)
    real = kernels.if_step

    def recording(*a, **k):
        out = real(*a, **k)
        shortcuts.append((k.get("shortcut") is not None, out is not None))
        return out

    monkeypatch.setattr(kernels, "if_step", recording)
    fast = spike_counts(snn, x, 29, engine="fast", chunk=1)
    assert torch.equal(ref[1], fast[1])
    for name, c in ref[0].items():
        assert torch.equal(c, fast[0][name]), name
    given = [g for g, _ in shortcuts]
    assert any(given) and not all(given)  # the blocks' sums fused, the other layers plain
    assert all(ran for _, ran in shortcuts)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("counting", [False, True])
def test_the_fused_if_step_with_a_shortcut_equals_the_step_of_the_sum(dtype, counting):
    from bsnn_lib import kernels

    if not kernels.available():
        pytest.skip("no C++ compiler for the fused kernels")
    g = torch.Generator().manual_seed(0)
    z, y, v = (torch.randn(3, 4, 5, 6, generator=g, dtype=dtype) for _ in range(3))
    b, thr = torch.randn(4 * 5 * 6, generator=g, dtype=dtype), torch.rand(4 * 5 * 6, generator=g, dtype=dtype) + 0.1
    runs = []
    for shortcut in (None, y):
        vv = v.clone()
        cnt, osum = (torch.zeros_like(v, dtype=torch.int32), torch.zeros_like(v)) if counting else (None, None)
        outs = [
            kernels.if_step(vv, z if shortcut is not None else z + y, b, thr, cnt, osum, False, shortcut=shortcut)
            for _ in range(4)
        ]
        runs.append((torch.stack(outs), vv, cnt, osum))
    for a, c in zip(*runs):
        assert (a is None and c is None) or torch.equal(a, c)
    assert int((runs[0][0] > 0).sum()) > 0
    # a shortcut in another layout is declined (the caller then adds it first)
    assert (
        kernels.if_step(
            v.clone(), z, b, thr, None, None, False, shortcut=y.transpose(2, 3).contiguous().transpose(2, 3)
        )
        is None
    )
    # ... and so is one of another shape with the same strides (the kernel would read past it)
    assert kernels.if_step(v.clone(), z, b, thr, None, None, False, shortcut=y[:2].clone()) is None


def test_fast_path_in_float32_matches_the_reference_curve():
    model = build("resnet")
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    ref = simulate(snn, loader, 40, engine="reference", progress=False)
    fast = simulate(snn, loader, 40, engine="fast", progress=False)
    np.testing.assert_array_equal(ref.correct, fast.correct)
    a, b = ref.layer_stats(), fast.layer_stats()
    np.testing.assert_allclose(a.spikes_per_neuron, b.spikes_per_neuron, rtol=1e-3)


def test_no_answer_before_the_pipeline_fills_and_every_step_is_scored():
    model = build("vgg")
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    res = simulate(snn, loader, 30, progress=False)
    acc = res.accuracy()
    assert len(acc) == 30 and acc.t.tolist() == list(range(1, 31))
    fill = snn.fill_steps  # L = 3 spiking layers: first readout input at step 3*4 + 1
    assert fill == 13
    assert (acc.answered[: fill - 1] == 0).all() and (acc.accuracy[: fill - 1] == 0).all()
    assert acc.answered.iloc[-1] == 1.0


def test_rate_coded_snn_approaches_the_ann_as_t_grows():
    """A measurement with a stated margin: error at T=256 is at most a third of that at T=8."""
    model = build("vgg", seed=1)
    _, loader = make_data(model, n=96, batch_size=48)
    snn = convert(model, loader, method_config("rate", percentile=100.0, v_init=0.5), mean=MEAN, std=STD)
    res = simulate(snn, loader, 256, stats=False, progress=False)
    gap = lambda t: res.ann_accuracy - res.correct[t - 1] / res.n
    assert gap(256) <= 0.05
    assert gap(256) <= max(gap(8) / 3, 0.02)


def test_statistics_tables_have_one_row_per_layer_and_time():
    model = build("resnet")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config("phase", K=4), mean=MEAN, std=STD)
    res = simulate(snn, loader, 18, progress=False)
    stats = res.layer_stats()
    assert sorted(stats.t.unique()) == [4, 8, 12, 16, 18]
    assert len(stats) == 5 * len(snn.neuron_names)
    assert stats.sin_neuron_rate.between(0, 1).all() and stats.sin_spike_share.between(0, 1).all()
    shares = stats[["err_sin_share", "err_clip_share", "err_rest_share"]].sum(axis=1)
    np.testing.assert_allclose(shares[shares.notna()], 1.0)


def test_bad_arguments_are_refused():
    model = build("vgg")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="engine"):
        simulate(snn, loader, 8, engine="turbo", progress=False)
    with pytest.raises(ValueError, match="multiple of K=4"):
        simulate(snn, loader, 8, stat_every=3, progress=False)


@pytest.mark.parametrize("method, K", [("bsnn", 4), ("phase", 4)])
def test_a_frame_held_readout_answers_what_the_per_step_readout_says_at_each_frame_end(method, K):
    model = build("vgg")
    _, loader = make_data(model, n=16)
    x = next(iter(loader))[0]
    step = convert(model, loader, method_config(method, K=K), mean=MEAN, std=STD)
    held = convert(model, loader, method_config(method, K=K, readout="frame"), mean=MEAN, std=STD)
    T = held.fill_steps + 3 * 2 * K
    p_step, p_held = step(x, T=T), held(x, T=T)
    assert held.fill_steps == step.fill_steps + K - 1
    assert (p_held[: held.fill_steps - 1] == -1).all() and (p_held[held.fill_steps - 1] >= 0).all()
    for t in range(held.fill_steps - 1, T):  # 0-based step t; frames end at phase K - 1
        last_end = t - (t % K) + K - 1 if t % K == K - 1 else t - (t % K) - 1
        assert torch.equal(p_held[t], p_step[last_end]), t


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_statistics_equal_the_eager_statistics(channels_last, monkeypatch):
    """The one-pass statistics kernel gives the eager ops' sums: counts exactly, errors and
    SOPs to float64 rounding (in both memory layouts, on a run with SIN and clipping)."""
    from bsnn_lib import kernels

    if not kernels.available():
        pytest.skip("no C++ compiler for the fused kernels")
    model = build("resnet")
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config("rate", percentile=99.0), mean=MEAN, std=STD)
    fused = simulate(snn, loader, 24, stat_every=4, progress=False, channels_last=channels_last)
    calls = []
    real = kernels.layer_stats
    monkeypatch.setattr(kernels, "layer_stats", lambda *a: calls.append(real(*a)) or None)  # count, then eager
    eager = simulate(snn, loader, 24, stat_every=4, progress=False, channels_last=channels_last)
    assert calls and all(c is not None for c in calls)  # the kernel accepted every layer of this run
    assert fused.layer_sums.keys() == eager.layer_sums.keys()
    total = lambda key, r: sum(s[key] for s in r.layer_sums.values())  # noqa: E731
    assert total("sin_neurons", fused) > 0 and total("err_clip", fused) > 0  # the run has SIN and clipping
    for k, a in fused.layer_sums.items():
        b = eager.layer_sums[k]
        for col in ("spikes", "sin_neurons", "sin_spikes", "sin_neurons_q", "sin_spikes_q", "inactive", "neurons"):
            assert a[col] == b[col], (k, col)
        for col in ("err_sin", "err_clip", "err_rest", "sops", "a_sq"):
            assert a[col] == pytest.approx(b[col], rel=1e-9, abs=1e-12), (k, col)


def test_the_bistable_fast_path_uses_its_fused_kernels(monkeypatch):
    """The closed-form cycle's spike train and spike counters run in the fused kernels (the
    spike-for-spike tests above then check them; this one checks they are not a silent fallback)."""
    from bsnn_lib import kernels

    if not kernels.available():
        pytest.skip("no C++ compiler for the fused kernels")
    calls = record_kernel_calls(monkeypatch, "spike_train", "record_cycle")
    model = build("vgg")
    _, loader = make_data(model, n=16)
    snn = convert(model, loader, method_config("bsnn", K=4), mean=MEAN, std=STD).double()
    spike_counts(snn, next(iter(loader))[0].double(), 40, engine="fast")
    assert any(out is not None for out in calls["spike_train"]) and any(calls["record_cycle"])
