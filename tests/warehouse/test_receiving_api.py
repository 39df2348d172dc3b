"""Receiving through the API: matching order, mistyped codes, unidentified packages, receipt
exceptions, what the box held, linking, and who may do it."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from returndesk.core.codes import generate_ran
from returndesk.core.models import AuditLogEntry
from returndesk.notifications.models import OutboxMessage
from returndesk.returns.models import Return, ReturnEvent
from returndesk.shipping.models import CarrierSettings, Label
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import apikey_create, facility_create
from returndesk.warehouse.models import Receipt, UnidentifiedPackage
from tests.conftest import ACTOR, ApiClient
from tests.factories import money, order_body, product_body
from tests.returns.test_returns_api import recent
from tests.warehouse.conftest import make_return, scan, status_of

pytestmark = pytest.mark.django_db


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def mistype(ran: str) -> str:
    """The RAN with its first symbol changed: the check character catches it."""
    first = ran[0]
    return ("1" if first != "1" else "2") + ran[1:]


def receipts() -> Any:
    with scopes_disabled():
        return list(Receipt.objects.all())


# --- matching ---


def test_it_receives_by_tracking_number(
    station: ApiClient, labelled: dict, merchant: Merchant
) -> None:
    response = scan(station, labelled["label"]["tracking_number"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "received"
    receipt = body["receipt"]
    assert receipt["matched_by"] == "tracking"
    assert receipt["ran"] == labelled["ran"]
    assert receipt["return_status"] == "received"
    assert receipt["state"] == "open"
    assert [(li["line_id"], li["expected_quantity"]) for li in receipt["lines"]] == [
        ("1", 2),
        ("2", 1),
    ]
    assert status_of(merchant, labelled["ran"]) == "received"
    with scopes_disabled():
        types = list(OutboxMessage.objects.values_list("type", flat=True))
    assert types[-1] == "return.received"


def test_a_ran_is_tried_after_tracking_and_dropoff(station: ApiClient, authorized: dict) -> None:
    body = scan(station, authorized["ran"].lower()).json()
    assert body["outcome"] == "received"
    assert body["receipt"]["matched_by"] == "ran"


def test_a_dropoff_code_matches(
    api: ApiClient, station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    with scopes_disabled():
        CarrierSettings.objects.update_or_create(
            merchant=merchant,
            defaults={"carriers": ["prepaid"], "mode": "dropoff", "currency": "USD"},
        )
    code = api.post(f"/returns/{authorized['ran']}/label", {}).json()["dropoff_code"]
    body = scan(station, code).json()
    assert body["outcome"] == "received"
    assert body["receipt"]["matched_by"] == "dropoff"


def test_a_tracking_number_that_looks_like_a_ran_is_matched_as_tracking(
    station: ApiClient, labelled: dict, merchant: Merchant
) -> None:
    # A label whose tracking number is 13 Crockford symbols with a failing check: the label
    # lookup comes first, so it is not refused as a mistyped RAN.
    lookalike = mistype(generate_ran())
    with scopes_disabled():
        Label.objects.update(tracking_number=lookalike)
    body = scan(station, lookalike).json()
    assert body["outcome"] == "received"
    assert body["receipt"]["matched_by"] == "tracking"


def test_a_mistyped_ran_is_422_and_records_nothing(station: ApiClient, authorized: dict) -> None:
    response = scan(station, mistype(authorized["ran"]))
    assert response.status_code == 422
    assert problem(response)["code"] == "ran_invalid"
    assert "mistyped" in problem(response)["detail"]
    assert receipts() == []
    assert UnidentifiedPackage.objects.count() == 0


def test_a_code_matching_nothing_is_an_unidentified_package(station: ApiClient) -> None:
    response = scan(station, "1Z999AA10123456784")
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "unidentified" and body["receipt"] is None
    package = body["unidentified_package"]
    assert package["code"] == "1Z999AA10123456784" and package["facility"] == "FAC1"
    again = scan(station, "1Z999AA10123456784")
    assert again.status_code == 200
    assert again.json()["unidentified_package"]["id"] == package["id"]
    assert UnidentifiedPackage.objects.count() == 1


def test_a_valid_ran_of_no_return_is_unidentified(station: ApiClient) -> None:
    body = scan(station, generate_ran()).json()
    assert body["outcome"] == "unidentified"


def test_another_merchants_return_is_unidentified_at_this_facility(
    station: ApiClient, outsider_api: ApiClient, other_merchant: Merchant
) -> None:
    outsider_api.put("/products/SHOE-1", product_body())
    outsider_api.put("/products/SOCK-1", product_body(name="Sock", price=money(1200)))
    assert outsider_api.put(
        "/orders/1001", order_body(placed_at=recent(6), delivered_at=recent(4))
    ).status_code in {200, 201}
    theirs = make_return(outsider_api)
    body = scan(station, theirs["ran"]).json()
    assert body["outcome"] == "unidentified"
    assert status_of(other_merchant, theirs["ran"]) == "authorized"


# --- the same package twice ---


def test_a_second_scan_answers_the_same_receipt(
    station: ApiClient, labelled: dict, merchant: Merchant
) -> None:
    first = scan(station, labelled["label"]["tracking_number"]).json()
    second = scan(station, labelled["ran"])
    assert second.status_code == 200
    assert second.json()["outcome"] == "already_received"
    assert second.json()["receipt"]["id"] == first["receipt"]["id"]
    assert len(receipts()) == 1
    with scopes_disabled():
        assert ReturnEvent.objects.filter(type="return.received").count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_stations_scanning_one_package_at_once_make_one_receipt(
    station: ApiClient, labelled: dict, merchant: Merchant
) -> None:
    codes = [labelled["label"]["tracking_number"], labelled["ran"]] * 4
    answers: list[tuple[int, str, str]] = []
    barrier = threading.Barrier(len(codes))

    def go(code: str) -> None:
        barrier.wait()
        try:
            response = scan(station, code)
            body = response.json()
            answers.append((response.status_code, body["outcome"], body["receipt"]["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(code,)) for code in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a[0] for a in answers) == [200] * 7 + [201]
    assert sorted(a[1] for a in answers) == ["already_received"] * 7 + ["received"]
    assert len({a[2] for a in answers}) == 1
    assert len(receipts()) == 1
    with scopes_disabled():
        assert ReturnEvent.objects.filter(type="return.received").count() == 1
    assert status_of(merchant, labelled["ran"]) == "received"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_stations_scanning_one_unknown_code_make_one_package(station: ApiClient) -> None:
    statuses: list[int] = []
    ids: set[str] = set()
    barrier = threading.Barrier(6)

    def go() -> None:
        barrier.wait()
        try:
            response = scan(station, "UNKNOWN-PARCEL-1")
            statuses.append(response.status_code)
            ids.add(response.json()["unidentified_package"]["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [201]
    assert len(ids) == 1


# --- receipt exceptions ---


@pytest.mark.parametrize("action", ["cancel", "expire", "reject", "pending"])
def test_a_package_for_a_return_that_cannot_be_received_is_an_exception(
    api: ApiClient, station: ApiClient, order: dict, merchant: Merchant, action: str
) -> None:
    ret = make_return(api)
    ran = ret["ran"]
    expected = {"cancel": "cancelled", "expire": "expired", "reject": "rejected"}.get(
        action, "pending_review"
    )
    with scopes_disabled():
        Return.objects.filter(ran=ran.replace("-", "")).update(status=expected)
    response = scan(station, ran)
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "exception"
    assert body["receipt"]["exception"] == {"kind": expected, "resolved_at": None}
    assert body["receipt"]["ran"] == ran
    assert status_of(merchant, ran) == expected  # the status stays until staff act
    with scopes_disabled():
        flagged = Return.objects.get(ran=ran.replace("-", ""))
        assert flagged.exception_at is not None
        assert body["receipt"]["id"] in flagged.exception_reason
    again = scan(station, ran).json()
    assert again["outcome"] == "exception"
    assert again["receipt"]["id"] == body["receipt"]["id"]


def test_a_cancelled_returns_voided_label_still_matches_as_an_exception(
    api: ApiClient, station: ApiClient, labelled: dict, merchant: Merchant
) -> None:
    assert api.post(f"/returns/{labelled['ran']}/cancel", {"reason": "kept it"}).status_code == 200
    body = scan(station, labelled["label"]["tracking_number"]).json()
    assert body["outcome"] == "exception"
    assert body["receipt"]["matched_by"] == "tracking"
    assert status_of(merchant, labelled["ran"]) == "cancelled"


def test_after_staff_reopen_a_rescan_receives_with_the_same_receipt(
    api: ApiClient, station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    with scopes_disabled():
        Return.objects.filter(ran=ran.replace("-", "")).update(status="expired")
    first = scan(station, ran).json()
    assert first["outcome"] == "exception"
    assert api.post(f"/returns/{ran}/reopen", {"reason": "it arrived"}).status_code == 200
    second = scan(station, ran).json()
    assert second["outcome"] == "received"
    assert second["receipt"]["id"] == first["receipt"]["id"]
    assert second["receipt"]["exception"]["resolved_at"] is not None
    assert status_of(merchant, ran) == "received"


# --- what the box held ---


def test_it_records_the_box_with_extras_missing_and_a_wrong_item(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    receipt = scan(station, authorized["ran"]).json()["receipt"]
    body = {
        "lines": [{"line_id": "1", "quantity": 1}],
        "missing": ["2"],
        "extra_items": [{"description": "A phone charger", "quantity": 1}],
        "wrong_item": {"line_id": "1", "description": "A left shoe of another model"},
        "package_condition": "damaged",
        "weight_grams": 1250,
        "notes": "Box crushed at one corner",
    }
    response = station.put(f"/receipts/{receipt['id']}", body)
    assert response.status_code == 200, response.content
    recorded = response.json()
    assert recorded["state"] == "closed"
    lines = {li["line_id"]: li for li in recorded["lines"]}
    assert (lines["1"]["received_quantity"], lines["1"]["missing_quantity"]) == (1, 1)
    assert (lines["2"]["received_quantity"], lines["2"]["missing_quantity"]) == (0, 1)
    assert lines["1"]["wrong_item"]["description"] == "A left shoe of another model"
    assert lines["2"]["wrong_item"] is None
    assert recorded["extra_items"] == [{"description": "A phone charger", "quantity": 1, "sku": ""}]
    assert (recorded["package_condition"], recorded["weight_grams"]) == ("damaged", 1250)
    with scopes_disabled():
        assert ReturnEvent.objects.filter(type="return.receipt_recorded").count() == 1
        assert AuditLogEntry.objects.filter(action="receipt.recorded").count() == 1
    # the same body again changes nothing; other contents are refused
    assert station.put(f"/receipts/{receipt['id']}", body).status_code == 200
    with scopes_disabled():
        assert ReturnEvent.objects.filter(type="return.receipt_recorded").count() == 1
    changed = station.put(f"/receipts/{receipt['id']}", {**body, "weight_grams": 999})
    assert changed.status_code == 409
    assert problem(changed)["code"] == "receipt_closed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"line_id": "9", "quantity": 1}]}, "lines[0].line_id"),
        ({"lines": [{"line_id": "1", "quantity": 3}]}, "lines[0].quantity"),
        ({"lines": [{"line_id": "2", "quantity": 1}], "missing": ["2"]}, "missing[0]"),
        (
            {"lines": [], "wrong_item": {"line_id": "1", "description": "a sock"}},
            "wrong_item.line_id",
        ),
        ({"lines": [], "package_condition": "soggy"}, "package_condition"),
        ({"lines": [], "photo_upload_ids": ["upl_nope"]}, "photo_upload_ids"),
    ],
)
def test_bad_box_records_are_422_with_the_field(
    station: ApiClient, authorized: dict, body: dict, field: str
) -> None:
    receipt = scan(station, authorized["ran"]).json()["receipt"]
    response = station.put(f"/receipts/{receipt['id']}", body)
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in problem(response)["errors"]]
    assert station.get(f"/receipts/{receipt['id']}").json()["state"] == "open"


def test_receipt_lines_answer_by_their_own_id_too(station: ApiClient, authorized: dict) -> None:
    receipt = scan(station, authorized["ran"]).json()["receipt"]
    own = receipt["lines"][0]["receipt_line_id"]
    recorded = station.put(
        f"/receipts/{receipt['id']}", {"lines": [{"line_id": own, "quantity": 2}]}
    ).json()
    assert recorded["lines"][0]["received_quantity"] == 2


# --- linking an unidentified package ---


def test_an_unidentified_package_links_to_its_return(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    package = scan(station, "NO-LABEL-42").json()["unidentified_package"]
    response = station.post(
        f"/unidentified-packages/{package['id']}/link", {"ran": authorized["ran"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "received"
    assert body["receipt"]["matched_by"] == "link"
    assert body["unidentified_package"]["ran"] == authorized["ran"]
    assert status_of(merchant, authorized["ran"]) == "received"
    # linking again to the same return is a no-op; to another is a conflict
    again = station.post(f"/unidentified-packages/{package['id']}/link", {"ran": authorized["ran"]})
    assert again.status_code == 200
    other = station.post(f"/unidentified-packages/{package['id']}/link", {"ran": generate_ran()})
    assert other.status_code == 404


def test_linking_with_a_mistyped_ran_is_422(station: ApiClient, authorized: dict) -> None:
    package = scan(station, "NO-LABEL-43").json()["unidentified_package"]
    response = station.post(
        f"/unidentified-packages/{package['id']}/link", {"ran": mistype(authorized["ran"])}
    )
    assert response.status_code == 422
    assert problem(response)["code"] == "ran_invalid"


# --- who may receive ---


def test_a_merchant_key_may_not_receive(api: ApiClient, authorized: dict) -> None:
    response = scan(api, authorized["ran"])
    assert response.status_code == 403
    assert problem(response)["code"] == "forbidden"
    assert api.put("/receipts/rcpt_x", {"lines": []}).status_code == 403


def test_no_key_is_401(authorized: dict) -> None:
    assert scan(ApiClient(None), authorized["ran"]).status_code == 401


def test_a_key_limited_to_one_facility_cannot_receive_at_another(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    facility_create(
        actor=ACTOR,
        code="FAC2",
        name="Facility two",
        line1="2 Dock Rd",
        city="Newark",
        postal_code="07102",
        country="US",
        merchant_slugs=[merchant.slug],
    )
    response = scan(station, authorized["ran"], facility="FAC2")
    assert response.status_code == 404
    assert problem(response)["code"] == "not_found"
    assert receipts() == []
    # a key for FAC2 cannot see or record FAC1's receipt, nor link FAC1's packages
    _, key = apikey_create(actor=ACTOR, name="fac2", facility_codes=["FAC2"])
    elsewhere = ApiClient(key)
    receipt = scan(station, authorized["ran"]).json()["receipt"]
    assert elsewhere.get(f"/receipts/{receipt['id']}").status_code == 404
    assert elsewhere.put(f"/receipts/{receipt['id']}", {"lines": []}).status_code == 404
    package = scan(station, "NO-LABEL-44").json()["unidentified_package"]
    linked = elsewhere.post(
        f"/unidentified-packages/{package['id']}/link", {"ran": authorized["ran"]}
    )
    assert linked.status_code == 404


def test_a_facility_that_does_not_serve_the_merchant_sees_no_return(
    station: ApiClient, authorized: dict, other_merchant: Merchant
) -> None:
    facility_create(
        actor=ACTOR,
        code="FAC3",
        name="Facility three",
        line1="3 Dock Rd",
        city="Newark",
        postal_code="07102",
        country="US",
        merchant_slugs=[other_merchant.slug],
    )
    _, key = apikey_create(actor=ACTOR, name="fac3", facility_codes=["FAC3"])
    body = scan(ApiClient(key), authorized["ran"], facility="FAC3").json()
    assert body["outcome"] == "unidentified"
    assert body["unidentified_package"]["ran"] is None


def test_an_idempotency_key_replays_the_scan(station: ApiClient, authorized: dict) -> None:
    headers = {"Idempotency-Key": "scan-1"}
    first = station.post(
        "/receipts", {"code": authorized["ran"], "facility": "FAC1"}, headers=headers
    )
    replay = station.post(
        "/receipts", {"code": authorized["ran"], "facility": "FAC1"}, headers=headers
    )
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
