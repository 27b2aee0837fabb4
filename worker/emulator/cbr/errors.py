"""Error answers as CBR and its API gateway give them (``docs/cbr-api.md``, Errors).

Code that finds a request wrong raises one of these (``worker.emulator.core.errors.ApiError``); the
pipeline writes it with the scenario's ``code_form`` (point 15: ``BackupService.6200`` or the bare
``6200``, ``BARE_PREFIXES``) and stamps ``X-Request-Id``. The 401 "Malformed request url" has its own body
shape (point 6), so that error carries its whole body. Together they are this face's ``FaceErrors``.
"""

from __future__ import annotations

from worker.emulator.core.errors import ApiError, ErrorCode, seconds_text

RATE_LIMIT_PER_SECOND = 20  # the XX of "limit:XX,time:1 second"; no CBR limit is published
BARE_PREFIXES = ("BackupService.", "CSBS.")  # what the bare form strips; gateway codes keep their prefix


# -- the caller ----------------------------------------------------------------------------------------------

unauthorized = ErrorCode(401, "APIGW.0301", "Incorrect IAM authentication information: {}")
"""401 APIGW.0301: bad token or signature (a fault's; the sign-in and signature checks answer the core's)."""
forbidden = ErrorCode(403, "BackupService.8600", "Access denied: {}")
"""403: authenticated but not allowed (the docs give no code for a missing ``cbr:*`` action)."""

# -- what is not (any more) there ----------------------------------------------------------------------------

backup_not_found = ErrorCode(404, "BackupService.6200", "Backup {} does not exist.")
"""404 BackupService.6200: the backup does not exist (any more)."""
vault_not_found = ErrorCode(404, "BackupService.6105", "Vault {} Not Found.")
"""404 BackupService.6105."""
checkpoint_not_found = ErrorCode(404, "BackupService.6200", "Checkpoint {} does not exist.")
"""404 BackupService.6200 for a restore point (no own code is documented)."""


def malformed_url() -> ApiError:
    """401 with the body TF-HW maps to 404 (point 6)."""
    body = {"unauthorized": {"code": "401", "message": "Malformed request url"}}
    return ApiError(401, "401", "Malformed request url", body=body)


no_such_api = ErrorCode(404, "APIGW.0101", "The API does not exist or has not been published in the environment.")
"""404 APIGW.0101: the gateway's answer for a route the API does not have; never "gone"."""


def gateway_not_found(flavour: str) -> ApiError:
    """What a ``404-<flavour>`` fault would answer: CBR's fault kinds have none (``scenario.FAULT_KINDS``),
    and its gateway has one 404 whatever the flavour."""
    return no_such_api()


# -- the request ---------------------------------------------------------------------------------------------

bad_parameter = ErrorCode(400, "BackupService.9900", "Parameter verification failed: {}")
"""400 BackupService.9900: parameter verification failed."""

# -- a DELETE refused (rules.py) -----------------------------------------------------------------------------

being_processed = ErrorCode(400, "CSBS.2003", "The backup {} is being processed.")
"""400 CSBS.2003: the backup is being processed (a repeated DELETE)."""
in_use = ErrorCode(400, "BackupService.6216", "The backup {} cannot be deleted because it is in use. Try again later.")
"""400 BackupService.6216: in use, try again later."""
conflict = ErrorCode(409, "BackupService.6216", "The backup {} is in use.")
"""409, the generic table's conflict (no code documented)."""
cannot_delete = ErrorCode(400, "BackupService.6201", "The backup {} cannot be deleted. Try again; if it fails again, "
                          "contact technical support.")
"""400 BackupService.6201: the backup cannot be deleted (e.g. a child alone)."""
image_backed = ErrorCode(400, "BackupService.6204", "The backup {} has been used to create an image. Delete the "
                         "image first.")
"""400 BackupService.6204: used to create an image; delete the image first."""
locked_auto_backup = ErrorCode(400, "BackupService.6220", "Automatic backups in a locked vault cannot be manually "
                               "deleted: {}.")
"""400 BackupService.6220: an automatic backup in a locked vault before its expiry."""
shared_delete_failed = ErrorCode(400, "BackupService.6711", "Shared backup {} deletion failed. Contact support.")
"""400 BackupService.6711: deleting a shared backup failed."""
vault_status_invalid = ErrorCode(400, "BackupService.6112", "Invalid vault {} status {}. Perform the operation in "
                                 "the correct status.")
"""400 BackupService.6112: the vault's status forbids it (vault id, status)."""

# -- transient -----------------------------------------------------------------------------------------------

internal_error = ErrorCode(500, "BackupService.9910", "Unknown error.")
"""500 BackupService.9910: unknown error (transient)."""
unavailable = ErrorCode(503, "APIG.0201", "Backend timeout.")
"""503 APIG.0201: backend timeout / unavailable."""


def throttled(retry_after_s: float | None) -> ApiError:
    """429 APIG.0308; ``Retry-After`` only when given (undocumented either way)."""
    headers = {} if retry_after_s is None else {"Retry-After": seconds_text(retry_after_s)}
    return ApiError(429, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,"
                    f"limit:{RATE_LIMIT_PER_SECOND},time:1 second", headers)
