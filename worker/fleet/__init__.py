"""The fleet file: many targets (a project of one service, and a plan or a policy) grouped by IAM user.

``load_fleet`` reads and checks it whole before a run lists or deletes anything: the file (every key at a
level that takes it, every value through the settings table's parsers, names and projects unique), then,
for the users the run serves, their sign-ins (behind each user's ``env_prefix``) and their targets' plans
and policies. Any fault is a ``UsageError`` (exit 2) naming file, line and target. The parts:

- ``levels``: which key goes at which level (defaults, user, target), and why the others are refused;
- ``file``: the YAML read into users and targets, every value checked at its line;
- ``resolve``: a target's settings from its levels (target > user > defaults > built-in default);
- ``credentials``: a user's sign-in from its prefixed variables;
- ``inputs``: a target's plan or policy;
- ``model``: ``Fleet``, ``FleetUser``, ``FleetTarget``, what a run is handed;
- ``loader``: ``load_fleet`` itself, and the choice of ``--shard``/``--user``.

The format is docs/fleet.md's; config/fleet.example.yaml is a documented example.
"""

from worker.fleet.loader import load_fleet
from worker.fleet.model import Fleet, FleetTarget, FleetUser

__all__ = ["Fleet", "FleetTarget", "FleetUser", "load_fleet"]
