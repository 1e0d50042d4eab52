# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%

# %% [markdown]
# # 05 · Beyond the paper: a shorter frame period, and the modern baseline
#
# On every net measured so far BSNN's first answer arrives after its pipeline fill, about L·K steps for L spiking layers, and each further frame takes 2K steps. So the fill and the frame period, no longer SIN, bound how fast bistable conversion can be. This notebook puts two options beyond the paper through the same protocol as notebook 04 (variants chosen on images that are never reported, 95% paired-bootstrap intervals, "> T" where the horizon cuts a latency off):
#
# - **`bsnn-double`**: a double-buffered (two-compartment) bistable neuron fires the value it integrated in the previous cycle while it integrates the next one: the same fill, but a frame every K steps instead of 2K (`bsnn_lib/methods/bistable_double.py`);
# - **`bsnn-mixed`**: per-layer bits K_l. Layer l fires K_l bits and starts as soon as the layer before has sent its last one, so the fill is K_1 + K_1 + ... + K_{L-1} + 1 instead of L·K + 1. The allocation is chosen on the selection images with the quantized ANN alone (one clear-mode frame equals it exactly): greedy removal of the bit that costs least, while the quantized ANN stays within 0.5% of the float ANN (`bsnn_lib/bit_allocation.py`, `bsnn_lib/methods/bistable_mixed.py`). Feed-forward nets only;
# - **QCFS-trained ANNs** (Bu et al., ICLR 2022), the modern baseline: every ReLU trained as a quantization-clip-floor-shift activation with L levels and a learned threshold (`bsnn_lib/qcfs.py`, `TrainConfig(activation="qcfs")`). Rate coding then uses θ = the learned threshold and V(0) = θ/2; with L = 2^K − 1 levels a K-bit BSNN with the half-LSB start equals the QCFS ANN exactly, so its first frame is already lossless (against that ANN).
#
# The nets, families and images are the profile's `beyond` section (`profiles/<profile>.yaml`).

# %%
from typing import Optional  # for the annotations of the parameters cell below

# %% tags=["parameters"]
# Parameters (papermill overrides them: see bsnn_lib/runner.py)
profile: str = "quick"  # profiles/<name>.yaml: its `beyond` section
figures_dir: str = "../figures/quick"  # save_fig writes <name>.png/.pdf/.json here
results_dir: str = "../results/quick"  # tables go to <results_dir>/<this notebook>/
device: Optional[str] = None  # "cpu" or "cuda"; None: the profile's choice (auto: cuda if available)

# %%
from IPython.display import display

from bsnn_lib import analysis, plots
from bsnn_lib import workbook as wb

s = wb.setup("05_beyond_the_paper", profile, figures_dir, results_dir, device)
v = wb.beyond.run_beyond(s)  # -> results/<profile>/05_beyond_the_paper/verdict/*.csv (cached cells resume)

# %% [markdown]
# ## 1. Which variant each family gets, and what it costs
#
# The selection table holds every variant of every family on the selection images; `chosen` marks the one reported. Below: for the bistable families, the pipeline fill (dashed) and T within 0.5% of the ANN (solid) against the bits per cycle K. What to see: the fill grows linearly with K for both neurons; the double-buffered neuron reaches the tolerance sooner wherever more than one frame is needed.

# %%
if v is not None:
    sel = v["selection"]
    cols = [
        c
        for c in (
            "net",
            "family",
            "variant",
            "T",
            "fill",
            "t_within_1pct",
            "t_within_0p5pct",
            "final_accuracy",
            "chosen",
        )
        if c in sel
    ]
    display(sel[cols])
    fig = plots.plot_fill_vs_bits(sel, title="Pipeline fill and T within 0.5% against bits per cycle")
    s.save(fig, "05_fill_vs_bits", data=sel, source="results/<profile>/05_beyond_the_paper/verdict")

# %% [markdown]
# ## 2. Per-layer bits: the allocation the search found
#
# Left: the quantized ANN's accuracy on the selection images as bits are removed one at a time (the band is the tolerance below the float ANN); right: the pipeline fill. What to see: how many bits the search can take away before the accuracy leaves the band, and how much shorter the fill becomes for it. The final allocation is written beside the last point.

