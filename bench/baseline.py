"""The baseline: delete one backup at a time and wait for each, as a shell loop or ``terraform destroy`` does.

Run as ``python bench/baseline.py PLAN TIME_FACTOR`` with ``CSBS_ENDPOINT``, ``CSBS_PROJECT_ID`` and
``CSBS_AUTH_TOKEN`` set. For each ``CHECKPOINT_ID ITEM_ID`` line: one DELETE, then GET the backup after
5 s, 3 s, 6 s and every 10 s after that (Terraform's StateChangeConf: Delay 5 s, MinTimeout 3 s, the
wait doubling up to 10 s), each scaled by TIME_FACTOR, until the GET answers 404. Terraform also sends the
DELETE again on every poll; this baseline does not, so its request count is a lower bound. A 429 or 5xx
answer, and a DELETE answered busy (400 CSBS.2003 or 409: the backup is in use), is sent again after 1 s
(scaled), as a careful script would; anything else unexpected stops it.

Prints one JSON line: ``{"tasks", "first_submit", "last_end", "requests"}`` (Unix times).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Iterator

PROVIDER_ID = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"
TERRAFORM_WAITS_S = (5.0, 3.0, 6.0)  # then 10 s for ever
TERRAFORM_LAST_WAIT_S = 10.0
RETRY_WAIT_S = 1.0
RETRYABLE = frozenset({429, 500, 502, 503, 504})
BUSY_CODE = b"CSBS.2003"  # with 400: something runs on the backup (409 needs no code)


class Api:
    """One kept-alive connection to the CSBS endpoint, as curl in a loop (or Go's client) would use."""

    def __init__(self, endpoint: str, project_id: str, token: str, factor: float) -> None:
        url = urllib.parse.urlsplit(endpoint)
        self.connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=60)
        self.prefix = f"/v1/{project_id}"
        self.headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
        self.retry_wait_s = RETRY_WAIT_S * factor
        self.requests = 0

    def call(self, method: str, path: str) -> int:
        """Send one request, again while throttled, failing or (a DELETE) busy; returns the HTTP status."""
        while True:
            self.requests += 1
            self.connection.request(method, self.prefix + path, headers=self.headers)
            response = self.connection.getresponse()
            body = response.read()
            busy = method == "DELETE" and (response.status == 409 or (response.status == 400 and BUSY_CODE in body))
            if response.status not in RETRYABLE and not busy:
                return response.status
            time.sleep(self.retry_wait_s)


def waits(factor: float) -> Iterator[float]:
    """The pauses before each GET, scaled."""
    for wait in TERRAFORM_WAITS_S:
        yield wait * factor
    while True:
        yield TERRAFORM_LAST_WAIT_S * factor


def delete_and_wait(api: Api, checkpoint_id: str, item_id: str, factor: float) -> None:
    """One DELETE, then poll the backup until it is gone."""
    status = api.call("DELETE", f"/providers/{PROVIDER_ID}/checkpoints/{checkpoint_id}?checkpoint_items={item_id}")
    if status != 200:
        raise SystemExit(f"baseline: DELETE {item_id} answered {status}")
    for wait in waits(factor):
        time.sleep(wait)
        status = api.call("GET", f"/checkpoint_items/{item_id}")
        if status == 404:
            return
        if status != 200:
            raise SystemExit(f"baseline: GET {item_id} answered {status}")


def main(argv: list[str]) -> int:
    plan_path, factor = argv[1], float(argv[2])
    api = Api(os.environ["CSBS_ENDPOINT"], os.environ["CSBS_PROJECT_ID"], os.environ["CSBS_AUTH_TOKEN"], factor)
    with open(plan_path, encoding="utf-8") as plan:
        entries = [line.split() for line in plan if line.strip()]
    first_submit = time.time()
    for checkpoint_id, item_id in entries:
        delete_and_wait(api, checkpoint_id, item_id, factor)
    result = {"tasks": len(entries), "first_submit": first_submit, "last_end": time.time(),
              "requests": api.requests}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
