"""Single neurons with known answers: IF, phase coding, bistable firing cycles, phase lead."""

import numpy as np
import pytest
import torch

from bsnn_lib.analysis import neuron_trace
from bsnn_lib.methods import MethodConfigError, method_config


def test_if_neuron_resets_by_subtraction_and_by_zero():
    sub = neuron_trace(method_config("rate"), [0.6] * 5)
    assert sub.spike.tolist() == [0, 1, 0, 1, 1]  # 0.6, 1.2->0.2, 0.8, 1.4->0.4, 1.0->0
    zero = neuron_trace(method_config("rate", reset="zero"), [0.6] * 5)
    assert zero.spike.tolist() == [0, 1, 0, 1, 0]


def test_half_threshold_initial_potential_fires_earlier():
    assert neuron_trace(method_config("rate", v_init=0.5), [0.5]).spike.tolist() == [1]
    assert neuron_trace(method_config("rate"), [0.5]).spike.tolist() == [0]


@pytest.mark.parametrize("K", [3, 4, 8])
@pytest.mark.parametrize("value", [0.0, 0.3, 0.5, 0.77, 0.999, 1.7])
def test_bistable_firing_cycle_emits_the_k_bit_greedy_binary_expansion(K, value):
    """Integrate `value` over one cycle, then fire: the spikes are the bits of
    floor(clip(value, 0, 1 - 2^-K) * 2^K), most significant first."""
    cfg = method_config("bsnn", K=K, gate=False)
    inputs = [value / K] * K + [0.0] * K
    trace = neuron_trace(cfg, inputs)
    assert set(trace.state[:K]) == {"integrate"} and set(trace.state[K:]) == {"fire"}
    assert trace.spike[:K].sum() == 0, "an integrating neuron never fires"
    n = min(int(np.floor(value * 2**K + 1e-9)), 2**K - 1)
    bits = [int(b) for b in format(n, f"0{K}b")]
    assert trace.spike[K:].tolist() == bits
    assert trace.value[K:].sum() == pytest.approx(n / 2**K)


def test_bsnn_rate_ablation_fires_the_first_n_steps_of_the_cycle():
    trace = neuron_trace(method_config("bsnn-rate", K=5, gate=False), [0.7] * 5 + [0.0] * 5)
    # V = 3.5 after integration: 3 unit spikes, at the first three steps of the firing cycle
    assert trace.spike[5:].tolist() == [1, 1, 1, 0, 0]


def test_net_input_at_most_zero_never_fires_a_bistable_neuron_but_fires_a_phase_neuron():
    """Phase lead: +2 theta arrives before -2 theta. A phase-coded (and a rate-coded) neuron has
    already fired when the inhibition arrives; a bistable neuron waits for the whole cycle."""
    K = 4
    lead = [2.0, 0.0, -2.0, 0.0]  # sums to 0 over the cycle
    bistable = neuron_trace(method_config("bsnn", K=K, gate=False), lead + [0.0] * K)
    phase = neuron_trace(method_config("phase", K=K), lead)
    rate = neuron_trace(method_config("rate"), [2.0, -2.0])
    assert bistable.spike.sum() == 0
    assert phase.spike.sum() > 0
    assert rate.spike.sum() == 1


def test_clear_mode_drops_the_residual_and_carry_keeps_it():
    K = 3
    inputs = ([0.3 / K] * K + [0.0] * K) * 3
    carry = neuron_trace(method_config("bsnn", K=K, gate=False), inputs)
    clear = neuron_trace(method_config("bsnn", K=K, gate=False, residual="clear"), inputs)
    # 0.3 = 2.4 units of 1/8: clear sends 2/8 every frame, carry sends 2,2,3 (error feedback)
    frames = lambda tr: [round(tr.value[i * 2 * K + K : (i + 1) * 2 * K].sum() * 8) for i in range(3)]
    assert frames(clear) == [2, 2, 2]
    assert frames(carry) == [2, 2, 3]


