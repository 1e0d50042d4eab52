"""Helpers of the notebook series, one module per topic; the notebooks stay thin.

==================  ==============================================================================
``common``          :func:`setup` (profile, net, paths, provenance, manifest), running cells, tables
``sin``             01: single-neuron demonstrations, the methods of the SIN analysis
``bistable``        02: raster data, K sweep, ablations
``shortcuts``       03: BSNN and rate coding with and without synchronous neurons
``benchmarks``      04: the verdict tables, the SpikingJelly side-by-side
``beyond``          05: the options beyond the paper through the verdict protocol
==================  ==============================================================================

The papermill runner is :mod:`bsnn_lib.runner`; result tables are in :mod:`bsnn_lib.analysis`,
figures in :mod:`bsnn_lib.plots`.
"""

from bsnn_lib.workbook import benchmarks, beyond, bistable, shortcuts, sin
from bsnn_lib.workbook.common import (
    MANIFEST,
    Setup,
    bsnn_default,
    describe_data,
    grid_tables,
    net_rows,
    pick_rate,
    read_manifest,
    run_results,
    setup,
    tables,
)

__all__ = [
    "MANIFEST",
    "Setup",
    "benchmarks",
    "beyond",
    "bistable",
    "bsnn_default",
    "describe_data",
    "grid_tables",
    "net_rows",
    "pick_rate",
    "read_manifest",
    "run_results",
    "setup",
    "shortcuts",
    "sin",
    "tables",
]
