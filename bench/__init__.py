"""Benchmarks of csbs-worker against the CSBS emulator; they print figures and assert nothing."""
