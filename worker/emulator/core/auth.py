"""Who is calling: static tokens, tokens from a password sign-in, and ``SDK-HMAC-SHA256`` signatures.

Every failure is the gateway's 401 APIG.0301. Issued tokens expire after ``token_ttl_s`` of the injected
clock. An AK whose signatures fail more than ``ak_lock_failures`` times in a row is locked for
``ak_lock_s``; while locked even a correct signature is refused.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.emulator.core.errors import ApiError, bad_sign_in, unauthorized
from worker.emulator.core.scenario import AccessKey, BaseScenario, IamUser
from worker.emulator.core.signer import SDK_DATE_FORMAT, SignedAuthorization, body_hash, canonical_request, signature
from worker.emulator.core.signer import parse_authorization as parse_signed
from worker.emulator.core.timebase import TimeBase, format_iso_z


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: whose queue its deletions join and which project its credentials cover
    (None for a static token, which covers every project the emulator knows)."""

    user: str
    project_id: str | None
    token: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A token handed out by the password sign-in."""

    user: IamUser
    project_id: str
    issued_at: float
    expires_at: float


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs of a request signed with AK/SK."""

    method: str
    path: str
    query: Iterable[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes


class Authenticator:
    """Checks credentials against the scenario (either face's).

    Args:
        scenario: tokens, IAM users, AK/SK pairs, token lifetime, AK lock policy, date skew.
        timebase: the injected clock (expiry, locks) and its wall time (``X-Sdk-Date``).
        other_projects: projects besides the scenario's (served and forbidden ones) that a password
            sign-in may be scoped to (the face refuses their calls later, e.g. CSBS's disabled projects).
    """

    def __init__(self, scenario: BaseScenario, timebase: TimeBase,
                 other_projects: frozenset[str] = frozenset()) -> None:
        self._scenario = scenario
        self._time = timebase
        self._projects = scenario.served_projects | scenario.forbidden_projects | other_projects
        self._keys = {key.ak: key for key in scenario.access_keys}
        self._issued: dict[str, IssuedToken] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    # -- password sign-in ----------------------------------------------------------------------------

    def login(self, body: Any) -> tuple[str, IssuedToken]:
        """``POST /v3/auth/tokens`` with the password method, scoped to a project by id."""
        name, password, domain, project_id = _read_login(body)
        user = next((u for u in self._scenario.users if u.name == name and u.domain == domain), None)
        if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            raise unauthorized("The username or password is wrong.")
        if project_id not in self._projects:
            raise unauthorized(f"project {project_id} is not available to this user")
        now = self._time.now()
        token = "MII" + secrets.token_urlsafe(96)
        issued = IssuedToken(user, project_id, now, now + self._scenario.token_ttl_s)
        self._issued[token] = issued
        return token, issued

    def token_body(self, issued: IssuedToken, base_url: str) -> dict[str, Any]:
        """The sign-in answer's body: ``token.expires_at`` and enough of the rest to look like IAM."""
        domain = {"name": issued.user.domain, "id": issued.user.domain}
        endpoint = {"interface": "public", "region": "emulator", "url": f"{base_url}/v1/{issued.project_id}"}
        return {"token": {
            "expires_at": format_iso_z(self._time.wall(issued.expires_at)),
            "issued_at": format_iso_z(self._time.wall(issued.issued_at)),
            "methods": ["password"],
            "project": {"id": issued.project_id, "name": "emulator", "domain": domain},
            "user": {"id": issued.user.queue_user, "name": issued.user.name, "domain": domain},
            "catalog": [{"type": "data-protect", "name": "csbs", "endpoints": [endpoint]}],
            "roles": [{"name": "csbs_adm"}],
        }}

    # -- every other call ----------------------------------------------------------------------------

    def authenticate(self, request: SignedRequest, path_project: str | None) -> Principal:
        """Find the caller from ``X-Auth-Token`` or the AK/SK signature; 401 otherwise."""
        headers = request.headers
        token = headers.get("X-Auth-Token")
        if token:
            return self._by_token(token)
        authorization = headers.get("Authorization", "")
        parsed = parse_signed(authorization)
        if parsed is None:
            raise unauthorized("no token and no SDK-HMAC-SHA256 signature")
        key = self._keys.get(parsed.ak)
        if key is None:
            raise unauthorized("unknown access key")
        self._verify_with_lock(key, parsed, request)
        return Principal(key.user, headers.get("X-Project-Id") or path_project or "")

    def _by_token(self, token: str) -> Principal:
        user = self._scenario.tokens.get(token)
        if user is not None:
            return Principal(user, None, token)
        issued = self._issued.get(token)
        if issued is None:
            raise unauthorized("the token is not valid")
        if self._time.now() >= issued.expires_at:
            raise unauthorized("the token has expired")
        return Principal(issued.user.queue_user, issued.project_id, token)

    def _verify_with_lock(self, key: AccessKey, parsed: SignedAuthorization, request: SignedRequest) -> None:
        now = self._time.now()
        if now < self._locked_until.get(key.ak, float("-inf")):
            raise unauthorized("the access key is locked after repeated failures; retry later")
        try:
            self._verify(key, parsed, request)
        except ApiError:
            failures = self._failures.get(key.ak, 0) + 1
            self._failures[key.ak] = failures
            if failures > self._scenario.ak_lock_failures:
                self._locked_until[key.ak] = now + self._scenario.ak_lock_s
                self._failures[key.ak] = 0
            raise
        self._failures[key.ak] = 0

    def _verify(self, key: AccessKey, parsed: SignedAuthorization, request: SignedRequest) -> None:
        headers = request.headers
        self._check_date(headers.get("X-Sdk-Date"))
        sent_security_token = headers.get("X-Security-Token")
        if sent_security_token != key.security_token and (sent_security_token or key.security_token):
            raise unauthorized("security token missing or not matching the temporary credentials")
        missing = [name for name in parsed.signed_headers if name not in headers]
        if missing:
            raise unauthorized(f"signed header(s) not sent: {', '.join(missing)}")
        content_hash = headers.get("X-Sdk-Content-Sha256") or body_hash(request.body)
        canonical = canonical_request(request.method, request.path, request.query,
                                      {name: headers[name] for name in parsed.signed_headers},
                                      parsed.signed_headers, content_hash)
        expected = signature(key.sk, headers["X-Sdk-Date"], canonical)
        if not hmac.compare_digest(expected, parsed.signature):
            raise unauthorized("the signature does not match")

    def _check_date(self, text: str | None) -> None:
        if not text:
            raise unauthorized("X-Sdk-Date is missing")
        try:
            sent = datetime.strptime(text, SDK_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise unauthorized("X-Sdk-Date is not YYYYMMDDTHHMMSSZ") from None
        if abs((self._time.wall() - sent).total_seconds()) > self._scenario.sdk_date_skew_s:
            raise unauthorized("X-Sdk-Date is too far from the server's time")


def _read_login(body: Any) -> tuple[str, str, str, str]:
    """(name, password, domain, project id) of a password sign-in body; 400 if it has another shape."""
    try:
        auth = body["auth"]
        if "password" not in auth["identity"]["methods"]:
            raise bad_sign_in("only the password method is supported")
        user = auth["identity"]["password"]["user"]
        values = (user["name"], user["password"], user["domain"]["name"], auth["scope"]["project"]["id"])
    except (KeyError, TypeError):
        raise bad_sign_in("expected auth.identity.password.user{name,password,domain.name} "
                                   "and auth.scope.project.id") from None
    if not all(isinstance(v, str) for v in values):
        raise bad_sign_in("sign-in fields must be strings")
    return values
