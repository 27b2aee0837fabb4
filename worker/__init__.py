"""csbs-worker: delete CSBS backups in bulk, safely and fast."""

__version__ = "0.1.0"
