"""bsnn: ANN-to-SNN conversion with bistable neurons (a reconstruction of BSNN, arXiv 2105.12917).

The short path, for any ``nn.Module`` built from Conv2d / Linear / BatchNorm / ReLU modules::

    import bsnn_lib as bsnn

    model, history = bsnn.fit(my_model, train_set, epochs=3)          # or your own training
    snn = bsnn.convert(model, calib_batches, "bsnn", K=6)             # any iterable of batches
    snn.fill_steps                                                     # first step with an answer
    preds = snn(x, T=64)                                               # [T, B] class after every step
    res = bsnn.simulate(snn, test_loader, T=64)                        # acc(t), SIN, energy in one pass
    res.accuracy(), res.layer_stats(), res.energy()

Stages (one module or package each): data -> models -> train -> convert (methods, neurons) ->
network -> simulate -> analysis -> plots; experiments, grid, runner and cli on top.
"""

from bsnn_lib.convert import ConversionError, UnsupportedLayerError, convert
from bsnn_lib.methods import METHODS, MethodConfig, MethodConfigError, method_config
from bsnn_lib.network import SpikingNetwork
from bsnn_lib.simulate import SimResult, predict, simulate
from bsnn_lib.train import fit

__version__ = "0.2.0"

__all__ = [
    "METHODS",
    "ConversionError",
    "MethodConfig",
    "MethodConfigError",
    "SimResult",
    "SpikingNetwork",
    "UnsupportedLayerError",
    "convert",
    "fit",
    "method_config",
    "predict",
    "simulate",
]
