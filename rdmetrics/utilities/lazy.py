"""PEP 562 lazy exports: a package lists ``name -> defining module`` and imports it on first attribute access.

This keeps ``import rdmetrics`` cheap and free of the optional dependencies (lightning, timm, matplotlib).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], namespace: dict[str, Any]) -> tuple[Callable, Callable]:
    """Return ``(__getattr__, __dir__)`` for ``package`` resolving ``exports`` into ``namespace`` on first use."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__


__all__ = ["lazy_exports"]
