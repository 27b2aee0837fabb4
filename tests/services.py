"""The two services behind one small interface, so one test can say what both promise (tests/contract).

A ``Service`` knows what differs between CSBS and CBR where a user sees it: the CLI flags (``--service
cbr``), how a plan names a backup (``checkpoint_id`` + ``checkpoint_items`` or ``backup_id``), the report's
id keys, the emulator's route names and scenario switches, the error codes of the same refusal. Its
``serve`` starts that service's emulator on loopback and yields a ``Cloud``: seeding, and what the cloud
received (DELETEs per backup, requests per route, the most deletions outstanding).

Nothing here asserts: the tests do, on ``Run`` (exit code, report, log events) and on the ``Cloud``.
"""

from __future__ import annotations

import json
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import yaml
from aiohttp import web

from tests.harness import (
    CSBS_PROVIDER,
    PROJECT,
    TOKEN,
    GatewayProxy,
    Run,
    ServedCbrEmulator,
    ServedEmulator,
    cbr_emulator_on_loopback,
    emulator_on_loopback,
    gateway_404,
    new_id,
)
from worker.emulator import FaultRule
from worker.emulator.cbr import CbrFaultRule

ROOT = Path(__file__).resolve().parents[1]
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Backup:
    """One planned backup (or one plan entry that covers several: a CSBS whole record, a CBR parent).

    Args:
        key: the id its task is reported and logged under, and its DELETEs counted under.
        text: its line in a text plan.
        entry: its entry in a YAML or JSON Lines plan.
        listed: its line in a dry run's listing.
    """

    key: str
    text: str
    entry: dict[str, Any]
    listed: str


@dataclass(frozen=True)
class Gateway404:
    """The API gateway answering its own 404 ("no such API", never "gone") instead of the service.

    Args:
        kind: ``apigw`` (APIGW.0101), ``apig`` (APIG.0101) or ``html`` (an nginx page).
        route: ``*`` (every call: a wrong endpoint), ``get`` (a look at one backup), ``list`` or ``delete``.
        times: answer at most this many matching calls so (after ``after``); None = every one.
        after: let the first ``after`` matching calls through.
    """

    kind: str = "apigw"
    route: str = "*"
    times: int | None = None
    after: int = 0


Answer = Callable[[str, str, int], "web.Response | None"]
GATEWAY_ROUTES = {"get": ("GET", "backup"), "list": ("GET", "backups"), "delete": ("DELETE", "backup")}


def gateway_rule(rule: Gateway404) -> Answer:
    """A gateway's answer (see ``GatewayProxy``) that plays ``rule``."""
    def answer(method: str, kind: str, n: int) -> web.Response | None:
        if rule.route != "*" and GATEWAY_ROUTES[rule.route] != (method, kind):
            return None
        if n > rule.after and (rule.times is None or n <= rule.after + rule.times):
            return gateway_404(rule.kind)
        return None
    return answer


