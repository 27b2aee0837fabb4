"""Read deletion plans (YAML, plain text or JSON Lines) into one checked, compact list of tasks.

A plan lists what must go; a task is one DELETE: for CSBS a whole record (``item_id is None``) or one
backup of a record; for CBR (``read_plan(..., service="cbr")``) one backup (``item_id``, with the vault id
the entry gives as a check in ``checkpoint_id``, or ``""``). ``read_plan`` checks everything before it
returns: any fault raises ``PlanError(source, line, message)``, and an invalid plan never yields a single
task. The parts, one job each:

- ``formats``: the three formats and their detection (``detect_format``);
- ``lines``: reading a source as UTF-8 lines (universal newlines, streamed);
- ``text``, ``jsonl``, ``yaml_plan``: one reader per format (YAML through ``worker.yamlsource``);
- ``ids`` and ``messages``: what an id is, and the words both entry checks use;
- ``builder``: collecting tasks and merging duplicates;
- ``model``: ``Task`` and ``Plan`` and their compact memory layout;
- ``approval`` and ``approval_yaml``: approvable plans (``Plan.approval``): their digest, their checks,
  how ``plan --approvable`` writes one and how its YAML reads;
- ``reader``: ``read_plan`` itself, and ``reads_stdin``.

IDs are UUIDs in the canonical 8-4-4-4-12 form, in any case; they are normalised to lower case.
"""

from worker.plan.builder import MAX_DUPLICATE_WARNINGS
from worker.plan.formats import FORMATS, Format, detect_format
from worker.plan.messages import PLAN_KEYS
from worker.plan.model import STDIN_SOURCE, Plan, Task
from worker.plan.reader import read_plan, reads_stdin
from worker.plan.schema import RECORD_ENTRIES, EntrySchema, Shape

__all__ = [
    "FORMATS",
    "MAX_DUPLICATE_WARNINGS",
    "PLAN_KEYS",
    "RECORD_ENTRIES",
    "STDIN_SOURCE",
    "EntrySchema",
    "Format",
    "Plan",
    "Shape",
    "Task",
    "detect_format",
    "read_plan",
    "reads_stdin",
]
