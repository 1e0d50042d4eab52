"""ANN zoo built only from modules the ANN-to-SNN converter understands.

Allowed modules: ``Conv2d``, ``Linear``, ``BatchNorm2d/1d``, ``ReLU``, ``AvgPool2d``, ``MaxPool2d``,
``AdaptiveAvgPool2d``, ``Flatten``, ``Identity``, ``Sequential`` and :class:`BasicBlock`.
Conventions the converter relies on:

- every ReLU is its own ``nn.ReLU()`` instance (never shared, never ``F.relu``): one ReLU module
  becomes one spiking layer;
- convolutions followed by BatchNorm have ``bias=False``; no dropout;
- every model is ``nn.Sequential`` with children ``features`` (a flat ``Sequential`` of layers and
  blocks), optionally ``global_pool``, then ``flatten`` and ``classifier`` (a single ``Linear``,
  no ReLU after it);
- pooling is average pooling unless ``pool="max"``; in ResNets only the ImageNet stem pools
  (global pooling is always average).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from bsnn_lib.data import DatasetSpec, get_spec

__all__ = ["ARCHS", "POOLS", "BasicBlock", "UnknownArchError", "build_model"]

POOLS = ("avg", "max")
_VGG_POOL = "M"
VGG16_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)


class UnknownArchError(ValueError):
    """An architecture name that is not in :data:`ARCHS`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown architecture {name!r}; valid names: {', '.join(ARCHS)}")


class UnknownPoolError(ValueError):
    """A ``pool=`` value other than ``"avg"`` or ``"max"``."""

    def __init__(self, pool: str) -> None:
        super().__init__(f"unknown pool {pool!r}; use one of: {', '.join(POOLS)}")


# ------------------------------------------------------------------------------- building blocks


def scaled_channels(channels: int, width: float) -> int:
    """``channels * width`` rounded, at least 1."""
    return max(1, round(channels * width))


