"""``python -m rdmetrics`` == the ``rdmetrics`` command (see :mod:`rdmetrics.cli`)."""

from rdmetrics.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
