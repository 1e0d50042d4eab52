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
# # 01 · Spikes of inactivated neurons (SIN): phase lead and phase lag
#
# Converted SNNs lose accuracy where a neuron whose ANN activation is **0** (an *inactivated* neuron) still spikes. Those spikes — **SIN** — carry information the ANN never had, and the error they cause grows with depth. This notebook shows where SIN come from, on single neurons first and then layer by layer in a converted network, for rate coding, phase coding (weighted spikes, Kim et al. 2018) and, for comparison, bistable neurons (BSNN).
#
# > **About this reconstruction.** No code of the BSNN paper (Li, Zhao, Zeng, arXiv 2105.12917) is public, and its full text could not be consulted. This workbook reproduces the *mechanism* (bistable neurons, synchronous neurons) and tests the paper's *claims*; every point where the paper leaves the implementation open is a **[choice]** in `docs/method.md`, exposed as a parameter of `bsnn_lib.methods.method_config`, and named where it matters below.

# %%
from typing import Optional  # for the annotations of the parameters cell below

# %% tags=["parameters"]
# Parameters (papermill overrides them: see bsnn_lib/runner.py)
profile: str = "quick"  # profiles/<name>.yaml: nets, methods, T, number of test images
figures_dir: str = "../figures/quick"  # save_fig writes <name>.png/.pdf/.json here
results_dir: str = "../results/quick"  # tables go to <results_dir>/<this notebook>/
device: Optional[str] = None  # "cpu" or "cuda"; None: the profile's choice (auto: cuda if available)
interactive: bool = True  # ipywidgets explorer (only with a live kernel frontend)
dataset: Optional[str] = None  # None: the profile's first net
arch: Optional[str] = None  # None: the profile's first net
demo_K: int = 4  # phases per cycle of the single-neuron demonstrations

# %%
from IPython.display import display

from bsnn_lib import analysis, plots
from bsnn_lib import workbook as wb

s = wb.setup("01_sin_analysis", profile, figures_dir, results_dir, device, dataset=dataset, arch=arch)
print(f"profile {s.profile.name}: {s.profile.description}")
print(f"net: {s.dataset} / {s.arch}; SIN analysis over T = {s.profile.sin_T} steps")

# %% [markdown]
# ## 1. Single neurons
#
# One neuron of each kind (threshold θ = 1) is fed the *same* hand-made input sequence, one value per time step, over three cycles of `demo_K` steps. Its ANN counterpart sees the sum of the input and outputs relu(sum). Rate coding (IF, reset by subtraction) and phase coding (threshold θ·2^-(k+1) at phase k) integrate and fire in the same step; the bistable neuron integrates silently for a whole cycle (blue) and fires only in the next one (orange), with no input while it fires.
#
# **Phase lead** (`+2θ` then `−2θ`, net input 0): what to see — rate and phase coding fire on the first step, before the inhibition arrives, and a spike cannot be taken back: a SIN (red title). The bistable neuron has summed +2θ − 2θ = 0 by the end of its integrating cycle and stays silent.

# %%
demos = wb.sin.neuron_demos(K=demo_K)
display(analysis.demo_summary(demos))
fig = plots.plot_neuron_traces(demos["phase_lead"], title="Phase lead: " + wb.sin.DEMO_SCENARIOS["phase_lead"])
s.save(fig, "01_phase_lead", methods=list(demos["phase_lead"]), K=demo_K, n_images=0)

# %% [markdown]
# **Late inhibition** (excitation 0.4θ in every phase, then a larger inhibition in the last phase; net input < 0): the same effect spread over a cycle. Rate and phase coding have already sent several spikes when the inhibition comes.

# %%
fig = plots.plot_neuron_traces(
    demos["late_inhibition"], title="Late inhibition: " + wb.sin.DEMO_SCENARIOS["late_inhibition"]
)
s.save(fig, "01_late_inhibition", methods=list(demos["late_inhibition"]), K=demo_K, n_images=0)

# %% [markdown]
# **Phase lag** (0.75θ arriving only in the *last* phase of a cycle): in phase coding the threshold is smallest (θ/2^K) in the last phase, so the neuron sends a tiny spike, keeps the rest and sends it at the *next* cycle's large weights: the value lands in the wrong cycle and mixes with what that cycle should carry. Rate coding keeps the 0.75θ below its threshold and never sends it (it would leave only with later input, attached to the wrong value). The bistable neuron waits for the end of its integrating cycle and sends 0.75θ = 0.5θ + 0.25θ, exactly once, in its firing cycle.

# %%
fig = plots.plot_neuron_traces(demos["phase_lag"], title="Phase lag: " + wb.sin.DEMO_SCENARIOS["phase_lag"])
s.save(fig, "01_phase_lag", methods=list(demos["phase_lag"]), K=demo_K, n_images=0)

