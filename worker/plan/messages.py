"""Words shared by the JSON and YAML entry checks, so both formats refuse a fault in the same terms."""

from __future__ import annotations

from typing import Final

from worker.plan.model import SERVICES
from worker.yamlsource import quote

ENTRY_KEYS: Final = ("checkpoint_id", "checkpoint_items")  # a CSBS entry
CBR_ENTRY_KEYS: Final = ("backup_id", "vault_id")  # a CBR entry
PLAN_KEYS: Final = ("service", "project_id", "deletions")


def entry_keys(service: str) -> tuple[str, ...]:
    """The keys of an entry of a plan for this service."""
    return CBR_ENTRY_KEYS if service == "cbr" else ENTRY_KEYS


def entry_shape(service: str) -> str:
    """What an entry of a plan for this service is, for a message."""
    if service == "cbr":
        return "a mapping with backup_id (and optional vault_id)"
    return "a mapping with checkpoint_id (and optional checkpoint_items)"


def key_problem(key: str, service: str, what: str) -> str:
    """The message for a key that an entry (``what``) of a plan for this service does not take."""
    if what == "entry" and service == "cbr" and key in ENTRY_KEYS:
        return (
            "this entry names a CSBS backup record; CBR plans name backups: backup_id "
            "(a CSBS plan runs with --service csbs)"
        )
    if what == "entry" and service == "csbs" and key in CBR_ENTRY_KEYS:
        return (
            f"this entry names a CBR backup ({key}); CSBS plans name records: checkpoint_id; run it with --service cbr"
        )
    return unknown_key(key, entry_keys(service) if what == "entry" else PLAN_KEYS, what)


def unknown_key(key: str, allowed: tuple[str, ...], what: str) -> str:
    """The message for a key that is not one of ``allowed`` in this ``what`` (entry, plan)."""
    return f"unknown key {quote(key)} in this {what} (known keys: {', '.join(allowed)})"


def service_problem(found: str) -> str:
    """The message for a ``service`` that is not one of ``SERVICES`` (``found`` says what it is)."""
    return f"service must be one of {', '.join(SERVICES)}, found {found}"


def items_problem(found: str, *, empty: bool) -> str:
    """The message for a ``checkpoint_items`` that is empty, or not a list (``found`` says what it is)."""
    if empty:
        return (
            "checkpoint_items is empty: list at least one item id, "
            "or leave checkpoint_items out to delete the whole record"
        )
    return f"checkpoint_items must be a list of item ids, found {found}"
