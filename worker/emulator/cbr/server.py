"""Serve a CBR emulator on a real TCP socket: the same server as the CSBS emulator's."""

from worker.emulator.server import SHUTDOWN_TIMEOUT_S, serve

__all__ = ["SHUTDOWN_TIMEOUT_S", "serve"]
