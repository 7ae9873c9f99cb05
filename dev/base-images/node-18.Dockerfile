# Node 18 with npm, for build stages
FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