# %% [markdown]
# ## 2. SIN in a converted network
#
# The profile's first net is converted with every rate- and phase-coding configuration of the profile, plus BSNN (K = 8, in its default `carry` mode and in `clear` mode) for comparison, and simulated on the profile's test images for the profile's T (the same cells as the grid of notebooks 02 and 04, so they are simulated once); the per-layer figures are read at t = `sin_T`. The simulator records, per spiking layer, at statistics times t (every cycle — every 8 steps for rate coding — at first, then logarithmically spaced):
#
# * **SIN neuron rate** = inactivated neurons that have spiked by t / inactivated neurons;
# * the same against the **K-bit quantized ANN** (`_q`): upstream quantization makes a few float-inactive neurons truly positive in the SNN, so against the float ANN no method reaches 0; against the quantized ANN bistable neurons can (for rate coding both references coincide; for phase coding the K-bit reference calls activations below θ/2^K inactive although phase coding sends them over several cycles, so its `_q` rates overstate SIN);
# * the layer's output error ‖r_SNN − a_ANN‖² split into its SIN, clipping and remaining parts.
#
# Training and simulations are cached on disk: a re-run costs nothing. The tables of these cells live with the grid (`results/<profile>/*.csv`, notebook 04) and the ablations (notebook 02); this notebook writes only what is new here: the single-neuron traces and the SIN tables read at `sin_T`.

# %%
variants = wb.sin.sin_methods(s.profile, s.arch)
methods = [name for name, _ in variants]
results = wb.run_results([s.cell(m) for _, m in variants], s.device)
tabs = wb.tables(results, methods)
sin_T = s.profile.sin_T
display(analysis.latency_summary(tabs["latency"]))

# %% [markdown]
# **SIN per layer.** Bars: the SIN neuron rate of each spiking layer at the end of the run (left: against the float ANN; right: against the quantized ANN), read at t = `sin_T`. What to see: the first layer has none in rate/phase coding (its input is a constant analog current), deeper layers have more, because their inputs are spike trains whose excitation and inhibition do not arrive together; V(0) = θ/2 makes rate coding fire earlier and raises SIN. BSNN's bars should be near zero (the spec's probe: phase coding had 10–100× more SIN than BSNN). Against the quantized ANN, `clear` mode must be exactly zero; `carry` is not, by design: its error feedback accumulates activations below one quantization step (θ/2^K) over several frames and eventually sends them, so they count as SIN against the K-bit reference.

# %%
fig = plots.plot_sin_per_layer(tabs["sin"], t=sin_T, hue="variant", title=s.title("SIN neuron rate per layer"))
s.save(fig, "01_sin_per_layer", data=tabs["sin"], sin_T=sin_T)
sin_float = analysis.sin_summary(tabs["sin"], t=sin_T)
sin_quant = analysis.sin_summary(tabs["sin"], t=sin_T, metric="sin_neuron_rate_q")
s.write(
    {
        "neuron_demos": analysis.demo_table(demos),
        "sin_rate_pct": sin_float.reset_index(),
        "sin_rate_q_pct": sin_quant.reset_index(),
    },
    data=tabs["sin"],
    sin_T=sin_T,
)
print(f"SIN neuron rate (%) against the float ANN, at t <= {sin_T}:")
display(sin_float)
print("... and against the quantized ANN:")
display(sin_quant)

# %% [markdown]
# **SIN against time.** One panel per method, one line per layer (dark: shallow, yellow: deep). The rate is cumulative (a neuron counts once it has spiked), so it only grows: what to see is how fast it grows, and that it grows fastest in deep layers. Dotted line: t = `sin_T`.

# %%
fig = plots.plot_sin_vs_t(tabs["sin"], hue="variant", mark_t=sin_T, title=s.title("SIN neuron rate against t"))
s.save(fig, "01_sin_vs_t", data=tabs["sin"], sin_T=sin_T)

# %% [markdown]
# **Error decomposition.** Each layer's squared relative output error at t = `sin_T`, stacked: red = SIN part (ANN activation 0, the SNN sent something), purple = clipping (ANN activation above the threshold θ = the calibration percentile), grey = the rest (rate quantization, not yet converged). What to see: in rate and phase coding the SIN share grows with depth; in BSNN the error is quantization and clipping only.

# %%
fig = plots.plot_error_decomposition(tabs["sin"], t=sin_T, hue="variant", title=s.title("Output error per layer"))
s.save(fig, "01_error_decomposition", data=tabs["sin"], sin_T=sin_T)

# %% [markdown]
# ## 3. Explorer
#
# With a live notebook (`interactive = True`), pick a method, a layer and a time step to read every SIN and error statistic there. Headless runs (papermill, `make figures`) skip it.

# %%
if interactive and plots.has_frontend():
    display(plots.sin_explorer(tabs["sin"]))
else:
    print("explorer skipped (interactive=False or no kernel frontend)")
