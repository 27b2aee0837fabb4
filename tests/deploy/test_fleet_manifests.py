"""The fleet's manifests (deploy/kubernetes/fleet): an Indexed Job with one index per user of the fleet file in
its ConfigMap, and the per-user layout, one CronJob per user whose pod holds only that user's Secret. Both
run the base CronJob's pod with the fleet command; these tests hold them to the fleet file, to the base and
to the Kubernetes versions they claim."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    BASE,
    FLEET,
    FLEET_OLDEST_VERSION,
    FLEET_PER_USER,
    FLEET_SECRETS,
    NETWORK_POLICY,
    OLDEST_VERSION,
    Manifest,
    by_kind,
    flag_value,
    kube_versions,
    kubectl,
    load_documents,
    named,
    pod_spec,
    render_kubectl,
    render_simple,
    validate,
    worker_container,
)
from worker.engine.outcomes import ExitCode
from worker.errors import SettingsError
from worker.fleet import load_fleet
from worker.settings import load_settings

pytestmark = pytest.mark.skipif(kubectl() is None, reason="kubectl (which ships kustomize) is not installed")

CONFIG_DIR = "/etc/csbs-worker"  # where the base mounts its ConfigMap, and so the fleet's files
INDEX = "$(JOB_COMPLETION_INDEX)"  # expanded by Kubernetes from the variable the Job controller sets
PLACEHOLDER = "REPLACE-WITH-"


@pytest.fixture(scope="module")
def indexed() -> list[Manifest]:
    """What `kubectl apply -k deploy/kubernetes/fleet` sends."""
    return render_kubectl(FLEET)


@pytest.fixture(scope="module")
def per_user() -> list[Manifest]:
    """What `kubectl apply -k deploy/kubernetes/fleet/per-user` sends."""
    return render_kubectl(FLEET_PER_USER)


@pytest.fixture(scope="module")
def base_cronjob() -> Manifest:
    (cronjob,) = by_kind(render_simple(BASE), "CronJob")
    return cronjob


def the_cronjob(objects: list[Manifest]) -> Manifest:
    (cronjob,) = by_kind(objects, "CronJob")
    return cronjob


def job_spec(cronjob: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]
    return spec


def args_of(cronjob: Manifest) -> list[str]:
    args: list[str] = worker_container(cronjob)["args"]
    return args


def mounted_files(objects: list[Manifest], cronjob: Manifest) -> dict[str, str]:
    """The files the CronJob's pod finds under CONFIG_DIR: the data of the ConfigMap it mounts there."""
    volumes = {volume["name"]: volume for volume in pod_spec(cronjob)["volumes"]}
    (mount,) = [m for m in worker_container(cronjob)["volumeMounts"] if m["mountPath"] == CONFIG_DIR]
    data: dict[str, str] = named(objects, "ConfigMap", volumes[mount["name"]]["configMap"]["name"])["data"]
    return data


def users_of(objects: list[Manifest], cronjob: Manifest) -> list[dict[str, Any]]:
    """The users of the fleet file the CronJob runs, in index order."""
    fleet_path = Path(args_of(cronjob)[1])
    assert fleet_path.parent == Path(CONFIG_DIR)
    users: list[dict[str, Any]] = yaml.safe_load(mounted_files(objects, cronjob)[fleet_path.name])["users"]
    return users


def secret_name(user: dict[str, Any]) -> str:
    """The Secret each layout reads for a user (created by hand from FLEET_SECRETS' examples)."""
    return f"csbs-worker-{user['name']}"


def secret_examples() -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for path in sorted(FLEET_SECRETS.glob("*.yaml"))
            for doc in load_documents(path)}


def fleet_command(cronjob: Manifest, who: list[str]) -> None:
    """The container runs `fleet FLEET_FILE <the base's time budget, report and Pushgateway> <who>`."""
    args = args_of(cronjob)
    assert args[0] == "fleet" and args[1] == f"{CONFIG_DIR}/fleet.yaml"
    assert args[-len(who):] == who


# ---- schema and Kubernetes versions ----------------------------------------------------------------------

def test_the_indexed_job_is_schema_valid_from_1_33(indexed: list[Manifest]) -> None:
    """Every object validates strictly on every version from the Indexed Job's claimed minimum on."""
    assert FLEET_OLDEST_VERSION == "1.33"  # backoffLimitPerIndex, maxFailedIndexes and FailIndex are GA from 1.33
    versions = kube_versions(FLEET_OLDEST_VERSION)
    assert versions[0] == FLEET_OLDEST_VERSION
    for obj in indexed:
        for version in versions:
            validate(obj, version)


