# Node 18 runtime only
FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
