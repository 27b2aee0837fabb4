"""Every error type of the worker, in one place, each with the exit code it ends a run with.

::

    CsbsWorkerError              anything the worker raises on purpose                       exit 1
     +-- UsageError               bad input, configuration or usage; nothing deleted           exit 2
     |    +-- PlanError            a plan entry or line is invalid (names source and line)
     |    +-- SettingsError        a setting is missing, malformed or contradictory
     |    +-- PolicyError          a retention policy is invalid
     +-- AbortError               credentials or permission refused, the project refused, or    exit 3
     |    |                       the endpoint serves no CSBS API
     |    +-- SigninRefusedError  the credentials themselves refused (ends all of a fleet user's targets)
     +-- ServiceError             the cloud kept failing where the run needed an answer         exit 1
          +-- UnreachableError     the cloud could not be reached before the first DELETE       exit 1

An error's class attribute ``exit_code`` is the one place that maps it to its code. Answers from the cloud
are not exceptions: the client maps each one to a typed ``Answer`` (``worker.engine.answer``).
"""

from __future__ import annotations

from typing import ClassVar

from worker.engine.outcomes import ExitCode


class CsbsWorkerError(Exception):
    """Base of every error the worker raises on purpose."""

    exit_code: ClassVar[ExitCode] = ExitCode.INCOMPLETE


class UsageError(CsbsWorkerError):
    """Bad input, configuration or usage; the run stops before any DELETE (exit 2)."""

    exit_code = ExitCode.USAGE


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
    """The cloud refused the credentials, the permission or the project, or the endpoint is not the API
    (exit 3)."""

    exit_code = ExitCode.ABORTED


class SigninRefusedError(AbortError):
    """The cloud refused the credentials themselves (a refused login, or a sign-in renewed in vain), not one
    project: every target that signs in with them is refused too (docs/fleet.md, "Trouble stays where it
    starts")."""


class ServiceError(CsbsWorkerError):
    """The cloud kept failing (throttled, unavailable) where the run could not go on without an answer,
    such as the listing a retention policy needs; nothing was deleted, and a later run may succeed (exit 1)."""


class UnreachableError(ServiceError):
    """The cloud could not be reached (or answered nothing usable) before the first DELETE (exit 1)."""

