"""Tests of the emulator over real loopback HTTP: ``core/`` for what both API faces share (parametrized over
both), ``csbs/`` and ``cbr/`` for each face's own behaviour, ``test_cli.py`` for the command."""
