"""The API faces the emulator serves, by the name ``--service`` gives them; the first is the default."""

from __future__ import annotations

from worker.emulator.cbr.face import FACE as CBR
from worker.emulator.core.face import Face
from worker.emulator.csbs.face import FACE as CSBS

FACES: dict[str, Face] = {"csbs": CSBS, "cbr": CBR}
DEFAULT = next(iter(FACES))
