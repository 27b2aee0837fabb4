"""The Kubernetes manifests: schema-valid, and a well-behaved batch job for the worker's exit codes and timing."""

from __future__ import annotations

import re
import tempfile
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.manifests import (
    BASE,
    CBR_PROJECT,
    FLEET_SECRETS,
    MULTI_PROJECT,
    NETWORK_POLICY,
    REPO,
    SECRETS,
    Manifest,
    by_kind,
    flag_value,
    is_custom_resource,
    kube_versions,
    kubectl,
    load_documents,
    manifest_files,
    named,
    pod_spec,
    render_kubectl,
    render_simple,
    validate,
    worker_container,
)
from worker.engine.outcomes import ExitCode
from worker.metrics import DEFAULT_PUSH_TIMEOUT_S
from worker.retention.policy import parse_policy
from worker.settings import AkSkCredentials, PasswordCredentials, load_credentials, load_settings, read_config_file

needs_kubectl = pytest.mark.skipif(kubectl() is None, reason="kubectl (which ships kustomize) is not installed")

SECRET_EXAMPLES = {"csbs-worker-aksk": AkSkCredentials, "csbs-worker-password": PasswordCredentials}
PLACEHOLDER = "REPLACE-WITH-"
DAY_S = 24 * 3600


OVERLAYS = {"multi-project": MULTI_PROJECT, "cbr-project": CBR_PROJECT}


@pytest.fixture(params=["base", *OVERLAYS])
def rendered(request: pytest.FixtureRequest) -> list[Manifest]:
    """What `kubectl apply -k` would send, for the base and for each overlay (many projects, one CBR project)."""
    if request.param == "base":
        return render_simple(BASE)
    if kubectl() is None:
        pytest.skip("kubectl (which ships kustomize) is not installed: overlays need real kustomize")
    return render_kubectl(OVERLAYS[request.param])


def cronjobs_of(objects: list[Manifest]) -> list[Manifest]:
    cronjobs = by_kind(objects, "CronJob")
    assert cronjobs
    return cronjobs


def args_of(cronjob: Manifest) -> list[str]:
    args: list[str] = worker_container(cronjob)["args"]
    return args


# ---- schema ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(BASE.parent)))
def test_every_manifest_file_is_schema_valid(path: Path) -> None:
    """Each object in each manifest file passes strict validation on every supported Kubernetes version."""
    for doc in load_documents(path):
        if is_custom_resource(doc):
            continue
        for version in kube_versions():
            validate(doc, version)


def test_rendered_objects_are_schema_valid(rendered: list[Manifest]) -> None:
    """Every object a kustomization renders passes strict validation on every supported Kubernetes version."""
    assert tuple(int(part) for part in kube_versions()[-1].split(".")) >= (1, 33)  # a current release
    for obj in rendered:
        for version in kube_versions():
            validate(obj, version)


@needs_kubectl
def test_simple_renderer_matches_kustomize() -> None:
    """The tests' own renderer gives exactly what kubectl kustomize gives for the base."""
    def key(obj: Manifest) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    assert sorted(render_simple(BASE), key=key) == sorted(render_kubectl(BASE), key=key)


# ---- the CronJob as a batch job -------------------------------------------------------------------------

