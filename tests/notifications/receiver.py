"""A merchant's webhook receiver on loopback, as a merchant would write one: every request is
verified with `standardwebhooks.Webhook(secret).verify(...)` against the raw body and headers.

In a thread (`serve_in_thread`) for most tests: `Receiver.script(path, *behaviours)` says how
the next requests to a path are answered, `Receiver.secrets[path]` holds the secrets to verify
with, and `Receiver.arrivals` keeps what came. As a process for the crash test (R2):

    python -m tests.notifications.receiver --port-file P --log L --secrets S --hang-file H

writes its port to P, reads the secrets from the JSON file S (path -> [secret]) at each request,
appends one JSON line per request to L (`{"id", "type", "ok", "hung"}`), and while the file H
exists holds each request without answering (up to two minutes).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    path: str
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    verified_by: list[int]  # indices of the secrets that verify it
    at: float

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


def verified_by(secrets: list[str], body: bytes, headers: dict[str, str]) -> list[int]:
    ok = []
    for i, secret in enumerate(secrets):
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            continue
        ok.append(i)
    return ok


def read_request(handler: BaseHTTPRequestHandler) -> tuple[bytes, dict[str, str]]:
    body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    return body, {k.lower(): v for k, v in handler.headers.items()}


@dataclass
class Receiver:
    server: ThreadingHTTPServer | None = None
    secrets: dict[str, list[str]] = field(default_factory=dict)
    scripts: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *behaviours: tuple[Any, ...]) -> None:
        """("status", code[, body]), ("sleep", seconds), ("garbage",), ("close",),
        ("big", code, size); once they are used up, requests get 200."""
        with self.lock:
            self.scripts.setdefault(path, []).extend(behaviours)

    def next_behaviour(self, path: str) -> tuple[Any, ...]:
        with self.lock:
            queue = self.scripts.get(path) or []
            return queue.pop(0) if queue else ("status", 200)

    def at(self, path: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body, headers = read_request(self)
            secrets = receiver.secrets.get(self.path, [])
            arrival = Arrival(
                path=self.path,
                webhook_id=headers.get("webhook-id", ""),
                timestamp=headers.get("webhook-timestamp", ""),
                signature=headers.get("webhook-signature", ""),
                body=body,
                verified_by=verified_by(secrets, body, headers),
                at=time.monotonic(),
            )
            with receiver.lock:
                receiver.arrivals.append(arrival)
            behaviour = receiver.next_behaviour(self.path)
            kind = behaviour[0]
            if kind == "sleep":
                time.sleep(behaviour[1])
                self._answer(200, b"late")
            elif kind == "garbage":
                self.wfile.write(b"\x00\xffthis is not HTTP at all\r\n\r\n")
                self.close_connection = True
            elif kind == "close":
                self.close_connection = True
            elif kind == "big":
                self._answer(behaviour[1], b"x" * behaviour[2])
            else:
                self._answer(behaviour[1], behaviour[2] if len(behaviour) > 2 else b"ok")

        def _answer(self, code: int, body: bytes) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the sender gave up waiting

    return Handler


@contextmanager
def serve_in_thread() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    server.block_on_close = False
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# --- as a process (R2) ---------------------------------------------------------------------


def _process_handler(log: Path, secrets_file: Path, hang_file: Path) -> type:
    write = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body, headers = read_request(self)
            try:
                secrets = json.loads(secrets_file.read_text()).get(self.path, [])
            except (OSError, ValueError):
                secrets = []
            hung = hang_file.exists()
            entry = {
                "id": headers.get("webhook-id", ""),
                "type": json.loads(body).get("type") if body else None,
                "ok": bool(verified_by(secrets, body, headers)),
                "hung": hung,
            }
            with write, log.open("a") as out:
                out.write(json.dumps(entry) + "\n")
            if hung:
                deadline = time.monotonic() + 120
                while hang_file.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                self.close_connection = True
                return  # never answered: the sender was killed or gave up meanwhile
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--secrets", type=Path, required=True)
    parser.add_argument("--hang-file", type=Path, required=True)
    parser.add_argument("--lifetime", type=float, default=300.0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), _process_handler(args.log, args.secrets, args.hang_file)
    )
    server.daemon_threads = True
    args.port_file.write_text(str(server.server_address[1]))
    # ends by itself: a test that forgets it does not leave a server behind for long
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
