"""Analysis: queries on the tidy result tables, one idea per module.

- :mod:`~bsnn_lib.analysis.latency`: T within x% of the ANN, the latency summary;
- :mod:`~bsnn_lib.analysis.verdict`: the paper's latency claim, computed;
- :mod:`~bsnn_lib.analysis.sin`: SIN tables;
- :mod:`~bsnn_lib.analysis.energy`: energy at the latency a method needs;
- :mod:`~bsnn_lib.analysis.pareto`: accuracy against time steps and SOPs, the Pareto front;
- :mod:`~bsnn_lib.analysis.exactness`: clear-mode BSNN against the quantized ANN;
- :mod:`~bsnn_lib.analysis.reference`: published numbers beside ours;
- :mod:`~bsnn_lib.analysis.neurons`: single neurons driven by hand-made inputs.
"""

from bsnn_lib.analysis.energy import energy_at_latency
from bsnn_lib.analysis.exactness import exactness_check
from bsnn_lib.analysis.latency import latency, latency_row, latency_summary, net_keys
from bsnn_lib.analysis.neurons import demo_summary, demo_table, neuron_trace
from bsnn_lib.analysis.pareto import pareto_front, pareto_points
from bsnn_lib.analysis.reference import comparison_table, reference_results
from bsnn_lib.analysis.sin import network_sin, sin_summary
from bsnn_lib.analysis.verdict import claim_table, claim_verdict, verdict_summary

__all__ = [
    "claim_table",
    "claim_verdict",
    "comparison_table",
    "demo_summary",
    "demo_table",
    "energy_at_latency",
    "exactness_check",
    "latency",
    "latency_row",
    "latency_summary",
    "net_keys",
    "neuron_trace",
    "pareto_front",
    "pareto_points",
    "reference_results",
    "network_sin",
    "sin_summary",
    "verdict_summary",
]
