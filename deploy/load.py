"""The mixed load of `make deploy-check`: shoppers' and stations' journeys over HTTPS through
the reverse proxy, for a bounded time, from a few threads (standard library only).

One journey is what a return lives through: the merchant's system sends the order, the shopper
uploads a photo and asks for the return, gets the label (JSON, then its PDF), the station scans
the parcel and records what the box held, an inspector grades the unit, and the shopper checks
the status. Each thread runs journeys back to back until the time is up; every answer is
counted by step and status, and any status other than the step's expected ones is an error.
"""

from __future__ import annotations

import io
import json
import ssl
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: Counter[tuple[str, int]] = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    journeys: Counter[str] = field(default_factory=Counter)
    api_requests: int = 0

    def record(self, step: str, status: int, seconds: float, ok: bool, detail: str) -> None:
        with self.lock:
            self.status[(step, status)] += 1
            self.latency[step].append(seconds)
            self.api_requests += 1
            if not ok:
                self.errors.append(f"{step} -> {status}: {detail[:300]}")

    def summary(self) -> dict[str, Any]:
        steps = {}
        for step, values in sorted(self.latency.items()):
            ordered = sorted(values)
            steps[step] = {
                "n": len(values),
                "p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
                "statuses": {
                    str(s): n for (name, s), n in sorted(self.status.items()) if name == step
                },
            }
        return {
            "requests": self.api_requests,
            "errors": len(self.errors),
            "server_errors": sum(n for (_, s), n in self.status.items() if s >= 500),
            "journeys": dict(self.journeys),
            "steps": steps,
        }


class Client:
    """HTTPS to the proxy, trusting the check's own certificate."""

    def __init__(self, base: str, cafile: str, stats: Stats) -> None:
        self.base = base.rstrip("/")
        self.context = ssl.create_default_context(cafile=cafile)
        self.stats = stats

    def call(
        self,
        step: str,
        method: str,
        path: str,
        key: str,
        body: Any = None,
        *,
        expect: tuple[int, ...] = (200, 201),
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes, dict[str, str]]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                status, payload, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, payload, headers = exc.code, exc.read(), dict(exc.headers)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            status, payload, headers = 599, str(exc).encode(), {}
        self.stats.record(
            step,
            status,
            time.perf_counter() - started,
            status in expect,
            payload.decode("utf-8", "replace"),
        )
        return status, payload, headers


def photo(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (seed * 37 % 256, seed * 91 % 256, 120)).save(out, "JPEG")
    return out.getvalue()


