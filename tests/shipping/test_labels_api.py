"""POST /returns/{ran}/label and the label files, with the prepaid adapter (no outside service)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.models import OutboxMessage
from returndesk.returns.models import Return
from returndesk.returns.services import returns_expire_due
from returndesk.shipping.models import Label
from returndesk.shipping.selectors import label_find_by_code
from returndesk.shipping.services import carrier_settings_update, facility_route_add
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import facility_create
from tests.conftest import ACTOR, ApiClient
from tests.returns.test_returns_api import request

pytestmark = pytest.mark.django_db


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def labels() -> Any:
    return Label.objects.with_scopes_disabled()


def test_it_issues_a_prepaid_label_once(api: ApiClient, authorized: dict) -> None:
    first = api.post(f"/returns/{authorized['ran']}/label", {})
    assert first.status_code == 201, first.content
    label = first.json()
    assert label["ran"] == authorized["ran"]
    assert label["kind"] == "label"
    assert label["carrier"] == "ReturnDesk"
    assert label["tracking_number"].startswith("RD")
    assert label["facility"]["code"] == "NJ1"
    assert label["ship_from"]["postal_code"] == "62701"
    assert label["ship_to"]["city"] == "Newark"
    # the default policy charges no return shipping: the merchant bears it
    assert label["paid_by"] == "merchant"
    assert label["shopper_fee"] == {"amount": 0, "currency": "USD"}
    again = api.post(f"/returns/{authorized['ran']}/label", {})
    assert again.status_code == 200
    assert again.json()["id"] == label["id"]
    assert labels().count() == 1
    assert api.get(f"/returns/{authorized['ran']}/label").json()["id"] == label["id"]
    events = api.get(f"/returns/{authorized['ran']}/events").json()["data"]
    assert [e["type"] for e in events].count("return.label_created") == 1
    webhook = OutboxMessage.objects.with_scopes_disabled().get(type="return.label_created")
    assert webhook.payload["data"]["label"]["tracking_number"] == label["tracking_number"]


def test_the_same_idempotency_key_replays_the_label(api: ApiClient, authorized: dict) -> None:
    headers = {"Idempotency-Key": "label-1"}
    first = api.post(f"/returns/{authorized['ran']}/label", {}, headers=headers)
    second = api.post(f"/returns/{authorized['ran']}/label", {}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()


def test_a_shopper_paid_fee_is_a_refund_deduction(
    api: ApiClient, order: dict, facility: Facility
) -> None:
    policy = api.get("/policy").json()["document"]
    policy["fees"]["return_shipping_fee"] = 695
    assert api.put("/policy", policy).status_code == 201
    ret = api.post("/returns", request()).json()
    assert {"code": "return_shipping_fee", "amount": 695} in [
        {"code": f["code"], "amount": f["amount"]} for f in ret["decision"]["fees"]
    ]
    label = api.post(f"/returns/{ret['ran']}/label", {}).json()
    assert label["paid_by"] == "customer"
    assert label["shopper_fee"] == {"amount": 695, "currency": "USD"}


def test_a_merchant_borne_cost_is_recorded_for_billing(
    api: ApiClient, merchant: Merchant, authorized: dict
) -> None:
    with merchant_scope(merchant):
        carrier_settings_update(
            actor=ACTOR, merchant=merchant, carriers=["prepaid"], prepaid_cost_amount=450
        )
    label = api.post(f"/returns/{authorized['ran']}/label", {}).json()
    assert label["cost"] == {"amount": 450, "currency": "USD"}
    assert label["merchant_cost"] == {"amount": 450, "currency": "USD"}


@pytest.mark.parametrize("status", ["pending_review", "rejected", "cancelled"])
def test_a_return_that_may_not_travel_gets_no_label(
    api: ApiClient, order: dict, facility: Facility, status: str
) -> None:
    if status == "rejected":
        ret = api.post(
            "/returns", request(lines=[{"line_id": "3", "quantity": 1, "reason": "wrong_size"}])
        ).json()
    else:
        policy = api.get("/policy").json()["document"]
        policy["auto_approval"]["max_order_value"] = 1000
        assert api.put("/policy", policy).status_code == 201
        ret = api.post("/returns", request()).json()
        if status == "cancelled":
            api.post(f"/returns/{ret['ran']}/cancel", {"reason": "kept it"})
    assert api.get(f"/returns/{ret['ran']}").json()["status"] == status
    response = api.post(f"/returns/{ret['ran']}/label", {})
    assert response.status_code == 409
    body = problem(response)
    assert body["code"] == "return_not_authorized"
    assert status in body["detail"]
    assert not labels().exists()


def test_another_merchant_sees_nothing(
    api: ApiClient, outsider_api: ApiClient, authorized: dict
) -> None:
    ran = authorized["ran"]
    assert outsider_api.post(f"/returns/{ran}/label", {}).status_code == 404
    assert api.post(f"/returns/{ran}/label", {}).status_code == 201
    for path in ("label", "label.pdf", "label.zpl"):
        response = outsider_api.get(f"/returns/{ran}/{path}")
        assert response.status_code == 404
        assert problem(response)["code"] == "not_found"


def test_files_before_a_label_are_404(api: ApiClient, authorized: dict) -> None:
    for path in ("label", "label.pdf", "label.zpl"):
        assert api.get(f"/returns/{authorized['ran']}/{path}").status_code == 404


def test_a_provider_key_may_not_issue_labels(provider_api: ApiClient, authorized: dict) -> None:
    assert provider_api.post(f"/returns/{authorized['ran']}/label", {}).status_code == 403


def test_label_files(api: ApiClient, authorized: dict) -> None:
    api.post(f"/returns/{authorized['ran']}/label", {})
    pdf = api.get(f"/returns/{authorized['ran']}/label.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    zpl = api.get(f"/returns/{authorized['ran']}/label.zpl")
    assert zpl.status_code == 200
    text = zpl.content.decode()
    assert text.startswith("^XA") and text.rstrip().endswith("^XZ")
    assert authorized["ran"].replace("-", "") in text


def _cancel(api: ApiClient, ran: str) -> None:
    assert api.post(f"/returns/{ran}/cancel", {"reason": "kept it"}).status_code == 200


def test_cancelling_voids_the_unused_label(
    api: ApiClient, authorized: dict, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    ran = authorized["ran"]
    tracking = api.post(f"/returns/{ran}/label", {}).json()["tracking_number"]
    with django_capture_on_commit_callbacks(execute=True):
        _cancel(api, ran)
    label = labels().get()
    assert label.status == "voided"
    assert label.void_reason == "return cancelled"
    assert label_find_by_code(code=tracking) is None  # a receiving scan no longer matches it
    assert api.get(f"/returns/{ran}/label.pdf").status_code == 404
    events = [e["type"] for e in api.get(f"/returns/{ran}/events").json()["data"]]
    assert events[-2:] == ["return.cancelled", "return.label_voided"]


def test_expiry_voids_the_label_and_reopening_issues_a_new_one(
    api: ApiClient, authorized: dict, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    ran = authorized["ran"]
    first = api.post(f"/returns/{ran}/label", {}).json()
    with django_capture_on_commit_callbacks(execute=True):
        expired = returns_expire_due(now=timezone.now() + timedelta(days=30))
    assert expired == 1
    assert labels().get().status == "voided"
    assert api.post(f"/returns/{ran}/label", {}).status_code == 409  # expired may not travel
    assert api.post(f"/returns/{ran}/reopen", {"reason": "shopper asked"}).status_code == 200
    second = api.post(f"/returns/{ran}/label", {})
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    assert labels().filter(status="active").count() == 1


def test_a_void_the_carrier_refuses_stays_pending(
    api: ApiClient, authorized: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from returndesk.shipping import services
    from returndesk.shipping.carriers.prepaid import PrepaidAdapter

    api.post(f"/returns/{authorized['ran']}/label", {})
    _cancel(api, authorized["ran"])  # the on-commit attempt is not run here
    label = labels().get()
    assert label.status == "void_pending"
    monkeypatch.setattr(PrepaidAdapter, "void_label", lambda self, **kw: False)
    later = timezone.now() + timedelta(hours=1)
    assert services.labels_void_pending(now=later) == 0
    label.refresh_from_db()
    assert (label.status, label.void_attempts) == ("void_pending", 1)
    assert "did not accept" in label.void_error
    monkeypatch.undo()
    assert services.labels_void_pending(now=later) == 1
    label.refresh_from_db()
    assert label.status == "voided"
    assert services.label_void_attempt(merchant_id=label.merchant_id, label_id=label.pk)


def test_box_free_dropoff_gives_a_code_a_scan_accepts(
    api: ApiClient, merchant: Merchant, authorized: dict
) -> None:
    with merchant_scope(merchant):
        carrier_settings_update(actor=ACTOR, merchant=merchant, carriers=[], mode="dropoff")
    response = api.post(f"/returns/{authorized['ran']}/label", {})
    assert response.status_code == 201
    label = response.json()
    assert label["kind"] == "dropoff"
    assert label["tracking_number"] is None
    assert label["label_zpl_url"] is None
    code = label["dropoff_code"]
    assert code.startswith("DO-")
    found = label_find_by_code(code=code.lower())
    assert found is not None
    assert found.return_request.ran == authorized["ran"].replace("-", "")
    pdf = api.get(f"/returns/{authorized['ran']}/label.pdf")
    assert pdf.status_code == 200


def test_routing_sends_the_return_to_the_shoppers_region(
    api: ApiClient, merchant: Merchant, order: dict, facility: Facility
) -> None:
    facility_create(
        actor=ACTOR,
        code="IL1",
        name="Chicago returns centre",
        line1="9 Lake St",
        city="Chicago",
        region="IL",
        postal_code="60601",
        country="US",
        merchant_slugs=[merchant.slug],
    )
    with merchant_scope(merchant):
        facility_route_add(actor=ACTOR, merchant=merchant, facility_code="NJ1", country="US")
        facility_route_add(
            actor=ACTOR, merchant=merchant, facility_code="IL1", country="US", region="il"
        )
    ret = api.post("/returns", request()).json()  # the order ships to Springfield, IL
    label = api.post(f"/returns/{ret['ran']}/label", {}).json()
    assert label["facility"]["code"] == "IL1"


def test_without_a_facility_the_answer_says_so(api: ApiClient, order: dict) -> None:
    ret = api.post("/returns", request()).json()
    response = api.post(f"/returns/{ret['ran']}/label", {})
    assert response.status_code == 409
    assert problem(response)["code"] == "no_facility"
    assert Return.objects.with_scopes_disabled().get().status == "authorized"


def test_unknown_carriers_are_refused(merchant: Merchant) -> None:
    from returndesk.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught, merchant_scope(merchant):
        carrier_settings_update(actor=ACTOR, merchant=merchant, carriers=["pigeon"])
    assert caught.value.errors[0].field == "carriers"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_requests_racing_for_a_label_buy_one(api: ApiClient, authorized: dict) -> None:
    statuses: list[int] = []
    ids: set[str] = set()
    barrier = threading.Barrier(4)

    def issue() -> None:
        barrier.wait()
        try:
            response = api.post(f"/returns/{authorized['ran']}/label", {})
            statuses.append(response.status_code)
            ids.add(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(ids) == 1
    assert labels().count() == 1


def test_the_return_shows_its_label(api: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    assert api.get(f"/returns/{ran}").json()["label"] is None
    issued = api.post(f"/returns/{ran}/label", {}).json()
    shown = api.get(f"/returns/{ran}").json()["label"]
    assert shown["id"] == issued["id"]
    assert shown["tracking_number"] == issued["tracking_number"]
