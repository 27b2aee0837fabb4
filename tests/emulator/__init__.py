"""Tests of the CSBS emulator, over real loopback HTTP."""
