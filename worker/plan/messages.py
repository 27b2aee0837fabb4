"""Words shared by the JSON and YAML entry checks, so both formats refuse a fault in the same terms."""

from __future__ import annotations

from typing import Final

from worker.plan.schema import EntrySchema
from worker.yamlsource import quote

PLAN_KEYS: Final = ("service", "project_id", "deletions")


_NAMED = {"records": "a {title} backup record", "backups": "a {title} backup ({key})"}


def key_problem(key: str, schema: EntrySchema, what: str) -> str:
    """The message for a key that an entry (``what``) of a plan for this service does not take."""
    owner = schema.owner_of(key) if what == "entry" else None
    if owner is not None:
        named = _NAMED[owner.shape.value].format(title=owner.title, key=key)
        return (f"this entry names {named}; {schema.title} plans name {schema.shape.value}: {schema.keys[0]}; "
                f"run it with --service {owner.service}")
    return unknown_key(key, schema.keys if what == "entry" else PLAN_KEYS, what)


def entry_key_of_any(key: str, schema: EntrySchema) -> bool:
    """True when ``key`` is an entry key of this or any known service."""
    return key in schema.keys or schema.owner_of(key) is not None


def unknown_key(key: str, allowed: tuple[str, ...], what: str) -> str:
    """The message for a key that is not one of ``allowed`` in this ``what`` (entry, plan)."""
    return f"unknown key {quote(key)} in this {what} (known keys: {', '.join(allowed)})"


def service_problem(found: str, schema: EntrySchema) -> str:
    """The message for a ``service`` that names no known service (``found`` says what it is)."""
    return f"service must be one of {', '.join(schema.names)}, found {found}"


def items_problem(found: str, *, empty: bool) -> str:
    """The message for a ``checkpoint_items`` that is empty, or not a list (``found`` says what it is)."""
    if empty:
        return (
            "checkpoint_items is empty: list at least one item id, "
            "or leave checkpoint_items out to delete the whole record"
        )
    return f"checkpoint_items must be a list of item ids, found {found}"