class Cloud(ABC):
    """One service's emulator serving on loopback, bound to the test: seeding, and what it received.

    Reads go through the emulator's own thread, so they are safe while a worker process runs.
    """

    def __init__(self, service: Service, served: ServedEmulator | ServedCbrEmulator, url: str,
                 proxy: GatewayProxy | None = None) -> None:
        self.service = service
        self.served = served
        self.url = url  # where the worker is pointed (the gateway's, when there is one in front)
        self.proxy = proxy
        self.replaced: list[str] = []  # what the gateway in front answered itself (path kinds)

    def read(self, function: Any) -> Any:
        """``function()`` run on the emulator's thread."""
        return self.served.call(function)

    # -- seeding -----------------------------------------------------------------------------------------

    @abstractmethod
    def add(self, key: str | None = None, *, children: int = 0, image: bool = False, **backup: Any) -> Backup:
        """One available backup (with ``key`` as its id if given); ``image``: an image was made from it
        (the service refuses its deletion); ``children``: per-disk backups that go with it (CBR only)."""

    def seed(self, count: int, *, children: int = 0, image: bool = False) -> list[Backup]:
        return [self.add(children=children, image=image) for _ in range(count)]

    def absent(self) -> Backup:
        """A backup that does not exist (a plan entry for it is well formed)."""
        return self.service.absent()

    @abstractmethod
    def group(self, size: int) -> Backup:
        """One plan entry that covers ``size`` backups: a CSBS whole record, a CBR backup and its children."""

    @abstractmethod
    def history(self, count: int, resource_id: str, start: datetime, step: timedelta = HOUR, *,
                children: int = 0) -> list[Backup]:
        """``count`` backups of one server, ``step`` apart from ``start``, oldest first."""

    @abstractmethod
    def delete_now(self, backup: Backup) -> None:
        """Send a DELETE before the run, as an interrupted earlier run would have."""

    # -- what the cloud received and holds --------------------------------------------------------------

    @abstractmethod
    def exists(self, backup: Backup) -> bool:
        """The backup (every backup of the entry) is still there."""

    @abstractmethod
    def remaining(self) -> list[str]:
        """Ids of every backup that exists now."""

    @abstractmethod
    def listed_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        """The report's two ids (``row_keys``) of this backup's task when the run found it itself (a policy):
        CSBS its record and item, CBR its id and vault."""

    def sent(self) -> dict[str, int]:
        """DELETEs received per backup key, refused and faulted ones included."""
        return dict(self.read(lambda: self.served.emulator.stats.deletes_by_target))

    def deletes(self) -> int:
        return sum(self.sent().values())

    def received(self, route: str) -> int:
        """Requests of a route (``get``, ``list``, ``delete``) that reached the cloud's front: the gateway
        in front of the emulator when there is one (its own answers included), else the emulator."""
        if self.proxy is not None:
            return self.proxy.seen[GATEWAY_ROUTES[route]]
        return self.requests(route)

    def gateway_answers(self) -> int:
        """How many calls the gateway answered itself (its 404s) instead of the service."""
        if self.proxy is not None:
            return len(self.replaced)
        return sum(self.fired(f"404-{kind}") for kind in ("apigw", "apig", "html"))

    def requests(self, route: str | None = None) -> int:
        """Requests received on a route (``get``, ``list``, ``delete``, ``auth`` or the emulator's own route
        name), or on all of them."""
        counts = self.read(lambda: dict(self.served.emulator.stats.requests_by_route))
        if route is None:
            return sum(counts.values())
        return int(counts.get(self.service.routes.get(route, route), 0))

    def high_water(self) -> int:
        """The most deletions outstanding (waiting + running) for any user at once."""
        return int(self.read(lambda: max(self.served.emulator.stats.max_outstanding.values(), default=0)))

    def fired(self, kind: str) -> int:
        """How many times faults of this kind fired."""
        return int(self.read(lambda: self.served.emulator.stats.faults_by_kind[kind]))


