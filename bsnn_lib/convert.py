"""ANN -> SNN conversion: trace, fold BatchNorm, calibrate, balance, replace (method.md §1, §6, §7).

    snn = convert(model, calib_loader, method_config("bsnn", K=8), mean=spec.mean, std=spec.std)

1. **trace** the ANN with ``torch.fx`` and refuse anything that cannot be converted exactly,
   naming it (unsupported modules, functional ``F.relu`` calls, a ReLU module used twice);
2. **fold** every BatchNorm into the conv/linear before it;
3. **calibrate**: the exact p-th percentile of every ReLU's outputs over a fixed calibration
   subset (zeros included unless asked otherwise), per layer or per channel. Only the top
   (1-p) share of values is kept, merged batch by batch, so the result does not depend on the
   loader order and memory stays small;
4. **replace** every ``nn.ReLU`` by a spiking neuron from the method's factory, insert synchronous
   relay neurons (SN) on residual shortcuts, wrap the classifier in a non-spiking readout, and
   move every bias into the neuron it feeds (so the schedule decides when bias is injected);
5. **balance**: threshold theta_l = lambda_l (weights kept) or weights scaled and theta = 1.
"""

from __future__ import annotations

import copy
import math
import operator
from collections.abc import Iterable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from bsnn_lib.methods import MethodConfig, Schedule
from bsnn_lib.network import SpikingNetwork
from bsnn_lib.neurons import Readout, SpikeMaxPool, SpikingNeuron
from bsnn_lib.qcfs import QCFS, qcfs_thresholds


class ConversionError(Exception):
    """The ANN cannot be converted as asked; the message names the module and the way out."""


class UnsupportedLayerError(ConversionError):
    """A module or call in the ANN has no exact spiking counterpart."""