def test_the_per_user_layout_is_schema_valid_from_the_bases_minimum(per_user: list[Manifest]) -> None:
    """One CronJob per user uses no Indexed Job feature: it claims the base's minimum, 1.31, and validates there."""
    versions = kube_versions()
    assert versions[0] == OLDEST_VERSION
    for obj in per_user:
        for version in versions:
            validate(obj, version)
    for cronjob in by_kind(per_user, "CronJob"):
        job = job_spec(cronjob)
        assert not {"completionMode", "backoffLimitPerIndex", "maxFailedIndexes"} & set(job)


def test_each_kustomization_states_the_minimum_version_the_tests_check() -> None:
    """The comments that tell an operator the minimum say the versions validated above."""
    assert f"Kubernetes {FLEET_OLDEST_VERSION} or later" in (FLEET / "kustomization.yaml").read_text(encoding="utf-8")
    assert f"Kubernetes {OLDEST_VERSION} or later" in (FLEET_PER_USER / "kustomization.yaml").read_text(
        encoding="utf-8")


# ---- the Indexed Job ----------------------------------------------------------------------------------------

def test_one_index_per_user_all_at_once(indexed: list[Manifest]) -> None:
    """completions = parallelism = the users of the fleet file in the ConfigMap; a failed user stops no other."""
    cronjob = the_cronjob(indexed)
    job = job_spec(cronjob)
    users = len(users_of(indexed, cronjob))
    assert users >= 2, "the example should show a fleet of several users"
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == users
    assert job["maxFailedIndexes"] == users  # never exceeded: no user's failure terminates the others' runs
    assert 0 <= job["backoffLimitPerIndex"] <= 2
    assert "backoffLimit" not in job  # a Job-wide count would add up the users' failures


