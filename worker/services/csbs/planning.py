"""CSBS plans from a retention policy: the listing and the decisions ``plan`` prints and ``delete --policy``
runs (the keep rules are ``worker.retention.rules``, applied to the project's backups as CSBS lists them)."""

from __future__ import annotations

import asyncio

from worker.errors import UsageError
from worker.plan import Task
from worker.plan.approval import Approving
from worker.retention.policy import Policy
from worker.retention.rules import decide_listed, plan_document, render_plan_yaml
from worker.services.csbs.client import CsbsClient
from worker.services.csbs.identity import CONTAINER_KEY
from worker.services.identity import approval_rows
from worker.services.planning import GovernedBackups, applied, collector_paused, whole_listing
from worker.settings import Settings


async def plan_csbs(client: CsbsClient, settings: Settings, policy: Policy, explain: str | None,
                    approving: Approving | None = None) -> tuple[list[Task], str]:
    """List every backup of the project, decide, write ``--explain``, and return the deletion tasks and the
    plan's YAML (an approvable plan's with ``approving``: docs/plans.md).

    The listing may take as long as one task (``task_timeout``), retrying throttled and transient pages; it
    must add up to the project's count of backups (``GET checkpoint_items/count``, asked before and after).
    """
    if policy.select.uses_vaults:
        raise UsageError(f"{policy.source}: select.vault_ids and select.vault_names apply to CBR backups; "
                         "run with --service cbr, or drop them for CSBS")
    deadline = asyncio.get_running_loop().time() + settings.task_timeout_s
    governed = GovernedBackups(policy)
    with collector_paused():
        await whole_listing(lambda into: client.walk_items(into, deadline=deadline, counted=True), governed,
                            "backups")
        decisions = await applied(policy, explain, decide_listed(governed.backups, policy))
        document = plan_document(decisions, settings.project_id)
        tasks = [Task(entry["checkpoint_id"], item, policy.source, None)
                 for entry in document["deletions"] for item in entry["checkpoint_items"]]
        if approving is not None:
            planned, kept = approval_rows(decisions, CONTAINER_KEY)
            return tasks, approving.render(document, settings.service, planned, kept)
        return tasks, render_plan_yaml(decisions, settings.project_id, document)
