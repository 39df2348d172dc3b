"""Inspection and disposition through the API: idempotency and corrections, units not
received, serial checks, contradicting findings in the customer's history, the moves to
inspected and ready, overrides, the inventory ledger, item tags, and who may do it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from returndesk.core.models import AuditLogEntry
from returndesk.core.tenancy import merchant_scope
from returndesk.notifications.models import OutboxMessage
from returndesk.policies.document import PolicyDocument
from returndesk.policies.risk import risk_assess
from returndesk.returns.models import Return, ReturnEvent
from returndesk.returns.services import customer_history, risk_signals
from returndesk.tenants.models import Merchant
from returndesk.tenants.services import apikey_create, facility_create
from returndesk.warehouse import inventory
from returndesk.warehouse.models import Disposition, Inspection, InventoryMovement
from returndesk.warehouse.tags import is_valid_lpn
from tests.conftest import ACTOR, ApiClient
from tests.returns.test_returns_api import request
from tests.returns.test_uploads import photo_with_gps, upload
from tests.warehouse.conftest import scan, status_of

pytestmark = pytest.mark.django_db


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return json.loads(response.content)


def receive(station: ApiClient, ran: str, lines: dict[str, int] | None = None) -> dict:
    receipt = scan(station, ran).json()["receipt"]
    counts = lines if lines is not None else {"1": 2, "2": 1}
    body = {"lines": [{"line_id": k, "quantity": v} for k, v in counts.items()]}
    response = station.put(f"/receipts/{receipt['id']}", body)
    assert response.status_code == 200, response.content
    return response.json()


def inspect(station: ApiClient, ran: str, line: str, **body: Any) -> Any:
    return station.post(f"/returns/{ran}/lines/{line}/inspection", {"grade": "A", **body})


def dispose(station: ApiClient, ran: str, line: str, **body: Any) -> Any:
    return station.post(f"/returns/{ran}/lines/{line}/disposition", body)


# --- inspection ---


def test_an_inspection_answers_the_recommendation_with_its_figures(
    station: ApiClient, authorized: dict
) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    response = inspect(station, ran, "2", notes="Still in its bag", seconds_spent=40)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["unit"], body["grade"], body["sku"]) == (1, "A", "SOCK-1")
    rec = body["recommendation"]
    assert rec["recommendation"] == "restock"
    assert rec["figures"]["net_recovery"] == rec["options"][0]["figures"]["net_recovery"]
    assert rec["options"][0]["option"] == "restock"
    assert body["disposition"] is None
    assert body["return_status"] == "received"  # line 1's two units are not inspected yet


def test_the_same_inspection_twice_changes_nothing(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    first = inspect(station, ran, "2", defects=["cosmetic"], notes="scuff")
    again = inspect(station, ran, "2", defects=["cosmetic"], notes="scuff")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    with scopes_disabled():
        assert Inspection.objects.count() == 1
        assert AuditLogEntry.objects.filter(action="inspection.recorded").count() == 1


def test_other_findings_are_a_conflict_unless_a_correction(
    station: ApiClient, authorized: dict
) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    assert inspect(station, ran, "2").status_code == 201
    other = inspect(station, ran, "2", grade="C")
    assert other.status_code == 409
    assert problem(other)["code"] == "already_inspected"
    corrected = inspect(station, ran, "2", grade="C", correction=True)
    assert corrected.status_code == 200, corrected.content  # the same inspection, replaced
    assert (corrected.json()["grade"], corrected.json()["corrections"]) == ("C", 1)
    assert dispose(station, ran, "2", disposition="restock").status_code == 201
    late = inspect(station, ran, "2", grade="B", correction=True)
    assert problem(late)["code"] == "already_dispositioned"


def test_a_unit_or_line_not_received_is_a_clear_error(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    before = inspect(station, ran, "2")
    assert before.status_code == 422
    assert problem(before)["code"] == "not_received"
    scan(station, ran)
    open_box = inspect(station, ran, "2")
    assert (open_box.status_code, problem(open_box)["code"]) == (409, "receipt_open")
    receipt = scan(station, ran).json()["receipt"]
    station.put(f"/receipts/{receipt['id']}", {"lines": [{"line_id": "1", "quantity": 1}]})
    nothing = inspect(station, ran, "2")
    assert (nothing.status_code, problem(nothing)["code"]) == (422, "not_received")
    beyond = inspect(station, ran, "1", unit=2)
    assert (beyond.status_code, problem(beyond)["code"]) == (422, "not_received")
    assert problem(inspect(station, ran, "9"))["code"] == "not_found"


def test_unit_is_required_when_several_were_received(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    response = inspect(station, ran, "1")
    assert response.status_code == 422
    assert problem(response)["errors"][0]["field"] == "unit"


def test_bad_findings_are_422_and_record_nothing(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    response = inspect(
        station, ran, "1", unit=1, grade="Q", defects=["nope"], accessories_missing=["charger"]
    )
    assert response.status_code == 422
    fields = {e["field"] for e in problem(response)["errors"]}
    assert fields == {"grade", "defects", "accessories_missing"}
    with scopes_disabled():
        assert not Inspection.objects.exists()


def test_missing_accessories_are_missing_parts_for_the_engine(
    station: ApiClient, authorized: dict
) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    body = inspect(station, ran, "1", unit=1, accessories_missing=["laces"]).json()
    assert body["accessories_missing"] == ["laces"]
    restock = next(o for o in body["recommendation"]["options"] if o["option"] == "restock")
    assert "missing_parts" in {e["rule"] for e in restock["excluded_by"]}


def test_every_unit_inspected_moves_the_return_to_inspected(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"1": 2})  # line 2 missing: settled by the receipt
    assert inspect(station, ran, "1", unit=1).json()["return_status"] == "received"
    last = inspect(station, ran, "1", unit=2, grade="B")
    assert last.json()["return_status"] == "inspected"
    assert status_of(merchant, ran) == "inspected"
    with scopes_disabled():
        event = ReturnEvent.objects.get(type="return.inspected")
        assert event.payload["missing_units"] == 1
        assert OutboxMessage.objects.filter(type="return.inspected").count() == 1


# --- serials ---


@pytest.fixture
def serialized(api: ApiClient, station: ApiClient) -> str:
    from tests.factories import money, order_body, product_body
    from tests.returns.test_returns_api import recent

    api.put("/products/CAM-1", product_body(name="Camera", category="electronics",
                                              serialized=True, price=money(50000)))  # fmt: skip
    body = order_body(placed_at=recent(6), delivered_at=recent(4))
    body["lines"] = [
        {"line_id": "1", "sku": "CAM-1", "quantity": 2, "unit_price": money(50000),
         "serial_numbers": ["SN-1", "SN-2"]}
    ]  # fmt: skip
    body["tenders"] = [{"method": "card", "amount": money(100500)}]
    placed = api.put("/orders/2002", body)
    assert placed.status_code == 201, placed.content
    ret = api.post(
        "/returns",
        request(order_number="2002", lines=[{"line_id": "1", "quantity": 2,
                                             "reason": "changed_mind"}]),
    )  # fmt: skip
    assert ret.status_code == 201, ret.content
    ran: str = ret.json()["ran"]
    receive(station, ran, {"1": 2})
    return ran


def test_a_serialized_unit_needs_its_serial_and_one_not_sold_is_a_finding(
    station: ApiClient, serialized: str
) -> None:
    ran = serialized
    missing = inspect(station, ran, "1", unit=1)
    assert problem(missing)["errors"][0]["field"] == "serial_number"
    sold = inspect(station, ran, "1", unit=1, serial_number="sn-1").json()
    assert (sold["serial_number"], sold["serial_sold"], sold["contradicted"]) == (
        "SN-1",
        True,
        False,
    )
    twice = inspect(station, ran, "1", unit=2, serial_number="SN-1")
    assert "already recorded on unit 1" in problem(twice)["detail"]
    other = inspect(station, ran, "1", unit=2, serial_number="SN-999").json()
    assert other["serial_sold"] is False
    assert other["contradictions"] == ["serial_not_sold"]


# --- findings and the customer's history ---


def test_contradicting_findings_feed_the_customers_history(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    with merchant_scope(merchant):
        ret = Return.objects.select_related("order").get(ran=ran.replace("-", ""))
        order = ret.order
        assert order is not None

        def history() -> int:
            signals = risk_signals(merchant, order, PolicyDocument(), timezone.now())
            assessed = risk_assess(signals, {})
            found = customer_history(merchant, order, signals, assessed)
            return found.completed_returns_without_finding

        Return.objects.filter(pk=ret.pk).update(status="completed")  # as the refund will
        assert history() == 1
        Return.objects.filter(pk=ret.pk).update(status="received")
    # A "wrong size" return whose box was empty.
    body = inspect(station, ran, "2", grade="X", defects=["empty_box"]).json()
    assert body["contradicted"] is True
    with merchant_scope(merchant):
        Return.objects.filter(pk=ret.pk).update(status="completed")
        assert history() == 0


def test_a_defective_claim_with_no_defect_found_contradicts(
    api: ApiClient, station: ApiClient, order: dict, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path

    def claim(line: str) -> str:
        photo = upload(api, photo_with_gps()).json()["upload_id"]
        lines = [{"line_id": line, "quantity": 1, "reason": "defective",
                  "photo_upload_ids": [photo]}]  # fmt: skip
        response = api.post("/returns", request(lines=lines))
        assert response.status_code == 201, response.content
        ran: str = response.json()["ran"]
        receive(station, ran, {line: 1})
        return ran

    works = inspect(station, claim("2"), "2").json()
    assert works["contradictions"] == ["claim_not_found"]
    broken = inspect(station, claim("1"), "1", grade="C", defects=["functional"]).json()
    assert broken["contradicted"] is False


def test_an_empty_box_is_quarantined_and_contradicts(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    body = inspect(station, ran, "2", grade="X", defects=["empty_box"]).json()
    assert body["contradicted"] is True
    assert set(body["contradictions"]) == {"empty_box", "wrong_item"}
    assert body["recommendation"]["recommendation"] == "quarantine"


# --- disposition ---


def test_accepting_the_recommendation_restocks_with_an_event(
    station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    inspect(station, ran, "2")
    response = dispose(station, ran, "2", disposition="restock")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["disposition"], body["overridden"], body["condition"]) == (
        "restock",
        False,
        "sellable",
    )
    assert is_valid_lpn(body["lpn"])
    assert body["return_ready"] is True
    assert dispose(station, ran, "2", disposition="restock").status_code == 200
    with scopes_disabled():
        restocked = OutboxMessage.objects.filter(type="inventory.restocked")
        assert restocked.count() == 1
        assert restocked.get().payload["data"]["lpn"] == body["lpn"]
        assert ReturnEvent.objects.filter(type="return.dispositioned").count() == 1
    assert status_of(merchant, ran) == "inspected"  # completed belongs to the refund


def test_an_override_needs_a_reason_and_is_recorded(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    inspect(station, ran, "2")
    bare = dispose(station, ran, "2", disposition="donate")
    assert (bare.status_code, problem(bare)["errors"][0]["field"]) == (422, "reason")
    response = dispose(station, ran, "2", disposition="donate", reason="Charity drive this week")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["overridden"], body["recommended"], body["condition"]) == (
        True,
        "restock",
        "donated",
    )
    assert body["reason"] == "Charity drive this week"
    other = dispose(station, ran, "2", disposition="recycle", reason="changed my mind")
    assert problem(other)["code"] == "already_dispositioned"
    with scopes_disabled():
        assert AuditLogEntry.objects.filter(action="disposition.overridden").count() == 1


def test_an_option_the_rules_exclude_is_refused(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    inspect(station, ran, "2", grade="D", defects=["cosmetic"])
    response = dispose(station, ran, "2", disposition="restock", reason="looks fine to me")
    assert response.status_code == 422
    assert "restock is excluded" in problem(response)["detail"]


def test_a_disposition_before_the_inspection_is_409(station: ApiClient, authorized: dict) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    response = dispose(station, ran, "2", disposition="restock")
    assert (response.status_code, problem(response)["code"]) == (409, "not_inspected")


# --- the return's shape ---


def test_the_return_shows_receipts_inspections_and_dispositions(
    api: ApiClient, station: ApiClient, authorized: dict
) -> None:
    ran = authorized["ran"]
    receive(station, ran, {"2": 1})
    inspect(station, ran, "2")
    dispose(station, ran, "2", disposition="restock")
    body = api.get(f"/returns/{ran}").json()
    assert [r["state"] for r in body["receipts"]] == ["closed"]
    assert [(i["sku"], i["grade"]) for i in body["inspections"]] == [("SOCK-1", "A")]
    assert body["inspections"][0]["disposition"]["disposition"] == "restock"
    assert [d["disposition"] for d in body["dispositions"]] == ["restock"]
    listed = api.get("/returns").json()["data"][0]
    assert "inspections" not in listed or listed["inspections"] is None


# --- who ---


def test_merchant_keys_and_other_facilities_may_not_inspect(
    api: ApiClient, station: ApiClient, authorized: dict, merchant: Merchant
) -> None:
    ran = authorized["ran"]
    receive(station, ran)
    assert inspect(api, ran, "2").status_code == 403
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
    _, key = apikey_create(actor=ACTOR, name="elsewhere", facility_codes=["FAC2"])
    elsewhere = ApiClient(key)
    assert problem(inspect(elsewhere, ran, "2"))["code"] == "not_found"
    assert inspect(ApiClient(None), ran, "2").status_code == 401


def test_a_facility_that_does_not_serve_the_merchant_sees_nothing(
    station: ApiClient, authorized: dict, other_merchant: Merchant
) -> None:
    receive(station, authorized["ran"])
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
    _, key = apikey_create(actor=ACTOR, name="globex only", facility_codes=["FAC3"])
    response = inspect(ApiClient(key), authorized["ran"], "2")
    assert (response.status_code, problem(response)["code"]) == (404, "not_found")


# --- the ledger ---


def three_units_dispositioned(station: ApiClient, ran: str) -> list[dict[str, Any]]:
    """The whole return received and inspected; the shoes restocked and recycled, the sock
    sent to refurbishment: the dispositions as the API answered them."""
    receive(station, ran)
    inspect(station, ran, "1", unit=1)
    inspect(station, ran, "1", unit=2, grade="C", defects=["functional"])
    inspect(station, ran, "2")
    return [
        dispose(station, ran, "1", unit=1, disposition="restock").json(),
        dispose(station, ran, "1", unit=2, disposition="recycle", reason="too worn").json(),
        dispose(station, ran, "2", disposition="refurbish", reason="bag torn").json(),
    ]


def test_the_ledger_balances_add_up(station: ApiClient, authorized: dict) -> None:
    a, b, _ = three_units_dispositioned(station, authorized["ran"])
    with scopes_disabled():
        merchant_ids = set(Disposition.objects.values_list("merchant_id", flat=True))
    inventory.unit_move(
        actor=ACTOR, merchant_ids=merchant_ids, lpn=a["lpn"], to_condition="quarantine"
    )
    found = {(x.sku, x.condition): x.quantity for x in inventory.balances()}
    assert found == {
        ("SHOE-1", "quarantine"): 1,
        ("SHOE-1", "recycled"): 1,
        ("SOCK-1", "refurbish_queue"): 1,
    }
    with scopes_disabled():
        assert sum(InventoryMovement.objects.values_list("quantity", flat=True)) == 3
        assert Disposition.objects.count() == 3
    with pytest.raises(Exception, match="left the building"):
        inventory.unit_move(
            actor=ACTOR, merchant_ids=merchant_ids, lpn=b["lpn"], to_condition="sellable"
        )
