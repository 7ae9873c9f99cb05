# JDK 17 for build stages (javac, jar)
FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
