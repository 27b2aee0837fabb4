#!/usr/bin/env bash
# CI: builds deploy/Dockerfile and runs the demo in the image as the cluster would (non-root, read-only
# root filesystem, /tmp writable), with no image registry: a Docker engine of its own (started here,
# stopped on any exit), and a base image made here with debootstrap of this machine's Debian release
# and its python3. Run from the repository root: bash deploy/ci/image.sh
# Skips (exit 0, with the reason) only when dockerd cannot start on this machine; any failure after
# that (debootstrap, build, the demo's exit code) fails.
set -euo pipefail

step() { printf '== image: %s (%ss)\n' "$1" "$SECONDS"; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  step "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi
# The client that ships with this dockerd: it has BuildKit built in (a newer client elsewhere on PATH
# may need a buildx plugin that is not installed).
DOCKER=$(command -v "$(dirname "$(command -v dockerd)")/../bin/docker" || command -v docker)

WORK=$(mktemp -d /tmp/csbs-ci-image.XXXXXX)
export DOCKER_HOST="unix://$WORK/docker.sock" DOCKER_BUILDKIT=1
DOCKERD_PID=
cleanup() {
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill "$DOCKERD_PID"
    for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
  fi
  # Anything of the engine's still mounted under $WORK (it unmounts on a clean stop), then its files.
  grep -o " $WORK/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A private engine: its own data, sockets and pid file under $WORK; no bridge and no iptables rules, so
# it changes nothing of the machine's network (the build uses the host network, the demo none at all).
start_dockerd() {
  rm -rf "$WORK/data" "$WORK/x"
  dockerd --data-root "$WORK/data" --exec-root "$WORK/x" --pidfile "$WORK/dockerd.pid" -H "$DOCKER_HOST" \
    --bridge=none --iptables=false --ip6tables=false "$@" >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 60); do
    "$DOCKER" version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; DOCKERD_PID=
  return 1
}
step "starting dockerd"
if ! start_dockerd && ! start_dockerd --storage-driver=vfs; then
  echo "SKIPPED the image build and demo: dockerd cannot start on this machine (overlay2 and vfs tried):"
  grep -E 'level=(error|fatal)|failed' "$WORK/dockerd.log" | tail -5 || tail -5 "$WORK/dockerd.log"
  exit 0
fi
"$DOCKER" version --format 'engine {{.Server.Version}}' 2>/dev/null || true

# The base: Debian's own python3 (the suite of this machine), from the mirror apt uses here.
. /etc/os-release
SUITE=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
MIRROR=$( { sed -E 's/\[[^]]*\]//' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '$1 == "deb" {print $2}'
            awk '$1 == "URIs:" {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null; } \
          | grep -v -- '-security' | head -1)
[[ -n $MIRROR ]] || { echo "no Debian mirror found in apt's sources" >&2; exit 1; }
step "debootstrap $SUITE with python3"
timeout 900 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,passwd \
  "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log"; exit 1; }
BASE="local/debian-python:$SUITE"
tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$BASE" >/dev/null
rm -rf "$WORK/rootfs"

# pip's index settings of this machine, as a build secret (never a build argument: those stay in the
# image history); its CA bundle too, when pip is configured with one.
PIP=$(command -v .venv/bin/pip || command -v pip3)
python3 deploy/ci/pip-conf.py "$PIP" "$WORK/pip.conf" "$WORK/pip-ca"
secrets=(--secret "id=pip.conf,src=$WORK/pip.conf")
[[ -f $WORK/pip-ca ]] && secrets+=(--secret "id=pip-ca,src=$WORK/pip-ca")

IMAGE=local/csbs-worker:ci
step "docker build on $BASE"
timeout 1200 "$DOCKER" build --network host --progress plain "${secrets[@]}" --build-arg "PYTHON_IMAGE=$BASE" \
  -f deploy/Dockerfile -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }

user=$("$DOCKER" image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user == 10001:10001 ]] || { echo "the image runs as '$user', not 10001:10001" >&2; exit 1; }
step "the demo in the image (user $user, read-only root, no network)"
rc=0
timeout 300 "$DOCKER" run --rm -i --read-only --tmpfs /tmp --network none "$IMAGE" \
  delete --emulator - <config/plan.example.yaml >"$WORK/demo.out" 2>"$WORK/demo.err" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "the demo in the image exited $rc, not 0:" >&2; tail -20 "$WORK/demo.err" >&2; exit 1
fi
grep -q run_summary "$WORK/demo.err" || { echo "the demo logged no run_summary" >&2; exit 1; }
step "image ok: demo exit 0"
