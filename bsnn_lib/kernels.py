"""A fused CPU kernel for the integrate-and-fire step (the fast engine of rate and phase coding).

One pass over memory does what the reference step does in five eager ops::

    v = (v + z) + b;  s = v >= thr;  out = s ? thr : 0;  v = s ? 0 : v   (reset to zero) or v - out
    count += s;  out_sum += out                                          (when recording)

with the same float operations in the same order (compiled with ``-ffp-contract=off``), so its
spikes equal the reference's bit for bit (tests/test_simulate.py). Measured on the 2-core CPU
here: 3.3x faster than the eager update of a 250 x 32 x 28 x 28 layer.

The kernel is built once with ``torch.utils.cpp_extension`` (about 30 s; cached in
``~/.cache/torch_extensions``) the first time a fast simulation needs it. Without a C++ compiler,
on a GPU, for other layouts, or with ``BSNN_KERNELS=0``, :func:`if_step` returns None and the
caller uses the eager ops.
"""

from __future__ import annotations

import logging
import os
import threading

import torch

__all__ = ["ENV", "available", "if_step", "per_image"]

log = logging.getLogger(__name__)
ENV = "BSNN_KERNELS"

_SOURCE = r"""
#include <torch/extension.h>

template <typename T>
static void if_loop(T* v, const T* z, const T* b, const T* t, T* o, int32_t* cnt, T* osum,
                    int64_t N, int64_t P, bool reset_zero) {
  for (int64_t n = 0; n < N; ++n) {
    T* vv = v + n * P; const T* zz = z + n * P; T* oo = o + n * P;
    if (cnt) {
      int32_t* cc = cnt + n * P; T* ss = osum + n * P;
      for (int64_t i = 0; i < P; ++i) {
        T x = (vv[i] + zz[i]) + b[i];
        bool s = x >= t[i];
        T out = s ? t[i] : T(0);
        vv[i] = reset_zero ? (s ? T(0) : x) : x - out;
        oo[i] = out; cc[i] += s ? 1 : 0; ss[i] = ss[i] + out;
      }
    } else {
      #pragma omp simd
      for (int64_t i = 0; i < P; ++i) {
        T x = (vv[i] + zz[i]) + b[i];
        bool s = x >= t[i];
        T out = s ? t[i] : T(0);
        vv[i] = reset_zero ? (s ? T(0) : x) : x - out;
        oo[i] = out;
      }
    }
  }
}

torch::Tensor if_step(torch::Tensor v, torch::Tensor z, torch::Tensor b, torch::Tensor t,
                      c10::optional<torch::Tensor> cnt, c10::optional<torch::Tensor> osum, bool reset_zero) {
  auto out = torch::empty_like(v);
  const int64_t P = b.numel(), N = v.numel() / P;
  int32_t* pc = cnt.has_value() ? cnt->data_ptr<int32_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "if_step", [&] {
    scalar_t* ps = osum.has_value() ? osum->data_ptr<scalar_t>() : nullptr;
    if_loop<scalar_t>(v.data_ptr<scalar_t>(), z.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(),
                      t.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), pc, ps, N, P, reset_zero);
  });
  return out;
}
"""

_lock = threading.Lock()
_module = None
_failed = False


def _load():
    global _module, _failed
    with _lock:
        if _module is None and not _failed:
            try:
                from torch.utils.cpp_extension import load_inline

                _module = load_inline(
                    "bsnn_kernels_v1",
                    cpp_sources=_SOURCE,
                    functions=["if_step"],
                    extra_cflags=["-O3", "-march=native", "-ffp-contract=off", "-fopenmp-simd"],
                    verbose=False,
                )
            except Exception as err:  # noqa: BLE001 - no compiler, no headers: the eager ops work too
                _failed = True
                log.warning("fused CPU kernel unavailable (%s); using the eager ops", err)
    return _module


def available() -> bool:
    """Can the fused kernel be used here (enabled, and built or buildable)?"""
    return os.environ.get(ENV, "1") != "0" and _load() is not None


def _layout(x: torch.Tensor) -> str | None:
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return "nhwc"
    if x.is_contiguous():
        return "contiguous"
    return None


def per_image(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor | None:
    """``a`` (broadcastable to one image of ``like``, e.g. a [C,1,1] threshold or a [C,H,W]
    bias) as a flat array in ``like``'s memory order within one image; None for other layouts."""
    layout = _layout(like)
    if layout is None:
        return None
    full = a.to(like.dtype).expand(like.shape[1:])
    if layout == "nhwc":
        full = full.permute(1, 2, 0)
    return full.contiguous().reshape(-1)


def if_step(
    v: torch.Tensor,
    z: torch.Tensor,
    b: torch.Tensor,
    thr: torch.Tensor,
    count: torch.Tensor | None,
    out_sum: torch.Tensor | None,
    reset_zero: bool,
) -> torch.Tensor | None:
    """The fused step (``b``, ``thr``: :func:`per_image` arrays); updates ``v`` (and the
    counters) in place and returns the output, or None when the kernel cannot run on these."""
    if v.device.type != "cpu" or v.dtype not in (torch.float32, torch.float64) or not available():
        return None
    layout = _layout(v)
    if layout is None or _layout(z) != layout or z.stride() != v.stride() or z.dtype != v.dtype:
        return None
    if count is not None and (count.stride() != v.stride() or out_sum.stride() != v.stride()):
        return None
    return _module.if_step(v, z, b, thr, count, out_sum, reset_zero)
