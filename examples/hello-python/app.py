"""Slipway example service (Python standard library only).

/health for Marathon's health check, /version for "what runs where". Listens on $PORT0
(Marathon host networking), else $PORT, else 8080.
"""
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.0.0"
version = os.environ.get("APP_VERSION") or VERSION
port = int(os.environ.get("PORT0") or os.environ.get("PORT") or 8080)
started_at = time.time()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        is_text = isinstance(body, str)
        data = (body if is_text else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if is_text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/health":
            return self._send(200, {"status": "ok"})
        if path == "/version":
            return self._send(200, {"service": "hello-python", "version": version, "commit": os.environ.get("SLIPWAY_COMMIT")})
        if path == "/":
            greeting = os.environ.get("APP_GREETING", "hello")
            return self._send(200, f"{greeting} from hello-python {version}, up {int(time.time() - started_at)}s\n")
        return self._send(404, {"error": "not found"})

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    # Marathon stops tasks with SIGTERM: exit cleanly instead of dying mid-response.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello-python {version} listening on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
