"""The shipped alerts: a well-formed PrometheusRule, the same rules as the plain rules file, on the metrics
the worker really pushes, and their promtool unit tests passing."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest

from tests.deploy.manifests import MONITORING, load_documents
from worker.metrics import RunMetrics, build_registry

PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
RULES_FILE = MONITORING / "csbs-worker.rules.yaml"
RULES_TESTS = MONITORING / "csbs-worker.rules.test.yaml"

# The fields of the PrometheusRule CRD (monitoring.coreos.com/v1) for a group and for a rule.
GROUP_KEYS = frozenset({"name", "interval", "rules", "limit", "partial_response_strategy", "query_offset", "labels"})
RULE_KEYS = frozenset({"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"})
DURATION = re.compile(r"([0-9]+(ms|s|m|h|d|w|y))+")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def prometheus_rule() -> dict[str, Any]:
    (rule,) = load_documents(PROMETHEUS_RULE)
    assert isinstance(rule, dict)
    return rule


def rules() -> list[dict[str, Any]]:
    return [rule for group in prometheus_rule()["spec"]["groups"] for rule in group["rules"]]


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is missing (Debian package prometheus; .ci/run installs it)")
    return binary


def test_prometheus_rule_has_the_crd_shape() -> None:
    """apiVersion/kind, a DNS name, string labels, spec.groups only; groups and rules with known fields only."""
    rule = prometheus_rule()
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert DNS_LABEL.fullmatch(rule["metadata"]["name"])
    assert all(isinstance(v, str) for v in rule["metadata"]["labels"].values())
    assert set(rule["spec"]) == {"groups"}
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert names and len(names) == len(set(names))
    for group in rule["spec"]["groups"]:
        assert set(group) <= GROUP_KEYS and group["rules"]
        for entry in group["rules"]:
            assert set(entry) <= RULE_KEYS
            assert ("alert" in entry) != ("record" in entry)
            assert isinstance(entry["expr"], str) and entry["expr"].strip()
            assert "for" not in entry or DURATION.fullmatch(entry["for"])
            for key in ("labels", "annotations"):
                assert all(isinstance(k, str) and isinstance(v, str) for k, v in entry.get(key, {}).items())


def test_prometheus_rule_and_rules_file_hold_the_same_rules() -> None:
    """The Operator's resource and the plain file (which promtool tests) cannot drift apart."""
    (plain,) = load_documents(RULES_FILE)
    assert set(plain) == {"groups"}
    assert prometheus_rule()["spec"]["groups"] == plain["groups"]


def test_rules_use_only_metrics_the_worker_pushes() -> None:
    """Every csbs_worker_* name in an expression is a series that worker.metrics builds."""
    registry = build_registry(RunMetrics(counts={}, duration_s=1.0, in_flight_at_exit=0, succeeded=True,
                                         finished_at=1.0, exit_code=0))
    pushed = {sample.name for family in registry.collect() for sample in family.samples}
    used = {name for entry in rules() for name in re.findall(r"\bcsbs_worker_\w+", entry["expr"])}
    assert used and used <= pushed, used - pushed


def test_every_alert_has_a_severity_and_a_summary() -> None:
    """What an on-call person sees: a severity to route on and a summary naming the project where there is one."""
    for entry in rules():
        assert entry["labels"]["severity"] in {"warning", "critical"}
        assert entry["annotations"]["summary"].startswith("csbs-worker: ")
        if "by (job, project" in entry["expr"]:
            assert "{{ $labels.project }}" in entry["annotations"]["summary"]


def test_alerts_fire_for_a_never_succeeded_project_and_for_exit_2_and_3() -> None:
    """The rules' promtool unit tests pass (they cover these cases), and promtool finds the file valid."""
    binary = promtool()
    for command in (["check", "rules", str(RULES_FILE)], ["test", "rules", str(RULES_TESTS)]):
        result = subprocess.run([binary, *command], capture_output=True, text=True, timeout=120, check=False,
                                cwd=MONITORING)
        assert result.returncode == 0, result.stdout + result.stderr
    tests = RULES_TESTS.read_text(encoding="utf-8")
    for case in ('project="new"', "exited 2", "exited 3"):
        assert case in tests
