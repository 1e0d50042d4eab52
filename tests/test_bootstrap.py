"""Latency intervals: a paired bootstrap over images, with censoring at the horizon."""

from __future__ import annotations

import numpy as np
import pytest

from bsnn_lib.analysis.bootstrap import Curves, bootstrap_latency, latency_of_curves, ratio_interval


def _curves(n: int, T: int, first_right: np.ndarray, ann_right: float = 1.0, seed: int = 0) -> Curves:
    """Image i is right from step first_right[i] on (0: never); the ANN is right on a share."""
    t = np.arange(1, T + 1)
    correct = (first_right[:, None] > 0) & (t[None, :] >= first_right[:, None])
    ann = np.random.default_rng(seed).random(n) < ann_right if ann_right < 1 else np.ones(n, bool)
    return Curves(correct, ann)


def test_latency_of_curves_is_the_first_step_that_stays_within_tolerance():
    acc = np.array([[0.0, 0.5, 0.99, 0.97, 1.0], [0.0, 0.99, 1.0, 1.0, 1.0], [0.9, 0.9, 0.9, 0.9, 0.9]])
    lat = latency_of_curves(acc, np.ones(3), 0.01)
    assert lat.tolist() == [5, 2, 0]  # a dip resets the latency; never within tolerance: censored


def test_identical_images_give_a_zero_width_interval():
    n, T = 200, 50
    res = bootstrap_latency({"m": _curves(n, T, np.full(n, 7))}, n_boot=300)
    iv = res["m"][0.01]["interval"]
    assert res["m"][0.01]["estimate"] == 7 and (iv.lo, iv.hi) == (7, 7)


def test_a_curve_cut_off_by_the_horizon_is_censored_not_a_number():
    n, T = 400, 40
    first = np.where(np.arange(n) < 20, 0, 5)  # 5% of the images never right: 95% vs ANN 100%
    res = bootstrap_latency({"m": _curves(n, T, first)}, n_boot=300)
    iv = res["m"][0.01]["interval"]
    assert res["m"][0.01]["estimate"] == 0 and iv.censored_estimate and iv.censored_hi
    assert iv.text().startswith("> 40")


def test_the_interval_covers_the_spread_of_a_noisy_latency_and_ratios_are_paired():
    rng = np.random.default_rng(1)
    n, T = 1000, 300
    slow = rng.integers(50, 150, n)  # image i right from a random step on
    fast = np.maximum(1, slow // 4)  # the same images, four times sooner: paired
    res = bootstrap_latency({"base": _curves(n, T, slow), "bsnn": _curves(n, T, fast)}, n_boot=500)
    b, f = res["base"][0.005], res["bsnn"][0.005]
    assert b["interval"].lo <= b["estimate"] <= b["interval"].hi
    assert b["interval"].hi - b["interval"].lo > 0
    r = ratio_interval(b, f, T)
    assert r["lo"] <= 4.2 and r["hi"] >= 3.8 and r["estimate"] == pytest.approx(b["estimate"] / f["estimate"])


def test_a_censored_baseline_makes_the_ratio_a_lower_bound():
    n, T = 300, 60
    never = np.zeros(n, dtype=int)
    res = bootstrap_latency({"base": _curves(n, T, never), "bsnn": _curves(n, T, np.full(n, 10))}, n_boot=200)
    r = ratio_interval(res["base"][0.01], res["bsnn"][0.01], T)
    assert r["estimate_is_lower_bound"] and r["estimate"] == pytest.approx(61 / 10)
    assert r["hi_censored"] and r["lo"] == pytest.approx(6.1)


def test_unpaired_image_sets_are_refused():
    with pytest.raises(ValueError, match="same images"):
        bootstrap_latency({"a": _curves(10, 5, np.ones(10, int)), "b": _curves(11, 5, np.ones(11, int))})
