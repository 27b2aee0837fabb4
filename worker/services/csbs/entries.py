"""How a CSBS plan entry reads: a backup record (``checkpoint_id``) and optionally some of its backups."""

from worker.plan.schema import RECORD_ENTRIES

ENTRIES = RECORD_ENTRIES
