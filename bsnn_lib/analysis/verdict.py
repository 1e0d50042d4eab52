"""The paper's latency claim, computed: near-lossless in 1/4 to 1/10 of the time steps."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from bsnn_lib.analysis.latency import net_keys
from bsnn_lib.methods import REGISTRY

__all__ = ["claim_table", "claim_verdict", "verdict_summary"]


def _t_or_inf(v: Any) -> float:
    return math.inf if v is None or pd.isna(v) else float(v)


def _roles(methods: pd.Series) -> pd.Series:
    return methods.map(lambda m: REGISTRY[m].role if m in REGISTRY else "other")


def _as_tuple(methods: tuple[str, ...] | str) -> tuple[str, ...]:
    return (methods,) if isinstance(methods, str) else tuple(methods)


PAPER_BSNN = ("bsnn",)
"""The methods that stand for the paper's BSNN in :func:`claim_table`: the options beyond the
paper (``bsnn-double``, ``bsnn-mixed``, ``bsnn-early``) share its role but are not its claim."""


def claim_table(latency: pd.DataFrame, bsnn_methods: tuple[str, ...] | str = PAPER_BSNN) -> pd.DataFrame:
    """Per net: the fastest BSNN (a method of ``bsnn_methods``, default the paper's ``bsnn``,
    with its default SN) and the fastest baseline (the methods whose
    role is ``baseline``: rate or phase coding) by T within 1% of the ANN, their ratio, and
    whether the paper's claim holds there: BSNN within 1% of the ANN at T (near-lossless) in at
    most 1/4 of the baseline's steps. When no baseline gets within 1% by T, the speed-up is the
    lower bound (T + 1) / T_bsnn (flagged)."""
    methods = _as_tuple(bsnn_methods)
    rows = []
    keys = net_keys(latency)
    for key, g in latency.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        T = int(g["T"].max()) if "T" in g else None
        roles = _roles(g["method"])
        b = g[(roles == "bsnn") & g["method"].isin(methods) & (g["sn"].astype(bool))]
        base = g[roles == "baseline"]
        if b.empty or base.empty:
            continue
        b_t = b["t_within_1pct"].map(_t_or_inf)
        base_t = base["t_within_1pct"].map(_t_or_inf)
        bi, si = b_t.idxmin(), base_t.idxmin()
        tb, ts = b_t[bi], base_t[si]
        if not math.isfinite(tb):
            ratio = math.nan
        else:  # a baseline that never gets there: the ratio is at least (T + 1) / tb
            ratio = ts / tb if math.isfinite(ts) else (T + 1) / tb
        lossless = bool(math.isfinite(tb)) and float(b.loc[bi, "ann_accuracy"] - b.loc[bi, "final_accuracy"]) <= 0.01
        rows.append(
            {
                **dict(zip(keys, key)),
                "T": T,
                "ann_accuracy": float(b.loc[bi, "ann_accuracy"]),
                "bsnn": b.loc[bi, "variant"],
                "bsnn_t_1pct": None if not math.isfinite(tb) else int(tb),
                "bsnn_final_accuracy": float(b.loc[bi, "final_accuracy"]),
                "best_baseline": base.loc[si, "variant"],
                "baseline_t_1pct": None if not math.isfinite(ts) else int(ts),
                "speedup": ratio,
                "speedup_is_lower_bound": bool(math.isfinite(tb) and not math.isfinite(ts)),
                "near_lossless": lossless,
                "claim_holds": bool(lossless and math.isfinite(ratio) and ratio >= 4),
            }
        )
    out = pd.DataFrame(rows)
    for col in ("bsnn_t_1pct", "baseline_t_1pct"):
        if col in out:
            out[col] = out[col].astype("Int64")
    return out


def claim_verdict(latency: pd.DataFrame, bsnn_methods: tuple[str, ...] | str = PAPER_BSNN) -> str:
    """Sentences, computed from the latency table, on whether the paper's claim holds here
    ('near-lossless in 1/4 to 1/10 of the time steps of earlier methods'); ``bsnn_methods`` as
    in :func:`claim_table`."""
    tab = claim_table(latency, bsnn_methods)
    if tab.empty:
        return (
            f"No net of this run has both a BSNN ({', '.join(_as_tuple(bsnn_methods))}, with SN) and a "
            "baseline: the claim cannot be checked."
        )
    lines = []
    for _, r in tab.astype(object).where(tab.notna(), None).iterrows():
        net = " / ".join(str(r[k]) for k in net_keys(tab))
        if r["bsnn_t_1pct"] is None:
            lines.append(
                f"{net}: BSNN ({r['bsnn']}) never stays within 1% of the ANN by T={r['T']}; "
                f"the claim does not hold here."
            )
            continue
        base = (
            f"the best baseline ({r['best_baseline']}) needs {r['baseline_t_1pct']} steps"
            if r["baseline_t_1pct"] is not None
            else f"no baseline stays within 1% by T={r['T']} (speed-up > {r['speedup']:.1f}x)"
        )
        speed = "" if r["speedup_is_lower_bound"] else f" (speed-up {r['speedup']:.2f}x)"
        verdict = "HOLDS" if r["claim_holds"] else "DOES NOT HOLD"
        why = (
            ""
            if r["claim_holds"]
            else (
                " (BSNN is not near-lossless at T)"
                if not r["near_lossless"]
                else " (BSNN is not 4x faster than the best baseline)"
            )
        )
        lines.append(
            f"{net}: BSNN ({r['bsnn']}) is within 1% of the ANN from t={r['bsnn_t_1pct']} "
            f"(final {100 * r['bsnn_final_accuracy']:.2f}% vs ANN {100 * r['ann_accuracy']:.2f}%); "
            f"{base}{speed}. Claim {verdict}{why}."
        )
    n = int(tab["claim_holds"].sum())
    lines.append(f"Overall: the paper's latency claim holds on {n} of {len(tab)} net(s) of this profile.")
    return "\n".join(lines)


def verdict_summary(tables: dict[str, Any]) -> pd.DataFrame:
    """One row per net and baseline, readable: the chosen variants, their T within 1% and 0.5%
    with intervals ("> T" where censored), the ratio with its interval, and the verdict vs 4x."""
    lat = tables["latency"].set_index(["net", "family"])
    rows = []
    for _, r in tables["ratios"].iterrows():
        fam = r.get("bsnn_family", "bsnn")
        base, bsnn = lat.loc[(r["net"], r["baseline"])], lat.loc[(r["net"], fam)]
        tag = r["tolerance"]
        bound = ">= " if r["estimate_is_lower_bound"] else ""
        hi = "inf" if r["hi_censored"] else f"{r['hi']:.2f}"
        rows.append(
            {
                "net": r["net"],
                "tolerance": {"1pct": "1%", "0p5pct": "0.5%"}[tag],
                "baseline": r["baseline_variant"],
                "T_baseline": base[f"t_{tag}_text"],
                "bsnn": r["bsnn_variant"],
                "T_bsnn": bsnn[f"t_{tag}_text"],
                "ratio": f"{bound}{r['estimate']:.2f} [{r['lo']:.2f}, {hi}]",
                "verdict (vs 4x)": r["verdict"],
            }
        )
    return pd.DataFrame(rows)
