"""What the CSBS face decides in the core's pipeline (``worker.emulator.core.pipeline.Door``).

The scenario may play a wrong endpoint (``gateway_404``: every route answers the gateway's 404); a caller
is refused with 403 (forbidden token or user, another project than its credentials', a forbidden project,
or one the emulator does not serve) or 400 BackupService.4008 (a disabled project); errors come in the
scenario's ``error_shape``, with the request id in the body if ``request_id_in_body``; every answer
carries the emulator's ``Date``.
"""

from __future__ import annotations

from aiohttp import web

from worker.emulator.core.auth import Principal
from worker.emulator.core.errors import ApiError, ErrorStyle, FaceErrors
from worker.emulator.csbs import errors
from worker.emulator.csbs.scenario import Scenario


class CsbsDoor:
    """The CSBS readings of the pipeline's questions, for one scenario."""

    title = "CSBS"
    stamps_date = True

    def __init__(self, scenario: Scenario) -> None:
        self._s = scenario
        self.style = ErrorStyle(shape=scenario.error_shape, request_id_in_body=scenario.request_id_in_body)

    @property
    def errors(self) -> FaceErrors:
        """The answers of ``docs/csbs-api.md`` (Errors)."""
        return errors

    def gateway(self, route: str) -> ApiError | None:
        """Every route of a wrong endpoint is the gateway's 404; a path CSBS lacks is found after auth."""
        return errors.gateway_not_found(self._s.gateway_404) if self._s.gateway_404 != "none" else None

    def admit(self, principal: Principal, project: str | None) -> None:
        """403 for a forbidden token or user, a project other than the credentials', a forbidden one or one
        not served here; 400 BackupService.4008 for a disabled project."""
        s = self._s
        if principal.user in s.forbidden_users or (principal.token or "") in s.forbidden_tokens:
            raise errors.forbidden("this user may not use CSBS")
        if project is None:
            return
        if principal.project_id is not None and project != principal.project_id:
            raise errors.forbidden(f"the credentials are scoped to another project than {project}")
        if project in s.disabled_projects:
            raise errors.project_disabled()
        if project in s.forbidden_projects or project not in s.served_projects:
            raise errors.forbidden(f"project {project} is not available")

    def delete_target(self, request: web.Request) -> str | None:
        """The backup id of ``?checkpoint_items``, else the record id."""
        return request.query.get("checkpoint_items") or request.match_info["checkpoint_id"]