def test_runs_never_overlap_and_start_on_time(rendered: list[Manifest]) -> None:
    """Forbid keeps one run at a time; a starting deadline of at least 10 s and a real time zone are set."""
    for cronjob in cronjobs_of(rendered):
        spec = cronjob["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] >= 10  # the controller looks every 10 s
        zoneinfo.ZoneInfo(spec["timeZone"])


def test_retries_are_few_and_finished_jobs_are_cleaned_up(rendered: list[Manifest]) -> None:
    """A small backoffLimit, a TTL for finished Jobs and bounded histories."""
    for cronjob in cronjobs_of(rendered):
        job = cronjob["spec"]["jobTemplate"]["spec"]
        assert 0 <= job["backoffLimit"] <= 2
        assert job["ttlSecondsAfterFinished"] > 0
        assert cronjob["spec"]["successfulJobsHistoryLimit"] >= 1
        assert cronjob["spec"]["failedJobsHistoryLimit"] >= 1


def test_bad_input_and_refused_credentials_fail_the_job_at_once(rendered: list[Manifest]) -> None:
    """podFailurePolicy: disruptions ignored first, exit codes USAGE and ABORTED fail the Job; no restarts."""
    for cronjob in cronjobs_of(rendered):
        rules = cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
        assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
        fail_job = [rule["onExitCodes"] for rule in rules if rule["action"] == "FailJob"]
        assert len(fail_job) == 1
        assert fail_job[0]["operator"] == "In"
        assert fail_job[0]["values"] == [ExitCode.USAGE, ExitCode.ABORTED]
        assert fail_job[0]["containerName"] == worker_container(cronjob)["name"]
        assert pod_spec(cronjob)["restartPolicy"] == "Never"


def test_a_new_pod_starts_only_after_the_old_one_has_failed(rendered: list[Manifest]) -> None:
    """podReplacementPolicy: Failed, so that two pods of one run never delete at the same time."""
    for cronjob in cronjobs_of(rendered):
        assert cronjob["spec"]["jobTemplate"]["spec"]["podReplacementPolicy"] == "Failed"


def test_objects_carry_the_version_of_the_image_they_run(rendered: list[Manifest]) -> None:
    """app.kubernetes.io/version on the CronJob, its Jobs and its pods is pyproject's version and the image tag."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    for cronjob in cronjobs_of(rendered):
        job_template = cronjob["spec"]["jobTemplate"]
        for metadata in (cronjob["metadata"], job_template["metadata"], job_template["spec"]["template"]["metadata"]):
            assert metadata["labels"]["app.kubernetes.io/version"] == version
        assert worker_container(cronjob)["image"].endswith(f":{version}")


def test_the_worker_budget_runs_out_before_kubernetes_kills_it(rendered: list[Manifest]) -> None:
    """activeDeadlineSeconds > --deadline + --grace; terminationGracePeriodSeconds > --grace + the push timeout."""
    for cronjob in cronjobs_of(rendered):
        args = args_of(cronjob)
        deadline_s, grace_s = float(flag_value(args, "--deadline")), float(flag_value(args, "--grace"))
        assert cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > deadline_s + grace_s
        assert pod_spec(cronjob)["terminationGracePeriodSeconds"] > grace_s + DEFAULT_PUSH_TIMEOUT_S


def test_args_are_a_valid_worker_command_line(rendered: list[Manifest]) -> None:
    """The container args parse with the worker's own CLI: a delete from the policy, JSON logs, a report in /tmp."""
    from worker.cli import build_parser  # here: the CLI pulls in the whole program, the emulator included

    for cronjob in cronjobs_of(rendered):
        parsed = build_parser().parse_args(args_of(cronjob))
        assert parsed.command == "delete"
        assert (parsed.policy, parsed.config) == ("/etc/csbs-worker/policy.yaml", "/etc/csbs-worker/config.yaml")
        assert parsed.log_format == "json"
        assert parsed.report.startswith("/tmp/")
        assert not parsed.dry_run and not parsed.emulator
        assert parsed.pushgateway.startswith("http")


def test_pod_is_locked_down(rendered: list[Manifest]) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp."""
    for cronjob in cronjobs_of(rendered):
        pod = pod_spec(cronjob)["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] > 0
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        container = worker_container(cronjob)["securityContext"]
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"]["drop"] == ["ALL"]
        assert not container["capabilities"].get("add")
        assert "privileged" not in container or container["privileged"] is False


def test_no_kubernetes_api_token_is_mounted(rendered: list[Manifest]) -> None:
    """Neither the pod nor its ServiceAccount mounts an API token."""
    for cronjob in cronjobs_of(rendered):
        spec = pod_spec(cronjob)
        assert spec["automountServiceAccountToken"] is False
        account = named(rendered, "ServiceAccount", spec["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False


def test_requests_and_limits_are_set(rendered: list[Manifest]) -> None:
    """CPU and memory have requests and limits, requests not above limits."""
    for cronjob in cronjobs_of(rendered):
        resources = worker_container(cronjob)["resources"]
        for kind in ("cpu", "memory"):
            assert _quantity(resources["requests"][kind]) <= _quantity(resources["limits"][kind])


def _quantity(text: str | int) -> float:
    """A Kubernetes quantity such as 50m, 128Mi or 1 as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match and (not match[2] or match[2] in units), f"unexpected quantity {text!r}"
    return float(match[1]) * units.get(match[2], 1)


def test_tmp_is_an_empty_dir_and_the_config_map_holds_the_files_the_args_name(rendered: list[Manifest]) -> None:
    """/tmp (HOME, TMPDIR, report) is an emptyDir; --config and --policy are keys of the mounted ConfigMap."""
    for cronjob in cronjobs_of(rendered):
        volumes = {volume["name"]: volume for volume in pod_spec(cronjob)["volumes"]}
        mounts = {mount["mountPath"]: mount["name"] for mount in worker_container(cronjob)["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        config_volume = volumes[mounts["/etc/csbs-worker"]]
        config_map = named(rendered, "ConfigMap", config_volume["configMap"]["name"])
        args = args_of(cronjob)
        for flag in ("--config", "--policy"):
            assert Path(flag_value(args, flag)).name in config_map["data"]


def test_config_maps_hold_a_valid_worker_config_and_policy(rendered: list[Manifest]) -> None:
    """config.yaml loads with the worker's settings reader (known keys, no secrets); policy.yaml parses."""
    for config_map in by_kind(rendered, "ConfigMap"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "config.yaml"
            path.write_text(config_map["data"]["config.yaml"], encoding="utf-8")
            read_config_file(str(path))
        parse_policy(config_map["data"]["policy.yaml"], "policy.yaml")


def test_credentials_come_from_a_secret_in_the_documented_shape(rendered: list[Manifest]) -> None:
    """The container's only environment is one Secret via envFrom, named after one of the examples."""
    for cronjob in cronjobs_of(rendered):
        container = worker_container(cronjob)
        assert "env" not in container
        (source,) = container["envFrom"]
        assert any(source["secretRef"]["name"].startswith(name) for name in SECRET_EXAMPLES)


# ---- Secret examples ------------------------------------------------------------------------------------

def secret_examples() -> list[Manifest]:
    return [doc for path in sorted(SECRETS.glob("*.example.yaml")) for doc in load_documents(path)]


@pytest.mark.parametrize("folder", [SECRETS, FLEET_SECRETS], ids=["project", "fleet"])
def test_secret_examples_hold_only_placeholders(folder: Path) -> None:
    """Every value in the Secret examples (one project's, a fleet's users'), commented out or not, is a
    REPLACE-WITH placeholder."""
    for path in sorted(folder.glob("*.yaml")):
        assert path.name.endswith(".example.yaml")
        for doc in load_documents(path):
            assert "data" not in doc
            assert all(PLACEHOLDER in value for value in doc["stringData"].values())
        entries = re.findall(r"^\s*#?\s*[A-Z][A-Z_]+:\s*(\S+)", path.read_text(encoding="utf-8"), re.MULTILINE)
        assert entries and all(PLACEHOLDER in value for value in entries)


def test_each_secret_example_is_exactly_one_complete_sign_in_method() -> None:
    """Given to the worker as its environment, each example yields the credentials of its method."""
    examples = {doc["metadata"]["name"]: doc for doc in secret_examples()}
    assert set(examples) == set(SECRET_EXAMPLES)
    for name, doc in examples.items():
        env: dict[str, Any] = doc["stringData"]
        settings = load_settings({}, env=env)
        assert isinstance(load_credentials(settings, env=env), SECRET_EXAMPLES[name])


def test_the_base_uses_the_aksk_example_secret() -> None:
    """The base CronJob reads the Secret that aksk.example.yaml creates."""
    (cronjob,) = by_kind(render_simple(BASE), "CronJob")
    assert worker_container(cronjob)["envFrom"] == [{"secretRef": {"name": "csbs-worker-aksk"}}]


# ---- many projects --------------------------------------------------------------------------------------

@needs_kubectl
def test_the_overlay_makes_one_cronjob_per_project_with_its_own_objects() -> None:
    """Each project directory gives a CronJob with its own name, ConfigMap and ServiceAccount."""
    projects = load_documents(MULTI_PROJECT / "kustomization.yaml")[0]["resources"]
    rendered = render_kubectl(MULTI_PROJECT)
    cronjobs = by_kind(rendered, "CronJob")
    assert sorted(c["metadata"]["name"] for c in cronjobs) == sorted(f"csbs-worker-{p}" for p in projects)
    for cronjob in cronjobs:
        suffix = cronjob["metadata"]["name"].removeprefix("csbs-worker")
        spec = pod_spec(cronjob)
        assert spec["serviceAccountName"] == f"csbs-worker{suffix}"
        config_names = [v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v]
        assert config_names == [f"csbs-worker{suffix}"]
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["csbs-worker/project"] == suffix.removeprefix("-")


@needs_kubectl
def test_projects_of_one_user_never_run_at_the_same_time() -> None:
    """CronJobs that share a Secret (one IAM user, five task slots) have daily windows that do not overlap."""
    windows: dict[str, list[tuple[int, int, str]]] = {}
    for cronjob in by_kind(render_kubectl(MULTI_PROJECT), "CronJob"):
        secret = worker_container(cronjob)["envFrom"][0]["secretRef"]["name"]
        windows.setdefault(secret, []).append(_daily_window(cronjob))
    assert any(len(jobs) > 1 for jobs in windows.values()), "the example should show two projects of one user"
    for jobs in windows.values():
        jobs.sort()
        for (start, end, name), (next_start, _, next_name) in zip(jobs, jobs[1:] + jobs[:1], strict=True):
            if name != next_name:
                gap = (next_start - start) % DAY_S
                assert end - start <= gap, f"{name} can still run when {next_name} starts"


def _daily_window(cronjob: Manifest) -> tuple[int, int, str]:
    """Start (seconds after midnight) and latest end of a daily run: start + starting deadline + Job deadline."""
    match = re.fullmatch(r"(\d+) (\d+) \* \* \*", cronjob["spec"]["schedule"])
    assert match, "the overlap check understands daily schedules (M H * * *) only"
    start = int(match[2]) * 3600 + int(match[1]) * 60
    latest_end = (start + cronjob["spec"]["startingDeadlineSeconds"]
                  + cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"])
    return start, latest_end, cronjob["metadata"]["name"]


# ---- one CBR project -------------------------------------------------------------------------------------

@needs_kubectl
def test_the_cbr_overlay_runs_one_cbr_project_with_a_vault_policy() -> None:
    """The CBR overlay renders one CronJob of its own whose config says service cbr (the CBR endpoint) and
    whose policy governs the vault `default` only; both load with the worker's own readers."""
    rendered = render_kubectl(CBR_PROJECT)
    (cronjob,) = by_kind(rendered, "CronJob")
    assert cronjob["metadata"]["name"] == "csbs-worker-cbr-project"
    assert cronjob["spec"]["schedule"] != named(render_simple(BASE), "CronJob", "csbs-worker")["spec"]["schedule"]
    labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["csbs-worker/project"] == "cbr-project"
    assert worker_container(cronjob)["envFrom"] == [{"secretRef": {"name": "csbs-worker-aksk-cbr-project"}}]
    (volume,) = [v for v in pod_spec(cronjob)["volumes"] if "configMap" in v]
    data = named(rendered, "ConfigMap", volume["configMap"]["name"])["data"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(data["config.yaml"], encoding="utf-8")
        assert read_config_file(str(path))["service"][0] == "cbr"
        settings = load_settings({"config": str(path), "project_id": "0123456789abcdef0123456789abcdef"}, env={})
    assert (settings.service, settings.endpoint) == ("cbr", "https://cbr.eu-de.otc.t-systems.com")
    policy = parse_policy(data["policy.yaml"], "policy.yaml")
    assert policy.select.vault_names == frozenset({"default"})


# ---- NetworkPolicy example ------------------------------------------------------------------------------

def _network_policy() -> Manifest:
    (policy,) = load_documents(NETWORK_POLICY)
    assert isinstance(policy, dict) and policy["kind"] == "NetworkPolicy"
    return policy


def _allowed_ports(policy: Manifest) -> set[tuple[str, int]]:
    return {(port["protocol"], port["port"]) for rule in policy["spec"]["egress"] for port in rule["ports"]}


def test_network_policy_selects_every_worker_pod(rendered: list[Manifest]) -> None:
    """The example's pod selector matches the pods of every CronJob, the base's and each project's."""
    selector = _network_policy()["spec"]["podSelector"]
    assert set(selector) == {"matchLabels"}
    for cronjob in cronjobs_of(rendered):
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()


def test_network_policy_allows_only_dns_https_and_the_pushgateway() -> None:
    """No ingress at all; egress to DNS (53), HTTPS (443) and the Pushgateway port of the CronJob's URL only."""
    policy = _network_policy()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert not policy["spec"].get("ingress")
    (cronjob,) = by_kind(render_simple(BASE), "CronJob")
    gateway = urlsplit(flag_value(args_of(cronjob), "--pushgateway"))
    assert gateway.port is not None
    assert _allowed_ports(policy) == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", gateway.port)}
    for rule in policy["spec"]["egress"]:
        assert rule["to"], "a rule without `to` would allow its ports to every address"
        ports = {port["port"] for port in rule["ports"]}
        if ports == {gateway.port}:  # only the Pushgateway's pods, in the namespace of its service name
            (peer,) = rule["to"]
            namespace = (gateway.hostname or "").split(".")[1]
            assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": namespace}
            assert peer["podSelector"]["matchLabels"]
