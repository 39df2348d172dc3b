"""Loopback replay servers for Stripe and PayPal, for tests of the payment adapters and of refund
execution (including the R1/R2 tests that run the worker as a separate process and kill it).

They answer with bodies shaped like the vendors' own material in ../shared/data/payloads, read at
run time and never copied: Stripe's OpenAPI fixtures (refund, charge, event) and PayPal's
Payments v2 OpenAPI document (the refund schema, its error schemas and their enums, the OAuth
token URL and scopes). A Checkout Session has no recorded fixture there; its body carries the
fields the stripe library's CheckoutSession model reads.

They honour what the adapters rely on, as the real services do:

- Stripe: `Idempotency-Key` (same key and parameters: the same answer, `Idempotent-Replayed`;
  other parameters: 400 idempotency_error; the key still in progress: 409); a refund beyond what
  is left of the charge: 400 (charge_already_refunded, or an amount error); unknown charge: 404;
  a wrong secret key: 401.
- PayPal: the client-credentials token endpoint (Basic auth; 401 invalid_client), Bearer tokens,
  `PayPal-Request-Id` (same id: the same answer; in progress: 409 PREVIOUS_REQUEST_IN_PROGRESS),
  `Prefer: return=minimal|representation`, 422 CAPTURE_FULLY_REFUNDED / REFUND_AMOUNT_EXCEEDED /
  DECIMALS_NOT_SUPPORTED / DECIMAL_PRECISION / REFUND_CAPTURE_CURRENCY_MISMATCH /
  DUPLICATE_INVOICE_ID, 404 INVALID_RESOURCE_ID.

Control endpoints (under /__, never faulted):

- `GET /__ledger[?kind=refund|collection]`: what was really created, in order (also appended as
  JSON lines to the `--ledger` file, when given);
- `POST /__faults` `{"mode": "error"|"delay"|"drop", "count": K, "status": 500, "seconds": N,
  "after": false, "path": "regex"}`: the next K matching requests fail. `after: false` fails in
  front of the API (nothing is created or remembered); `after: true` fails after the refund was
  created and its answer stored under the idempotency key (the answer is lost, the refund is
  not). `DELETE /__faults` clears them;
- `GET /__requests`: the API requests seen (method, path, idempotency key, fault applied);
- `POST /__payments` `{"amount", "currency", "reference"?, "refund_status"?}`: a payment to
  refund (a Stripe charge "ch_" or payment intent "pi_", a PayPal capture); answers it;
- `POST /__refunds/<id>` `{"status", "failure_reason"?}`: the provider settles a refund later;
  Stripe answers the refund and its signed `refund.updated` / `refund.failed` event;
- `POST /__checkout/<id>/pay` and `/expire` (Stripe): the shopper pays, or the session expires;
  answers the signed `checkout.session.*` event.

Run one as a process: `python -m tests.payments.servers stripe --port 0 --ledger FILE`; it prints
`listening on http://127.0.0.1:PORT` and serves until terminated. `spawn()` does that and answers
a `ServerHandle`; `serve_in_thread()` runs one inside the test process.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from returndesk.core.money import currency_exponent

__all__ = [
    "DEFAULT_DATA_DIR",
    "PayPalApp",
    "ServerHandle",
    "StripeApp",
    "paypal_files",
    "serve_in_thread",
    "spawn",
    "stripe_files",
]

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = Path(os.environ.get("RETURNDESK_DATA_DIR") or REPO.parent / "shared" / "data")
STRIPE_SECRET_KEY = "sk_test_returndesk_replay"
STRIPE_WEBHOOK_SECRET = "whsec_returndesk_replay"
PAYPAL_CLIENT_ID = "returndesk-replay-client"
PAYPAL_CLIENT_SECRET = "returndesk-replay-secret"
PAYPAL_NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})


def stripe_files(data_dir: Path) -> dict[str, Path]:
    folder = data_dir / "payloads" / "stripe"
    names = ("refund", "charge", "event")
    return {name: folder / f"{name}.fixture.json" for name in names}


def paypal_files(data_dir: Path) -> dict[str, Path]:
    return {"openapi": data_dir / "payloads" / "paypal" / "payments_payment_v2.openapi.json"}


def _random_id(prefix: str, length: int = 24, alphabet: str = "") -> str:
    chars = alphabet or "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(chars) for _ in range(length))


# --- the shared machinery: answers, faults, idempotency, the ledger -------------------------


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    mode: str  # error | delay | drop
    count: int
    status: int = 500
    seconds: float = 0.0
    after: bool = False
    path: str = ""


class Done(Exception):
    """The handler already dealt with the connection (dropped it)."""


@dataclass
class Stored:
    fingerprint: str
    answer: Answer | None = None  # None while the first request is still being processed


class App:
    """What both replay servers share. Subclasses route the vendor's API."""

    name = ""

    def __init__(self, data_dir: Path, ledger_path: Path | None = None) -> None:
        self.data_dir = data_dir
        self.ledger_path = ledger_path
        self.lock = threading.RLock()
        self.ledger: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.idempotency: dict[tuple[str, str], Stored] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.url = ""

    # the ledger
    def record(self, entry: dict[str, Any]) -> None:
        entry = {"provider": self.name, "at": time.time(), **entry}
        with self.lock:
            self.ledger.append(entry)
            if self.ledger_path is not None:
                with self.ledger_path.open("a") as handle:
                    handle.write(json.dumps(entry) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())

    # faults
    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and (not fault.path or re.search(fault.path, path)):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def fault_answer(self, fault: Fault) -> Answer:
        return Answer(fault.status, {"error": {"type": "api_error", "message": "injected fault"}})

    # idempotency
    def idempotent(
        self, scope: str, key: str, fingerprint: str, work: Callable[[], Answer]
    ) -> Answer:
        """Run `work` once per (scope, key); replay its answer for the same key."""
        if not key:
            return work()
        slot = (scope, key)
        with self.lock:
            stored = self.idempotency.get(slot)
            if stored is None:
                self.idempotency[slot] = Stored(fingerprint)
        if stored is not None:
            if stored.answer is None:
                return self.in_progress()
            if stored.fingerprint != fingerprint:
                return self.key_reused(key)
            return self.replayed(stored.answer)
        try:
            answer = work()
        except BaseException:
            with self.lock:
                self.idempotency.pop(slot, None)
            raise
        with self.lock:
            if answer.status in self.remembered_statuses:
                self.idempotency[slot].answer = answer
            else:  # refused before the endpoint ran: nothing remembered
                self.idempotency.pop(slot, None)
        return answer

    remembered_statuses: frozenset[int] = frozenset({200, 201, 402, 422})

    def in_progress(self) -> Answer:
        raise NotImplementedError

    def key_reused(self, key: str) -> Answer:
        raise NotImplementedError

    def replayed(self, answer: Answer) -> Answer:
        return answer

    # control endpoints
    def control(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method == "GET" and path == "/__ledger":
            kind = query.get("kind", "refund")
            with self.lock:
                entries = [e for e in self.ledger if kind == "all" or e.get("kind") == kind]
            return Answer(200, entries)
        if method == "GET" and path == "/__requests":
            with self.lock:
                return Answer(200, list(self.requests))
        if method == "POST" and path == "/__faults":
            fault = Fault(
                mode=str(body.get("mode", "error")),
                count=int(body.get("count", 1)),
                status=int(body.get("status", 500)),
                seconds=float(body.get("seconds", 0)),
                after=bool(body.get("after", False)),
                path=str(body.get("path", "")),
            )
            if fault.mode not in ("error", "delay", "drop") or fault.count < 1:
                return Answer(400, {"error": "mode is error, delay or drop; count >= 1"})
            with self.lock:
                self.faults.append(fault)
            return Answer(200, {"faults": len(self.faults)})
        if method == "DELETE" and path == "/__faults":
            with self.lock:
                self.faults.clear()
            return Answer(200, {"faults": 0})
        if method == "POST" and path == "/__payments":
            return Answer(200, self.add_payment(body))
        match = re.fullmatch(r"/__refunds/([^/]+)", path)
        if method == "POST" and match:
            return self.settle(match.group(1), body)
        return self.more_control(method, path, body)

    def more_control(self, method: str, path: str, body: Any) -> Answer:
        return Answer(404, {"error": f"no control endpoint {method} {path}"})

    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def settle(self, refund_id: str, body: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> Answer:
        raise NotImplementedError

    def idempotency_header(self, headers: Any) -> str:
        return ""


def _readable(raw: bytes) -> Any:
    """A request body as sent: JSON, or Stripe's form encoding."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return parse_form(raw)


class Handler(BaseHTTPRequestHandler):
    app: App  # set on the subclass made per server
    protocol_version = "HTTP/1.0"

    def _respond(self, answer: Answer) -> None:
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise Done

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        path = parts.path
        try:
            if path.startswith("/__"):
                query = dict(parse_qsl(parts.query))
                body = json.loads(raw) if raw else {}
                self._respond(self.app.control(self.command, path, query, body))
                return
            fault = self.app.take_fault(path)
            with self.app.lock:
                self.app.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "idempotency_key": self.app.idempotency_header(self.headers),
                        "body": _readable(raw),
                        "fault": None if fault is None else fault.mode,
                    }
                )
            if fault and not fault.after:
                self._apply(fault, None)
            answer = self.app.handle(self.command, self.path, self.headers, raw)
            if fault and fault.after:
                self._apply(fault, answer)
            self._respond(answer)
        except Done:
            return
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up waiting (a delay beyond its timeout)

    def _apply(self, fault: Fault, answer: Answer | None) -> None:
        if fault.mode == "delay":
            time.sleep(fault.seconds)
            return
        if fault.mode == "drop":
            self._drop()
        self._respond(self.app.fault_answer(fault))
        raise Done

    do_GET = do_POST = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- Stripe ----------------------------------------------------------------------------------


def parse_form(raw: bytes) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[k]=v`, `line_items[0][quantity]=1`) as nested data."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode(), keep_blank_values=True):
        names = re.findall(r"[^\[\]]+", key)
        node = root
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: lists(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return lists(root)


class StripeApp(App):
    name = "stripe"

    def __init__(
        self,
        data_dir: Path,
        ledger_path: Path | None = None,
        *,
        secret_key: str = STRIPE_SECRET_KEY,
        webhook_secret: str = STRIPE_WEBHOOK_SECRET,
    ) -> None:
        super().__init__(data_dir, ledger_path)
        files = stripe_files(data_dir)
        self.fixtures = {name: json.loads(path.read_text()) for name, path in files.items()}
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.refunds: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}

    remembered_statuses = frozenset({200, 400, 402})

    def idempotency_header(self, headers: Any) -> str:
        return str(headers.get("Idempotency-Key") or "")

    @staticmethod
    def error(status: int, type_: str, message: str, **extra: Any) -> Answer:
        return Answer(status, {"error": {"type": type_, "message": message, **extra}})

    def in_progress(self) -> Answer:
        return self.error(
            409,
            "idempotency_error",
            "There is currently another in-progress request using this Idempotent Key (that "
            "probably means you submitted twice, and the other request is still going "
            "through). Please try again later.",
        )

    def key_reused(self, key: str) -> Answer:
        return self.error(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.",
        )

    def replayed(self, answer: Answer) -> Answer:
        return Answer(answer.status, answer.body, {**answer.headers, "Idempotent-Replayed": "true"})

    def fault_answer(self, fault: Fault) -> Answer:
        if fault.status == 429:
            return self.error(429, "invalid_request_error", "Too many requests.", code="rate_limit")
        return self.error(
            fault.status, "api_error", "An unknown error occurred (an injected fault)."
        )

    # payments
    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = str(body.get("reference") or _random_id("ch_"))
        amount = int(body["amount"])
        currency = str(body.get("currency", "USD")).lower()
        charge_id = reference if reference.startswith("ch_") else _random_id("ch_")
        charge = {
            **self.fixtures["charge"],
            "id": charge_id,
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "captured": True,
            "currency": currency,
            "refunded": False,
            "created": int(time.time()),
            "payment_intent": reference if reference.startswith("pi_") else None,
            "refunds": {
                "data": [],
                "has_more": False,
                "object": "list",
                "url": f"/v1/charges/{charge_id}/refunds",
            },
        }
        with self.lock:
            self.payments[charge_id] = {
                "charge": charge,
                "refund_status": str(body.get("refund_status") or "succeeded"),
            }
            if reference.startswith("pi_"):
                self.payments[reference] = self.payments[charge_id]
        return {"reference": reference, "charge": charge_id}

    def _authorized(self, headers: Any) -> bool:
        return headers.get("Authorization") == f"Bearer {self.secret_key}"

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        if not self._authorized(headers):
            supplied = str(headers.get("Authorization") or "").removeprefix("Bearer ")
            return self.error(
                401,
                "invalid_request_error",
                f"Invalid API Key provided: {supplied[:8]}****{supplied[-4:]}",
            )
        params = parse_form(raw) if raw else {}
        key = self.idempotency_header(headers)
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if method == "POST" and path == "/v1/refunds":
            return self.idempotent(
                self.secret_key, key, fingerprint, lambda: self.create_refund(params)
            )
        if method == "POST" and path == "/v1/checkout/sessions":
            return self.idempotent(
                self.secret_key, key, fingerprint, lambda: self.create_session(params)
            )
        match = re.fullmatch(r"/v1/refunds/([^/]+)", path)
        if method == "GET" and match:
            with self.lock:
                refund = self.refunds.get(match.group(1))
            if refund is None:
                return self.missing("refund", match.group(1))
            return Answer(200, refund)
        if method == "GET" and path == "/v1/refunds":
            query = dict(parse_qsl(parts.query))
            with self.lock:
                found = [
                    r
                    for r in self.refunds.values()
                    if all(r.get(k) == query[k] for k in ("charge", "payment_intent") if k in query)
                ]
            return Answer(
                200, {"object": "list", "data": found, "has_more": False, "url": "/v1/refunds"}
            )
        match = re.fullmatch(r"/v1/charges/([^/]+)", path)
        if method == "GET" and match:
            with self.lock:
                payment = self.payments.get(match.group(1))
            if payment is None:
                return self.missing("charge", match.group(1))
            return Answer(200, payment["charge"])
        return self.error(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
        )

    def missing(self, kind: str, ident: str) -> Answer:
        return self.error(
            404,
            "invalid_request_error",
            f"No such {kind}: '{ident}'",
            code="resource_missing",
            param="id" if kind == "refund" else kind,
        )

    def create_refund(self, params: dict[str, Any]) -> Answer:
        reference = str(params.get("payment_intent") or params.get("charge") or "")
        if not reference:
            return self.error(
                400,
                "invalid_request_error",
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
            )
        with self.lock:
            payment = self.payments.get(reference)
            if payment is None:
                kind = "payment_intent" if reference.startswith("pi_") else "charge"
                return self.missing(kind, reference)
            charge = payment["charge"]
            left = charge["amount"] - charge["amount_refunded"]
            amount = int(params.get("amount") or left)
            if charge["refunded"] or left <= 0:
                return self.error(
                    400,
                    "invalid_request_error",
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                )
            if amount > left:
                return self.error(
                    400,
                    "invalid_request_error",
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({left})",
                    param="amount",
                )
            if amount <= 0:
                return self.error(
                    400, "invalid_request_error", "Invalid positive integer", param="amount"
                )
            status = payment["refund_status"]
            refund = {
                **self.fixtures["refund"],
                "id": _random_id("re_"),
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": dict(params.get("metadata") or {}),
                "payment_intent": charge["payment_intent"],
                "reason": params.get("reason"),
                "status": status,
            }
            if status == "failed":
                refund["failure_reason"] = "expired_or_canceled_card"
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            charge["refunds"]["data"].insert(0, refund)
            self.refunds[refund["id"]] = refund
            self.record(
                {
                    "kind": "refund",
                    "id": refund["id"],
                    "payment": reference,
                    "amount": amount,
                    "currency": charge["currency"].upper(),
                    "status": status,
                    "metadata": refund["metadata"],
                }
            )
        return Answer(200, refund)

    def create_session(self, params: dict[str, Any]) -> Answer:
        items = params.get("line_items") or []
        try:
            prices = [
                (int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)), i) for i in items
            ]
            currency = str(items[0]["price_data"]["currency"])
        except (KeyError, IndexError, TypeError, ValueError):
            return self.error(
                400,
                "invalid_request_error",
                "line_items with price_data are required",
                param="line_items",
            )
        total = sum(amount for amount, _ in prices)
        session_id = _random_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "client_reference_id": params.get("client_reference_id"),
            "created": int(time.time()),
            "currency": currency,
            "expires_at": int(time.time()) + 24 * 3600,
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "mode": params.get("mode", "payment"),
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        with self.lock:
            self.sessions[session_id] = session
            self.record(
                {
                    "kind": "collection",
                    "id": session_id,
                    "amount": total,
                    "currency": currency.upper(),
                    "metadata": session["metadata"],
                }
            )
        return Answer(200, session)

    # the provider settling things later, and the signed event it would send
    def signed_event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        import stripe  # the library's own signer, as Stripe signs

        event = {
            **self.fixtures["event"],
            "id": _random_id("evt_"),
            "created": int(time.time()),
            "type": event_type,
            "data": {"object": obj},
        }
        body = json.dumps(event)
        signature = stripe.WebhookSignature.generate_signature_header(body, self.webhook_secret)
        return {"event": event, "body": body, "signature": signature}

    def settle(self, refund_id: str, body: dict[str, Any]) -> Answer:
        status = str(body.get("status") or "succeeded")
        with self.lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                return self.missing("refund", refund_id)
            refund["status"] = status
            if status in ("failed", "canceled"):
                refund["failure_reason"] = body.get("failure_reason") or "declined"
                payment = self.payments[refund["charge"]]
                payment["charge"]["amount_refunded"] -= refund["amount"]
                payment["charge"]["refunded"] = False
            snapshot = json.loads(json.dumps(refund))
        event_type = "refund.failed" if status == "failed" else "refund.updated"
        return Answer(200, {"refund": snapshot, **self.signed_event(event_type, snapshot)})

    def more_control(self, method: str, path: str, body: Any) -> Answer:
        match = re.fullmatch(r"/__checkout/([^/]+)/(pay|expire)", path)
        if method == "POST" and match:
            with self.lock:
                session = self.sessions.get(match.group(1))
                if session is None:
                    return self.missing("checkout.session", match.group(1))
                if match.group(2) == "pay":
                    session.update(
                        status="complete",
                        payment_status="paid",
                        payment_intent=_random_id("pi_"),
                    )
                    event_type = "checkout.session.completed"
                else:
                    session.update(status="expired", url=None)
                    event_type = "checkout.session.expired"
                snapshot = json.loads(json.dumps(session))
            return Answer(200, {"session": snapshot, **self.signed_event(event_type, snapshot)})
        return super().more_control(method, path, body)


# --- PayPal ----------------------------------------------------------------------------------


class PayPalApp(App):
    name = "paypal"

    def __init__(
        self,
        data_dir: Path,
        ledger_path: Path | None = None,
        *,
        client_id: str = PAYPAL_CLIENT_ID,
        client_secret: str = PAYPAL_CLIENT_SECRET,
    ) -> None:
        super().__init__(data_dir, ledger_path)
        self.spec = json.loads(paypal_files(data_dir)["openapi"].read_text())
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.refunds: dict[str, dict[str, Any]] = {}
        self.invoice_ids: set[str] = set()
        flows = self.spec["components"]["securitySchemes"]["Oauth2"]["flows"]
        self.token_path = flows["clientCredentials"]["tokenUrl"]
        self.scopes = " ".join(flows["clientCredentials"]["scopes"])

    remembered_statuses = frozenset({200, 201, 422})

    def idempotency_header(self, headers: Any) -> str:
        return str(headers.get("PayPal-Request-Id") or "")

    # error bodies from the OpenAPI document: name and message from `error_<status>`, the
    # issue's description from the endpoint's (or the generic) details schema
    def _enum(self, schema: str, prop: str) -> str:
        found = self.spec["components"]["schemas"].get(schema) or {}
        values = (found.get("properties", {}).get(prop) or {}).get("enum") or [""]
        return str(values[0])

    def _description(self, status: int, issue: str) -> str:
        schemas = self.spec["components"]["schemas"]
        for name in (f"captures.refund-{status}", str(status)):
            details = (schemas.get(name) or {}).get("properties", {}).get("details", {})
            for option in details.get("items", {}).get("anyOf", []):
                if option.get("title") == issue:
                    values = option["properties"].get("description", {}).get("enum")
                    return str(values[0]) if values else issue.replace("_", " ").lower()
        return issue.replace("_", " ").lower()

    def error(self, status: int, issue: str = "", description: str = "") -> Answer:
        body: dict[str, Any] = {
            "name": self._enum(f"error_{status}", "name"),
            "message": self._enum(f"error_{status}", "message"),
            "debug_id": secrets.token_hex(7),
        }
        if issue:
            body["details"] = [
                {"issue": issue, "description": description or self._description(status, issue)}
            ]
            body["links"] = [
                {
                    "href": f"https://developer.paypal.com/docs/api/payments/v2/#error-{issue}",
                    "rel": "information_link",
                }
            ]
        return Answer(status, body)

    def in_progress(self) -> Answer:
        return self.error(409, "PREVIOUS_REQUEST_IN_PROGRESS")

    def fault_answer(self, fault: Fault) -> Answer:
        if fault.status >= 500:
            return self.error(500) if fault.status == 500 else Answer(fault.status, None)
        return self.error(fault.status)

    def add_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = str(
            body.get("reference") or _random_id("", 17, "0123456789ABCDEFGHJKLMNPRSTUVWXY")
        )
        with self.lock:
            self.payments[reference] = {
                "amount": int(body["amount"]),
                "currency": str(body.get("currency", "USD")),
                "refunded": 0,
                "refund_status": str(body.get("refund_status") or "COMPLETED"),
            }
        return {"reference": reference}

    def _money(self, amount: int, currency: str) -> dict[str, str]:
        exponent = currency_exponent(currency)
        if currency in PAYPAL_NO_DECIMALS:
            exponent = 0
            amount //= 10 ** currency_exponent(currency)
        value = f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"
        return {"currency_code": currency, "value": value}

    def _minor(self, value: str, currency: str) -> tuple[int | None, str]:
        """PayPal's value in minor units, or the issue that refuses it."""
        try:
            dec = Decimal(value)
        except InvalidOperation:
            return None, "INVALID_PARAMETER_SYNTAX"
        exponent = currency_exponent(currency)
        places = -dec.as_tuple().exponent if isinstance(dec.as_tuple().exponent, int) else 0
        if currency in PAYPAL_NO_DECIMALS and places > 0:
            return None, "DECIMALS_NOT_SUPPORTED"
        if places > exponent:
            return None, "DECIMAL_PRECISION"
        return int(dec.scaleb(exponent)), ""

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> Answer:
        path = urlsplit(target).path
        if method == "POST" and path == self.token_path:
            return self.token(headers, raw)
        auth = str(headers.get("Authorization") or "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return self.error(401)
        match = re.fullmatch(r"/v2/payments/captures/([^/]+)/refund", path)
        if method == "POST" and match:
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self.error(400, "MALFORMED_REQUEST_JSON")
            key = self.idempotency_header(headers)
            prefer = str(headers.get("Prefer") or "return=minimal")
            answer = self.idempotent(
                self.client_id, key, "", lambda: self.create_refund(match.group(1), body)
            )
            return self.shaped(answer, prefer)
        match = re.fullmatch(r"/v2/payments/refunds/([^/]+)", path)
        if method == "GET" and match:
            with self.lock:
                refund = self.refunds.get(match.group(1))
            if refund is None:
                return self.error(404, "INVALID_RESOURCE_ID")
            return Answer(200, refund)
        return self.error(404, "INVALID_RESOURCE_ID")

    def token(self, headers: Any, raw: bytes) -> Answer:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = dict(parse_qsl(raw.decode()))
        if headers.get("Authorization") != f"Basic {expected}":
            return Answer(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        if form.get("grant_type") != "client_credentials":
            return Answer(
                400,
                {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"},
            )
        token = _random_id("A21AA", 92)
        with self.lock:
            self.tokens.add(token)
        return Answer(
            200,
            {
                "scope": self.scopes,
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": 32400,
                "nonce": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + secrets.token_hex(8),
            },
        )

    def shaped(self, answer: Answer, prefer: str) -> Answer:
        if answer.status not in (200, 201) or "representation" in prefer:
            return answer
        body = answer.body
        return Answer(
            answer.status,
            {"id": body["id"], "status": body["status"], "links": body["links"]},
            answer.headers,
        )

    def create_refund(self, capture_id: str, body: dict[str, Any]) -> Answer:
        with self.lock:
            capture = self.payments.get(capture_id)
            if capture is None:
                return self.error(404, "INVALID_RESOURCE_ID")
            currency = capture["currency"]
            left = capture["amount"] - capture["refunded"]
            if left <= 0:
                return self.error(422, "CAPTURE_FULLY_REFUNDED")
            amount = left
            if body.get("amount"):
                if body["amount"].get("currency_code") != currency:
                    return self.error(422, "REFUND_CAPTURE_CURRENCY_MISMATCH")
                minor, issue = self._minor(str(body["amount"].get("value")), currency)
                if minor is None:
                    return self.error(422 if issue != "INVALID_PARAMETER_SYNTAX" else 400, issue)
                amount = minor
                if amount <= 0:
                    return self.error(422, "CANNOT_BE_ZERO_OR_NEGATIVE")
                if amount > left:
                    return self.error(422, "REFUND_AMOUNT_EXCEEDED")
            invoice_id = body.get("invoice_id")
            if invoice_id and invoice_id in self.invoice_ids:
                return self.error(422, "DUPLICATE_INVOICE_ID")
            status = capture["refund_status"]
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            refund_id = _random_id("", 17, "0123456789ABCDEFGHJKLMNPRSTUVWXY")
            capture["refunded"] += amount
            refund: dict[str, Any] = {
                "id": refund_id,
                "amount": self._money(amount, currency),
                "seller_payable_breakdown": {
                    "gross_amount": self._money(amount, currency),
                    "paypal_fee": self._money(0, currency),
                    "net_amount": self._money(amount, currency),
                    "total_refunded_amount": self._money(capture["refunded"], currency),
                },
                "status": status,
                "create_time": now,
                "update_time": now,
                "links": [
                    {
                        "href": f"{self.url}/v2/payments/refunds/{refund_id}",
                        "rel": "self",
                        "method": "GET",
                    },
                    {
                        "href": f"{self.url}/v2/payments/captures/{capture_id}",
                        "rel": "up",
                        "method": "GET",
                    },
                ],
            }
            for name in ("invoice_id", "custom_id", "note_to_payer"):
                if body.get(name):
                    refund[name] = body[name]
            if status in ("PENDING", "FAILED"):
                refund["status_details"] = {"reason": "ECHECK"}
            if invoice_id:
                self.invoice_ids.add(invoice_id)
            self.refunds[refund_id] = refund
            self.record(
                {
                    "kind": "refund",
                    "id": refund_id,
                    "payment": capture_id,
                    "amount": amount,
                    "currency": currency,
                    "status": status,
                    "custom_id": body.get("custom_id"),
                }
            )
            return Answer(201, json.loads(json.dumps(refund)))

    def settle(self, refund_id: str, body: dict[str, Any]) -> Answer:
        status = str(body.get("status") or "COMPLETED")
        with self.lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                return self.error(404, "INVALID_RESOURCE_ID")
            refund["status"] = status
            if status == "COMPLETED":
                refund.pop("status_details", None)
            return Answer(200, {"refund": json.loads(json.dumps(refund))})


# --- running them ----------------------------------------------------------------------------


def make_app(kind: str, data_dir: Path, ledger_path: Path | None = None, **options: str) -> App:
    if kind == "stripe":
        return StripeApp(data_dir, ledger_path, **options)
    if kind == "paypal":
        return PayPalApp(data_dir, ledger_path, **options)
    raise ValueError(f"no replay server for {kind!r}")


def make_server(app: App, port: int = 0) -> ThreadingHTTPServer:
    handler = type(f"{app.name.title()}Handler", (Handler,), {"app": app})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    app.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@dataclass
class ServerHandle:
    """A replay server as tests see it, in this process or another: all through HTTP."""

    kind: str
    url: str
    credentials: dict[str, str]
    process: subprocess.Popen[str] | None = None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback URL this module made
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def ledger(self, kind: str = "refund") -> list[dict[str, Any]]:
        """What reached the provider and was created, oldest first (kind: refund, collection,
        all)."""
        return self._call("GET", f"/__ledger?kind={kind}")

    def fault(
        self,
        mode: str = "error",
        *,
        count: int = 1,
        status: int = 500,
        seconds: float = 0.0,
        after: bool = False,
        path: str = "",
    ) -> None:
        """Fail the next `count` API requests (matching the `path` regex, when given)."""
        self._call(
            "POST",
            "/__faults",
            {
                "mode": mode,
                "count": count,
                "status": status,
                "seconds": seconds,
                "after": after,
                "path": path,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "/__faults")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/__requests")

    def payment(
        self,
        amount: int,
        currency: str = "USD",
        *,
        reference: str | None = None,
        refund_status: str | None = None,
    ) -> str:
        """A payment to refund: a Stripe charge (or `pi_...` reference), a PayPal capture.
        `refund_status` is the status its refunds get (Stripe "pending", PayPal "PENDING")."""
        body: dict[str, Any] = {"amount": amount, "currency": currency}
        if reference:
            body["reference"] = reference
        if refund_status:
            body["refund_status"] = refund_status
        return str(self._call("POST", "/__payments", body)["reference"])

    def settle(self, refund: str, status: str, failure_reason: str = "") -> dict[str, Any]:
        """The provider settles a refund later. Stripe also answers its signed event:
        {"refund", "event", "body", "signature"}."""
        body = {"status": status}
        if failure_reason:
            body["failure_reason"] = failure_reason
        return dict(self._call("POST", f"/__refunds/{refund}", body))

    def checkout(self, session: str, action: str = "pay") -> dict[str, Any]:
        """Stripe: the shopper pays (or the session expires); answers the signed event."""
        return dict(self._call("POST", f"/__checkout/{session}/{action}"))


def credentials_for(app: App) -> dict[str, str]:
    if isinstance(app, StripeApp):
        return {"secret_key": app.secret_key, "webhook_secret": app.webhook_secret}
    if isinstance(app, PayPalApp):
        return {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "environment": "sandbox",
        }
    return {}


@contextmanager
def serve_in_thread(
    kind: str, data_dir: Path = DEFAULT_DATA_DIR, ledger_path: Path | None = None
) -> Iterator[ServerHandle]:
    app = make_app(kind, data_dir, ledger_path)
    server = make_server(app)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield ServerHandle(kind, app.url, credentials_for(app))
    finally:
        server.shutdown()
        server.server_close()


def spawn(
    kind: str,
    *,
    ledger_path: Path | None = None,
    data_dir: Path = DEFAULT_DATA_DIR,
    port: int = 0,
    timeout: float = 20.0,
) -> ServerHandle:
    """Start `python -m tests.payments.servers KIND` and wait for its URL. The caller ends it
    (`handle.process.terminate()`), or uses the `payment_server_process` fixture."""
    command = [sys.executable, "-m", "tests.payments.servers", kind, "--port", str(port)]
    command += ["--data", str(data_dir)]
    if ledger_path is not None:
        command += ["--ledger", str(ledger_path)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline and not line:
        line = process.stdout.readline().strip()
        if process.poll() is not None:
            break
    match = re.search(r"listening on (\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"the {kind} replay server did not start: {line!r}")
    app_defaults = make_app(kind, data_dir)
    return ServerHandle(kind, match.group(1), credentials_for(app_defaults), process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.payments.servers")
    parser.add_argument("kind", choices=("stripe", "paypal"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ledger", type=Path, default=None, help="append created refunds here")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="../shared/data")
    args = parser.parse_args(argv)
    app = make_app(args.kind, args.data, args.ledger)
    server = make_server(app, args.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on {app.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