class Service(ABC):
    """What differs between the services where a user sees it; ``serve`` starts the emulator."""

    name: ClassVar[str]
    flags: ClassVar[tuple[str, ...]]
    api: ClassVar[str]  # as the run's messages name it ("serves no CSBS API")
    key_field: ClassVar[str]  # the task id in log events
    row_keys: ClassVar[tuple[str, str]]  # the report's two ids of a task
    routes: ClassVar[dict[str, str]]  # get / list / delete -> the emulator's route name
    image_code: ClassVar[str]  # the refusal of a backup an image was made from
    preflight_calls: ClassVar[int]  # calls before the tasks' own: the preflight read, the adoption listings
    adoption_listings: ClassVar[int]  # listings of the deletions in progress, before the tasks start
    example_plan: ClassVar[Path]
    fault_examples: ClassVar[int]  # hypothesis examples of the random-fault test
    busy_modes: ClassVar[dict[str, dict[str, str]]]  # 400 / 409 -> the scenario of a busy answer so

    def __repr__(self) -> str:
        return self.name

    # -- plans -------------------------------------------------------------------------------------------

    @staticmethod
    def text_plan(backups: Iterable[Backup]) -> str:
        return "".join(f"{b.text}\n" for b in backups)

    @staticmethod
    def jsonl_plan(backups: Iterable[Backup]) -> str:
        return "".join(json.dumps(b.entry) + "\n" for b in backups)

    def yaml_plan(self, backups: Iterable[Backup], *, header: bool = False) -> str:
        """A YAML plan of these entries, with ``service`` and ``project_id`` at its top when ``header``."""
        top = f"service: {self.name}\nproject_id: {PROJECT}\n" if header else ""
        lines = []
        for backup in backups:
            for n, (key, value) in enumerate(backup.entry.items()):
                shown = f"[{', '.join(value)}]" if isinstance(value, list) else value
                lines.append(f"{'  - ' if n == 0 else '    '}{key}: {shown}\n")
        return top + "deletions:\n" + "".join(lines)

    @abstractmethod
    def absent(self) -> Backup:
        """A backup no cloud holds (a plan entry for it is well formed)."""

    def example_keys(self) -> list[str]:
        """The task keys of the example plan (the demo's)."""
        return self.planned(yaml.safe_load(self.example_plan.read_text(encoding="utf-8")))

    @abstractmethod
    def planned(self, document: dict[str, Any]) -> list[str]:
        """The task keys of a plan document (as `plan` prints it), in its order."""

    # -- what a run says ---------------------------------------------------------------------------------

    @abstractmethod
    def key_of(self, row_or_event: dict[str, Any]) -> str:
        """The task key a report row or a log event is about."""

    def rows(self, run: Run) -> dict[str, dict[str, Any]]:
        """The report's rows by task key."""
        assert run.report is not None
        return {self.key_of(row): row for row in run.report["results"]}

    def outcomes(self, run: Run) -> dict[str, str]:
        """Task outcome by task key, from the report."""
        return {key: row["outcome"] for key, row in self.rows(run).items()}

    @abstractmethod
    def row_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        """The report's two ids (``row_keys``) of this plan entry's task, as the plan gave them."""

    def keys_of(self, events: Iterable[dict[str, Any]]) -> list[str]:
        return [self.key_of(event) for event in events]

    # -- the emulator ------------------------------------------------------------------------------------

    @abstractmethod
    def fault(self, route: str, kind: str, **rule: Any) -> Any:
        """A fault rule of this emulator; ``route`` is ``get``, ``list``, ``delete``, ``*`` or a route name."""

    @contextmanager
    def serve(self, seed: int = 1, *, gateway: Sequence[Gateway404] = (), busy: str | None = None,
              answer: Answer | None = None, **scenario: Any) -> Iterator[Cloud]:
        """This service's emulator on loopback (fast deletions unless told), behind a gateway that answers
        its 404 when ``gateway`` says so, or as ``answer`` says (see ``GatewayProxy``); ``busy`` (400 or
        409) is how a repeated DELETE is refused."""
        if busy is not None:
            scenario.update(self.busy_modes[busy])
        with self._served(seed, tuple(gateway), scenario) as (served, rules):
            answers = [*(gateway_rule(rule) for rule in rules), *([answer] if answer else [])]
            if not answers:
                yield self._cloud(served, served.url, None)
                return

            replaced: list[str] = []

            def first(method: str, kind: str, n: int) -> web.Response | None:
                found = next((r for r in (a(method, kind, n) for a in answers) if r is not None), None)
                if found is not None:
                    replaced.append(kind)
                return found

            with GatewayProxy(served.url, first) as proxy:
                cloud = self._cloud(served, proxy.url, proxy)
                cloud.replaced = replaced
                yield cloud

    @abstractmethod
    def _served(self, seed: int, gateway: tuple[Gateway404, ...], scenario: dict[str, Any]
                ) -> AbstractContextManager[tuple[Any, tuple[Gateway404, ...]]]:
        """The emulator with ``scenario``, and the ``gateway`` rules it does not play itself (a gateway in
        front of it answers those)."""

    @abstractmethod
    def _cloud(self, served: Any, url: str, proxy: GatewayProxy | None) -> Cloud: ...


# -- CSBS --------------------------------------------------------------------------------------------------


