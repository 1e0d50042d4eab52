"""QCFS (the modern baseline): the activation, training with it, and its exact conversion."""

from __future__ import annotations

import pytest
import torch
from _nets import build, make_data, tiny_resnet
from torch import nn

from bsnn_lib.convert import convert
from bsnn_lib.methods import method_config
from bsnn_lib.qcfs import QCFS, to_qcfs
from bsnn_lib.simulate import _run
from bsnn_lib.train_config import InvalidConfigError, TrainConfig


def test_qcfs_is_the_clip_floor_shift_of_its_levels_with_straight_through_gradients():
    act = QCFS(levels=4, threshold=2.0)
    x = torch.tensor([-1.0, 0.2, 0.26, 0.74, 1.0, 1.9, 3.0], requires_grad=True)
    y = act(x)
    # lambda * clip(floor(x L / lambda + 1/2), 0, L) / L with L = 4, lambda = 2: steps of 0.5
    torch.testing.assert_close(y, torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 2.0, 2.0]))
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # identity inside the clip
    assert act.threshold.grad is not None and act.threshold.grad.item() > 0  # x > lambda pulls it up


def test_to_qcfs_replaces_every_relu_and_keeps_the_module_names():
    model = tiny_resnet()
    names = {n for n, m in model.named_modules() if type(m) is nn.ReLU}
    to_qcfs(model, levels=7)
    assert {n for n, m in model.named_modules() if isinstance(m, QCFS)} == names
    assert not any(type(m) is nn.ReLU for m in model.modules())
    assert all(f"{n}.threshold" in model.state_dict() for n in names)


def test_the_activation_is_a_training_option_that_leaves_earlier_keys_alone():
    plain = TrainConfig("digits", "vgg-tiny")
    assert TrainConfig("digits", "vgg-tiny", activation="relu").key() == plain.key()
    assert TrainConfig("digits", "vgg-tiny", activation="qcfs").key() != plain.key()
    with pytest.raises(InvalidConfigError, match="activation"):
        TrainConfig("digits", "vgg-tiny", activation="gelu")


def _qcfs_net(kind: str, K: int) -> nn.Module:
    model = build(kind)
    to_qcfs(model, levels=2**K - 1)
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, QCFS):  # lambda = (2^K - 1) / 2^K * 2^j: theta = lambda 2^K / L is exact
            m.threshold.data.fill_((2**K - 1) / 2**K * 2.0 ** int(torch.randint(-1, 2, (1,), generator=g)))
    return model.eval()


@pytest.mark.parametrize("kind", ["vgg", "resnet"])
@pytest.mark.parametrize("K", [3, 4])
def test_clear_mode_bsnn_with_half_lsb_start_equals_the_qcfs_ann_frame_by_frame(kind, K):
    model = _qcfs_net(kind, K)
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config("bsnn", K=K, residual="clear", rounding="nearest")).double()
    x = next(iter(loader))[0].double()
    with torch.no_grad():
        want = model.double()(x)
    qlogits, _ = snn.ann(x, quantized=True)
    torch.testing.assert_close(qlogits, want, atol=1e-9, rtol=1e-9)
    first_out = snn.readout.depth * K
    for frames in (1, 2):
        _run(snn, x, first_out + (frames - 1) * 2 * K, engine="reference")
        torch.testing.assert_close(snn.readout.acc / frames, want, atol=1e-9, rtol=1e-9)
        snn.reset()


def test_rate_coding_takes_the_learned_threshold_not_the_percentile():
    model = _qcfs_net("vgg", 3)
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config("rate", v_init=0.5, percentile=50.0))
    lams = [m.threshold.item() for m in model.modules() if isinstance(m, QCFS)]
    assert [float(n.threshold.max()) for n in snn.neurons()] == pytest.approx(lams)


@pytest.mark.parametrize("method", ["rate", "bsnn"])
@pytest.mark.parametrize("kind", ["vgg", "resnet"])
def test_the_ann_view_of_a_converted_qcfs_net_is_the_qcfs_ann_not_a_relu_net(kind, method):
    """The ANN view is the reference of every latency: it must compute the trained activation."""
    model = _qcfs_net(kind, 3)
    for m in model.modules():  # a learned lambda off the exact grid
        if isinstance(m, QCFS):
            m.threshold.data.mul_(1.37)
    _, loader = make_data(model, n=32)
    snn = convert(model, loader, method_config(method, K=3) if method == "bsnn" else method_config("rate")).double()
    x = next(iter(loader))[0].double()
    with torch.no_grad():
        want = model.double()(x)
        logits, _ = snn.ann(x)
        torch.testing.assert_close(logits, want, atol=1e-9, rtol=1e-9)
        for parent in list(model.modules()):  # the test can fail: the same net with ReLUs differs
            for cname, c in list(parent.named_children()):
                if isinstance(c, QCFS):
                    setattr(parent, cname, nn.ReLU())
        assert not torch.allclose(model(x), want)
