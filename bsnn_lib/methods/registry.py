"""The methods, by name: add a method by adding its file and one line here."""

from __future__ import annotations

from bsnn_lib.methods.base import Method
from bsnn_lib.methods.bistable import Bsnn
from bsnn_lib.methods.bistable_double import BsnnDouble
from bsnn_lib.methods.bistable_early import BsnnEarly
from bsnn_lib.methods.bistable_mixed import BsnnMixed
from bsnn_lib.methods.bistable_rate import BsnnRate
from bsnn_lib.methods.phase import Phase
from bsnn_lib.methods.rate import Rate

REGISTRY: dict[str, Method] = {
    m.name: m for m in (Rate(), Phase(), Bsnn(), BsnnRate(), BsnnDouble(), BsnnMixed(), BsnnEarly())
}
"""name -> :class:`~bsnn_lib.methods.base.Method`, in the order tables and ``--help`` list them."""