def test_schedule_alternates_and_offsets_adjacent_layers_by_one_cycle():
    cfg = method_config("bsnn", K=2)
    sch = cfg.spec.schedule(cfg)
    states = {d: [sch.state(d, t) for t in range(0, 12, 2)] for d in (1, 2, 3)}
    assert states[1] == ["integrate", "fire"] * 3
    assert states[2] == ["off", "integrate", "fire", "integrate", "fire", "integrate"]
    assert states[3][:2] == ["off", "off"] and states[3][2] == "integrate"
    for t in range(2, 12):  # layer l-1 fires exactly while layer l integrates
        if sch.state(2, t) == "integrate":
            assert sch.state(1, t) == "fire"


@pytest.mark.parametrize("coding", ["analog-scaled", "analog", "bits"])
def test_input_encoder_cycle_sum_matches_its_cycle_value(coding):
    cfg = method_config("bsnn", K=6, input_coding=coding)
    enc = cfg.spec.encoder(cfg, cfg.spec.schedule(cfg), mean=(0.5,), std=(0.25,))
    x = torch.rand(3, 1, 4, 4) * 4 - 2
    total = sum(enc.step(x, t) for t in range(6))
    torch.testing.assert_close(total, enc.cycle_value(x), atol=1e-6, rtol=1e-6)
    if coding == "analog-scaled":
        torch.testing.assert_close(total, x, atol=1e-6, rtol=1e-6)


def test_method_options_are_validated_with_the_allowed_values():
    with pytest.raises(MethodConfigError, match="residual='keep'.*'carry', 'clear'"):
        method_config("bsnn", residual="keep")
    with pytest.raises(MethodConfigError, match="unknown method option"):
        method_config("bsnn", KK=3)
    with pytest.raises(MethodConfigError, match="method='lif'"):
        method_config("lif")
    with pytest.raises(MethodConfigError, match=r"\['K'\] do not apply to method 'rate'"):
        method_config("rate", K=8)


def test_options_a_method_does_not_use_are_none_in_its_config_and_tables():
    rate = method_config("rate", v_init=0.5)
    assert rate.K is None and rate.residual is None and rate.v_init == 0.5
    assert rate.to_dict()["K"] is None
    assert method_config("bsnn").v_init is None
    assert rate.replace(method="phase", K=4).label() == "phase K=4 v0=0.5"


@pytest.mark.parametrize("K", [3, 4, 8])
@pytest.mark.parametrize("value", [0.0, 0.05, 0.3, 0.77, 0.999])
def test_round_to_nearest_starts_half_an_lsb_up(K, value):
    """rounding='nearest': V(0) = theta*2^-(K+1), so a cycle sends round(value*2^K) (clipped)."""
    cfg = method_config("bsnn", K=K, gate=False, rounding="nearest")
    trace = neuron_trace(cfg, [value / K] * K + [0.0] * K)
    n = min(int(np.floor(value * 2**K + 0.5)), 2**K - 1)
    assert trace.value[K:].sum() == pytest.approx(n / 2**K)
    assert neuron_trace(cfg, [-1e-3] * K + [0.0] * K).spike.sum() == 0  # net input <= 0 still never fires


def test_round_to_nearest_for_phase_coding_and_the_unit_spike_ablation():
    phase = method_config("phase", K=4, rounding="nearest")
    assert phase.spec.schedule(phase).start == pytest.approx(2.0**-5)
    unit = method_config("bsnn-rate", K=4, gate=False, rounding="nearest")
    assert unit.spec.schedule(unit).start == 0.5
    # V = 4 * 0.6 + 0.5 = 2.9 after integration: 2 unit spikes (2.4 rounds to 2, 2.6 would be 3)
    assert neuron_trace(unit, [0.6] * 4 + [0.0] * 4).spike[4:].sum() == 2
    assert neuron_trace(unit, [0.65] * 4 + [0.0] * 4).spike[4:].sum() == 3


def test_labels_name_every_option_that_differs_from_its_default():
    assert method_config("bsnn", K=4, percentile=99.9, channelwise=True, rounding="nearest").label() == (
        "bsnn K=4 p=99.9 cw nearest"
    )
    assert method_config("bsnn", K=8).label() == "bsnn K=8"
    assert method_config("rate", v_init=0.5, percentile=99.9).label() == "rate p=99.9 v0=0.5"
    assert method_config("bsnn", K=8, sn=False, readout="frame").label() == "bsnn K=8 frame-held no-SN"
