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

# %% [markdown]
# # 02 · Bistable neurons
#
# A **bistable neuron** alternates two states every cycle of K steps: **integrating** (it sums its phase-weighted input, and never fires) and **firing** (it receives no input and sends the K-bit binary expansion of what it integrated, most significant bit first). Adjacent layers are offset by one cycle, so layer l−1 fires exactly while layer l integrates. A neuron thus fires only after it has seen a whole cycle of input: a neuron with net input ≤ 0 never fires (no SIN), and one frame is a K-bit quantized, clipped ReLU. The price is a pipeline fill of about L cycles (L spiking layers) before the first output.
#
# > **About this reconstruction.** No code of the BSNN paper (Li, Zhao, Zeng, arXiv 2105.12917) is public, and its full text could not be consulted. This workbook reproduces the *mechanism* (bistable neurons, synchronous neurons) and tests the paper's *claims*; every point where the paper leaves the implementation open is a **[choice]** in `docs/method.md`, exposed as a parameter of `bsnn_lib.methods.method_config`, and named where it matters below.
#
# The [choice]s studied here: K; what happens to the potential left after a firing cycle (`residual`: carry it into the next integration = error feedback, the default, or clear it); input as scaled analog current, plain analog or bits (`input_coding`); bias spread over the cycle or injected at its first step (`bias`); the pipeline gate (`gate`).

# %%
from typing import Optional  # for the annotations of the parameters cell below

# %% tags=["parameters"]
# Parameters (papermill overrides them: see bsnn_lib/runner.py)
profile: str = "quick"  # profiles/<name>.yaml: nets, methods, T, number of test images
figures_dir: str = "../figures/quick"  # save_fig writes <name>.png/.pdf/.json here
results_dir: str = "../results/quick"  # tables go to <results_dir>/<this notebook>/
device: Optional[str] = None  # "cpu" or "cuda"; None: the profile's choice (auto: cuda if available)
dataset: Optional[str] = None  # None: the profile's first net
arch: Optional[str] = None  # None: the profile's first net
raster_T: Optional[int] = None  # steps of the raster figure; None: pipeline fill + 3 frames

# %%
from IPython.display import display

from bsnn_lib import analysis, plots
from bsnn_lib import workbook as wb

s = wb.setup("02_bistable_neurons", profile, figures_dir, results_dir, device, dataset=dataset, arch=arch)
print(f"profile {s.profile.name}: {s.profile.description}")
print(f"net: {s.dataset} / {s.arch}; T = {s.profile.T}")

# %% [markdown]
# ## 1. Dynamics across layers
#
# One test image through the BSNN (K = 8) version of the net. Each row is a spiking layer: left, spikes of its most active neurons (tick height ∝ spike weight 2^-(k+1)); right, the membrane potential V/θ of two active neurons and one silent one. Background: blue = integrating, orange = firing, grey = switched off by the pipeline gate (not reached yet).
#
# What to see: spikes only in orange cycles, each layer one cycle behind the one below; in blue cycles V ramps up (or down: the silent neuron's V goes negative and it never fires); in orange cycles V steps down as bits are sent; with `residual=carry` what is left (< θ/2^K) is carried into the next integration. Within a frame the first spike of a neuron carries the largest weight.

# %%
rd = wb.bistable.raster_data(s.cell(wb.bsnn_default()), T=raster_T)
fig = plots.plot_spike_raster(
    rd.trains,
    rd.layers,
    rd.states,
    neurons=rd.neurons,
    title=s.title(f"{rd.label}: first output at t = {rd.fill_steps}", n_images=1),
)
s.save(fig, "02_spike_raster", methods=[rd.label], T=rd.T, n_images=1, dataset=s.dataset, arch=s.arch)

# %% [markdown]
# ## 2. SIN gone, and accuracy against time
#
# The profile's grid for this net (every method of the profile), simulated for T steps. First the SIN neuron rate per layer at T: rate and phase coding against BSNN. Then the accuracy curves: every step is scored, and an image without any spike at the readout yet counts as wrong, so BSNN's curve starts only after its pipeline fill.

# %%
tabs = wb.net_rows(wb.grid_tables(s), s)  # the profile's grid (written once, to results/<profile>/), this net
fig = plots.plot_sin_per_layer(tabs["sin"], hue="variant", title=s.title("SIN neuron rate per layer at T"))
s.save(fig, "02_sin_per_layer", data=tabs["sin"])
display(analysis.sin_summary(tabs["sin"]))

