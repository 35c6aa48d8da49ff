"""Framework integrations (installed as ``rdmetrics.integrations``). They import the core, never the reverse."""
