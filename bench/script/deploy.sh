#!/usr/bin/env bash
# The "Jenkins job" Slipway replaces, as a plain script: check out one commit, build it with a
# rendered Dockerfile, push, PUT the rendered Marathon app with the pushed digest, poll until
# healthy. Used by bench/vs-script.ts for the comparison; every input comes from the environment:
#   REPO SHA           git repository and commit
#   DOCKERFILE CA_FILE rendered Dockerfile (expects the source at source/ and CA_FILE at
#                      .slipway-build/ca.crt; CA_FILE may be empty)
#   IMAGE              registry/name to push (tagged with the short SHA)
#   MARATHON APP_JSON  Marathon URL and an app definition with the image as __IMAGE__
#   POLL_SECONDS       between health polls (default 2, as Slipway's awaitHealthy)
#   TIMEOUT_SECONDS    give up after this long (default 300)
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The context layout a rendered Dockerfile expects: the source under source/, beside .slipway-build/.
git clone -q "$REPO" "$work/ctx/source"
git -C "$work/ctx/source" checkout -q "$SHA"

mkdir -p "$work/ctx/.slipway-build"
cp "$DOCKERFILE" "$work/ctx/.slipway-build/Dockerfile"
if [ -n "${CA_FILE:-}" ]; then cp "$CA_FILE" "$work/ctx/.slipway-build/ca.crt"; fi
tag="${SHA:0:12}"
docker build -q -t "$IMAGE:$tag" -f "$work/ctx/.slipway-build/Dockerfile" "$work/ctx" >/dev/null
docker push -q "$IMAGE:$tag" >/dev/null
digest_ref=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE:$tag" | grep -m1 "^$IMAGE@")

app_id=$(jq -r .id "$APP_JSON")
sed "s#__IMAGE__#$digest_ref#" "$APP_JSON" >"$work/app.json"
curl -fsS -X PUT -H 'Content-Type: application/json' --data @"$work/app.json" "$MARATHON/v2/apps$app_id" >/dev/null

deadline=$((SECONDS + ${TIMEOUT_SECONDS:-300}))
while :; do
  app=$(curl -fsS "$MARATHON/v2/apps$app_id")
  if jq -e --arg img "$digest_ref" '.app | .container.docker.image == $img and .tasksHealthy >= .instances
        and (.deployments | length) == 0' <<<"$app" >/dev/null; then
    echo "healthy: $app_id $digest_ref"
    exit 0
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "not healthy within ${TIMEOUT_SECONDS:-300} s: $app_id" >&2
    exit 1
  fi
  sleep "${POLL_SECONDS:-2}"
done
