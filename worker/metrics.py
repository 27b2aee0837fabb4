"""Run metrics pushed to a Prometheus Pushgateway at the end of every run.

A CronJob pod lives too briefly to be scraped, so each run leaves its figures in a Pushgateway
(https://prometheus.io/docs/practices/pushing/). The series, all gauges describing the latest run
of one ``job`` and ``project``:

==============================================  =========================================================
``csbs_worker_run_tasks{outcome}``              tasks of the run per outcome; all five outcomes, 0 included
``csbs_worker_run_duration_seconds``            how long the run took
``csbs_worker_run_tasks_in_flight_at_exit``     tasks still outstanding when the worker exited (stop, deadline)
``csbs_worker_run_succeeded``                   1 when the run succeeded (exit 0), else 0
``csbs_worker_run_exit_code``                   the process exit code (only when the caller knows it)
``csbs_worker_last_run_timestamp_seconds``      unix time the run finished
``csbs_worker_last_success_timestamp_seconds``  unix time the last *successful* run finished
==============================================  =========================================================

Every push is a ``pushadd`` (HTTP POST) grouped by ``job`` and ``project`` and never by a per-run label:
the Pushgateway forgets nothing, so a per-run group would pile up forever. POST replaces only the series
named in the push, which is what keeps ``csbs_worker_last_success_timestamp_seconds`` alive across a failed
run: it is pushed only on success, so an alert such as
``time() - csbs_worker_last_success_timestamp_seconds > 2 * 86400`` fires when runs keep failing.
"""

from __future__ import annotations

import re
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import basic_auth_handler, default_handler, pushadd_to_gateway

from worker.engine.outcomes import Outcome

DEFAULT_PUSH_TIMEOUT_S = 10.0  #: seconds one push may take; a pod's grace period must leave room for it
_MAX_ERROR_CHARS = 300
_MIN_MASKED_CHARS = 3
_URL_USERINFO = re.compile(r"(\w+://)[^/\s@]*@")

Handler = Callable[..., Callable[[], None]]


@dataclass(frozen=True)
class RunMetrics:
    """What one finished run reports to Prometheus.

    Args:
        counts: tasks per outcome (the keys are ``Outcome`` values; missing outcomes count 0).
        duration_s: how long the run took, in seconds.
        in_flight_at_exit: tasks still outstanding when the worker exited.
        succeeded: whether the run succeeded (exit code 0); only then is the last-success time pushed.
        finished_at: unix time the run finished.
        exit_code: the process exit code, pushed as ``csbs_worker_run_exit_code`` when given.
    """

    counts: Mapping[str, int]
    duration_s: float
    in_flight_at_exit: int
    succeeded: bool
    finished_at: float
    exit_code: int | None = None


def build_registry(metrics: RunMetrics) -> CollectorRegistry:
    """A fresh registry holding this run's series (never the process-global one)."""
    registry = CollectorRegistry(auto_describe=True)
    tasks = Gauge("csbs_worker_run_tasks", "Tasks of the latest run per outcome.", ["outcome"],
                  registry=registry)
    for outcome, count in _all_outcomes(metrics.counts).items():
        tasks.labels(outcome=outcome).set(count)
    _gauge(registry, "csbs_worker_run_duration_seconds", "How long the latest run took.", metrics.duration_s)
    _gauge(registry, "csbs_worker_run_tasks_in_flight_at_exit",
           "Tasks still outstanding when the latest run exited.", metrics.in_flight_at_exit)
    _gauge(registry, "csbs_worker_run_succeeded", "1 when the latest run succeeded, else 0.",
           1 if metrics.succeeded else 0)
    if metrics.exit_code is not None:
        _gauge(registry, "csbs_worker_run_exit_code", "Exit code of the latest run.", metrics.exit_code)
    _gauge(registry, "csbs_worker_last_run_timestamp_seconds", "Unix time the latest run finished.",
           metrics.finished_at)
    if metrics.succeeded:
        _gauge(registry, "csbs_worker_last_success_timestamp_seconds",
               "Unix time the latest successful run finished.", metrics.finished_at)
    return registry


def push_run_metrics(
    url: str, *, job: str, project_id: str, metrics: RunMetrics, timeout_s: float = DEFAULT_PUSH_TIMEOUT_S,
    grouping: Mapping[str, str] | None = None,
) -> str | None:
    """Push one run's metrics to the Pushgateway at ``url``; None on success, else a short error message.

    Never raises: metrics must not change a run's outcome or exit code. Credentials in the URL
    (``https://user:password@host``) are sent as HTTP basic auth and never appear in the message.
    Blocking (urllib): from asyncio code, call it through ``asyncio.to_thread``. ``grouping`` adds labels to
    the group beside ``project`` (a fleet's ``target``): one group per target, replaced by its next run.
    """
    try:
        gateway, handler = _split_credentials(url)
        pushadd_to_gateway(gateway, job=job, registry=build_registry(metrics),
                           grouping_key={"project": project_id, **(grouping or {})}, timeout=timeout_s,
                           handler=handler)
    except Exception as exc:  # any failure becomes the message the caller logs
        return _redact(f"metrics push to {url} failed: {_describe(exc)}", url)
    return None


def _all_outcomes(counts: Mapping[str, int]) -> dict[str, int]:
    """Every outcome with its count, so a series at 0 replaces the previous run's value."""
    return {**{outcome.value: 0 for outcome in Outcome}, **{str(key): int(n) for key, n in counts.items()}}


def _gauge(registry: CollectorRegistry, name: str, documentation: str, value: float) -> None:
    Gauge(name, documentation, registry=registry).set(value)


def _split_credentials(url: str) -> tuple[str, Handler]:
    """The URL without its user info, and the handler that sends that user info as basic auth."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.username is None or host is None:
        return url, default_handler
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:  # raises ValueError on a bad port, as urllib would
        netloc += f":{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc))
    username, password = unquote(parts.username), unquote(parts.password or "")

    def handler(**kwargs: Any) -> Callable[[], None]:
        return basic_auth_handler(username=username, password=password, **kwargs)

    return bare, handler


def _describe(exc: Exception) -> str:
    """One line about a failed push; the gateway's own words when it answered with an error."""
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = exc.read(_MAX_ERROR_CHARS).decode("utf-8", "replace").strip()
        except Exception:  # the status alone still says enough
            body = ""
        return f"HTTP {exc.code} {exc.reason}" + (f": {body}" if body else "")
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _redact(message: str, url: str) -> str:
    """The message on one line, cut short, with the user info of any URL in it (and of ``url``) masked."""
    userinfo = _userinfo(url)
    password = userinfo.partition(":")[2]
    for secret in sorted({userinfo, unquote(userinfo), password, unquote(password)}, key=len, reverse=True):
        if len(secret) >= _MIN_MASKED_CHARS:  # shorter ones would mask ordinary words; the regex has them
            message = message.replace(secret, "***")
    message = _URL_USERINFO.sub(r"\1***@", " ".join(message.split()))
    return message if len(message) <= _MAX_ERROR_CHARS else message[: _MAX_ERROR_CHARS - 3] + "..."


def _userinfo(url: str) -> str:
    """The ``user:password`` part of a URL, found without a parser that could refuse it."""
    netloc = url.partition("://")[2].split("/", 1)[0]
    return netloc.rpartition("@")[0]