class CsbsCloud(Cloud):
    served: ServedEmulator

    def add(self, key: str | None = None, *, children: int = 0, image: bool = False, **backup: Any) -> Backup:
        """``children`` is for CBR: every CSBS backup is an item of its own."""
        record = backup.pop("checkpoint_id", None) or new_id()
        item = self.read(lambda: self.served.emulator.add_item(checkpoint_id=record, item_id=key or new_id(),
                                                              image_registered=image, **backup))
        return csbs_item(record, str(item["id"]))

    def group(self, size: int) -> Backup:
        record = new_id()
        for _ in range(size):
            self.add(checkpoint_id=record)
        return Backup(record, record, {"checkpoint_id": record}, f"{record}  # whole record: {size} backups")

    def history(self, count: int, resource_id: str, start: datetime, step: timedelta = HOUR, *,
                children: int = 0) -> list[Backup]:
        return [self.add(resource_id=resource_id, name=f"autobk_{n}",
                         created_at=(start + step * n).strftime("%Y-%m-%dT%H:%M:%S.%f")) for n in range(count)]

    def delete_now(self, backup: Backup) -> None:
        url = (f"{self.served.url}/v1/{PROJECT}/providers/{CSBS_PROVIDER}/checkpoints/"
               f"{backup.entry['checkpoint_id']}?checkpoint_items={backup.key}")
        request = urllib.request.Request(url, method="DELETE", headers={"X-Auth-Token": TOKEN})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200

    def exists(self, backup: Backup) -> bool:
        if "checkpoint_items" in backup.entry:
            return self.read(lambda: self.served.emulator.item(backup.key)) is not None
        return bool(self.read(lambda: self.served.emulator.items(checkpoint_id=backup.key)))

    def remaining(self) -> list[str]:
        return [str(item["id"]) for item in self.read(lambda: self.served.emulator.items())]

    def listed_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        return backup.entry["checkpoint_id"], backup.key


def csbs_item(checkpoint_id: str, item_id: str) -> Backup:
    return Backup(item_id, f"{checkpoint_id} {item_id}", {"checkpoint_id": checkpoint_id,
                                                          "checkpoint_items": [item_id]},
                  f"{checkpoint_id} {item_id}")


class Csbs(Service):
    name = "csbs"
    flags = ()
    api = "CSBS"
    key_field = "checkpoint_item"
    row_keys = ("checkpoint_id", "checkpoint_item")
    routes: ClassVar[dict[str, str]] = {"get": "get_item", "list": "list", "delete": "delete", "auth": "auth"}
    image_code = "CSBS.8007"
    preflight_calls = 3  # the count, then the two listings of deletions in progress
    adoption_listings = 2  # waiting_delete, deleting
    example_plan = ROOT / "config" / "plan.example.yaml"
    fault_examples = 12
    busy_modes: ClassVar[dict[str, dict[str, str]]] = {"400": {"busy_mode": "400"}, "409": {"busy_mode": "409"}}

    def absent(self) -> Backup:
        return csbs_item(new_id(), new_id())

    def planned(self, document: dict[str, Any]) -> list[str]:
        return [str(key) for entry in document["deletions"]
                for key in entry.get("checkpoint_items") or [entry["checkpoint_id"]]]

    def key_of(self, row_or_event: dict[str, Any]) -> str:
        return str(row_or_event.get("checkpoint_item") or row_or_event["checkpoint_id"])

    def row_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        items = backup.entry.get("checkpoint_items")
        return backup.entry["checkpoint_id"], items[0] if items else None

    def fault(self, route: str, kind: str, **rule: Any) -> FaultRule:
        return FaultRule(self.routes.get(route, route), kind, **rule)

    @contextmanager
    def _served(self, seed: int, gateway: tuple[Gateway404, ...], scenario: dict[str, Any]
                ) -> Iterator[tuple[Any, tuple[Gateway404, ...]]]:
        """The CSBS emulator plays the gateway itself: its ``gateway_404`` switch and ``404-*`` faults."""
        everything = [rule for rule in gateway if rule.route == "*"]
        if everything:  # a wrong endpoint: the emulator answers the gateway's 404 on every route
            scenario["gateway_404"] = everything[0].kind
        lost = tuple(FaultRule(self.routes[rule.route], f"404-{rule.kind}", times=rule.times, after=rule.after)
                     for rule in gateway if rule.route != "*")
        scenario["faults"] = (*lost, *scenario.get("faults", ()))
        with emulator_on_loopback(seed, **scenario) as served:
            yield served, ()

    def _cloud(self, served: Any, url: str, proxy: GatewayProxy | None) -> Cloud:
        return CsbsCloud(self, served, url, proxy)


