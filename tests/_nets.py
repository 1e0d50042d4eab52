"""Tiny hand-built ANNs for the engine tests (independent of the model zoo)."""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    """A basic residual block, identity or projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if cin == cout and stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.shortcut(x))


def tiny_vgg(pool: str = "avg") -> nn.Module:
    P = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        P(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        P(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 12),
        nn.ReLU(),
        nn.Linear(12, 10),
    )


def tiny_resnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        Block(8, 8, 1),
        Block(8, 16, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics, so that folding is really tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.1)
    return model.eval()


def make_data(model: nn.Module, n: int = 48, seed: int = 0, batch_size: int = 16):
    """Random 8x8 images labelled by the model itself (so the ANN accuracy is 100%)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    ds = torch.utils.data.TensorDataset(x, y)
    return ds, torch.utils.data.DataLoader(ds, batch_size=batch_size)


def build(kind: str = "vgg", seed: int = 0, pool: str = "avg") -> nn.Module:
    torch.manual_seed(seed)
    return randomize_bn(tiny_vgg(pool) if kind == "vgg" else tiny_resnet(), seed)


def convert_double(method: str, kind: str = "vgg", n: int = 32, **opts):
    """``build(kind)`` converted with ``method_config(method, **opts)`` in float64: (snn, the first
    input batch, the loader)."""
    from bsnn_lib.convert import convert
    from bsnn_lib.methods import method_config

    model = build(kind)
    _, loader = make_data(model, n=n)
    snn = convert(model, loader, method_config(method, **opts), mean=(0.0,), std=(1.0,)).double()
    return snn, next(iter(loader))[0].double(), loader


def assert_same_spikes(a, b) -> None:
    """Two :func:`bsnn_lib.simulate.spike_counts` results are equal: the same layers, the same
    spike counts per neuron, the same predictions at every t."""
    (counts_a, preds_a), (counts_b, preds_b) = a, b
    assert counts_a.keys() == counts_b.keys()
    for name in counts_a:
        assert torch.equal(counts_a[name], counts_b[name]), name
    assert torch.equal(preds_a, preds_b)


def record_kernel_calls(monkeypatch, *names: str) -> dict[str, list]:
    """Wrap the fused kernels ``names`` of :mod:`bsnn_lib.kernels` so that every call's result
    is recorded (None or False: the kernel declined and the eager path ran), to tell a kernel
    from its fallback."""
    from bsnn_lib import kernels

    calls: dict[str, list] = {name: [] for name in names}
    for name in names:
        real = getattr(kernels, name)

        def recording(*args, _real=real, _name=name, **kwargs):
            out = _real(*args, **kwargs)
            calls[_name].append(out)
            return out

        monkeypatch.setattr(kernels, name, recording)
    return calls
