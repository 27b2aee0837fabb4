#!/usr/bin/env bash
# Re-generates deploy/requirements.lock, the image's pinned and hashed dependencies, from pyproject.toml:
# the runtime dependencies and the build dependencies of the project itself (setuptools), every
# file's sha256 for each version (any platform), nothing from this machine's local wheel folders.
# Run it after changing [project] dependencies or [build-system] requires (tests/deploy checks the lock).
# Needs pip-tools in .venv: .venv/bin/pip install pip-tools
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the package index: no find-links, no local extra indexes or constraints from pip's own config
# (they would pin what happens to lie on this disk); the index URL stays out of the file.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
export CUSTOM_COMPILE_COMMAND="deploy/lock.sh"
.venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --all-build-deps \
  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --newline=lf \
  --output-file deploy/requirements.lock pyproject.toml
