"""Early release (bsnn-early): the fill L*delta + 1, equality with bsnn-mixed at delta = K, the
signed correction spikes, the SIN that early firing brings back, and the fast engine."""

import pytest
import torch
from _nets import assert_same_spikes, convert_double, record_kernel_calls

from bsnn_lib import kernels
from bsnn_lib.convert import ConversionError
from bsnn_lib.methods import MethodConfigError, method_config
from bsnn_lib.methods.bistable_early import EarlyNeuron
from bsnn_lib.simulate import _run, simulate, spike_counts

_convert = convert_double


@pytest.mark.parametrize("rounding", ["down", "nearest"])
@pytest.mark.parametrize("residual", ["carry", "clear"])
@pytest.mark.parametrize("K", [3, 4])
def test_release_after_the_whole_frame_is_bsnn_mixed_spike_for_spike(K, residual, rounding):
    early, x, _ = _convert("bsnn-early", K=K, release=K, residual=residual, rounding=rounding)
    mixed, _, _ = _convert("bsnn-mixed", bits=",".join([str(K)] * 3), residual=residual, rounding=rounding)
    assert early.fill_steps == mixed.fill_steps == 3 * K + 1
    T = early.fill_steps + 5 * K
    assert_same_spikes(spike_counts(early, x, T, engine="reference"), spike_counts(mixed, x, T, engine="reference"))


@pytest.mark.parametrize("delta", [1, 2, 3])
def test_the_fill_is_L_delta_plus_one(delta):
    snn, x, _ = _convert("bsnn-early", K=4, release=delta)
    assert snn.fill_steps == 3 * delta + 1
    held, _, _ = _convert("bsnn-early", K=4, release=delta, readout="frame")
    assert held.fill_steps == 3 * delta + 4
    _, preds = spike_counts(snn, x, snn.fill_steps + 8, engine="reference")
    assert (preds[: snn.fill_steps - 1] == -1).all() and (preds[snn.fill_steps - 1] >= 0).any()


@pytest.mark.parametrize("correction", ["carry", "signed"])
def test_fast_engine_agrees_with_the_reference(correction, monkeypatch):
    snn, x, _ = _convert("bsnn-early", K=4, release=2, correction=correction, rounding="nearest")
    T = snn.fill_steps + 20
    ref = spike_counts(snn, x, T, engine="reference")
    assert_same_spikes(ref, spike_counts(snn, x, T, engine="fast", chunk=4))  # the step rule, time folded
    calls = record_kernel_calls(monkeypatch, "bistable_step")
    assert_same_spikes(ref, spike_counts(snn, x, T, engine="fast", chunk=1))  # the fused kernel
    assert not kernels.available() or any(ok and out is not None for ok, out in calls["bistable_step"])


def test_signed_correction_never_sends_a_negative_frame(monkeypatch):
    snn, x, _ = _convert("bsnn-early", K=4, release=1, correction="signed")
    frames: dict[tuple[str, int], torch.Tensor] = {}
    negatives = []
    original = EarlyNeuron.step

    def step(self, z, t):
        out = original(self, z, t)
        start = self.schedule.fire_start(self.depth)
        if t >= start:
            key = (self.name, (t - start) // self.schedule.K)
            frames[key] = frames.get(key, 0) + out
            negatives.append(bool((out < 0).any()))
        return out

    monkeypatch.setattr(EarlyNeuron, "step", step)
    _run(snn, x, snn.fill_steps + 24, engine="reference")
    assert any(negatives), "no correction spike at all: the test net does not exercise the rule"
    assert all(bool((v >= -1e-12).all()) for v in frames.values())


def test_early_release_brings_sin_back_and_the_full_frame_has_none():
    _, _, loader = _convert("bsnn-early", K=4, release=4)
    whole, _, loader = _convert("bsnn-early", K=4, release=4, residual="clear")
    early, _, _ = _convert("bsnn-early", K=4, release=1, residual="clear")
    sin_whole = simulate(whole, loader, 40, progress=False).layer_stats()
    sin_early = simulate(early, loader, 40, progress=False).layer_stats()
    assert (sin_whole.sin_neuron_rate_q == 0).all()
    assert (sin_early.sin_neuron_rate_q > 0).any()


def test_carried_late_input_converges_to_the_ann():
    """Carry loses nothing in the long run: the mean of many frames approaches the ANN."""
    snn, x, _ = _convert("bsnn-early", K=4, release=1, rounding="nearest")
    logits, _ = snn.ann(x)
    frames = 40
    _run(snn, x, snn.fill_steps - 1 + frames * 4, engine="reference")
    err = (snn.readout.acc / frames - logits).abs().max().item()
    scale = logits.abs().max().item()
    assert err < 0.05 * scale


def test_bad_release_and_unsupported_nets_are_refused_with_a_reason():
    with pytest.raises(MethodConfigError, match="release=5 must be <= K=4"):
        _convert("bsnn-early", K=4, release=5)
    with pytest.raises(MethodConfigError, match=">= 1"):
        method_config("bsnn-early", K=4, release=0)
    with pytest.raises(ConversionError, match="feed-forward"):
        _convert("bsnn-early", kind="resnet", K=4, release=2)
    with pytest.raises(ValueError, match="do not apply"):
        method_config("bsnn", K=4, release=2)


def test_the_new_options_leave_every_other_config_key_unchanged():
    d = method_config("bsnn", K=4).to_dict()
    assert "release" not in d and "correction" not in d
    cfg = method_config("bsnn-early", K=4, release=2, correction="signed")
    assert cfg.to_dict()["release"] == 2 and cfg.to_dict()["correction"] == "signed"
    assert cfg.label() == "bsnn-early K=4 δ=2 correction=signed"