WEIGHTED = (nn.Conv2d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
PASSIVE = (nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity, nn.Dropout)
SUPPORTED_MODULES = WEIGHTED + NORMS + PASSIVE + (nn.ReLU, nn.MaxPool2d)
SUPPORTED_FUNCTIONS = {operator.add, torch.add, torch.flatten}
SUPPORTED_METHODS = {"flatten", "view", "reshape", "add", "size"}
FUNCTIONAL_RELUS = {F.relu, torch.relu, F.relu_, torch.relu_}


# ---------------------------------------------------------------------------------------------
# 1. trace
# ---------------------------------------------------------------------------------------------
class _Tracer(fx.Tracer):
    """torch.fx's tracer, with every ``nn.ReLU`` subclass (e.g. :class:`~bsnn_lib.qcfs.QCFS`)
    kept as one module: each becomes one spiking layer."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, nn.ReLU) or super().is_leaf_module(m, module_qualified_name)


def trace(model: nn.Module) -> fx.GraphModule:
    """Trace a copy of ``model`` and check that every node can be converted."""
    try:
        root = copy.deepcopy(model).eval()
        gm = fx.GraphModule(root, _Tracer().trace(root), root.__class__.__name__)
    except Exception as err:  # fx raises many types; the user needs the model name and cause
        raise ConversionError(
            f"torch.fx could not trace {type(model).__name__}: {err}. Data-dependent control flow "
            "in forward() cannot be converted; build the model from modules."
        ) from err
    relu_calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        _check_node(gm, node)
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), nn.ReLU):
            relu_calls[node.target] = relu_calls.get(node.target, 0) + 1
    reused = [name for name, n in relu_calls.items() if n > 1]
    if reused:
        raise UnsupportedLayerError(
            f"ReLU module(s) {reused} are called more than once in forward(); each ReLU becomes "
            "its own spiking layer, so give every activation its own nn.ReLU() instance"
        )
    if not relu_calls:
        raise UnsupportedLayerError("the model has no nn.ReLU module: nothing to convert")
    return gm


def _check_node(gm: fx.GraphModule, node: fx.Node) -> None:
    if node.op == "call_module":
        mod = gm.get_submodule(node.target)
        if isinstance(mod, nn.AdaptiveAvgPool2d) and mod.output_size not in (1, (1, 1)):
            raise UnsupportedLayerError(
                f"module '{node.target}' (AdaptiveAvgPool2d({mod.output_size})) is not supported: only global "
                "pooling, AdaptiveAvgPool2d(1), is; use AvgPool2d with a fixed kernel for other sizes"
            )
        if not isinstance(mod, SUPPORTED_MODULES):
            raise UnsupportedLayerError(
                f"module '{node.target}' ({type(mod).__name__}) is not supported; supported: "
                f"{sorted({m.__name__ for m in SUPPORTED_MODULES})}"
            )
    elif node.op == "call_function":
        if node.target in FUNCTIONAL_RELUS:
            raise UnsupportedLayerError(
                f"functional ReLU call '{node.name}' in forward() (F.relu / torch.relu): the "
                "converter turns nn.ReLU *modules* into neurons; replace it by an nn.ReLU module"
            )
        if node.target not in SUPPORTED_FUNCTIONS:
            raise UnsupportedLayerError(
                f"function call '{node.name}' ({getattr(node.target, '__name__', node.target)}) "
                "in forward() is not supported; only +, torch.add and torch.flatten are"
            )
    elif node.op == "call_method":
        if node.target == "relu" or node.target == "relu_":
            raise UnsupportedLayerError(f"method call '.{node.target}()' at node '{node.name}': use an nn.ReLU module")
        if node.target not in SUPPORTED_METHODS:
            raise UnsupportedLayerError(f"tensor method '.{node.target}()' at node '{node.name}' is not supported")


# ---------------------------------------------------------------------------------------------
# 2. fold BatchNorm
# ---------------------------------------------------------------------------------------------
def _fold_into(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """w' = w*g/s, b' = (b - mu)*g/s + beta, with s = sqrt(var + eps)."""
    fused = copy.deepcopy(layer)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (fused.weight.dim() - 1)
    bias = fused.bias.detach() if fused.bias is not None else torch.zeros_like(bn.running_mean)
    fused.weight = nn.Parameter(fused.weight.detach() * scale.view(shape))
    fused.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach())
    return fused


def fold_batchnorm(gm: fx.GraphModule) -> fx.GraphModule:
    """Fold every BatchNorm into the conv/linear that feeds it (in place; returns ``gm``)."""
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), NORMS):
            continue
        prev = node.args[0]
        ok = (
            isinstance(prev, fx.Node)
            and prev.op == "call_module"
            and isinstance(gm.get_submodule(prev.target), WEIGHTED)
            and len(prev.users) == 1
        )
        if not ok:
            raise UnsupportedLayerError(
                f"BatchNorm '{node.target}' does not directly follow a conv/linear layer with no "
                "other user, so it cannot be folded"
            )
        _set_module(gm, prev.target, _fold_into(gm.get_submodule(prev.target), gm.get_submodule(node.target)))
        node.replace_all_uses_with(prev)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _set_module(gm: nn.Module, target: str, module: nn.Module) -> None:
    parent_name, _, attr = target.rpartition(".")
    setattr(gm.get_submodule(parent_name) if parent_name else gm, attr, module)


def _relu_nodes(gm: fx.GraphModule) -> list[fx.Node]:
    return [n for n in gm.graph.nodes if n.op == "call_module" and isinstance(gm.get_submodule(n.target), nn.ReLU)]


# ---------------------------------------------------------------------------------------------
# 3. calibrate
# ---------------------------------------------------------------------------------------------
class _TopK:
    """Exact p-th percentile of a stream: keeps only the values that can still be it."""

    def __init__(self, percentile: float, total: int, channels: int | None, positive_only: bool):
        self.p, self.total, self.channels, self.positive_only = percentile, total, channels, positive_only
        per = total // (channels or 1)
        self.k = min(per, math.ceil((1 - percentile / 100) * per) + 2)
        self.top: torch.Tensor | None = None
        self.positives = torch.zeros(channels or 1, dtype=torch.float64)

    def update(self, out: torch.Tensor) -> None:
        rows = (
            out.detach().double().transpose(0, 1).reshape(out.shape[1], -1)
            if self.channels
            else out.detach().double().reshape(1, -1)
        )
        self.positives += (rows > 0).sum(1).double().cpu()
        merged = rows if self.top is None else torch.cat([self.top, rows.to(self.top.device)], 1)
        self.top = merged.topk(min(self.k, merged.shape[1]), dim=1).values

    def value(self) -> torch.Tensor:
        per = self.total // (self.channels or 1)
        n = self.positives if self.positive_only else torch.full_like(self.positives, per)
        # inverted-CDF percentile: the smallest v with at least p% of the values <= v
        rank_from_top = n - torch.ceil(self.p / 100 * n - 1e-9) + 1
        idx = (rank_from_top.clamp(min=1) - 1).long().clamp(max=self.top.shape[1] - 1)
        lam = self.top.gather(1, idx.view(-1, 1).to(self.top.device)).view(-1).float()
        if self.channels is None:
            return lam[0]
        return lam


@torch.no_grad()
def calibrate(
    gm: fx.GraphModule,
    loader: Iterable,
    cfg: MethodConfig,
    device: torch.device | str = "cpu",
    num_samples: int | None = None,
) -> dict[str, torch.Tensor]:
    """lambda_l per ReLU module target (scalar, or one value per channel when channelwise).

    A channel or layer that never activates gets lambda = 1 (it never fires; any positive value
    would do) rather than 0.
    """
    gm = gm.to(device).eval()
    if num_samples is None:
        dataset = getattr(loader, "dataset", None)
        if dataset is not None and hasattr(dataset, "__len__"):
            num_samples = len(dataset)
        else:  # any iterable of batches: hold it (a calibration subset is small) and count it
            loader = [_batch_input(b) for b in loader]
            num_samples = sum(int(x.shape[0]) for x in loader)
    trackers: dict[str, _TopK] = {}
    hooks = []

    def hook_for(name: str):
        def hook(_mod, _inp, out):
            if name not in trackers:
                per_sample = out[0].numel()
                trackers[name] = _TopK(
                    cfg.percentile,
                    per_sample * num_samples,
                    out.shape[1] if cfg.channelwise else None,
                    cfg.calib_positive_only,
                )
            trackers[name].update(out)

        return hook

    for node in _relu_nodes(gm):
        hooks.append(gm.get_submodule(node.target).register_forward_hook(hook_for(node.target)))
    seen = 0
    try:
        for batch in loader:
            x = _batch_input(batch)
            gm(x.to(device))
            seen += x.shape[0]
    finally:
        for h in hooks:
            h.remove()
    if seen != num_samples:
        raise ConversionError(f"calibration expected {num_samples} samples, the loader gave {seen}")
    lambdas = {}
    for name, tr in trackers.items():
        lam = tr.value().cpu()
        lambdas[name] = torch.where(lam > 0, lam, torch.ones_like(lam))
    return lambdas


def _batch_input(batch) -> torch.Tensor:
    """The images of a batch: a tensor, or the first element of an ``(images, labels)`` pair."""
    x = batch[0] if isinstance(batch, (list, tuple)) else batch
    if not isinstance(x, torch.Tensor):
        raise ConversionError(
            f"a calibration batch must be a tensor or an (images, labels) pair, got {type(x).__name__}"
        )
    return x


# ---------------------------------------------------------------------------------------------
# 4./5. replace, SN, readout, bias, balance
# ---------------------------------------------------------------------------------------------
def _is_neuron(gm: fx.GraphModule, node) -> bool:
    return (
        isinstance(node, fx.Node)
        and node.op == "call_module"
        and isinstance(gm.get_submodule(node.target), SpikingNeuron)
    )


def _compute_depths(gm: fx.GraphModule) -> dict[fx.Node, int]:
    """Spiking depth of every node: longest count of spiking layers from the input."""
    depth: dict[fx.Node, int] = {}
    for node in gm.graph.nodes:
        ins = [a for a in node.all_input_nodes]
        d = max((depth[a] for a in ins), default=0)
        depth[node] = d + 1 if _is_neuron(gm, node) else d
    return depth


def _path_to_source(gm: fx.GraphModule, node: fx.Node) -> tuple[fx.Node | None, fx.Node]:
    """Walk back from an add input through single-input passive/weighted ops to a neuron.

    Returns (source neuron or None, the first node after the source on this path)."""
    first = node
    while not _is_neuron(gm, node):
        ins = node.all_input_nodes
        if node.op == "placeholder" or len(ins) != 1:
            return None, first
        first, node = node, ins[0]
    return node, first


def _insert_relays(gm: fx.GraphModule, factory) -> int:
    """Synchronous neurons: make both inputs of every add arrive at the same spiking depth.

    Relays go right after the source neuron on the shallower path, i.e. before a projection
    shortcut's 1x1 conv (on the non-negative block input), one per missing spiking layer."""
    inserted = 0
    for add in [n for n in gm.graph.nodes if n.op == "call_function" and n.target in (operator.add, torch.add)]:
        depth = _compute_depths(gm)
        ins = [a for a in add.args if isinstance(a, fx.Node)]
        target = max(depth[a] for a in ins)
        for inp in ins:
            missing = target - depth[inp]
            if missing <= 0:
                continue
            src, first = _path_to_source(gm, inp)
            if src is None:
                raise ConversionError(
                    f"cannot place synchronous neurons before '{add.name}': the "
                    "shortcut does not start at a spiking layer"
                )
            prev = src
            for i in range(missing):
                name = f"sn_{add.name}_{i}"
                gm.add_submodule(name, factory(name=name, source=src.target, like=src.target))
                with gm.graph.inserting_after(prev):
                    relay = gm.graph.call_module(name, (prev,))
                prev = relay
                inserted += 1
            (add if first is src else first).replace_input_with(src, prev)
    gm.graph.lint()
    gm.recompile()
    return inserted


def _wrap_readout(gm: fx.GraphModule, readout: Readout) -> None:
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    last = out_node.args[0]
    if not (
        isinstance(last, fx.Node) and last.op == "call_module" and isinstance(gm.get_submodule(last.target), nn.Linear)
    ):
        raise ConversionError("the last layer must be an nn.Linear classifier (no activation after it)")
    gm.add_submodule("readout", readout)
    with gm.graph.inserting_before(out_node):
        r = gm.graph.call_module("readout", (last,))
    out_node.args = (r,)
    gm.graph.lint()
    gm.recompile()


def _feeds_readout_directly(gm: fx.GraphModule, node: fx.Node) -> bool:
    stack, seen = list(node.users), set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n.op == "call_module" and isinstance(gm.get_submodule(n.target), Readout):
            return True
        if not _is_neuron(gm, n):
            stack.extend(n.users)
    return False


def _replace_maxpools(gm: fx.GraphModule, cfg: MethodConfig, schedule: Schedule) -> None:
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), nn.MaxPool2d):
            continue
        pool = gm.get_submodule(node.target)
        if not cfg.spec.supports_maxpool:
            raise UnsupportedLayerError(
                f"MaxPool2d '{node.target}' cannot be converted exactly for method '{cfg.method}' "
                "(max of spike trains is not the spike train of the max): train with pool='avg' "
                "(the default), or use a bistable method, where the max over a cycle is exact"
            )
        src = node.args[0]
        ks = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        st = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
        if not _is_neuron(gm, src) or ks != st or pool.padding not in (0, (0, 0)):
            raise UnsupportedLayerError(
                f"MaxPool2d '{node.target}' must directly follow a ReLU and use non-overlapping "
                "windows (kernel == stride, no padding) to be converted exactly"
            )
        per_step = gm.get_submodule(src.target).emit_steps
        _set_module(gm, node.target, SpikeMaxPool(pool, schedule, per_step=per_step))