def test_exit_2_and_3_fail_that_users_index_and_disruptions_are_ignored(indexed: list[Manifest]) -> None:
    """podFailurePolicy: DisruptionTarget ignored first; exit USAGE and ABORTED fail the index at once, not the Job."""
    cronjob = the_cronjob(indexed)
    rules = job_spec(cronjob)["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert [rule["action"] for rule in rules] == ["Ignore", "FailIndex"]
    exit_codes = rules[1]["onExitCodes"]
    assert exit_codes == {"containerName": worker_container(cronjob)["name"], "operator": "In",
                          "values": [ExitCode.USAGE, ExitCode.ABORTED]}
    assert pod_spec(cronjob)["restartPolicy"] == "Never"


def test_both_layouts_replace_a_pod_only_once_it_has_failed_and_never_overlap(
        indexed: list[Manifest], per_user: list[Manifest]) -> None:
    """podReplacementPolicy Failed (two pods of one user would split its five slots) and concurrencyPolicy Forbid."""
    for cronjob in by_kind(indexed, "CronJob") + by_kind(per_user, "CronJob"):
        assert job_spec(cronjob)["podReplacementPolicy"] == "Failed"
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_each_index_runs_the_user_at_its_index(indexed: list[Manifest]) -> None:
    """The args end with `--shard $(JOB_COMPLETION_INDEX)`, left for Kubernetes to expand: nothing of ours
    defines that variable (the Job controller adds it to each pod of an Indexed Job)."""
    cronjob = the_cronjob(indexed)
    fleet_command(cronjob, ["--shard", INDEX])
    container = worker_container(cronjob)
    assert "env" not in container
    assert all(not source["prefix"].startswith("JOB_") for source in container["envFrom"])


def test_every_users_secret_is_mounted_with_its_env_prefix(indexed: list[Manifest]) -> None:
    """envFrom holds, in index order, each user's Secret with the user's env_prefix; each optional, so that a
    missing Secret fails only its own user (exit 2) instead of keeping every pod from starting."""
    cronjob = the_cronjob(indexed)
    users = users_of(indexed, cronjob)
    expected = [{"prefix": user["env_prefix"], "secretRef": {"name": secret_name(user), "optional": True}}
                for user in users]
    assert worker_container(cronjob)["envFrom"] == expected


# ---- one CronJob per user -----------------------------------------------------------------------------------

def test_one_cronjob_per_user_with_only_its_own_secret(per_user: list[Manifest]) -> None:
    """Per user of the fleet file: a CronJob of its own running `--user NAME`, whose pod gets that user's Secret
    (with its env_prefix) and no other; every CronJob reads the same fleet file."""
    cronjobs = {c["metadata"]["name"]: c for c in by_kind(per_user, "CronJob")}
    users = users_of(per_user, next(iter(cronjobs.values())))
    assert sorted(cronjobs) == sorted(f"csbs-worker-fleet-{user['name']}" for user in users)
    for user in users:
        cronjob = cronjobs[f"csbs-worker-fleet-{user['name']}"]
        assert users_of(per_user, cronjob) == users  # every CronJob reads the same fleet file
        fleet_command(cronjob, ["--user", user["name"]])
        container = worker_container(cronjob)
        assert container["envFrom"] == [{"prefix": user["env_prefix"], "secretRef": {"name": secret_name(user)}}]
        assert "env" not in container
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["csbs-worker/fleet-user"] == user["name"]
        assert pod_spec(cronjob)["serviceAccountName"] == cronjob["metadata"]["name"]


def test_both_layouts_read_the_same_fleet_files(indexed: list[Manifest], per_user: list[Manifest]) -> None:
    """One fleet file (with its policies and plans) serves both layouts."""
    files = mounted_files(indexed, the_cronjob(indexed))
    for cronjob in by_kind(per_user, "CronJob"):
        assert mounted_files(per_user, cronjob) == files


# ---- the base's pod ---------------------------------------------------------------------------------------

def _pod_without_fleet_parts(cronjob: Manifest) -> dict[str, Any]:
    """The pod spec less what a fleet layout sets: the args, envFrom and the names that carry a suffix."""
    pod = copy.deepcopy(pod_spec(cronjob))
    (container,) = pod["containers"]
    del container["args"], container["envFrom"], pod["serviceAccountName"]
    for volume in pod["volumes"]:
        volume.get("configMap", {}).pop("name", None)
    return pod


def test_the_pods_are_the_base_pod(indexed: list[Manifest], per_user: list[Manifest],
                                   base_cronjob: Manifest) -> None:
    """Security contexts, image, resources, mounts, no API token, grace period: exactly the base CronJob's pod;
    and the schedule and Job time limits are the base's too."""
    base_spec = {key: value for key, value in base_cronjob["spec"].items() if key != "jobTemplate"}
    base_job = job_spec(base_cronjob)
    for objects in (indexed, per_user):
        for cronjob in by_kind(objects, "CronJob"):
            assert _pod_without_fleet_parts(cronjob) == _pod_without_fleet_parts(base_cronjob)
            assert {key: value for key, value in cronjob["spec"].items() if key != "jobTemplate"} == base_spec
            for key in ("activeDeadlineSeconds", "ttlSecondsAfterFinished"):
                assert job_spec(cronjob)[key] == base_job[key]
            account = named(objects, "ServiceAccount", pod_spec(cronjob)["serviceAccountName"])
            assert account["automountServiceAccountToken"] is False
    for cronjob in by_kind(per_user, "CronJob"):  # one user per Job: the base's retries and failure policy
        assert {k: v for k, v in job_spec(cronjob).items() if k != "template"} == {
            k: v for k, v in base_job.items() if k != "template"}


def test_time_budget_report_and_pushgateway_are_the_bases(indexed: list[Manifest], per_user: list[Manifest],
                                                          base_cronjob: Manifest) -> None:
    """--deadline and --grace (which the base's Job and grace period are sized for), the report in /tmp, JSON
    logs and the Pushgateway are the base's."""
    for cronjob in by_kind(indexed, "CronJob") + by_kind(per_user, "CronJob"):
        for flag in ("--deadline", "--grace", "--report", "--log-format", "--pushgateway"):
            assert flag_value(args_of(cronjob), flag) == flag_value(args_of(base_cronjob), flag)


def test_the_network_policy_selects_the_fleet_pods(indexed: list[Manifest], per_user: list[Manifest]) -> None:
    """The example NetworkPolicy (DNS, HTTPS, the Pushgateway) applies to the fleet's pods as to the base's."""
    (policy,) = load_documents(NETWORK_POLICY)
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for cronjob in by_kind(indexed, "CronJob") + by_kind(per_user, "CronJob"):
        assert selector.items() <= cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].items()


