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
# # 03 · Residual networks: the shortcut timing problem and synchronous neurons (SN)
#
# In a basic block (conv1–BN–ReLU–conv2–BN, + shortcut, ReLU) the residual branch has one more spiking layer than the shortcut. Under the bistable schedule each spiking layer costs one cycle, so the shortcut's spikes reach the post-addition neuron **one cycle early**, while it is in its *firing* state, and its integrated input is incomplete. The paper's fix: **synchronous neurons** (SN), bistable relays on the shortcut (identity weights, the block input's threshold, no bias), one per extra spiking layer of the branch.
#
# > **About this reconstruction.** No code of the BSNN paper (Li, Zhao, Zeng, arXiv 2105.12917) is public, and its full text could not be consulted. This workbook reproduces the *mechanism* (bistable neurons, synchronous neurons) and tests the paper's *claims*; every point where the paper leaves the implementation open is a **[choice]** in `docs/method.md`, exposed as a parameter of `bsnn_lib.methods.method_config`, and named where it matters below.
#
# [choice]s here: what a firing neuron does with input that arrives anyway (`offphase`: `drop` — the spec: a firing neuron receives no input — or `defer` it to its next integrating cycle); where the relay goes with a projection shortcut (before the 1×1 conv, on the non-negative block input).

# %%
from typing import Optional  # for the annotations of the parameters cell below

# %% tags=["parameters"]
# Parameters (papermill overrides them: see bsnn_lib/runner.py)
profile: str = "quick"  # profiles/<name>.yaml: nets, methods, T, number of test images
figures_dir: str = "../figures/quick"  # save_fig writes <name>.png/.pdf/.json here
results_dir: str = "../results/quick"  # tables go to <results_dir>/<this notebook>/
device: Optional[str] = None  # "cpu" or "cuda"; None: the profile's choice (auto: cuda if available)
dataset: Optional[str] = None  # None: the profile's first ResNet
arch: Optional[str] = None  # None: the profile's first ResNet
drawing_K: int = 4  # K of the timing drawing

# %%
from IPython.display import display

from bsnn_lib import analysis, plots
from bsnn_lib import workbook as wb

s = wb.setup(
    "03_shortcut_sync", profile, figures_dir, results_dir, device, dataset=dataset, arch=arch, prefer_arch="resnet"
)
print(f"profile {s.profile.name}: {s.profile.description}")
print(f"net: {s.dataset} / {s.arch}; T = {s.profile.T}")

# %% [markdown]
# ## 1. The timing, drawn
#
# Rows: the block input (spiking depth d), the branch's first neuron (d+1), the relay (right panel) and the post-add neuron (d+2); columns: cycles, coloured by each layer's state. Follow one frame sent by the block input (green: through the branch; red/blue: the shortcut). Left: the shortcut arrives while the post-add neuron fires. Right: the relay integrates it for one cycle and both paths meet in the same integrating cycle.

# %%
fig = plots.plot_shortcut_timing(K=drawing_K)
s.save(fig, "03_shortcut_timing", K=drawing_K, n_images=0, methods=["bsnn"], dataset=None, arch=None)

# %% [markdown]
# ## 2. Measured: BSNN and rate coding, with and without SN
#
# Five conversions of the same trained ResNet: BSNN with SN (the default), BSNN without SN dropping or deferring the early shortcut input, and the strongest rate-coding baseline of the profile without SN (its default) and with relays. What to see: without SN and with `drop`, BSNN loses the shortcut's contribution and the accuracy falls far below the ANN; `defer` keeps the early shortcut input (also the part that reaches a post-add neuron still switched off by the pipeline gate) and adds it at the neuron's next integration, where it meets the branch frame it belongs to: a deferring neuron is exactly a one-cycle buffer of the shortcut, the job of a relay, so its curve is identical to the one with SN; with SN BSNN matches the ANN after the fill. On static images SN's benefit therefore hinges on the `offphase` [choice]: what SN fixes is the *drop* reading of "a firing neuron receives no input".
#
# In rate coding there is no integrate/fire alternation; in this library every rate-coded layer integrates and fires within the same time step, so a spike crosses the whole network in one step and a relay neuron passes each spike on in the step it arrives. The timing mismatch the spec asks about therefore does not arise here, and relays should change (almost) nothing: the printed comparison below says how much they do.

# %%
variants = wb.shortcuts.shortcut_cells(s)
results = wb.run_results([c for _, c in variants], s.device)
names = [name for name, _ in variants]
tabs = wb.tables(results, names)
layers = wb.shortcuts.relay_table(variants[0][1])
s.write({"accuracy_vs_t": tabs["accuracy_vs_t"], "latency": tabs["latency"], "layers": layers})
display(analysis.latency_summary(tabs["latency"]))

# %%
acc = tabs["accuracy_vs_t"]
bsnn = acc[acc["method"] == "bsnn"]
fig = plots.plot_accuracy_vs_t(bsnn, hue="variant", title=s.title("BSNN with and without synchronous neurons"))
s.save(fig, "03_bsnn_sn", data=bsnn)
rate = acc[acc["method"] == "rate"]
fig = plots.plot_accuracy_vs_t(rate, hue="variant", title=s.title("Rate coding with and without SN relays"))
s.save(fig, "03_rate_sn", data=rate)
curves = rate.pivot_table(index="t", columns="variant", values="accuracy")
gap = (curves.iloc[:, 0] - curves.iloc[:, 1]).abs()
print(
    f"rate coding, with vs without SN relays: largest accuracy difference over t = 1..{curves.index.max()}: "
    f"{100 * gap.max():.2f} points (at t = {gap.idxmax()})"
)

# %% [markdown]
# ## 3. Where the relays went
#
# The spiking layers of the BSNN+SN conversion, in depth order. Relays (`kind = relay`, named `sn_<add node>_<i>`) sit on the shortcuts; `source` is the block input whose threshold they copy. An identity shortcut gets one relay; a projection shortcut gets its relay *before* the 1×1 conv.

# %%
display(layers)
relays = layers[layers["kind"] == "relay"]
print(
    f"{len(relays)} relay layer(s) on {relays['name'].str.rsplit('_', n=1).str[0].nunique()} shortcut(s); "
    f"L = {layers['depth'].max()} spiking layers on the longest path"
)
