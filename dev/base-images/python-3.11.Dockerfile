# Python 3.11 with pip and venv, for build stages
FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
