"""Matplotlib glue (optional dependency)."""

from __future__ import annotations

from typing import Any

from rdmetrics.utilities.imports import _MATPLOTLIB_AVAILABLE


def _require_matplotlib() -> Any:
    if not _MATPLOTLIB_AVAILABLE:
        raise ModuleNotFoundError(
            "Plotting needs matplotlib: install it with `pip install rdmetrics[plot]` (or `pip install matplotlib`)."
        )
    import matplotlib

    return matplotlib


def _get_fig_ax(ax: Any = None) -> tuple[Any, Any]:
    """Return ``(fig, ax)``: the given axes' figure, or a new figure with one axes."""
    _require_matplotlib()
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4))
        return fig, ax
    return ax.get_figure(), ax


__all__ = ["_get_fig_ax", "_require_matplotlib"]