def make_pool(pool: str, kernel_size: int = 2, stride: int = 2, padding: int = 0) -> nn.Module:
    """An ``AvgPool2d`` or ``MaxPool2d``."""
    if pool == "avg":
        return nn.AvgPool2d(kernel_size, stride, padding)
    if pool == "max":
        return nn.MaxPool2d(kernel_size, stride, padding)
    raise UnknownPoolError(pool)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> list[nn.Module]:
    """``Conv2d(bias=False, "same" padding) -> BatchNorm2d -> ReLU`` (a fresh ReLU)."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    ]


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN, identity or projection shortcut, ReLU after the sum.

    The shortcut is ``nn.Identity`` when shape is kept, else a projection
    ``Sequential(Conv2d 1x1 stride, BatchNorm2d)``. ``relu1`` and ``relu2`` are distinct modules.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


def _assemble(features: Sequence[nn.Module], in_features: int, num_classes: int, *, global_pool: bool) -> nn.Sequential:
    """``features -> [global_pool] -> flatten -> classifier`` as a named ``nn.Sequential``."""
    parts: list[tuple[str, nn.Module]] = [("features", nn.Sequential(*features))]
    if global_pool:
        parts.append(("global_pool", nn.AdaptiveAvgPool2d(1)))
    parts += [("flatten", nn.Flatten()), ("classifier", nn.Linear(in_features, num_classes))]
    return nn.Sequential(OrderedDict(parts))


# ---------------------------------------------------------------------------------------- VGG


def _vgg(spec: DatasetSpec, cfg: Sequence[int | str], *, width: float, pool: str, global_pool: bool) -> nn.Sequential:
    """VGG from a cfg (ints = 3x3 conv-BN-ReLU widths, "M" = 2x2 pool).

    A pool is skipped when the feature map is already 1 px, so deep cfgs also fit 28x28 / 8x8
    inputs. Head: global average pool + Linear, or (``global_pool=False``) flatten + Linear.
    """
    layers: list[nn.Module] = []
    channels, size = spec.in_channels, spec.image_size
    for item in cfg:
        if item == _VGG_POOL:
            if size >= 2:
                layers.append(make_pool(pool))
                size //= 2
        else:
            out_channels = scaled_channels(int(item), width)
            layers += conv_bn_relu(channels, out_channels)
            channels = out_channels
    in_features = channels if global_pool else channels * size * size
    return _assemble(layers, in_features, spec.num_classes, global_pool=global_pool)


# ------------------------------------------------------------------------------------- ResNet


def _resnet_stem(spec: DatasetSpec, out_channels: int, pool: str) -> list[nn.Module]:
    """ImageNet stem (7x7/2 conv + 3x3/2 pool) for inputs >= 64 px, else a CIFAR 3x3 conv."""
    if spec.image_size >= 64:
        return [
            *conv_bn_relu(spec.in_channels, out_channels, kernel_size=7, stride=2),
            make_pool(pool, kernel_size=3, stride=2, padding=1),
        ]
    return conv_bn_relu(spec.in_channels, out_channels)


def _resnet(
    spec: DatasetSpec, stage_channels: Sequence[int], blocks_per_stage: Sequence[int], *, width: float, pool: str
) -> nn.Sequential:
    """Stem, then stages of BasicBlocks (stride 1 for the first stage, 2 after), GAP, Linear."""
    channels = scaled_channels(stage_channels[0], width)
    layers = _resnet_stem(spec, channels, pool)
    for stage, (stage_width, num_blocks) in enumerate(zip(stage_channels, blocks_per_stage)):
        out_channels = scaled_channels(stage_width, width)
        for block in range(num_blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(BasicBlock(channels, out_channels, stride))
            channels = out_channels
    return _assemble(layers, channels, spec.num_classes, global_pool=True)


# ----------------------------------------------------------------------------------- registry

ArchBuilder = Callable[..., nn.Module]  # (spec, *, width, pool) -> model

ARCHS: dict[str, ArchBuilder] = {
    # conv8-pool-conv16-pool-fc: milliseconds on 8x8 digits
    "vgg-tiny": partial(_vgg, cfg=(8, "M", 16, "M"), global_pool=False),
    # conv32-conv32-pool-conv64-conv64-pool-fc: the CPU default for MNIST
    "vgg-small": partial(_vgg, cfg=(32, 32, "M", 64, 64, "M"), global_pool=False),
    # 13 conv (CIFAR layout) + global average pool + Linear
    "vgg16": partial(_vgg, cfg=VGG16_CFG, global_pool=True),
    # stem 8, blocks 8 and 16/2: one identity and one projection shortcut
    "resnet-tiny": partial(_resnet, stage_channels=(8, 16), blocks_per_stage=(1, 1)),
    # ResNet-8: stem 16, one block per stage 16/32/64
    "resnet-small": partial(_resnet, stage_channels=(16, 32, 64), blocks_per_stage=(1, 1, 1)),
    "resnet20": partial(_resnet, stage_channels=(16, 32, 64), blocks_per_stage=(3, 3, 3)),
    "resnet18": partial(_resnet, stage_channels=(64, 128, 256, 512), blocks_per_stage=(2, 2, 2, 2)),
    "resnet34": partial(_resnet, stage_channels=(64, 128, 256, 512), blocks_per_stage=(3, 4, 6, 3)),
}


def build_model(arch: str, dataset: str | DatasetSpec, *, width: float = 1.0, pool: str = "avg") -> nn.Module:
    """Build ``arch`` for ``dataset``'s input channels, image size and class count.

    Args:
        arch: a key of :data:`ARCHS`.
        dataset: a dataset name or :class:`~bsnn_lib.data.DatasetSpec`.
        width: multiplier on every channel count (rounded, at least 1).
        pool: ``"avg"`` or ``"max"`` for the (non-global) pooling layers.

    Raises:
        UnknownArchError, UnknownDatasetError, UnknownPoolError; ValueError for ``width <= 0``.
    """
    if arch not in ARCHS:
        raise UnknownArchError(arch)
    if pool not in POOLS:
        raise UnknownPoolError(pool)
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    return ARCHS[arch](get_spec(dataset), width=width, pool=pool)
