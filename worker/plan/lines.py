"""The lines of a plan source: UTF-8 with universal newlines, streamed, a decoding fault named at its line.

A lone CR ends a line as CRLF and LF do, as in every universal-newline reader: a file saved with old Mac
line ends is read line by line, never as one long line whose later ids would become items of the first.
Bytes are decoded as they are read (a huge plan streams); bytes that are not UTF-8 are kept as escapes
(``surrogateescape``) until their line is reached, so the fault names that line and not a whole chunk.
Nothing here touches an event loop or signals: ``read_plan`` may run in a worker thread.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import IO, Final, TextIO

from worker.errors import PlanError

_ESCAPED: Final = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8
_AFTER_LONE_CR: Final = re.compile("(?<=\r)(?!\n)")


Lines = Generator[str, None, None]
"""The lines of a source; ``close()`` it when done (before its stream closes), even after an error."""


def byte_lines(name: str, stream: IO[bytes]) -> Lines:
    """The lines of a byte stream (a file, or standard input), without a leading BOM."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline=None)
    return _checked(name, text, release=text.detach)  # the caller owns the stream: stdin must stay open


def text_lines(name: str, stream: TextIO) -> Lines:
    """The lines of an already decoded stream, without a leading BOM, a lone CR ending a line too."""
    return _checked(name, _split_lone_cr(stream))


def _split_lone_cr(stream: TextIO) -> Iterator[str]:
    first = True
    for chunk in stream:  # a text stream may split on "\n" only (io.StringIO does)
        if first:
            chunk, first = chunk.removeprefix("\ufeff"), False
        if "\r" in chunk:
            yield from (piece for piece in _AFTER_LONE_CR.split(chunk) if piece)
        else:
            yield chunk


def _checked(name: str, lines: Iterable[str], release: Callable[[], object] | None = None) -> Lines:
    """The lines, each non-ASCII one checked for bytes that were not UTF-8; ``release`` is called at the end."""
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            if not line.isascii():  # O(1): the check costs nothing on the usual all-ASCII line
                _check_utf8(name, number, line)
            yield line
    except UnicodeDecodeError as error:  # a text stream given by the caller, decoded strictly
        raise PlanError(name, number + 1, f"not UTF-8 text: {error.reason}") from None
    except OSError as error:
        raise PlanError(name, number + 1, f"cannot read the plan: {error.strerror or error}") from None
    finally:
        if release is not None:
            release()


def _check_utf8(name: str, number: int, line: str) -> None:
    escaped = _ESCAPED.search(line)
    if escaped is not None:
        byte = len(line[: escaped.start()].encode("utf-8", "surrogateescape")) + 1
        raise PlanError(name, number, f"not UTF-8 text (byte {byte} of the line)")