def _balance_weights(gm: fx.GraphModule, neurons: dict[str, SpikingNeuron]) -> None:
    """balance='weights': W <- W*lambda_in/lambda_out, b <- b/lambda_out, theta <- 1."""
    for node in gm.graph.nodes:
        if node.op != "call_module" or not isinstance(gm.get_submodule(node.target), WEIGHTED):
            continue
        layer = gm.get_submodule(node.target)
        lam_in = _walk_scale(gm, node, neurons, backward=True, layer=layer)
        lam_out = _walk_scale(gm, node, neurons, backward=False, layer=layer)
        w = layer.weight.data
        in_shape = (1, -1) + (1,) * (w.dim() - 2)
        out_shape = (-1,) + (1,) * (w.dim() - 1)
        layer.weight.data = w * lam_in.view(in_shape) / lam_out.view(out_shape)
        if layer.bias is not None:
            layer.bias.data = layer.bias.data / lam_out.view(-1)
    for n in neurons.values():
        n.threshold = torch.ones_like(n.threshold)


def _walk_scale(gm, node, neurons, backward: bool, layer: nn.Module) -> torch.Tensor:
    """The lambda a weighted layer sees on its input (backward) or output (forward) side."""
    n_ch = layer.weight.shape[1] if backward else layer.weight.shape[0]
    cur, flatten_between = node, False
    while True:
        nxt = cur.all_input_nodes if backward else list(cur.users)
        if len(nxt) != 1:
            raise ConversionError(
                f"balance='weights' needs a single weighted path around '{node.target}'; this "
                "network branches there (residual shortcut): use balance='threshold'"
            )
        cur = nxt[0]
        if cur.op == "placeholder" or (cur.op == "output"):
            return torch.ones(n_ch)
        if cur.op == "call_module":
            mod = gm.get_submodule(cur.target)
            if isinstance(mod, SpikingNeuron):
                lam = mod.threshold.detach().flatten()
                if lam.numel() == 1:
                    return lam.expand(n_ch).clone()
                if flatten_between and lam.numel() != n_ch:
                    return lam.repeat_interleave(n_ch // lam.numel())
                return lam
            if isinstance(mod, Readout):
                return torch.ones(n_ch)
            if isinstance(mod, WEIGHTED):
                raise ConversionError("two weighted layers without a neuron in between")
            if isinstance(mod, nn.Flatten):
                flatten_between = True
        elif cur.op == "call_function" and cur.target is torch.flatten:
            flatten_between = True
        elif cur.op == "call_function":
            raise ConversionError(
                f"balance='weights' cannot scale across '{cur.name}' (residual add): use balance='threshold'"
            )


def convert(
    model: nn.Module,
    calib_loader: Iterable,
    cfg: MethodConfig | str = "bsnn",
    *,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    device: torch.device | str = "cpu",
    lambdas: dict[str, torch.Tensor] | None = None,
    input_shape: tuple[int, ...] | None = None,
    **options,
) -> SpikingNetwork:
    """Convert a trained ANN into a ``SpikingNetwork`` for method ``cfg``.

    Args:
        model: any ``nn.Module`` built from supported modules (see :func:`trace`).
        calib_loader: the calibration images: a DataLoader, or any iterable of batches (tensors or
            ``(images, labels)`` pairs).
        cfg: a :class:`~bsnn_lib.methods.MethodConfig`, or a method name with its ``options``
            (``convert(model, data, "bsnn", K=6)``).
        mean / std: the per-channel normalization of the input; needed only for
            ``input_coding="bits"`` (to recover the raw pixel).
        lambdas: from :func:`calibrate` on the folded graph, to skip calibration (e.g. one ANN
            converted with several methods that share the percentile).
        input_shape: (C, H, W); default: the shape of the first calibration sample.
    """
    if isinstance(cfg, str):
        from bsnn_lib.methods import method_config

        cfg = method_config(cfg, **options)
    elif options:
        cfg = cfg.replace(**options)
    if cfg.input_coding == "bits" and (mean is None or std is None):
        raise ConversionError(
            "input_coding='bits' needs mean= and std= (the input normalization) to "
            "recover the raw pixels; pass them, or use input_coding='analog-scaled'"
        )
    if not hasattr(calib_loader, "__len__"):  # a generator or iterator: read it once, keep it
        calib_loader = [_batch_input(b) for b in calib_loader]
    if input_shape is None:
        first = next(iter(calib_loader), None)
        if first is None:
            raise ConversionError("the calibration data is empty: pass a few hundred training images")
        input_shape = tuple(_batch_input(first).shape[1:])
    gm = fold_batchnorm(trace(model))
    if lambdas is None:
        lambdas = calibrate(gm, calib_loader, cfg, device)
    gm = gm.cpu()
    method = cfg.spec
    schedule = method.schedule(cfg)
    lambdas = qcfs_thresholds(gm, lambdas, schedule)  # learned thresholds of QCFS activations
    encoder = method.encoder(cfg, schedule, mean or (0.0,), std or (1.0,))
    neurons: dict[str, SpikingNeuron] = {}

    def factory(name: str, source: str, like: str) -> SpikingNeuron:
        lam = lambdas[like] if like in lambdas else neurons[like].threshold
        lam = lam.detach().clone().float()
        role = "relay" if name.startswith("sn_") else "neuron"
        neuron = method.neuron(threshold=lam, schedule=schedule, depth=0, name=name, source=source, role=role)
        neurons[name] = neuron
        return neuron

    for node in _relu_nodes(gm):
        act = gm.get_submodule(node.target)
        neuron = factory(node.target, node.target, node.target)
        if isinstance(act, QCFS):  # the ANN view computes the QCFS activation, not a ReLU
            neuron.ann_levels = act.levels
            neuron.ann_clip = float(act.threshold.detach().abs()) / float(neuron.threshold.flatten()[0])
        _set_module(gm, node.target, neuron)
    readout = Readout(schedule, depth=0)
    _wrap_readout(gm, readout)
    if cfg.uses_sn:
        _insert_relays(gm, factory)
    depth = _compute_depths(gm)
    for node in gm.graph.nodes:
        if _is_neuron(gm, node):
            mod = gm.get_submodule(node.target)
            mod.depth = depth[node]
            mod.emit_steps = _feeds_readout_directly(gm, node)
            _view_threshold(mod)
        elif node.op == "call_module" and node.target == "readout":
            readout.depth = depth[node] + 1
    schedule.bind(readout.depth - 1)
    _replace_maxpools(gm, cfg, schedule)
    gm.recompile()
    if cfg.balance == "weights":
        _balance_weights(gm, neurons)
    snn = SpikingNetwork(gm, cfg, schedule, encoder, _neuron_order(gm), readout, input_shape=tuple(input_shape))
    _extract_biases(snn)
    method.check_network(snn)
    return snn.to(device)


def _view_threshold(neuron: SpikingNeuron) -> None:
    """Channel-wise thresholds broadcast over [C, H, W] feature maps."""
    th = neuron.threshold
    if th.dim() == 1:
        neuron.threshold = th.view(-1, 1, 1)


def _neuron_order(gm: fx.GraphModule) -> list[str]:
    return [n.target for n in gm.graph.nodes if _is_neuron(gm, n)]


@torch.no_grad()
def _extract_biases(snn: SpikingNetwork) -> None:
    """Move every bias into the neuron (or readout) it feeds.

    With all spiking outputs and the input at zero, a neuron's synaptic input is exactly its
    effective bias (through pooling and residual adds): the probe view records it (and each
    layer's output shape). Then the synapses' biases are zeroed, so that the schedule alone
    decides when bias is injected."""
    snn.view("probe")(torch.zeros((1, *snn.input_shape)))
    for mod in snn.graph.modules():
        if isinstance(mod, WEIGHTED) and mod.bias is not None:
            mod.bias.data.zero_()
