"""The CBR client, its table of answers, and the reading of one backup for a deletion."""

from worker.cbr.answers import busy_limit, classify, is_malformed_url
from worker.cbr.client import DEFAULT_TIMEOUT, CbrClient
from worker.cbr.observe import CbrSeen, CbrSighting, LogVerdict, parse_time, read_answer, read_backup, read_delete_log

__all__ = [
    "DEFAULT_TIMEOUT",
    "CbrClient",
    "CbrSeen",
    "CbrSighting",
    "LogVerdict",
    "busy_limit",
    "classify",
    "is_malformed_url",
    "parse_time",
    "read_answer",
    "read_backup",
    "read_delete_log",
]
