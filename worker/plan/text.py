"""The plain-text format: one entry per line, ``CHECKPOINT_ID`` or ``CHECKPOINT_ID ITEM_ID [ITEM_ID ...]``.

A CBR plan (``read_cbr_text``) has one ``BACKUP_ID`` per line; a second id on a line is refused.

``#`` starts a comment (whole line or trailing); blank lines are ignored. Streamed: the format for huge
plans, so the loop is kept tight. Ids on a line are separated by spaces or tabs; another character that
Python counts as whitespace between ids (form feed, U+2028, ...) is refused rather than read as a separator,
since a line break some editor wrote must never turn the next entries into items of this one.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from typing import Final

from worker.plan.builder import PlanBuilder
from worker.plan.ids import UUID_RE, bad_id_reason
from worker.yamlsource import quote

_SPACED_WIDTH: Final = 37  # a canonical UUID and the one space after it
# Whitespace that str.split() splits on, apart from space, tab and the line ends already handled.
_ODD_SPACE: Final = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def read_text(builder: PlanBuilder, lines: Iterable[str]) -> None:
    """Read plain-text lines into the builder; the first bad line raises ``PlanError``."""
    fullmatch, unhexlify = UUID_RE.fullmatch, binascii.unhexlify  # hot loop: local names
    odd_space = _ODD_SPACE.search
    add_whole, add_item = builder.add_whole, builder.add_item
    for number, line in enumerate(lines, 1):
        tokens = line.split("#", 1)[0].split() if "#" in line else line.split()
        if not tokens:
            continue
        first = tokens[0]
        if fullmatch(first) is None:
            raise builder.error(number, bad_id_reason(first))
        checkpoint = unhexlify(first.replace("-", ""))
        if len(tokens) == 1:
            add_whole(checkpoint, number)
            continue
        # Inline, as it runs per line: ids of 36 characters one space apart (and a line end) need no search.
        count = len(tokens)
        if len(line) - (line[-1] == "\n") != _SPACED_WIDTH * count - 1 or line.count(" ") != count - 1:
            odd = odd_space(line)
            if odd is not None:
                raise builder.error(number, _odd_space_reason(odd.group()))
        for token in tokens[1:]:
            if fullmatch(token) is None:
                raise builder.error(number, bad_id_reason(token, first.lower()))
            add_item(checkpoint, unhexlify(token.replace("-", "")), number)


def read_cbr_text(builder: PlanBuilder, lines: Iterable[str]) -> None:
    """Read the plain-text lines of a CBR plan, one backup id each; the first bad line raises ``PlanError``."""
    fullmatch, unhexlify = UUID_RE.fullmatch, binascii.unhexlify  # hot loop: local names
    add_backup = builder.add_backup
    for number, line in enumerate(lines, 1):
        tokens = line.split("#", 1)[0].split() if "#" in line else line.split()
        if not tokens:
            continue
        first = tokens[0]
        if fullmatch(first) is None:
            raise builder.error(number, bad_id_reason(first, what="backup id"))
        if len(tokens) > 1:
            odd = _ODD_SPACE.search(line)
            if odd is not None:
                raise builder.error(number, _odd_space_reason(odd.group()))
            raise builder.error(
                number,
                f"a second id {quote(tokens[1])} on this line: a CBR plan has one backup id per line "
                "(a CSBS plan lists a record and its items on one line: --service csbs)",
            )
        add_backup(unhexlify(first.replace("-", "")), None, number)


def _odd_space_reason(character: str) -> str:
    return (
        f"the character U+{ord(character):04X} separates ids on this line; separate ids with spaces or tabs, "
        "and end each entry with a line break"
    )
