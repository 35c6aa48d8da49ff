"""MetricCases for the generic harness (see tests/harness.py)."""

from harness import MetricCase

CASES: list[MetricCase] = []
