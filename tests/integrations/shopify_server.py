"""A loopback replay of the three Shopify Admin REST calls a refund write-back makes, for tests.

Its answers are shaped like Shopify's own examples in ../shared/data/payloads/shopify (read at
run time, never copied): `transactions.json` for GET orders/{id}/transactions.json and
`refund.json` for the refund POST orders/{id}/refunds.json creates (its transactions replaced by
the ones asked for, its line items by the ones refunded) and GET orders/{id}/refunds.json lists.

It checks `X-Shopify-Access-Token`, records every request (method, path, parsed body), keeps a
ledger of the refunds really created, and can be told to fail the next requests to a path, before
the refund is created (`after=False`) or after it was created with the answer lost
(`after=True`), as a dropped connection would.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PATH = re.compile(r"^/admin/api/(\d{4}-\d{2})/orders/(\d+)/(refunds|transactions)\.json$")


@dataclass
class Fault:
    path: str  # a regex on the path
    count: int
    status: int = 503
    after: bool = False  # fail after the refund was created: the answer is lost


@dataclass
class ShopifyReplay:
    data_dir: Path
    token: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # refunds really created
    transactions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def example(self, name: str) -> Any:
        return json.loads((self.data_dir / "payloads" / "shopify" / name).read_text())

    def pay(self, order_id: str, amount: str = "", gateway: str = "") -> dict[str, Any]:
        """The order's payment, as Shopify's transactions.json example shows one."""
        (transaction,) = self.example("transactions.json")
        transaction = {**transaction, "order_id": int(order_id)}
        if amount:
            transaction["amount"] = amount
        if gateway:
            transaction["gateway"] = gateway
        self.transactions.setdefault(order_id, []).append(transaction)
        return transaction

    def fail(self, path: str, count: int = 1, status: int = 503, after: bool = False) -> None:
        self.faults.append(Fault(path, count, status, after))

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    def _fault(self, path: str, after: bool) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and fault.after == after and re.search(fault.path, path):
                fault.count -= 1
                return fault
        return None

    def answer(self, method: str, path: str, token: str, body: bytes) -> tuple[int, Any]:
        with self.lock:
            parsed = json.loads(body) if body else None
            self.requests.append({"method": method, "path": path, "body": parsed})
            if token != self.token:
                return 401, {"errors": "[API] Invalid API key or access token"}
            found = PATH.match(path)
            if found is None:
                return 404, {"errors": "Not Found"}
            _, order_id, resource = found.groups()
            fault = self._fault(path, after=False)
            if fault is not None:
                return fault.status, {"errors": "Service unavailable"}
            if resource == "transactions" and method == "GET":
                return 200, {"transactions": self.transactions.get(order_id, [])}
            if resource == "refunds" and method == "GET":
                mine = [r for r in self.ledger if str(r["order_id"]) == order_id]
                return 200, {"refunds": mine}
            if resource == "refunds" and method == "POST":
                asked = (parsed or {}).get("refund") or {}
                refund = self._refund(order_id, asked)
                self.ledger.append(refund)
                fault = self._fault(path, after=True)
                if fault is not None:
                    return fault.status, {"errors": "Service unavailable"}
                return 201, {"refund": refund}
            return 405, {"errors": "Method not allowed"}

    def _refund(self, order_id: str, asked: dict[str, Any]) -> dict[str, Any]:
        refund = dict(self.example("refund.json")["refund"])
        template_tx = refund["transactions"][0]
        template_line = refund["refund_line_items"][0]
        refund.update(
            id=509562969 + len(self.ledger) + 1,
            order_id=int(order_id),
            note=asked.get("note"),
            restock=False,
            refund_line_items=[
                {**template_line, **li, "id": 104689539 + i}
                for i, li in enumerate(asked.get("refund_line_items") or [])
            ],
            transactions=[
                {
                    **template_tx,
                    **t,
                    "id": 179259969 + len(self.ledger) + i,
                    "order_id": int(order_id),
                }
                for i, t in enumerate(asked.get("transactions") or [])
            ],
        )
        return refund


def _handler(app: ShopifyReplay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = app.answer(
                self.command,
                self.path.split("?")[0],
                self.headers.get("X-Shopify-Access-Token") or "",
                body,
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextmanager
def serve(data_dir: Path, token: str) -> Iterator[ShopifyReplay]:
    app = ShopifyReplay(data_dir=data_dir, token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app))
    app.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
