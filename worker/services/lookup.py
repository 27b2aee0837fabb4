"""The service object of a name: imported only when a run asks for it (``worker.services.registry``)."""

from __future__ import annotations

import importlib

from worker.services import registry
from worker.services.service import Service


def service(name: str) -> Service:
    """The service object of ``name``; an unknown name is a ``ValueError``."""
    found: Service = importlib.import_module(registry.module(name)).SERVICE
    return found
