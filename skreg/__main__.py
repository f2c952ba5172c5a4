"""``python -m skreg``: the command line (see :mod:`skreg.cli`)."""

from .cli import main

raise SystemExit(main())
