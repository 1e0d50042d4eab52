"""ANN zoo: shapes, converter conventions (distinct ReLUs, allowed modules), fx tracing."""

from __future__ import annotations

import operator

import pytest
import torch
from torch import fx, nn

from bsnn_lib.data import get_spec
from bsnn_lib.models import ARCHS, BasicBlock, UnknownArchError, UnknownPoolError, build_model

# dataset each architecture is tested on (its smallest realistic input)
ARCH_DATASET = {
    "vgg-tiny": "digits",
    "resnet-tiny": "digits",
    "vgg-small": "mnist",
    "resnet-small": "mnist",
    "resnet20": "mnist",
    "vgg16": "cifar10",
    "resnet18": "cifar10",
    "resnet34": "cifar10",
}
ALLOWED = (
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm2d,
    nn.BatchNorm1d,
    nn.ReLU,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Identity,
    nn.Sequential,
    BasicBlock,
)


@pytest.fixture(scope="module", params=sorted(ARCHS))
def arch_model(request: pytest.FixtureRequest) -> tuple[str, str, nn.Module]:
    """(arch, dataset, model in eval mode) for every registered architecture."""
    dataset = ARCH_DATASET[request.param]
    return request.param, dataset, build_model(request.param, dataset).eval()


def _input(dataset: str, batch: int = 2) -> torch.Tensor:
    spec = get_spec(dataset)
    return torch.randn(batch, spec.in_channels, spec.image_size, spec.image_size)


def test_every_arch_is_covered() -> None:
    assert set(ARCH_DATASET) == set(ARCHS)


def test_forward_shape(arch_model) -> None:
    _, dataset, model = arch_model
    with torch.no_grad():
        assert model(_input(dataset)).shape == (2, get_spec(dataset).num_classes)


def test_relus_are_distinct_modules_each_called_once(arch_model) -> None:
    _, _, model = arch_model
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus and len({id(m) for m in relus}) == len(relus)
    graph = fx.symbolic_trace(model).graph
    relu_calls = [
        n.target for n in graph.nodes if n.op == "call_module" and isinstance(model.get_submodule(n.target), nn.ReLU)
    ]
    assert len(relu_calls) == len(set(relu_calls)) == len(relus)
    assert not [n for n in graph.nodes if n.op in ("call_function", "call_method") and "relu" in str(n.target)]


def test_only_converter_friendly_modules(arch_model) -> None:
    _, _, model = arch_model
    assert all(isinstance(m, ALLOWED) for m in model.modules())
    assert isinstance(model.classifier, nn.Linear)
    assert list(model.children())[-1] is model.classifier


def test_convs_before_batchnorm_have_no_bias(arch_model) -> None:
    _, _, model = arch_model
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))


def test_fx_trace_has_one_add_per_block(arch_model) -> None:
    _, dataset, model = arch_model
    traced = fx.symbolic_trace(model)
    adds = [n for n in traced.graph.nodes if n.op == "call_function" and n.target is operator.add]
    assert len(adds) == sum(isinstance(m, BasicBlock) for m in model.modules())
    x = _input(dataset)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))


def test_block_counts() -> None:
    counts = {
        arch: sum(isinstance(m, BasicBlock) for m in build_model(arch, "cifar10").modules())
        for arch in ("resnet-tiny", "resnet-small", "resnet20", "resnet18", "resnet34")
    }
    assert counts == {"resnet-tiny": 2, "resnet-small": 3, "resnet20": 9, "resnet18": 8, "resnet34": 16}
    vgg16_convs = sum(isinstance(m, nn.Conv2d) for m in build_model("vgg16", "cifar10").modules())
    assert vgg16_convs == 13


def test_basic_block_shortcuts() -> None:
    same = BasicBlock(8, 8, stride=1)
    projection = BasicBlock(8, 16, stride=2)
    assert isinstance(same.shortcut, nn.Identity)
    assert isinstance(projection.shortcut[0], nn.Conv2d) and projection.shortcut[0].stride == (2, 2)
    assert same.relu1 is not same.relu2
    assert projection(torch.randn(1, 8, 8, 8)).shape == (1, 16, 4, 4)


def test_vgg16_skips_pools_on_small_inputs() -> None:
    def pools(dataset: str) -> int:
        return sum(isinstance(m, nn.AvgPool2d) for m in build_model("vgg16", dataset).modules())

    assert (pools("cifar10"), pools("mnist"), pools("digits")) == (5, 4, 3)
    with torch.no_grad():
        assert build_model("vgg16", "digits")(_input("digits")).shape == (2, 10)


def test_pool_choice_and_resnet_stems() -> None:
    vgg_max = build_model("vgg-small", "mnist", pool="max")
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg_max.modules()) == 2
    assert not any(isinstance(m, nn.AvgPool2d) for m in vgg_max.modules())
    cifar = build_model("resnet18", "cifar10", pool="max")
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in cifar.modules())
    imagenet = build_model("resnet18", "imagenet", pool="max")
    stem_conv = imagenet.features[0]
    assert stem_conv.kernel_size == (7, 7) and stem_conv.stride == (2, 2)
    assert isinstance(imagenet.features[3], nn.MaxPool2d)
    assert isinstance(build_model("resnet18", "imagenet").features[3], nn.AvgPool2d)
    with torch.no_grad():
        assert imagenet.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_width_multiplier() -> None:
    assert build_model("vgg-small", "mnist", width=0.5).features[0].out_channels == 16
    assert build_model("vgg16", "cifar10", width=0.25).classifier.in_features == 128
    assert build_model("resnet-tiny", "digits", width=0.01).features[0].out_channels == 1
    with pytest.raises(ValueError, match="width must be positive"):
        build_model("vgg-small", "mnist", width=0)


def test_unknown_arch_and_pool_are_rejected() -> None:
    with pytest.raises(UnknownArchError, match="valid names: .*vgg-small"):
        build_model("alexnet", "mnist")
    with pytest.raises(UnknownPoolError, match="avg, max"):
        build_model("vgg-small", "mnist", pool="sum")
