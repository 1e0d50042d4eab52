"""Per-layer bit allocation for ``bsnn-mixed``: greedy bit removal on the quantized ANN.

One firing frame of a clear-mode ``bsnn-mixed`` network equals the mixed-precision quantized ANN
(layer l quantized to K_l bits; tested), so an allocation can be chosen without simulating: start
from ``start`` bits everywhere and remove, one at a time, the bit whose removal costs the least
accuracy on the selection images (ties: the one that shortens the fill most, then the earliest
layer), while the quantized ANN stays within ``tolerance`` of the float ANN. Each candidate is one
forward pass. The path of the search (accuracy and fill against the total bits) is kept: it is the
"fill against the bit budget" curve.

    search = search_bits(model, calib_loader, select_batches, start=4)
    search.chosen        # e.g. (4, 4, 3, 3, 3, 2, ...)
    search.path          # step, bits, total_bits, fill, accuracy, removed
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from bsnn_lib.convert import calibrate, convert, fold_batchnorm, trace
from bsnn_lib.methods import method_config
from bsnn_lib.progress import bar as progress_bar

__all__ = ["BitSearch", "fill_of_bits", "quantized_accuracy", "search_bits"]


@dataclass(frozen=True)
class BitSearch:
    """The result of :func:`search_bits`."""

    chosen: tuple[int, ...]
    path: pd.DataFrame
    ann_accuracy: float
    tolerance: float

    @property
    def bits(self) -> str:
        """The chosen allocation as the ``bits=`` option of ``bsnn-mixed``."""
        return ",".join(map(str, self.chosen))


def fill_of_bits(bits: Sequence[int]) -> int:
    """The first step of an answer of ``bsnn-mixed``: K_1 input steps, then every layer but the
    last, plus one."""
    return bits[0] + sum(bits[:-1]) + 1


@torch.no_grad()
def quantized_accuracy(snn, batches: Iterable, quantized: bool = True) -> float:
    """Accuracy of a converted network's quantized ANN (``quantized=False``: its float ANN) over
    ``(x, y)`` batches."""
    ok = n = 0
    for x, y in batches:
        ok += int((snn.ann(x, quantized=quantized)[0].argmax(1) == y).sum())
        n += len(y)
    return ok / n


def search_bits(
    model: nn.Module,
    calib: Iterable,
    batches: Sequence,
    *,
    start: int = 4,
    tolerance: float = 0.005,
    min_bits: int = 1,
    progress: bool = True,
    **options,
) -> BitSearch:
    """Greedy bit removal (module docstring). ``batches``: the selection images as ``(x, y)``
    pairs (a list: it is read once per candidate); ``options``: further ``bsnn-mixed`` options
    (``rounding``, ``percentile``, ``channelwise``)."""
    cfg0 = method_config("bsnn-mixed", bits="1", **options)
    lambdas = calibrate(fold_batchnorm(trace(model)), calib, cfg0)
    shape = tuple(batches[0][0].shape[1:])

    def build(bits: Sequence[int]):
        return convert(model, calib, cfg0.replace(bits=",".join(map(str, bits))), lambdas=lambdas, input_shape=shape)

    L = convert(model, calib, method_config("bsnn", K=start), lambdas=lambdas, input_shape=shape).num_layers
    cur = [start] * L
    first = build(cur)
    acc, ann = quantized_accuracy(first, batches), quantized_accuracy(first, batches, quantized=False)
    rows = [_row(0, cur, acc, None)]
    bar = progress_bar(total=L * (start - min_bits), desc="bit allocation", unit="bit", disable=not progress)
    while True:
        cands = []
        for layer in range(L):
            if cur[layer] <= min_bits:
                continue
            c = list(cur)
            c[layer] -= 1
            a = quantized_accuracy(build(c), batches)
            cands.append((a, fill_of_bits(cur) - fill_of_bits(c), -layer, c))
        if not cands:
            break
        a, _, neg_layer, c = max(cands)
        if a < ann - tolerance - 1e-12:
            break
        cur = c
        rows.append(_row(len(rows), cur, a, -neg_layer))
        bar.update(1)
    bar.close()
    path = pd.DataFrame(rows)
    path["ann_accuracy"] = ann
    return BitSearch(tuple(cur), path, ann, tolerance)


def _row(step: int, bits: Sequence[int], acc: float, removed: int | None) -> dict:
    return {
        "step": step,
        "bits": ",".join(map(str, bits)),
        "total_bits": sum(bits),
        "fill": fill_of_bits(bits),
        "qann_accuracy": acc,
        "removed_from_layer": removed,
    }
