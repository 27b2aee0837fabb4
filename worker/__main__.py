"""``python -m worker`` is the same program as ``csbs-worker``."""

from worker.cli import main

raise SystemExit(main())
