"""Checkpoint, item, backup and vault ids: UUIDs in the canonical 8-4-4-4-12 form, in any case, stored as 16 bytes."""

from __future__ import annotations

import binascii
import re
from typing import Final

from worker.yamlsource import quote

UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_URN_PREFIX: Final = "urn:uuid:"


def id_bytes(text: str) -> bytes | None:
    """The 16 bytes of an id, or None when the text is not a canonical UUID."""
    if UUID_RE.fullmatch(text) is None:
        return None
    return binascii.unhexlify(text.replace("-", ""))


def bad_id_reason(text: str, checkpoint: str | None = None, *, what: str | None = None) -> str:
    """Why ``text`` is refused as a checkpoint id, or as an item id of the given checkpoint.

    ``what`` names another kind of id instead ("backup id", "vault id" of a CBR plan).
    """
    if what is None:
        what = "checkpoint id" if checkpoint is None else "item id"
    of = "" if checkpoint is None else f" of checkpoint {checkpoint}"
    if text[: len(_URN_PREFIX)].lower() == _URN_PREFIX and id_bytes(text[len(_URN_PREFIX) :]) is not None:
        return f"bad {what} {quote(text)}{of}: ids are bare UUIDs; drop the urn:uuid: prefix"
    return f"bad {what} {quote(text)}{of}: not a UUID (8-4-4-4-12 hex digits)"
