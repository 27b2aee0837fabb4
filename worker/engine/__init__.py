"""The engine: slots, the task loop, pacing, retries, clock and outcomes. It knows no service."""
