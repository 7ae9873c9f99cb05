# Two-megabyte HTTP server (busybox httpd serving /www): fast test images for deploys and health checks.
FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 8080
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
