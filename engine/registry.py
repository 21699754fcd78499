"""Implementations of the engine's ports found by dotted name, so the engine never imports them.

The charger port (``engine.chargers.make_chargers``) and the ledger port
(``engine.ledger.connect_ledger``) name their implementations as ``"module:attr.attr"``, as
evcc registers chargers by type: ``gateway`` (websockets) and ``contracts`` (web3) stay outside
the engine's imports.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load_by_name"]


def load_by_name(name: str) -> Any:
    """The object called ``name`` (``"package.module:attr.attr"``), its module imported on demand.

    Raises
    ------
    ImportError, AttributeError
        The module or the attribute does not exist.
    """
    module, _, path = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, path.split(".")):
        obj = getattr(obj, part)
    return obj
