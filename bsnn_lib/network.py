"""SpikingNetwork: a converted SNN, and the views through which every engine runs it.

The converter (:mod:`bsnn_lib.convert`) produces one ``torch.fx`` graph whose ReLUs are neurons,
with a readout after the classifier. A *view* is a copy of that graph, generated once, in which
every spiking module (:data:`bsnn_lib.neurons.SPIKING_MODULES`) is called through one of its
engine methods instead of ``forward``, with the clock as extra inputs::

    snn.ann(x)                         the folded float ANN (neurons: relu(z + bias), or QCFS)
    snn.view("step")(x_t, t)           one time step of the plain reference simulator
    snn.view("chunk")(x, t, steps)     ``steps`` steps folded into the batch
    snn.view("cycle")(x, t, valid)     one closed-form bistable cycle

Views share the modules (and so the state) of the graph; they are plain generated Python, so an
engine call is one call per layer, with no mode switch anywhere. A simulation resets the state
before and after it runs (:meth:`SpikingNetwork.reset`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import torch
import torch.fx as fx
from torch import nn

from bsnn_lib.neurons import SPIKING_MODULES, Readout, SpikingNeuron, Zeros, dense

if TYPE_CHECKING:
    from bsnn_lib.methods.base import InputEncoder, Method, Schedule
    from bsnn_lib.methods.config import MethodConfig

__all__ = ["VIEWS", "LayerInfo", "SpikingNetwork", "build_view"]

VIEWS: dict[str, tuple[str, ...]] = {
    "ann": ("capture",),
    "qann": ("capture",),
    "probe": (),
    "step": ("t",),
    "fast_step": ("t",),
    "chunk": ("t", "steps"),
    "cycle": ("t", "valid"),
}
"""View name -> the extra inputs (after the image) that its spiking modules receive."""

Tap = Callable[[str, torch.Tensor, nn.Module], None]


class _FastOp:
    """A synaptic op (conv, pool, add, flatten, ...) of a fast view, with two exact shortcuts:

    - **constant input** (``static``: the op depends on the image only, e.g. the first conv): the
      engine passes the same input object every step, so the output is computed once and reused;
    - **known zeros**: when every tensor input is a :class:`~bsnn_lib.neurons.Zeros` marker (a
      bistable layer that did not fire), a bias-free synaptic op outputs zeros: the marker passes
      on (its zero tensor computed once per shape); ``a + zeros`` is ``a``.
    """

    def __init__(self, fn, name: str, static: bool, method: str | None = None) -> None:
        self.fn, self.name, self.static, self.method = fn, name, static, method
        self.__name__ = self.__qualname__ = f"fast_{name}"  # how the generated code calls it
        self._last: tuple | None = None  # (inputs, output) of the last call (static ops)
        self._zero: dict = {}

    def _call(self, args, kwargs):
        if self.method is not None:
            return getattr(args[0], self.method)(*args[1:], **kwargs)
        return self.fn(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        zeros = [isinstance(a, Zeros) for a in args]
        if not any(zeros):
            if not self.static:
                return self._call(args, kwargs)
            last = self._last
            if last is not None and len(last[0]) == len(args) and all(a is b for a, b in zip(last[0], args)):
                return last[1]
            out = self._call(args, kwargs)
            self._last = (args, out)
            return out
        tensors = [a for a in args if isinstance(a, (torch.Tensor, Zeros))]
        if all(isinstance(a, Zeros) for a in tensors):
            key = tuple((tuple(a.like.shape) if isinstance(a, Zeros) else a) for a in args)
            if key not in self._zero:
                self._zero.clear()
                self._zero[key] = self._call([dense(a) for a in args], kwargs)
            return Zeros(self._zero[key])
        if self.fn in (operator.add, torch.add) and len(args) == 2:
            return args[1] if zeros[0] else args[0]
        return self._call([dense(a) for a in args], kwargs)


def _static_nodes(graph: fx.GraphModule) -> set[fx.Node]:
    """Nodes computed from the image alone, through synaptic ops only (no spiking module)."""
    static: set[fx.Node] = set()
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            static.add(node)
        elif node.op in ("call_module", "call_function", "call_method"):
            spiking = node.op == "call_module" and isinstance(graph.get_submodule(node.target), SPIKING_MODULES)
            if not spiking and node.all_input_nodes and all(n in static for n in node.all_input_nodes):
                static.add(node)
    return {n for n in static if n.op != "placeholder"}


def _fusable_adds(graph: fx.GraphModule, op: str, static: set[fx.Node]) -> dict[fx.Node, tuple[fx.Node, fx.Node]]:
    """Residual adds ``a + b`` whose only user is a spiking module with an ``<op>_add(a, b, ...)``
    method (the IF neuron's fast step: the add done in the kernel's pass); add node -> (a, b)."""
    out: dict[fx.Node, tuple[fx.Node, fx.Node]] = {}
    for node in graph.graph.nodes:
        if node.op != "call_function" or node.target not in (operator.add, torch.add) or node in static:
            continue
        if node.kwargs or len(node.args) != 2 or not all(isinstance(a, fx.Node) for a in node.args):
            continue
        users = list(node.users)
        if len(users) != 1 or users[0].op != "call_module" or users[0].args[0] is not node:
            continue
        mod = graph.get_submodule(users[0].target)
        if isinstance(mod, SPIKING_MODULES) and callable(getattr(mod, f"{op}_add", None)):
            out[node] = (node.args[0], node.args[1])
    return out


def build_view(graph: fx.GraphModule, op: str, tap: Tap | None = None, fast: bool = False) -> fx.GraphModule:
    """A copy of ``graph`` that calls ``module.<op>(z, *clock)`` on every spiking module.

    ``tap(name, output, module)``, if given, is called after every neuron (recording hooks for
    rasters and membrane traces). With ``fast`` (and always for ``cycle``) the synaptic ops go
    through :class:`_FastOp`: a constant input's first layers are computed once, and layers fed
    only by silent bistable layers are skipped. Both are exact: the same numbers, less work."""
    extras = VIEWS[op]
    wrap = fast or op == "cycle"
    static = _static_nodes(graph) if fast else set()
    fused = _fusable_adds(graph, op, static) if fast else {}
    new = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    clock: list[fx.Node] = []
    for node in graph.graph.nodes:
        if node in fused:  # done by the neuron it feeds (``<op>_add``)
            continue
        if node.op == "placeholder":
            env[node] = new.placeholder(node.name)
            clock = [new.placeholder(name) for name in extras]
        elif node.op == "call_module" and isinstance(graph.get_submodule(node.target), SPIKING_MODULES):
            mod = new.get_attr(node.target)
            src = node.args[0]
            if src in fused:
                out = new.call_method(f"{op}_add", (mod, *(env[a] for a in fused[src]), *clock))
            else:
                out = new.call_method(op, (mod, env[src], *clock))
            if tap is not None and isinstance(graph.get_submodule(node.target), SpikingNeuron):
                new.call_function(tap, (node.target, out, mod))
            env[node] = out
        elif wrap and node.op in ("call_module", "call_function", "call_method"):
            if node.op == "call_module":
                fn, method = graph.get_submodule(node.target), None
            elif node.op == "call_function":
                fn, method = node.target, None
            else:
                fn, method = None, node.target
            fast_op = _FastOp(fn, node.name, node in static, method)
            args = fx.node.map_arg(node.args, lambda n: env[n])
            kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
            env[node] = new.call_function(fast_op, args, kwargs)
        else:
            env[node] = new.node_copy(node, lambda n: env[n])
    new.lint()
    return fx.GraphModule(graph, new, class_name=f"SNN_{op}{'_fast' if fast else ''}")


@dataclass
class LayerInfo:
    """One spiking layer of a converted network, for inspection and for the statistics."""

    name: str
    kind: str  # "neuron" (a converted ReLU) or "relay" (a synchronous neuron)
    depth: int
    source: str
    shape: tuple[int, ...]
    threshold_mean: float
    threshold_max: float


class SpikingNetwork(nn.Module):
    """A converted SNN: the rewritten graph plus its neurons, readout, schedule and encoder.

    Attributes:
        graph: the converted ``torch.fx`` graph (spiking modules run through :meth:`view`).
        cfg: the method config; ``method``: its method object; ``schedule``, ``encoder``.
        readout: the output layer; ``neuron_names``: the spiking layers in graph order.
        input_shape: (C, H, W) of one image.
    """

    def __init__(
        self,
        graph: fx.GraphModule,
        cfg: MethodConfig,
        schedule: Schedule,
        encoder: InputEncoder,
        neuron_names: list[str],
        readout: Readout,
        input_shape: tuple[int, ...],
    ) -> None:
        super().__init__()
        self.graph = graph
        self.cfg, self.schedule, self.encoder = cfg, schedule, encoder
        self.neuron_names = list(neuron_names)
        self.readout = readout
        self.input_shape = tuple(input_shape)
        object.__setattr__(self, "_views", {})  # not submodules: they share the graph's modules

    # ---- structure ---------------------------------------------------------------------
    @property
    def method(self) -> Method:
        return self.cfg.spec

    def neurons(self) -> list[SpikingNeuron]:
        return [self.graph.get_submodule(n) for n in self.neuron_names]

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {n.name: n.shape for n in self.neurons()}

    @property
    def num_layers(self) -> int:
        """L: the number of spiking layers on the longest path (relays included)."""
        return max(n.depth for n in self.neurons())

    @property
    def fill_steps(self) -> int:
        """First step (1-based) at which an answer can come (a spike reaches the readout; with a
        frame-held readout, the end of the first frame)."""
        return self.schedule.answer_steps(self.readout.depth, self.readout.hold)

    def layers(self) -> pd.DataFrame:
        """Which module became what: one row per spiking layer, in depth order."""
        rows = [
            LayerInfo(
                name=n.name,
                kind=n.role,
                depth=n.depth,
                source=n.source,
                shape=n.shape,
                threshold_mean=float(n.threshold.float().mean()),
                threshold_max=float(n.threshold.float().max()),
            ).__dict__
            for n in self.neurons()
        ]
        return pd.DataFrame(rows).sort_values(["depth", "name"], kind="stable").reset_index(drop=True)

    # ---- running -----------------------------------------------------------------------
    def view(self, op: str, fast: bool = False) -> fx.GraphModule:
        """The generated graph for engine method ``op`` (see :data:`VIEWS`), built once;
        ``fast``: with the exact shortcuts of :class:`_FastOp` (the fast engine)."""
        views: dict[tuple[str, bool], fx.GraphModule] = self._views
        if (op, fast) not in views:
            views[(op, fast)] = build_view(self.graph, op, fast=fast)
        return views[(op, fast)]

    def reset(self, record: bool = False) -> None:
        """Clear every state (potentials, counters, readout); ``record``: count spikes next."""
        for m in self.graph.modules():
            if isinstance(m, SPIKING_MODULES):
                m.reset_state(record)

    @torch.no_grad()
    def ann(
        self, x: torch.Tensor, quantized: bool = False, capture: bool = False
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The folded float ANN (or the quantized ANN, with the method's input rule) through the
        same graph, and (``capture``) every spiking layer's pre-activation in the SNN's units."""
        captured: dict[str, torch.Tensor] | None = {} if capture else None
        inp = self.encoder.cycle_value(x) if quantized else x
        out = self.view("qann" if quantized else "ann")(inp, captured)
        return out, captured or {}

    def forward(self, x: torch.Tensor, T: int | None = None, engine: str = "fast") -> torch.Tensor:
        """Run the SNN for ``T`` steps on a batch: the predicted class after every step, ``[T, B]``
        (-1 before the first spike reaches the readout). For acc(t) over a dataset, SIN and
        energy statistics use :func:`bsnn_lib.simulate`; for the ANN's logits :meth:`ann`."""
        if T is None:
            raise TypeError(
                "a SpikingNetwork runs over time steps: call snn(x, T=...) for the class after every step, "
                "bsnn_lib.simulate(snn, loader, T) for acc(t) and statistics, or snn.ann(x) for the "
                f"converted ANN's logits (the first answer comes at t = {self.fill_steps})"
            )
        from bsnn_lib.simulate import predict

        return predict(self, x, T, engine)

    def extra_repr(self) -> str:
        return f"method={self.cfg.label()!r}, spiking_layers={len(self.neuron_names)}, L={self.num_layers}"

    def __deepcopy__(self, memo: dict) -> SpikingNetwork:
        import copy

        new = SpikingNetwork.__new__(SpikingNetwork)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, {} if k == "_views" else copy.deepcopy(v, memo))
        return new
