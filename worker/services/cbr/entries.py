"""How a CBR plan entry reads: one backup (``backup_id``) and optionally the vault it must be in."""

from worker.plan.schema import EntrySchema, Shape

ENTRIES = EntrySchema("cbr", Shape.BACKUPS, ("backup_id", "vault_id"))
