"""Flask app served by waitress: /health for Marathon's health check, /version for "what runs
where". Listens on $PORT0 (Marathon host networking), else $PORT, else 8080."""
import os

from flask import Flask, jsonify
from waitress import serve

VERSION = "1.0.0"
app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/version")
def version():
    return jsonify(
        service="hello-pyproject",
        version=os.environ.get("APP_VERSION") or VERSION,
        commit=os.environ.get("SLIPWAY_COMMIT") or None,
    )


def main():
    port = int(os.environ.get("PORT0") or os.environ.get("PORT") or 8080)
    print(f"hello-pyproject {VERSION} listening on {port}", flush=True)
    # waitress stops on SIGTERM (Marathon's stop signal).
    serve(app, host="0.0.0.0", port=port)


if __name__ == "__main__":
    main()
