"""What the CBR face decides in the core's pipeline (``worker.emulator.core.pipeline.Door``).

A path the API does not have is the gateway's 404 APIGW.0101 before any fault or auth, as a gateway
answers; a caller is refused with 403 (a forbidden user) or, for another project than its credentials'
or the emulator's, 403 or the "Malformed request url" 401 (point 6); errors come with the scenario's
``code_form`` (point 15). The ``Date`` header is aiohttp's own.
"""

from __future__ import annotations

from aiohttp import web

from worker.emulator.cbr import errors
from worker.emulator.cbr.scenario import CbrScenario
from worker.emulator.core.auth import Principal
from worker.emulator.core.errors import ApiError, ErrorStyle, FaceErrors


class CbrDoor:
    """The CBR readings of the pipeline's questions, for one scenario."""

    title = "CBR"
    stamps_date = False

    def __init__(self, scenario: CbrScenario) -> None:
        self._s = scenario
        self.style = ErrorStyle(bare_prefixes=errors.BARE_PREFIXES if scenario.code_form == "bare" else ())

    @property
    def errors(self) -> FaceErrors:
        """The answers of ``docs/cbr-api.md`` (Errors)."""
        return errors

    def gateway(self, route: str) -> ApiError | None:
        """A path the API does not have: 404 APIGW.0101, before faults and auth."""
        return errors.no_such_api() if route == "other" else None

    def admit(self, principal: Principal, project: str | None) -> None:
        """403 for a forbidden user; for another project than the credentials' or the emulator's, 403 or
        (point 6: it may also mean a wrong project id) the "Malformed request url" 401."""
        if principal.user in self._s.forbidden_users:
            raise errors.forbidden("this user may not use CBR")
        if project != principal.project_id or project != self._s.project_id:
            if self._s.gone_answer == "401":
                raise errors.malformed_url()
            raise errors.forbidden(f"project {project} is not available to these credentials")

    def delete_target(self, request: web.Request) -> str | None:
        """The backup id in the path."""
        return request.match_info.get("backup_id")
