"""What the CBR face decides in the core's pipeline (``worker.emulator.core.pipeline.Door``).

A path the API does not have is the gateway's 404 APIGW.0101 before any fault or auth, as a gateway
answers; a caller is refused with 403 (a forbidden user or project) or, for another project than its
credentials' or one the emulator does not serve, 403 or the "Malformed request url" 401 (point 6); errors
come with the scenario's ``code_form`` (point 15). The ``Date`` header is aiohttp's own.
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
        """403 for a forbidden user or project; for another project than the credentials' or one not served
        here, 403 or (point 6: it may also mean a wrong project id) the "Malformed request url" 401."""
        s = self._s
        if principal.user in s.forbidden_users:
            raise errors.forbidden("this user may not use CBR")
        if project in s.forbidden_projects:
            raise errors.forbidden(f"no permission in project {project}")
        scoped_elsewhere = principal.project_id is not None and project != principal.project_id
        if scoped_elsewhere or project not in s.served_projects:
            if s.gone_answer == "401":
                raise errors.malformed_url()
            raise errors.forbidden(f"project {project} is not available to these credentials")

    def delete_target(self, request: web.Request) -> str | None:
        """The backup id in the path."""
        return request.match_info.get("backup_id")
