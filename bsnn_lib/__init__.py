"""bsnn: ANN-to-SNN conversion with bistable neurons (a reconstruction of BSNN, arXiv 2105.12917).

Stages (one module each): data -> models -> train/checkpoints -> convert -> neurons -> simulate
-> analysis -> plots; workbook (profiles + papermill) and cli call them.
"""

__version__ = "0.1.0"
