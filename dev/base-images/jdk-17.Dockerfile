# JDK 17 for build stages (javac, jar) with Debian's Maven 3.8 for pom.xml projects
# check: command -v mvn
FROM local/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
