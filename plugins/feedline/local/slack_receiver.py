"""A Slack-compatible incoming-webhook receiver that records every alert it gets.

Airflow's SlackWebhookNotifier/Hook post the real payload here (the connection names this URL);
each request body is appended as one JSON line to ``--out``. GET /alerts returns them all.
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(out: Path):
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                self._answer(400, "invalid_payload")
                return
            entry = {"received_at": datetime.now(timezone.utc).isoformat(), "path": self.path, "payload": payload}
            with lock, out.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
            self._answer(200, "ok")  # what Slack answers

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                self._answer(200, "ok")
            elif self.path == "/alerts":
                text = out.read_text(encoding="utf-8") if out.exists() else ""
                self._answer(200, json.dumps([json.loads(line) for line in text.splitlines() if line]))
            else:
                self._answer(404, "not found")

        def _answer(self, code: int, text: str) -> None:
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler


def read_alerts(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.out)).serve_forever()


if __name__ == "__main__":
    main()
