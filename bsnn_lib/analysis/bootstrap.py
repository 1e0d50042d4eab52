"""Latency with error bars: a paired bootstrap over images, with censoring at the horizon T.

Every simulation keeps, per image, whether its answer was right after every step t (an
``[n, T]`` boolean matrix) and whether the ANN was right (``[n]``). A bootstrap resample draws n
images with replacement, the *same* images for every method and for the ANN (paired), and
recomputes each method's accuracy curve, the ANN's accuracy, the latency "first t from which
acc(t') >= ANN - tol for every t' <= T", and ratios of latencies between methods.

A latency the horizon cuts off (the curve is not within the tolerance at T) is **censored**: it is
reported as "> T", never as a number. In a resample a censored latency is T + 1 for the lower
end of an interval (it is at least that) and infinity for the upper end; a ratio with a censored
numerator is likewise at least (T + 1) / T_bsnn. Intervals are percentile intervals (95% by
default); an interval whose upper end is censored is reported as ``[lo, > T]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Curves", "Interval", "bootstrap_latency", "latency_of_curves", "ratio_interval"]


@dataclass(frozen=True)
class Curves:
    """Per-image results of one simulation: ``correct[i, t-1]`` (image i right after step t) and
    ``ann[i]`` (the ANN right on image i)."""

    correct: np.ndarray
    ann: np.ndarray

    @property
    def T(self) -> int:
        return int(self.correct.shape[1])

    @property
    def n(self) -> int:
        return int(self.correct.shape[0])


def latency_of_curves(acc: np.ndarray, ann: np.ndarray, tol: float) -> np.ndarray:
    """Latency of each row of ``acc`` ([B, T] accuracy curves) against ``ann`` ([B]): the first
    1-based t from which every acc(t') >= ann - tol; 0 where the curve is not within tol at T
    (censored)."""
    ok = acc >= (ann[:, None] - tol - 1e-12)
    T = acc.shape[1]
    bad = ~ok
    # index of the last bad step (or -1): reversed argmax
    any_bad = bad.any(axis=1)
    last_bad = T - 1 - np.argmax(bad[:, ::-1], axis=1)
    lat = np.where(any_bad, last_bad + 2, 1)
    return np.where(ok[:, -1], lat, 0).astype(np.int64)


@dataclass(frozen=True)
class Interval:
    """An estimate with a bootstrap interval; ``censored_*`` mark ends beyond the horizon."""

    estimate: float
    lo: float
    hi: float
    censored_estimate: bool = False
    censored_hi: bool = False
    censored_lo: bool = False
    horizon: int = 0

    def text(self, fmt: str = "{:.0f}") -> str:
        """``est [lo, hi]`` with censored parts as ``> T``."""
        est = f"> {self.horizon}" if self.censored_estimate else fmt.format(self.estimate)
        lo = f"> {self.horizon}" if self.censored_lo else fmt.format(self.lo)
        hi = f"> {self.horizon}" if self.censored_hi else fmt.format(self.hi)
        return f"{est} [{lo}, {hi}]"


def _weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] multinomial counts: how often each image is drawn in each resample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    w = np.zeros((n_boot, n), dtype=np.float32)
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def bootstrap_latency(
    curves: Mapping[str, Curves],
    tolerances: tuple[float, ...] = (0.01, 0.005),
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[float, dict]]:
    """Paired bootstrap of the latency of every method in ``curves`` (all on the same images).

    Returns ``{name: {tol: {"estimate": int or 0 (censored), "samples": [n_boot] ints (0 =
    censored), "interval": Interval}}}``; the samples are kept for :func:`ratio_interval`."""
    names = list(curves)
    n = {c.n for c in curves.values()}
    if len(n) != 1:
        raise ValueError(f"paired bootstrap needs the same images for every method, got sizes {sorted(n)}")
    n = n.pop()
    w = _weights(n, n_boot, seed)
    out: dict[str, dict[float, dict]] = {}
    for name in names:
        c = curves[name]
        acc_b = (w @ c.correct.astype(np.float32)) / n  # [n_boot, T]
        ann_b = (w @ c.ann.astype(np.float32)) / n
        acc = c.correct.mean(axis=0)[None, :]
        ann = np.array([c.ann.mean()])
        out[name] = {}
        for tol in tolerances:
            est = int(latency_of_curves(acc, ann, tol)[0])
            samples = latency_of_curves(acc_b, ann_b, tol)
            out[name][tol] = {"estimate": est, "samples": samples, "interval": _interval(est, samples, c.T, level)}
    return out


def _interval(est: int, samples: np.ndarray, T: int, level: float) -> Interval:
    a = (1 - level) / 2
    lo_vals = np.where(samples == 0, T + 1, samples).astype(float)
    hi_vals = np.where(samples == 0, np.inf, samples).astype(float)
    lo, hi = np.quantile(lo_vals, a, method="lower"), np.quantile(hi_vals, 1 - a, method="higher")
    return Interval(
        estimate=float(est) if est else math.inf,
        lo=float(lo),
        hi=float(hi),
        censored_estimate=est == 0,
        censored_lo=bool(lo > T),
        censored_hi=bool(not np.isfinite(hi)),
        horizon=T,
    )


def ratio_interval(num: dict, den: dict, T_num: int, level: float = 0.95) -> dict:
    """T(num) / T(den) on the same resamples (e.g. baseline over BSNN), with censoring.

    ``num`` and ``den`` are one tolerance's entries of :func:`bootstrap_latency`. A censored
    numerator makes the ratio at least (T_num + 1) / T_den: that value for the lower end, infinity
    for the upper end; a censored denominator makes the ratio undefined (NaN)."""
    a = (1 - level) / 2
    sn, sd = num["samples"].astype(float), den["samples"].astype(float)
    valid = sd > 0
    lo_num = np.where(sn == 0, T_num + 1, sn)
    hi_num = np.where(sn == 0, np.inf, sn)
    r_lo = np.where(valid, lo_num / np.where(valid, sd, 1), np.nan)
    r_hi = np.where(valid, hi_num / np.where(valid, sd, 1), np.nan)
    en, ed = num["estimate"], den["estimate"]
    if ed == 0:
        est, est_lower_bound = math.nan, False
    elif en == 0:
        est, est_lower_bound = (T_num + 1) / ed, True
    else:
        est, est_lower_bound = en / ed, False
    frac_invalid = float(1 - valid.mean())
    lo = float(np.nanquantile(r_lo, a, method="lower")) if valid.any() else math.nan
    hi = float(np.nanquantile(r_hi, 1 - a, method="higher")) if valid.any() else math.nan
    return {
        "estimate": est,
        "estimate_is_lower_bound": est_lower_bound,
        "lo": lo,
        "hi": hi,
        "hi_censored": not math.isfinite(hi),
        "denominator_censored_share": frac_invalid,
    }
