"""Per-layer bits (bsnn-mixed): the fill, exactness against the mixed-precision quantized ANN, and
equality with the double-buffered neuron when every layer has the same bits."""

import pytest
import torch
from _nets import assert_same_spikes, build, convert_double, make_data, record_kernel_calls

from bsnn_lib import kernels
from bsnn_lib.convert import ConversionError, convert
from bsnn_lib.methods import method_config
from bsnn_lib.simulate import _run, simulate, spike_counts

_convert = convert_double


@pytest.mark.parametrize("rounding", ["down", "nearest"])
@pytest.mark.parametrize("residual", ["carry", "clear"])
@pytest.mark.parametrize("K", [3, 4])
def test_equal_bits_are_the_double_buffered_neuron_spike_for_spike(K, residual, rounding):
    mixed, x, _ = _convert("bsnn-mixed", bits=",".join([str(K)] * 3), residual=residual, rounding=rounding)
    double, _, _ = _convert("bsnn-double", K=K, bias="first", residual=residual, rounding=rounding)
    assert mixed.fill_steps == double.fill_steps
    T = mixed.fill_steps + 5 * K
    assert_same_spikes(spike_counts(mixed, x, T, engine="reference"), spike_counts(double, x, T, engine="reference"))


@pytest.mark.parametrize("bits", [(4, 2, 3), (3, 3, 1), (2, 4, 2)])
@pytest.mark.parametrize("rounding", ["down", "nearest"])
def test_clear_mode_frames_equal_the_mixed_precision_quantized_ann(bits, rounding):
    snn, x, _ = _convert("bsnn-mixed", bits=",".join(map(str, bits)), residual="clear", rounding=rounding)
    qlogits, _ = snn.ann(x, quantized=True)
    P = max(bits)
    s_L = bits[0] + sum(bits[:-1])  # input steps, then every layer but the last
    assert snn.fill_steps == s_L + 1
    for frames in (1, 2, 3):
        _run(snn, x, s_L + bits[-1] + (frames - 1) * P, engine="reference")
        torch.testing.assert_close(snn.readout.acc / frames, qlogits, atol=1e-9, rtol=1e-9)
        snn.reset()


def test_the_quantized_ann_quantizes_each_layer_to_its_own_bits():
    wide, x, _ = _convert("bsnn-mixed", bits="4,4,4", residual="clear")
    narrow, _, _ = _convert("bsnn-mixed", bits="4,4,1", residual="clear")
    _, pre_w = wide.ann(x, quantized=True, capture=True)
    _, pre_n = narrow.ann(x, quantized=True, capture=True)
    first, last = wide.neuron_names[0], wide.neuron_names[-1]
    torch.testing.assert_close(pre_w[first], pre_n[first])  # same layers before the narrow one
    torch.testing.assert_close(pre_w[last], pre_n[last])
    lv_w = [n.quantizer()[0] for n in wide.neurons()]
    lv_n = [n.quantizer()[0] for n in narrow.neurons()]
    assert lv_w == [16, 16, 16] and lv_n == [16, 16, 2]
    assert not torch.allclose(wide.ann(x, quantized=True)[0], narrow.ann(x, quantized=True)[0])


def test_fast_engine_and_frame_held_readout_agree_with_the_reference(monkeypatch):
    snn, x, _ = _convert("bsnn-mixed", bits="3,2,2", readout="frame", rounding="nearest")
    assert snn.fill_steps == (3 + 3 + 2 + 1) + 2 - 1  # held until the last layer's first frame ends
    T = snn.fill_steps + 12
    ref = spike_counts(snn, x, T, engine="reference")
    assert_same_spikes(ref, spike_counts(snn, x, T, engine="fast", chunk=4))
    calls = record_kernel_calls(monkeypatch, "bistable_step")
    assert_same_spikes(ref, spike_counts(snn, x, T, engine="fast", chunk=1))  # the fused kernel
    assert not kernels.available() or any(ok and out is not None for ok, out in calls["bistable_step"])
    assert (ref[1][: snn.fill_steps - 1] == -1).all() and (ref[1][snn.fill_steps - 1] >= 0).any()


def test_clear_mode_has_no_sin_against_its_quantized_ann():
    snn, _, loader = _convert("bsnn-mixed", bits="4,2,3", residual="clear")
    stats = simulate(snn, loader, 40, progress=False).layer_stats()
    assert (stats.sin_neuron_rate_q == 0).all()


def test_bad_bits_and_unsupported_nets_are_refused_with_a_reason():
    with pytest.raises(ConversionError, match="3 spiking layers"):
        _convert("bsnn-mixed", bits="4,4")
    with pytest.raises(ConversionError, match="feed-forward"):
        _convert("bsnn-mixed", kind="resnet", bits=",".join(["4"] * 9))
    with pytest.raises(ValueError, match="bits="):
        _convert("bsnn-mixed")
    with pytest.raises(ValueError, match=r"\[1, 16\]"):
        method_config("bsnn-mixed", bits="4,0,4")
    with pytest.raises(ValueError, match="do not apply"):
        method_config("bsnn", bits="4,4,4")


def test_the_new_option_leaves_every_other_config_key_unchanged():
    assert "bits" not in method_config("bsnn", K=4).to_dict()
    assert method_config("bsnn-mixed", bits="4,3").to_dict()["bits"] == "4,3"
    assert method_config("bsnn-mixed", bits="4,3").label() == "bsnn-mixed bits=4,3"


def test_greedy_bit_allocation_keeps_the_quantized_ann_within_tolerance():
    from bsnn_lib.bit_allocation import fill_of_bits, quantized_accuracy, search_bits

    model = build("vgg")
    _, loader = make_data(model, n=64)
    batches = list(loader)
    s = search_bits(model, loader, batches, start=4, tolerance=0.05, progress=False, rounding="nearest")
    path = s.path
    assert path["total_bits"].tolist() == list(range(12, 12 - len(path), -1))  # one bit per step
    assert (path["qann_accuracy"] >= s.ann_accuracy - 0.05 - 1e-12).all()
    assert path["fill"].is_monotonic_decreasing and path["bits"].iloc[-1] == s.bits
    assert fill_of_bits(s.chosen) == path["fill"].iloc[-1]
    # the chosen allocation, converted, scores what the search saw
    snn = convert(model, loader, method_config("bsnn-mixed", bits=s.bits, rounding="nearest"))
    assert quantized_accuracy(snn, batches) == pytest.approx(path["qann_accuracy"].iloc[-1])
    # no tolerance left: nothing below the ANN is accepted; any tolerance: down to one bit each
    strict = search_bits(model, loader, batches, start=4, tolerance=0.0, progress=False, rounding="nearest")
    assert (strict.path["qann_accuracy"] >= strict.ann_accuracy).all()
    loose = search_bits(model, loader, batches, start=2, tolerance=1.0, progress=False)
    assert loose.chosen == (1, 1, 1)
