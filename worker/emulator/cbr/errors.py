"""Error answers as CBR and its API gateway give them (``docs/cbr-api.md``, Errors).

Code that finds a request wrong raises ``CbrError``; the middleware renders it with the scenario's
``code_form`` (point 15: ``BackupService.6200`` or the bare ``6200``) and stamps ``X-Request-Id``. The
401 "Malformed request url" has its own body shape (point 6), so an error carries its whole body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

RATE_LIMIT_PER_SECOND = 20  # the XX of "limit:XX,time:1 second"; no CBR limit is published
_PREFIXED = ("BackupService.", "CSBS.")  # what the bare form strips; gateway codes keep their prefix


class CbrError(Exception):
    """An error answer: HTTP status, ``error_code``/``error_msg`` (or a whole other body), extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.body = dict(body) if body is not None else None

    def response(self, bare_codes: bool = False) -> web.Response:
        """The JSON answer; ``bare_codes`` writes ``6200`` for ``BackupService.6200`` (as HW-DEF does)."""
        if self.body is not None:
            return web.json_response(self.body, status=self.status, headers=self.headers)
        code = self.code
        if bare_codes:
            code = next((code.removeprefix(p) for p in _PREFIXED if code.startswith(p)), code)
        return web.json_response({"error_code": code, "error_msg": self.message}, status=self.status,
                                 headers=self.headers)


def backup_not_found(backup_id: str) -> CbrError:
    """404 BackupService.6200: the backup does not exist (any more)."""
    return CbrError(404, "BackupService.6200", f"Backup {backup_id} does not exist.")


def malformed_url() -> CbrError:
    """401 with the body TF-HW maps to 404 (point 6)."""
    body = {"unauthorized": {"code": "401", "message": "Malformed request url"}}
    return CbrError(401, "401", "Malformed request url", body=body)


def vault_not_found(vault_id: str) -> CbrError:
    """404 BackupService.6105."""
    return CbrError(404, "BackupService.6105", f"Vault {vault_id} Not Found.")


def checkpoint_not_found(checkpoint_id: str) -> CbrError:
    """404 BackupService.6200 for a restore point (no own code is documented)."""
    return CbrError(404, "BackupService.6200", f"Checkpoint {checkpoint_id} does not exist.")


def being_processed(backup_id: str) -> CbrError:
    """400 CSBS.2003: the backup is being processed (a repeated DELETE)."""
    return CbrError(400, "CSBS.2003", f"The backup {backup_id} is being processed.")


def in_use(backup_id: str) -> CbrError:
    """400 BackupService.6216: in use, try again later."""
    return CbrError(400, "BackupService.6216", f"The backup {backup_id} cannot be deleted because it is in use. "
                    "Try again later.")


def conflict(backup_id: str) -> CbrError:
    """409, the generic table's conflict (no code documented)."""
    return CbrError(409, "BackupService.6216", f"The backup {backup_id} is in use.")


def cannot_delete(backup_id: str) -> CbrError:
    """400 BackupService.6201: the backup cannot be deleted (e.g. a child alone)."""
    return CbrError(400, "BackupService.6201", f"The backup {backup_id} cannot be deleted. Try again; "
                    "if it fails again, contact technical support.")


def image_backed(backup_id: str) -> CbrError:
    """400 BackupService.6204: used to create an image; delete the image first."""
    return CbrError(400, "BackupService.6204", f"The backup {backup_id} has been used to create an image. "
                    "Delete the image first.")


def locked_auto_backup(backup_id: str) -> CbrError:
    """400 BackupService.6220: an automatic backup in a locked vault before its expiry."""
    return CbrError(400, "BackupService.6220", f"Automatic backups in a locked vault cannot be manually deleted: "
                    f"{backup_id}.")


def shared_delete_failed(backup_id: str) -> CbrError:
    """400 BackupService.6711: deleting a shared backup failed."""
    return CbrError(400, "BackupService.6711", f"Shared backup {backup_id} deletion failed. Contact support.")


def vault_status_invalid(vault_id: str, status: str) -> CbrError:
    """400 BackupService.6112: the vault's status forbids it."""
    return CbrError(400, "BackupService.6112", f"Invalid vault {vault_id} status {status}. Perform the "
                    "operation in the correct status.")


def bad_parameter(reason: str) -> CbrError:
    """400 BackupService.9900: parameter verification failed."""
    return CbrError(400, "BackupService.9900", f"Parameter verification failed: {reason}")


def unauthorized(reason: str) -> CbrError:
    """401 APIGW.0301: bad token or signature."""
    return CbrError(401, "APIGW.0301", f"Incorrect IAM authentication information: {reason}")


def forbidden(reason: str) -> CbrError:
    """403: authenticated but not allowed (the docs give no code for a missing ``cbr:*`` action)."""
    return CbrError(403, "BackupService.8600", f"Access denied: {reason}")


def no_such_api() -> CbrError:
    """404 APIGW.0101: the gateway's answer for a route the API does not have; never "gone"."""
    return CbrError(404, "APIGW.0101", "The API does not exist or has not been published in the environment.")


def throttled(retry_after_s: float | None) -> CbrError:
    """429 APIG.0308; ``Retry-After`` only when given (undocumented either way)."""
    headers = {} if retry_after_s is None else {"Retry-After": _seconds_text(retry_after_s)}
    return CbrError(429, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,"
                    f"limit:{RATE_LIMIT_PER_SECOND},time:1 second", headers)


def internal_error() -> CbrError:
    """500 BackupService.9910: unknown error (transient)."""
    return CbrError(500, "BackupService.9910", "Unknown error.")


def unavailable() -> CbrError:
    """503 APIG.0201: backend timeout / unavailable."""
    return CbrError(503, "APIG.0201", "Backend timeout.")


def _seconds_text(seconds: float) -> str:
    """Whole seconds as ``"2"``; fractions kept (``"0.2"``) so fast tests can use them."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
