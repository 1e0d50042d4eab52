"""Figures of the workbook: one function per kind of figure, grouped by family, and save_fig.

Every ``plot_*`` function takes tidy tables (the frames of
:func:`bsnn_lib.experiments.result_tables`, or small frames built by the notebook helpers) and
returns a new :class:`matplotlib.figure.Figure`; nothing is shown or written here except by
:func:`save_fig`, which writes ``<name>.png``, ``<name>.pdf`` and ``<name>.json`` (the parameters
of the run that made the figure) atomically.

==============================  ===============================================================
``style``                       use_style, colours per method (from the registry), save_fig
``accuracy``                    acc(t) per method (+ zoom), the K sweep, the peer comparison
``sin``                         SIN per layer and against t, error decomposition per layer
``dynamics``                    spike rasters + membrane traces, single neurons, shortcut timing
``benchmarks``                  T within 1% / 0.5% of the ANN, SOPs and energy
``verdict``                     latency and ratio intervals against 4x, the reported curves, fill vs bits
``pareto``                      accuracy against time steps and SOPs, with the Pareto front
``explorer``                    the ipywidgets SIN explorer
==============================  ===============================================================
"""

from bsnn_lib.plots.accuracy import plot_accuracy_vs_t, plot_k_sweep, plot_peer_comparison
from bsnn_lib.plots.benchmarks import plot_energy, plot_latency
from bsnn_lib.plots.dynamics import plot_neuron_traces, plot_shortcut_timing, plot_spike_raster
from bsnn_lib.plots.explorer import has_frontend, sin_explorer
from bsnn_lib.plots.pareto import plot_pareto
from bsnn_lib.plots.sin import plot_error_decomposition, plot_sin_per_layer, plot_sin_vs_t
from bsnn_lib.plots.style import FAMILY_PALETTES, STATE_COLORS, label_palette, method_family, save_fig, use_style
from bsnn_lib.plots.verdict import (
    plot_bit_allocation,
    plot_fill_vs_bits,
    plot_release_tradeoff,
    plot_verdict,
    plot_verdict_curves,
    verdict_figure_set,
)

__all__ = [
    "FAMILY_PALETTES",
    "STATE_COLORS",
    "has_frontend",
    "label_palette",
    "method_family",
    "plot_accuracy_vs_t",
    "plot_bit_allocation",
    "plot_energy",
    "plot_error_decomposition",
    "plot_fill_vs_bits",
    "plot_k_sweep",
    "plot_latency",
    "plot_neuron_traces",
    "plot_pareto",
    "plot_peer_comparison",
    "plot_release_tradeoff",
    "plot_shortcut_timing",
    "plot_sin_per_layer",
    "plot_sin_vs_t",
    "plot_spike_raster",
    "plot_verdict",
    "plot_verdict_curves",
    "save_fig",
    "sin_explorer",
    "use_style",
    "verdict_figure_set",
]
