"""Merchant A's world, for the generated reliability tests (R4, R5, R6).

The console isolation test's `values` fixture (tests/console/test_isolation.py) already builds a
merchant with an object of every kind the console names in its URLs: a return in review,
approved and labelled, received, inspected, dispositioned and refunded, an adjustment, a webhook
endpoint with a delivery, packages that matched nothing with photos. `world` adds what the API
names and the console does not (an exchange, a gift card, store credit) and answers one value per
parameter *name*, so a generated test fills any operation's parameters from it.

Merchant B ("globex") has a merchant key, an admin user and a facility of its own (FAC2), and
owns nothing else: whatever of A's it is answered is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from returndesk.core.actors import Actor
from returndesk.core.codes import format_ran, normalize_ran
from returndesk.core.tenancy import merchant_scope
from returndesk.credit.services import gift_card_credit, store_credit_issue
from returndesk.tenants.models import Merchant, User
from returndesk.tenants.services import apikey_create
from returndesk.warehouse.models import Disposition
from tests.conftest import ApiClient
from tests.console.test_console import staff
from tests.factories import make_facility, money, product_body
from tests.refunds.conftest import run_worker, set_policy
from tests.returns.test_returns_api import request

ACTOR = Actor.system("tests")
# Request fields (body or query) that name one of the world's objects, and its value's name.
OBJECT_FIELDS = {
    "order_number": "order_number",
    "email": "email",
    "ran": "ran",
    "code": "ran",  # a receiving scan's code
    "facility": "facility",
    "sku": "sku",
    "line_id": "line",
    "unit": "unit",
}
EMAIL = "shopper@example.com"
GIFT_CARD = "GC-ACME-RELIABILITY"


@dataclass
class World:
    """A's objects by parameter name, the credentials of both merchants, and what of A's must
    never appear in an answer to B."""

    values: dict[str, Any]
    a_key: ApiClient  # merchant A's key
    a_station: ApiClient  # a provider key limited to FAC1, which serves A only
    b_key: ApiClient  # merchant B's key
    b_station: ApiClient  # a provider key limited to FAC2, which serves B only
    a_admin: User  # merchant_admin of A
    b_admin: User  # merchant_admin of B
    merchant: Merchant
    other: Merchant
    markers: set[str] = field(default_factory=set)


def build_world(
    values: dict[str, Any], merchant: Merchant, other: Merchant, api: ApiClient
) -> World:
    """Add an exchange, a gift card and store credit to `values` (the console test's), and the
    names the API uses for what the console calls otherwise."""
    ran = values["ran"]
    # An exchange: a return of line 2 for another product, authorized (the review queue's
    # threshold of the `pending` fixture does not apply to a cheaper line).
    document = api.get("/policy").json()["document"]
    set_policy(api, resolutions={**document["resolutions"], "exchange": True})
    assert api.put("/products/SOCK-2", product_body(name="Sock 2", price=money(1200))).status_code
    line = {
        "line_id": "2",
        "quantity": 1,
        "reason": "wrong_size",
        "exchange_for": {"sku": "SOCK-2"},
    }
    made = api.post("/returns", request(resolution="exchange", lines=[line]))
    assert made.status_code == 201, made.content
    exchange_ran = made.json()["ran"]
    if made.json()["status"] != "authorized":
        assert api.post(f"/returns/{exchange_ran}/approve", {"reason": "ok"}).status_code == 200
    run_worker()
    exchanges = api.get(f"/returns/{exchange_ran}/exchanges").json()["data"]
    assert exchanges, "the exchange return has no exchange"
    gift_card_credit(
        merchant=merchant,
        code=GIFT_CARD,
        currency="USD",
        amount=500,
        reference="reliability-gift-card",
        source=None,
        actor=ACTOR,
    )
    store_credit_issue(
        merchant=merchant,
        email=EMAIL,
        currency="USD",
        amount=700,
        reference="reliability-store-credit",
        source=None,
        actor=ACTOR,
    )
    with merchant_scope(merchant):
        lpns = list(Disposition.objects.values_list("lpn", flat=True))
    assert lpns, "the world's dispositioned unit has no LPN"

    make_facility(other, code="FAC2", name="Facility two")
    _, b_key = apikey_create(actor=ACTOR, name="b", merchant=other)
    _, a_station = apikey_create(actor=ACTOR, name="a-station", facility_codes=["FAC1"])
    _, b_station = apikey_create(actor=ACTOR, name="b-station", facility_codes=["FAC2"])
    api_values = {
        **values,
        # the API's names for what the console calls receipt, package, line
        "receipt_id": values["receipt"],
        "package_id": values["package"],
        "line_id": values["line"],
        "sku": "SHOE-1",
        "order_number": "1001",
        "email": EMAIL,
        "code": GIFT_CARD,
        "lpn": lpns[0],
        "exchange_id": exchanges[0]["id"],
        "exchange_ran": exchange_ran,
        "carrier": "prepaid",
    }
    markers = {
        *(format_ran(r) for r in (ran, exchange_ran)),
        *(normalize_ran(r) for r in (ran, exchange_ran)),
        EMAIL,
        GIFT_CARD,
        lpns[0],
        *(
            str(values[name])
            for name in (
                "receipt",
                "package",
                "photo",
                "linked_photo",
                "line",
                "route_id",
                "refund_id",
                "adjustment_id",
                "endpoint_id",
                "delivery_id",
            )
            if name in values
        ),
        exchanges[0]["id"],
    }
    return World(
        values=api_values,
        a_key=api,
        a_station=ApiClient(a_station),
        b_key=ApiClient(b_key),
        b_station=ApiClient(b_station),
        a_admin=staff("owner@acme.example", "merchant_admin", merchant),
        b_admin=staff("owner@globex.example", "merchant_admin", other),
        merchant=merchant,
        other=other,
        markers=markers,
    )
