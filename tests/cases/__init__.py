"""Registry of MetricCases for the generic harness: one module per area, each defining ``CASES``."""

CASE_MODULES = ["cases.selftest", "cases.rd", "cases.generative", "cases.agreement", "cases.similarity"]
