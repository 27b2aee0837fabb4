"""The only package that speaks HTTP: the CSBS client, its sign-in methods and its typed answers."""

from worker.csbs.answers import Answer, AnswerKind, classify
from worker.csbs.auth import AkSkAuth, Authenticator, PasswordAuth, TokenAuth
from worker.csbs.client import DEFAULT_PROVIDER_ID, DEFAULT_TIMEOUT, CsbsClient

__all__ = [
    "DEFAULT_PROVIDER_ID",
    "DEFAULT_TIMEOUT",
    "AkSkAuth",
    "Answer",
    "AnswerKind",
    "Authenticator",
    "CsbsClient",
    "PasswordAuth",
    "TokenAuth",
    "classify",
]