# -- CBR ---------------------------------------------------------------------------------------------------


class CbrCloud(Cloud):
    served: ServedCbrEmulator

    def add(self, key: str | None = None, *, children: int = 0, image: bool = False, **backup: Any) -> Backup:
        made = self.read(lambda: self.served.emulator.add_backup(backup_id=key, children=children,
                                                                image_backed=image, **backup))
        return cbr_backup(str(made["id"]))

    def group(self, size: int) -> Backup:
        return self.add(children=size - 1)

    def history(self, count: int, resource_id: str, start: datetime, step: timedelta = HOUR, *,
                children: int = 0) -> list[Backup]:
        return [self.add(resource_id=resource_id, resource_name=f"ecs-{resource_id[:4]}", created_at=start + step * n,
                         children=children) for n in range(count)]

    def delete_now(self, backup: Backup) -> None:
        request = urllib.request.Request(f"{self.served.url}/v3/{PROJECT}/backups/{backup.key}", method="DELETE",
                                         headers={"X-Auth-Token": TOKEN})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 204

    def exists(self, backup: Backup) -> bool:
        return self.read(lambda: self.served.emulator.backup(backup.key)) is not None

    def remaining(self) -> list[str]:
        return list(self.read(lambda: self.served.emulator.backup_ids()))

    def listed_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        found = self.read(lambda: self.served.emulator.backup(backup.key))
        return backup.key, found["vault_id"]


def cbr_backup(backup_id: str, vault_id: str | None = None) -> Backup:
    entry = {"backup_id": backup_id} if vault_id is None else {"backup_id": backup_id, "vault_id": vault_id}
    return Backup(backup_id, backup_id, entry, backup_id if vault_id is None else f"{backup_id}  # vault {vault_id}")


class Cbr(Service):
    name = "cbr"
    flags = ("--service", "cbr")
    api = "CBR"
    key_field = "backup_id"
    row_keys = ("backup_id", "vault_id")
    routes: ClassVar[dict[str, str]] = {"get": "get_backup", "list": "list_backups", "delete": "delete", "auth": "auth"}
    image_code = "BackupService.6204"
    preflight_calls = 2  # the vaults read, then the listing of deletions in progress
    adoption_listings = 1
    example_plan = ROOT / "config" / "plan.cbr.example.yaml"
    fault_examples = 8
    busy_modes: ClassVar[dict[str, dict[str, str]]] = {"400": {"repeat_delete": "2003"},
                                                        "409": {"repeat_delete": "409"}}

    def absent(self) -> Backup:
        return cbr_backup(new_id())

    def planned(self, document: dict[str, Any]) -> list[str]:
        return [str(entry["backup_id"]) for entry in document["deletions"]]

    def key_of(self, row_or_event: dict[str, Any]) -> str:
        return str(row_or_event["backup_id"])

    def row_ids(self, backup: Backup) -> tuple[str | None, str | None]:
        return backup.key, backup.entry.get("vault_id")

    def fault(self, route: str, kind: str, **rule: Any) -> CbrFaultRule:
        return CbrFaultRule(self.routes.get(route, route), kind, **rule)

    @contextmanager
    def _served(self, seed: int, gateway: tuple[Gateway404, ...], scenario: dict[str, Any]
                ) -> Iterator[tuple[Any, tuple[Gateway404, ...]]]:
        """The CBR emulator has no gateway switches: a gateway in front of it answers the rules."""
        with cbr_emulator_on_loopback(seed, **scenario) as served:
            yield served, gateway

    def _cloud(self, served: Any, url: str, proxy: GatewayProxy | None) -> Cloud:
        return CbrCloud(self, served, url, proxy)


SERVICES: dict[str, Service] = {"csbs": Csbs(), "cbr": Cbr()}
