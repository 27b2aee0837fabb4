"""Redaction of the run's live secret values from every string the worker logs or reports.

Keys are not enough: a gateway may echo ``X-Auth-Token`` in an error body that ends up in
``request_retry.error_msg`` or a ``run_aborted`` reason (docs/design.md: secrets are never logged). So the
run knows the values themselves (SK, security token, password, static token, and every IAM token issued
during the run) and replaces them wherever they appear, whatever the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from structlog.typing import EventDict, WrappedLogger

MASK = "***"

# Shorter values are too common to look for in text (they would mask ordinary words and numbers), and none
# of the secrets can be that short: IAM passwords have at least 6 characters, keys and tokens dozens.
MIN_SECRET_LENGTH = 6


class Revealable(Protocol):
    """A wrapped secret (``worker.settings.Secret``)."""

    def reveal(self) -> str: ...


class Redactor:
    """The run's secret values, and the functions that mask them in strings, log events and reports."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | Revealable | None) -> None:
        """Remember one more secret value (e.g. an IAM token just issued); None and short values are ignored."""
        value = secret if isinstance(secret, str) or secret is None else secret.reveal()
        if value is None or len(value) < MIN_SECRET_LENGTH or value in self._secrets:
            return
        self._secrets.add(value)
        # Longest first, so a secret that contains another one is masked whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(each) for each in ordered))

    def add_env(self, env: Mapping[str, str], names: Iterable[str]) -> None:
        """Remember the values of the secret environment variables ``names`` that are set."""
        for name in names:
            self.add(env.get(name))

    def text(self, value: str) -> str:
        """``value`` with every known secret replaced by ``***``."""
        if self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def value(self, value: Any) -> Any:
        """Any logged or reported value, strings inside mappings and sequences included, redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(item) for item in value)
        return value

    def processor(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        """The structlog processor: every string of the event, whatever its key, redacted."""
        if self._pattern is None:
            return event_dict
        return {key: self.value(item) for key, item in event_dict.items()}