def test_the_args_are_a_valid_fleet_command_line(indexed: list[Manifest], per_user: list[Manifest]) -> None:
    """Expanded as Kubernetes would (here for index 1), the args parse with the worker's own CLI: the fleet file
    in the ConfigMap, JSON logs, a report in /tmp, a real run, and `--shard` or `--user`."""
    from worker.cli import build_parser  # here: the CLI pulls in the whole program

    parser = build_parser(with_emulator=False)
    for cronjob in by_kind(indexed, "CronJob") + by_kind(per_user, "CronJob"):
        parsed = parser.parse_args([arg.replace(INDEX, "1") for arg in args_of(cronjob)])
        assert (parsed.command, parsed.fleet_file) == ("fleet", f"{CONFIG_DIR}/fleet.yaml")
        assert parsed.log_format == "json" and parsed.report.startswith("/tmp/")
        assert not parsed.dry_run and not parsed.emulator
        assert (parsed.shard, parsed.user) == ((1, None) if cronjob in indexed else (None, args_of(cronjob)[-1]))


# ---- the fleet file and the Secrets --------------------------------------------------------------------------

def _write_mount(files: dict[str, str], folder: Path) -> str:
    """The ConfigMap's files in a folder, as the pod sees them under CONFIG_DIR; the fleet file's path."""
    for name, text in files.items():
        assert "/" not in name  # a ConfigMap key is a bare file name
        (folder / name).write_text(text, encoding="utf-8")
    return str(folder / "fleet.yaml")


def _user_environment(indexed: list[Manifest], user: dict[str, Any]) -> dict[str, str]:
    """The variables an Indexed pod gets from the user's Secret (its example), through envFrom and its prefix."""
    sources = worker_container(the_cronjob(indexed))["envFrom"]
    (source,) = [s for s in sources if s["secretRef"]["name"] == secret_name(user)]
    keys: dict[str, str] = secret_examples()[secret_name(user)]["stringData"]
    return {source["prefix"] + key: value for key, value in keys.items()}


def test_every_pod_of_the_indexed_job_loads_the_whole_fleet(indexed: list[Manifest], tmp_path: Path) -> None:
    """The worker's own loader reads the fleet file from the ConfigMap (every plan and policy beside it) and
    signs every user in from the variables an Indexed pod holds; it counts as many users as the Job has indexes."""
    cronjob = the_cronjob(indexed)
    path = _write_mount(mounted_files(indexed, cronjob), tmp_path)
    users = users_of(indexed, cronjob)
    environment = {name: value for user in users for name, value in _user_environment(indexed, user).items()}
    fleet = load_fleet(path, load_settings({}, env={}), environment)
    assert fleet.user_count == job_spec(cronjob)["completions"] == len(fleet.users)
    assert [user.name for user in fleet.users] == [user["name"] for user in users]
    assert all(target.settings.credentials is not None for user in fleet.users for target in user.targets)


def test_each_shard_and_each_user_needs_only_its_own_secret(indexed: list[Manifest], tmp_path: Path) -> None:
    """`--shard N` and `--user NAME` load with nothing but that user's Secret: the per-user pods are complete.
    Without it the run stops before sending anything (exit 2, naming the variables, never a value), which is
    what an Indexed pod whose optional Secret is missing does."""
    path = _write_mount(mounted_files(indexed, the_cronjob(indexed)), tmp_path)
    base = load_settings({}, env={})
    users = users_of(indexed, the_cronjob(indexed))
    for index, user in enumerate(users):
        own = _user_environment(indexed, user)
        (shard_user,) = load_fleet(path, base, own, shard=index).users
        (named_user,) = load_fleet(path, base, own, user=user["name"]).users
        assert shard_user.name == named_user.name == user["name"]
        others = {name: value for other in users if other is not user
                  for name, value in _user_environment(indexed, other).items()}
        with pytest.raises(SettingsError) as refused:
            load_fleet(path, base, others, shard=index)
        assert refused.value.exit_code is ExitCode.USAGE
        assert user["env_prefix"] in str(refused.value) and PLACEHOLDER not in str(refused.value)


def test_there_is_one_secret_example_per_user(indexed: list[Manifest]) -> None:
    """Each user's Secret example has the name both layouts read it by; together they show two sign-in methods."""
    examples = secret_examples()
    users = users_of(indexed, the_cronjob(indexed))
    assert set(examples) == {secret_name(user) for user in users}
    methods = {frozenset(example["stringData"]) for example in examples.values()}
    assert len(methods) == len(examples) >= 2
