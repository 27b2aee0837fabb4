"""No secret (secret key, password, token, security token) shows in a repr, an answer or a log event."""

from __future__ import annotations

import yarl
from structlog.testing import capture_logs

from tests.csbs.conftest import PROJECT, TOKEN, FakeClock, make_client, scenario, served, wall_anchor
from tests.csbs.test_auth import AK, ALICE, SECURITY_TOKEN, SK, password_auth
from worker.cloud.auth import AkSkAuth, Authenticator, TokenAuth
from worker.emulator import AccessKey, Emulator, FaultRule
from worker.engine.answer import AnswerKind


def test_reprs_mask_every_secret():
    """The authenticators and the client show their kind and ids, never a secret."""
    auths: list[Authenticator] = [
        TokenAuth(TOKEN),
        password_auth("https://iam.example.com"),
        AkSkAuth(AK, SK, PROJECT, security_token=SECURITY_TOKEN),
    ]
    client = make_client("http://127.0.0.1:1", auths[1])
    shown = " ".join([*map(repr, auths), *map(str, auths), repr(client)])
    for secret in (TOKEN, ALICE.password, SK, SECURITY_TOKEN):
        assert secret not in shown
    assert "***" in shown and PROJECT in shown


async def test_no_secret_in_answers_or_logs_of_a_whole_run():
    """Logins, renewals, failed logins and signed calls leave no secret in answers, reprs or log events."""
    clock, wall0 = FakeClock(), wall_anchor()
    faults = (FaultRule("auth", "503", after=2, times=1),)
    fields = {"users": (ALICE,), "access_keys": (AccessKey(AK, SK, security_token=SECURITY_TOKEN),)}
    emulator = Emulator(
        scenario(token_ttl_s=600.0, faults=faults, **fields), seed=1, clock=clock, wall_clock=lambda: wall0
    )
    seen: list[str] = []
    async with served(emulator) as (_, url):
        password = password_auth(url, lambda: wall0)
        with capture_logs() as logs:
            async with make_client(url, password) as client:
                seen += map(str, [await client.count_items()])
                issued = await password.headers(client.transport.session, "GET", yarl.URL(url), b"")
                clock.advance(700.0)  # the cloud now refuses the token: renewal, then a refused one
                seen += map(str, [await client.count_items()])
                renewed = await password.headers(client.transport.session, "GET", yarl.URL(url), b"")
                clock.advance(700.0)
                refused = await client.count_items()
                seen += [str(refused), repr(password), repr(client)]
            async with make_client(url, AkSkAuth(AK, SK, PROJECT, SECURITY_TOKEN)) as signed:
                seen += map(str, [await signed.count_items(), await signed.get_item("missing")])
            async with make_client(url, AkSkAuth(AK, "wrong-secret-key", PROJECT, SECURITY_TOKEN)) as wrong:
                seen += [str(await wrong.count_items())]
    assert isinstance(issued, dict) and isinstance(renewed, dict)
    assert issued != renewed
    assert refused.kind is AnswerKind.TRANSIENT  # the renewal met IAM's 503: retried later
    events = {log["event"] for log in logs}
    assert {"auth_token_renewed", "auth_login_failed"} <= events
    text = "\n".join(seen + [repr(log) for log in logs])
    for secret in (
        ALICE.password,
        issued["X-Auth-Token"],
        renewed["X-Auth-Token"],
        SK,
        "wrong-secret-key",
        SECURITY_TOKEN,
    ):
        assert secret not in text