# %% [markdown]
# What to see in the accuracy curves: rate coding climbs gradually (V(0) = θ/2 much faster); phase coding converges after a few cycles; BSNN is flat at 0 during the fill, then jumps close to the ANN within one or two frames. On a shallow net the baselines may well be *faster*: the spec's own probe found rate coding with V(0) = θ/2 within 1% at t = 4 on MNIST. The latency claim is a claim about deep nets on hard data (notebook 04).

# %%
fig = plots.plot_accuracy_vs_t(tabs["accuracy_vs_t"], hue="variant", title=s.title("Accuracy against time"))
s.save(fig, "02_accuracy_vs_t", data=tabs["accuracy_vs_t"])
display(analysis.latency_summary(tabs["latency"]))

# %% [markdown]
# ## 3. K, the phases per cycle [choice]
#
# A larger K sends more bits per frame (a finer quantization, 2^K levels) but each frame and the fill take longer (about L·K steps of fill, 2K steps per frame). What to see: small K reaches its plateau first but may plateau lower (with `carry`, the residual repairs part of the K-bit loss over later frames); large K is exact sooner in frames but later in steps.

# %%
ks = wb.bistable.k_sweep_cells(s)
kres = wb.run_results([c for _, c in ks], s.device)
ktabs = wb.tables(kres, [name for name, _ in ks])
s.write(ktabs, "k_sweep", k_sweep=s.profile.k_sweep)
fig = plots.plot_k_sweep(ktabs["accuracy_vs_t"], ktabs["latency"], title=s.title("BSNN: the K sweep"))
s.save(fig, "02_k_sweep", data=ktabs["accuracy_vs_t"])
display(analysis.latency_summary(ktabs["latency"]))

# %% [markdown]
# ## 4. The other [choice]s, one at a time
#
# Starting from the BSNN default (K = 8, `residual=carry`, `input_coding=analog-scaled`, `bias=spread`, `gate=True`), each option of the profile's `ablations` is changed alone. Expected from the spec's probe: `clear` loses the error feedback (a small loss at K = 8, more at small K); unscaled `analog` input delivers x(1 − 2^-K) per cycle against a whole bias (small loss at K = 8); `bits` quantizes the input to K bits; without the gate, layers integrate their bias before any input exists and fire garbage during the fill.

# %%
ab = wb.bistable.ablation_cells(s)
ares = wb.run_results([c for _, c in ab], s.device)
atabs = wb.tables(ares, [name for name, _ in ab])
s.write(atabs, "ablations", ablations=s.profile.ablations)
fig = plots.plot_accuracy_vs_t(atabs["accuracy_vs_t"], hue="variant", title=s.title("BSNN ablations"))
s.save(fig, "02_ablations", data=atabs["accuracy_vs_t"], ablations=s.profile.ablations)
display(analysis.latency_summary(atabs["latency"]))

# %% [markdown]
# ## 5. Exactness: BSNN in `clear` mode is the K-bit quantized ANN
#
# With `residual=clear`, every frame of a bistable network computes exactly the network whose ReLUs are replaced by q(z) = θ·min(⌊relu(z)·2^K/θ⌋, 2^K − 1)/2^K (with the same input rule). So its accuracy after the first full output frame must equal the quantized ANN's accuracy, image for image; with `carry` it may differ (usually upward, towards the float ANN).

# %%
ex = [("clear", s.cell(wb.bsnn_default(residual="clear"))), ("carry", s.cell(wb.bsnn_default()))]
check = analysis.exactness_check(wb.run_results([c for _, c in ex], s.device), [n for n, _ in ex])
s.write({"exactness": check})
display(check)
c = check.iloc[0]
print(
    f"clear mode, K={c.K}: quantized ANN {100 * c.qann_accuracy:.2f}%, SNN after its first frame "
    f"(t={c.first_frame_end_t}) {100 * c.snn_accuracy_first_frame:.2f}%, at T {100 * c.snn_accuracy_T:.2f}% -> "
    + ("EXACT" if c.equal_to_qann_first_frame and c.equal_to_qann_T else "NOT EXACT: investigate")
)
