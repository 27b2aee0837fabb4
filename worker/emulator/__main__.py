"""``python -m worker.emulator`` serves the emulator, like ``csbs-worker emulator``."""

import argparse

from worker.emulator.cli import add_arguments, run


def main() -> int:
    """Parse the emulator's options and serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m worker.emulator", description=run.__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
