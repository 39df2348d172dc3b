"""The mixed workload of `make load` (benchmarks/load.py runs it headless; see that file).

Three kinds of user, in one closed loop each (no think time: every user sends its next request
as soon as the last one is answered), against a `returndesk serve` seeded by load.py:

- Shopper (merchant key): asks what the policy would decide (POST /eligibility), creates a
  return of one unit of a recent order (POST /returns), and checks a return it created
  (GET /returns/{ran}).
- Station (provider key): scans a labelled package (POST /receipts, by tracking number and every
  tenth by RAN), then records what the box held (PUT /receipts/{id}) and hands each received
  line to the inspectors.
- Inspector (provider key): inspects a received line (POST /returns/{ran}/lines/{line}/
  inspection, grade A); with nothing waiting, it looks at a receipt instead (GET /receipts/{id}).

The seeded data comes from the JSON file named by $RETURNDESK_LOAD_DATA. The user counts come
from $RETURNDESK_LOAD_SHOPPERS, _STATIONS and _INSPECTORS (load.py sets them).
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from itertools import count
from typing import Any

import gevent
from locust import FastHttpUser, constant, task

DATA: dict[str, Any] = json.loads(open(os.environ["RETURNDESK_LOAD_DATA"]).read())  # noqa: SIM115
ORDERS: list[list[str]] = DATA["orders"]  # [order number, e-mail, first line id]
PACKAGES: list[list[str]] = DATA["packages"]  # [tracking number, RAN]
FACILITY: str = DATA["facility"]
_next_order = count()
_next_package = count()
CREATED: deque[str] = deque(maxlen=2000)  # RANs the shoppers created
TO_INSPECT: deque[tuple[str, str]] = deque()  # (RAN, receipt line id) received and recorded
RECEIPTS: deque[str] = deque(maxlen=2000)  # receipt ids, for idle inspectors


class _ApiUser(FastHttpUser):
    """A user in a closed loop with one API key (`key` names it in the data file)."""

    abstract = True
    wait_time = constant(0)
    key = "merchant_key"

    def on_start(self) -> None:
        # As from the TLS-terminating proxy in front of gunicorn (production settings redirect
        # plain HTTP to HTTPS).
        self.headers = {
            "Authorization": f"Bearer {DATA[self.key]}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
        }


class Shopper(_ApiUser):
    fixed_count = int(os.environ.get("RETURNDESK_LOAD_SHOPPERS", "8"))

    def _body(self, order: list[str], **more: str) -> str:
        number, email, line_id = order
        return json.dumps(
            {
                "order_number": number,
                "email": email,
                "resolution": "refund",
                "lines": [{"line_id": line_id, "quantity": 1, "reason": "changed_mind"}],
                **more,
            }
        )

    @task(3)
    def eligibility(self) -> None:
        order = random.choice(ORDERS)
        self.client.post(
            "/api/v1/eligibility", data=self._body(order), headers=self.headers, name="eligibility"
        )

    @task(2)
    def create(self) -> None:
        order = ORDERS[next(_next_order) % len(ORDERS)]
        with self.client.post(
            "/api/v1/returns",
            data=self._body(order, channel="api"),
            headers=self.headers,
            name="return_create",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                CREATED.append(response.json()["ran"])
                response.success()
            elif response.status_code == 422:
                # A unit already held by an earlier return of the same order (the order list
                # wrapped around): the policy's answer, not a failure of the server.
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(3)
    def check(self) -> None:
        if not CREATED:
            return self.create()
        ran = random.choice(CREATED)
        self.client.get(f"/api/v1/returns/{ran}", headers=self.headers, name="return_get")
        return None


class Station(_ApiUser):
    fixed_count = int(os.environ.get("RETURNDESK_LOAD_STATIONS", "6"))
    key = "provider_key"

    @task
    def scan(self) -> None:
        i = next(_next_package)
        tracking, ran = PACKAGES[i % len(PACKAGES)]
        body = json.dumps({"code": ran if i % 10 == 9 else tracking, "facility": FACILITY})
        with self.client.post(
            "/api/v1/receipts", data=body, headers=self.headers, name="scan", catch_response=True
        ) as response:
            if response.status_code not in (200, 201):
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            receipt = response.json()["receipt"]
            if response.status_code != 201 or receipt is None or receipt["state"] != "open":
                return  # a package scanned again after the list wrapped around
        lines = [{"line_id": x["receipt_line_id"], "quantity": 1} for x in receipt["lines"]]
        recorded = self.client.put(
            f"/api/v1/receipts/{receipt['id']}",
            data=json.dumps({"lines": lines, "package_condition": "intact"}),
            headers=self.headers,
            name="receipt_record",
        )
        if recorded.status_code == 200:
            RECEIPTS.append(receipt["id"])
            TO_INSPECT.extend((receipt["ran"], x["receipt_line_id"]) for x in receipt["lines"])


class Inspector(_ApiUser):
    fixed_count = int(os.environ.get("RETURNDESK_LOAD_INSPECTORS", "2"))
    key = "provider_key"

    @task
    def inspect(self) -> None:
        try:
            ran, line = TO_INSPECT.popleft()
        except IndexError:
            if RECEIPTS:
                receipt = random.choice(RECEIPTS)
                self.client.get(
                    f"/api/v1/receipts/{receipt}", headers=self.headers, name="receipt_get"
                )
            else:
                gevent.sleep(0.05)  # nothing received yet
            return
        self.client.post(
            f"/api/v1/returns/{ran}/lines/{line}/inspection",
            data=json.dumps({"grade": "A", "matches_description": True}),
            headers=self.headers,
            name="inspection",
        )
