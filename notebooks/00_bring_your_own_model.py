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
# # 00 · Bring your own model: train, convert, simulate in five calls
#
# The rest of the series works on the zoo's nets; this notebook shows the public API on a model written here, by hand. The rules a convertible model follows (the converter names the module when one is broken):
#
# - build it from `Conv2d`, `Linear`, `BatchNorm` (directly after its conv or linear), `nn.ReLU`, `AvgPool2d` / global `AdaptiveAvgPool2d(1)`, `Flatten` (and `MaxPool2d` for bistable methods), with additions for residual shortcuts;
# - give every activation its own `nn.ReLU()` instance (each becomes one spiking layer), never `F.relu` in `forward`;
# - end with a `Linear` (the readout accumulates its input over time).
#
# What to see: the converted net's first answer arrives at `snn.fill_steps` (1 for rate coding, about L·K for BSNN), and acc(t) approaches the ANN after it.

# %%
from typing import Optional  # for the annotations of the parameters cell below

# %% tags=["parameters"]
# Parameters (papermill overrides them: see bsnn_lib/runner.py)
profile: str = "quick"  # the dataset of the profile's first net is used
figures_dir: str = "../figures/quick"  # save_fig writes <name>.png/.pdf/.json here
results_dir: str = "../results/quick"  # tables go to <results_dir>/<this notebook>/
device: Optional[str] = None  # "cpu" or "cuda"; None: the profile's choice (auto: cuda if available)
n_train: int = 6000  # evenly spaced training images (a short demonstration, not a benchmark)
epochs: int = 3
n_test: int = 500
T: int = 64

# %%
import pandas as pd
import torch
from IPython.display import display
from torch import nn

import bsnn_lib as bsnn
from bsnn_lib import plots
from bsnn_lib import workbook as wb
from bsnn_lib.data import calibration_subset, evenly_spaced, get_spec, load_dataset, make_loader

s = wb.setup("00_bring_your_own_model", profile, figures_dir, results_dir, device)
spec = get_spec(s.dataset)
torch.manual_seed(0)

# %% [markdown]
# ## 1. A model of our own, trained with the library's trainer (`bsnn.fit`) — or with yours

# %%
model = nn.Sequential(
    nn.Conv2d(spec.in_channels, 16, 3, padding=1, bias=False),
    nn.BatchNorm2d(16),
    nn.ReLU(),
    nn.AvgPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1, bias=False),
    nn.BatchNorm2d(32),
    nn.ReLU(),
    nn.AvgPool2d(2),
    nn.Flatten(),
    nn.Linear(32 * (spec.image_size // 4) ** 2, spec.num_classes),
)
train_set = evenly_spaced(load_dataset(s.dataset, "train", augment=False), n_train)
model, history = bsnn.fit(model, train_set, epochs=epochs, lr=3e-3, device=s.device, progress=False)
display(pd.DataFrame(history))

# %% [markdown]
# ## 2. Convert with two methods, simulate T steps, read acc(t)
#
# Calibration takes any iterable of batches (here 500 training images); `simulate` records acc(t) at every t, and the per-layer statistics, in one pass.

# %%
calib = make_loader(calibration_subset(s.dataset, 500), 250)
test = make_loader(evenly_spaced(load_dataset(s.dataset, "test"), n_test), 250)
curves, rows = [], []
for name, options in (("rate", {"v_init": 0.5}), ("bsnn", {"K": 4, "rounding": "nearest"})):
    snn = bsnn.convert(model, calib, name, **options)
    res = bsnn.simulate(snn, test, T=T, progress=False)
    label = snn.cfg.label()
    acc = res.accuracy().assign(label=label, ann_accuracy=res.ann_accuracy)
    curves.append(acc)
    last = acc.iloc[-1]
    rows.append(
        {"method": label, "fill_steps": snn.fill_steps, "ann": res.ann_accuracy, f"acc at T={T}": last.accuracy}
    )
summary = pd.DataFrame(rows)
display(summary)
fig = plots.plot_accuracy_vs_t(
    pd.concat(curves), title=f"A hand-written model on {spec.display_name}: accuracy against t"
)
s.save(fig, "00_byom_accuracy", data=pd.concat(curves).assign(dataset=s.dataset, T=T))
s.write({"summary": summary}, data=pd.concat(curves).assign(dataset=s.dataset, T=T))

# %% [markdown]
# ## 3. One batch, step by step
#
# `snn(x, T)` returns the predicted class after every step (`-1` before the first answer). A T shorter than the fill gets a warning that says where the first answer comes.

# %%
x, y = next(iter(test))
preds = snn(x[:8], T=T)
print("labels:              ", y[:8].tolist())
print(f"prediction at t={snn.fill_steps}:", preds[snn.fill_steps - 1].tolist())
print(f"prediction at t={T}:  ", preds[-1].tolist())