# %%
if v is not None and v.get("bits") is not None:
    bits = v["bits"]
    display(
        bits.groupby(["net", "family", "start"]).tail(1)[
            ["net", "start", "bits", "total_bits", "fill", "qann_accuracy"]
        ]
    )
    fig = plots.plot_bit_allocation(bits, title="bsnn-mixed: greedy per-layer bit allocation (selection images)")
    s.save(fig, "05_bit_allocation", data=bits, source="results/<profile>/05_beyond_the_paper/verdict/bits")

# %% [markdown]
# ## 3. The reported latencies, with intervals
#
# Each chosen variant on the report images: T within 1% and 0.5% of *its own* ANN (the QCFS net's ANN is the QCFS network) with 95% intervals, and the ratio T(rate coding) / T(bistable) against the paper's 4×. The row `fs` is few-spike conversion (Stöckl & Maass 2021) through SpikingJelly 2.0.0 on the same ANN and report images, its K chosen on the same selection images (`benchmarks/peer_fewspike.py`, the profile's `peers`); it is a peer, not part of the paper's claim, so its ratios T(FS) / T(bistable) carry the verdict `peer` and stay out of the verdict table.

# %%
if v is not None:
    summary = analysis.verdict_summary(v)
    display(summary)
    source = "results/<profile>/05_beyond_the_paper/verdict"
    wb.benchmarks.verdict_figures(s, v, "05", "Beyond the paper: latency and ratios", source=source)
    s.write({"verdict_summary": summary, "selection": sel[cols]}, data=v["latency"])

# %% [markdown]
# ## 4. Early release: a shorter fill, at the price of SIN
#
# **`bsnn-early`** (`bsnn_lib/methods/bistable_early.py`): a layer starts firing after δ of the K input phases instead of all of them, so the fill is L·δ + 1 instead of L·K + 1. The bits arrive most significant first, so after δ phases a neuron holds most of its input; the K − δ bits that arrive while it already fires go straight into the firing compartment and its remaining low bits absorb them. What they cannot absorb is carried into the next frame (`correction=carry`), or also undone by negative spikes of the same weights (`correction=signed`; a frame's net output never goes below zero, and every correction spike counts as a spike and in the SOPs). δ = K is the double-buffered neuron with per-frame bias, spike for spike.
#
# What to see: on the left, the fill falls linearly with δ, but T within 0.5% falls only as long as the carried corrections settle within a few frames; on the right, firing on part of the input brings back the spikes of inactivated neurons (SIN) that the bistable neuron removed (solid: the share of the neurons that the float ANN holds at 0 which spiked, the paper's SIN; dotted: their spikes' share of all spikes): the paper's phase lead, traded here for a shorter pipeline. One simulation per point, on the profile's `release` section (the notebook's net and test images; this is a description of the trade-off, not a selection).

# %%
rel = wb.beyond.release_tradeoff(s)
if rel is not None:
    display(
        rel[
            [
                "release",
                "correction",
                "fill",
                "t_within_1pct",
                "t_within_0p5pct",
                "final_accuracy",
                "sin_neuron_rate",
                "sin_spike_share",
                "sops_per_image",
            ]
        ]
    )
    s.write({"release_tradeoff": rel}, data=rel)
    fig = plots.plot_release_tradeoff(rel, title=s.title("Early release: fill, latency and SIN against δ"))
    s.save(fig, "05_release_tradeoff", data=rel, source="bsnn_lib.workbook.beyond.release_tradeoff")

# %% [markdown]
# ## 5. Which method to pick: the Pareto front
#
# Every method of the profile on the notebook's net (the grid of notebooks 01–04: rate and phase coding, BSNN with each K), the early-release sweep of section 4, and few-spike (FS) conversion through SpikingJelly 2.0.0 (`benchmarks/peer_fewspike.py`, `make peer`; one point per K at its fill, diamonds; the column `images` names each point's images). Left: accuracy against the time steps t; right: against the synaptic operations per image spent up to t (spikes × fan-out). The black line is the Pareto front: the most accurate point at each cost. What to see: which method sits on the front at the latency or energy budget you have, and where the front reaches the ANN (dashed). One simulation per line, from the cache; these are descriptions on the notebook's test images, not selections.

# %%
front = wb.beyond.pareto(s)
s.write({"pareto": front}, data=front)
display(analysis.pareto_front(front, "sops_per_image")[["variant", "t", "accuracy", "sops_per_image", "images"]])
fig = plots.plot_pareto(front, title=s.title("Accuracy against time steps and SOPs"))
s.save(fig, "05_pareto", data=front, source="bsnn_lib.workbook.beyond.pareto")
