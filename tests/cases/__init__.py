"""Registry of MetricCases for the generic harness: every module in this folder defining ``CASES`` is picked up.

A new metric registers by adding ``tests/cases/<area>.py`` with a module-level ``CASES`` list of
:class:`harness.MetricCase`; no list to edit here. Modules whose name starts with ``_`` are skipped.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

CASE_MODULES: list[str] = sorted(
    f"{__name__}.{info.name}"
    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)])
    if not info.name.startswith("_") and not info.ispkg
)