def multipart(fields: dict[str, str], file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


PRODUCTS = {
    "TEE-1": {"name": "Cotton tee", "price": 2500},
    "JACKET-1": {"name": "Rain jacket", "price": 12900},
}


def seed_products(client: Client, key: str) -> None:
    for sku, product in PRODUCTS.items():
        client.call(
            "product_put",
            "PUT",
            f"/api/v1/products/{sku}",
            key,
            {
                "name": product["name"],
                "category": "apparel",
                "price": {"amount": product["price"], "currency": "USD"},
                "weight_grams": 400,
            },
        )


def order_body(number: str, email: str, n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    total = 2500 + 12900
    # Half the orders were paid by gift card (refunded to its ledger by the worker at once),
    # half by card through no provider (manual: finance pays it outside and marks it paid).
    tender = (
        {"method": "gift_card", "amount": {"amount": total, "currency": "USD"},
         "external_reference": f"GC-{number}"}
        if n % 2 == 0
        else {"method": "card", "amount": {"amount": total, "currency": "USD"},
              "external_reference": f"ch_{number}"}
    )  # fmt: skip
    return {
        "customer": {"email": email, "name": f"Load Shopper {n}"},
        "placed_at": (now - timedelta(days=6)).isoformat(),
        "delivered_at": (now - timedelta(days=4)).isoformat(),
        "currency": "USD",
        "shipping_address": {
            "name": f"Load Shopper {n}",
            "line1": f"{n} Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "lines": [
            {
                "line_id": "1",
                "sku": "TEE-1",
                "quantity": 1,
                "unit_price": {"amount": 2500, "currency": "USD"},
            },
            {
                "line_id": "2",
                "sku": "JACKET-1",
                "quantity": 1,
                "unit_price": {"amount": 12900, "currency": "USD"},
            },
        ],
        "tenders": [tender],
    }


def journey(client: Client, n: int, merchant_key: str, station_key: str, facility: str) -> str:
    """One return from order to inspection; answers how far it got."""
    number, email = f"LOAD-{n:05d}", f"shopper{n}@example.com"
    status, _, _ = client.call(
        "order_put", "PUT", f"/api/v1/orders/{number}", merchant_key, order_body(number, email, n)
    )
    if status != 201:
        return "order_failed"
    raw, content_type = multipart({"purpose": "photo"}, photo(n))
    status, payload, _ = client.call(
        "upload", "POST", "/api/v1/uploads", merchant_key, raw=raw, content_type=content_type
    )
    if status != 201:
        return "upload_failed"
    upload_id = json.loads(payload)["upload_id"]
    line = {"line_id": "2", "quantity": 1, "reason": "defective", "photo_upload_ids": [upload_id]}
    if n % 3 == 0:
        line = {"line_id": "1", "quantity": 1, "reason": "wrong_size"}
    status, payload, _ = client.call(
        "return_create",
        "POST",
        "/api/v1/returns",
        merchant_key,
        {"order_number": number, "email": email, "channel": "api", "resolution": "refund",
         "lines": [line]},
    )  # fmt: skip
    if status != 201:
        return "return_failed"
    ret = json.loads(payload)
    ran = ret["ran"]
    if ret["status"] != "authorized":
        client.call("return_get", "GET", f"/api/v1/returns/{ran}", merchant_key)
        return f"return_{ret['status']}"
    status, payload, _ = client.call(
        "label_issue", "POST", f"/api/v1/returns/{ran}/label", merchant_key, {}
    )
    if status not in (200, 201):
        return "label_failed"
    label = json.loads(payload)
    client.call("label_pdf", "GET", f"/api/v1/returns/{ran}/label.pdf", merchant_key)
    code = label.get("tracking_number") or ran
    status, payload, _ = client.call(
        "scan", "POST", "/api/v1/receipts", station_key, {"code": code, "facility": facility}
    )
    if status not in (200, 201):
        return "scan_failed"
    receipt = json.loads(payload)["receipt"]
    if receipt is None:
        return "scan_unmatched"
    lines = [{"line_id": x["receipt_line_id"], "quantity": 1} for x in receipt["lines"]]
    status, _, _ = client.call(
        "receipt_record",
        "PUT",
        f"/api/v1/receipts/{receipt['id']}",
        station_key,
        {"lines": lines, "package_condition": "intact"},
        expect=(200,),
    )
    if status != 200:
        return "receive_failed"
    for x in receipt["lines"]:
        client.call(
            "inspection",
            "POST",
            f"/api/v1/returns/{ran}/lines/{x['receipt_line_id']}/inspection",
            station_key,
            {"grade": "A", "matches_description": True},
        )
    status, payload, _ = client.call("return_get", "GET", f"/api/v1/returns/{ran}", merchant_key)
    return f"ended_{json.loads(payload)['status']}" if status == 200 else "status_failed"


def run(
    *,
    base: str,
    cafile: str,
    merchant_key: str,
    station_key: str,
    facility: str,
    seconds: float,
    threads: int,
) -> Stats:
    stats = Stats()
    client = Client(base, cafile, stats)
    seed_products(client, merchant_key)
    deadline = time.monotonic() + seconds
    counter = iter(range(1, 10**6))
    counter_lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < deadline:
            with counter_lock:
                n = next(counter)
            outcome = journey(client, n, merchant_key, station_key, facility)
            with stats.lock:
                stats.journeys[outcome] += 1

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=seconds + 120)
    return stats
