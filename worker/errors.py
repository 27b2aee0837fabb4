"""Every error type of the worker, in one place.

::

    CsbsWorkerError              anything the worker raises on purpose
     +-- UsageError               bad input, configuration or usage: exit 2, nothing deleted
     |    +-- PlanError            a plan entry or line is invalid (names source and line)
     |    +-- SettingsError        a setting is missing, malformed or contradictory
     |    +-- PolicyError          a retention policy is invalid
     +-- AbortError               credentials or permission refused, or the project refused: exit 3
     +-- ServiceError             the cloud kept failing where the run needed an answer: exit 1

Answers from the CSBS API are not exceptions: the client maps each one to a typed ``Answer``
(see ``worker.csbs.answers``); only the scheduler turns a fatal answer into an ``AbortError``.
"""

from __future__ import annotations


class CsbsWorkerError(Exception):
    """Base of every error the worker raises on purpose."""


class UsageError(CsbsWorkerError):
    """Bad input, configuration or usage; the run stops before any DELETE (exit 2)."""


class PlanError(UsageError):
    """An invalid plan: the message names the source and the line (or entry)."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class SettingsError(UsageError):
    """A setting is missing, malformed or contradictory."""


class PolicyError(UsageError):
    """A retention policy file is invalid or would delete everything."""


class AbortError(CsbsWorkerError):
    """The cloud refused the credentials, the permission or the project (exit 3)."""


class ServiceError(CsbsWorkerError):
    """The cloud kept failing (throttled, unavailable) where the run could not go on without an answer,
    such as the listing a retention policy needs; nothing was deleted, and a later run may succeed (exit 1)."""
