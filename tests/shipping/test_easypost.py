"""The EasyPost adapter end to end through the official client library, against a local server
that replays EasyPost's recorded response shapes (../shared/data/payloads/easypost), read at
run time. Nothing here mocks the library: it builds its requests and parses the answers."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from returndesk.core.tenancy import merchant_scope
from returndesk.shipping.carriers.base import (
    Address,
    CarrierError,
    Parcel,
    ShipmentRequest,
)
from returndesk.shipping.carriers.easypost import EasyPostAdapter, tracking_info
from returndesk.shipping.models import Label
from returndesk.shipping.services import carrier_settings_update
from returndesk.tenants.models import Merchant
from tests.conftest import ACTOR, ApiClient, require_outside

RECORDED = Path(settings.RETURNDESK_DATA_DIR) / "payloads" / "easypost"


def recorded(name: str) -> Any:
    path = RECORDED / name
    require_outside(
        "../shared/data", path.is_file(), f"{path} is absent; EasyPost's recorded responses"
    )
    return json.loads(path.read_text())


@dataclass
class Replay:
    """Answers (method, path pattern) with a recorded body; keeps what the client sent."""

    routes: list[tuple[str, re.Pattern[str], int, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, Any, str]] = field(default_factory=list)
    url: str = ""

    def answer(self, method: str, pattern: str, body: Any, status: int = 200) -> None:
        self.routes.insert(0, (method, re.compile(pattern), status, body))

    def sent(self, method: str, pattern: str) -> list[Any]:
        return [b for m, p, b, _ in self.requests if m == method and re.fullmatch(pattern, p)]


@pytest.fixture
def replay() -> Iterator[Replay]:
    state = Replay()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0].removeprefix("/v2")
            body = json.loads(raw) if raw else None
            state.requests.append((self.command, path, body, self.headers["Authorization"]))
            for method, pattern, status, answer in state.routes:
                if method == self.command and pattern.fullmatch(path):
                    data = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def easypost(replay: Replay) -> Replay:
    """The purchase flow as EasyPost recorded it: a return shipment, its purchase, a refund."""
    replay.answer("POST", r"/shipments", recorded("returns-create.json"))
    replay.answer("POST", r"/shipments/[^/]+/buy", recorded("shipments-buy.json"))
    replay.answer("POST", r"/shipments/[^/]+/refund", recorded("shipping-refund-refund.json"))
    replay.answer("POST", r"/trackers", recorded("trackers-create.json"))
    return replay


def shipment_request(**overrides: Any) -> ShipmentRequest:
    values: dict[str, Any] = {
        "reference": "RKQ4M2XD9TPHD",
        "ship_from": Address("Sam Shopper", "1 Main St", "Springfield", "62701", "US", region="IL"),
        "ship_to": Address("Acme Returns", "1 Dock Rd", "Newark", "07102", "US", region="NJ"),
        "parcel": Parcel(weight_grams=900),
    }
    values.update(overrides)
    return ShipmentRequest(**values)


def adapter(replay: Replay) -> EasyPostAdapter:
    return EasyPostAdapter(api_key="EZTK_test", api_base=replay.url, timeout=5)


def test_it_buys_the_lowest_return_rate(easypost: Replay) -> None:
    label = adapter(easypost).create_label(shipment_request())
    bought = recorded("shipments-buy.json")
    assert label.tracking_number == bought["tracking_code"]
    assert (label.carrier, label.service) == ("USPS", "GroundAdvantage")
    assert (label.amount, label.currency) == (820, "USD")
    assert label.external_id == bought["id"]
    assert label.tracker_id == bought["tracker"]["id"]
    assert label.label_url.startswith("https://")
    [created] = easypost.sent("POST", r"/shipments")
    shipment = created["shipment"]
    assert shipment["is_return"] is True
    # named as the outbound parcel: EasyPost swaps the addresses for a return
    assert shipment["to_address"]["zip"] == "62701"
    assert shipment["from_address"]["zip"] == "07102"
    assert shipment["parcel"]["weight"] == pytest.approx(31.8)  # 900 g in ounces, rounded up
    [buy] = easypost.sent("POST", r"/shipments/[^/]+/buy")
    cheapest = min(recorded("returns-create.json")["rates"], key=lambda r: float(r["rate"]))
    assert buy["rate"]["id"] == cheapest["id"]
    assert not easypost.sent("POST", r"/trackers")  # the purchase made the tracker
    assert all(auth == "Bearer EZTK_test" for *_, auth in easypost.requests)


def test_the_merchants_services_limit_the_rates(easypost: Replay) -> None:
    adapter(easypost).create_label(shipment_request(services=("Priority",)))
    [buy] = easypost.sent("POST", r"/shipments/[^/]+/buy")
    rates = recorded("returns-create.json")["rates"]
    assert buy["rate"]["id"] == next(r["id"] for r in rates if r["service"] == "Priority")


def test_no_rate_for_the_merchants_services_is_a_carrier_error(easypost: Replay) -> None:
    with pytest.raises(CarrierError, match="no rate for Overnight"):
        adapter(easypost).create_label(shipment_request(services=("Overnight",)))
    assert not easypost.sent("POST", r"/shipments/[^/]+/buy")


def test_a_tracker_is_created_when_the_purchase_has_none(easypost: Replay) -> None:
    bought = recorded("shipments-buy.json")
    bought["tracker"] = None
    easypost.answer("POST", r"/shipments/[^/]+/buy", bought)
    label = adapter(easypost).create_label(shipment_request())
    assert label.tracker_id == recorded("trackers-create.json")["id"]
    [tracker] = easypost.sent("POST", r"/trackers")
    assert tracker["tracker"]["tracking_code"] == bought["tracking_code"]


def test_a_refused_purchase_is_a_carrier_error(easypost: Replay) -> None:
    easypost.answer(
        "POST",
        r"/shipments/[^/]+/buy",
        {"error": {"code": "SHIPMENT.POSTAGE.FAILURE", "message": "account has no funds"}},
        status=402,
    )
    with pytest.raises(CarrierError, match="could not sell the label"):
        adapter(easypost).create_label(shipment_request())


def test_voiding_asks_for_a_refund(easypost: Replay) -> None:
    assert adapter(easypost).void_label(external_id="shp_123", tracking_number="9405")
    assert len(easypost.sent("POST", r"/shipments/shp_123/refund")) == 1
    rejected = recorded("shipping-refund-refund.json")
    rejected["refund_status"] = "rejected"
    easypost.answer("POST", r"/shipments/[^/]+/refund", rejected)
    assert not adapter(easypost).void_label(external_id="shp_123", tracking_number="9405")


def test_tracking_reads_the_recorded_tracker(easypost: Replay) -> None:
    info = adapter(easypost).track(tracking_number="EZ1000000001", carrier="USPS")
    assert info is not None
    assert info.status == "pre_transit"
    assert info.events[0].message == "Pre-Shipment Info Sent to USPS"
    assert info.events[0].at is not None


def test_tracking_details_that_drift_from_the_schema_are_read_defensively() -> None:
    info = tracking_info(
        {"tracking_code": "X1", "tracking_details": [None, {"status": None, "datetime": 5}, {}]}
    )
    assert info.status == "unknown"
    assert [e.status for e in info.events] == ["unknown", "unknown"]


def test_without_an_api_key_easypost_is_unavailable() -> None:
    unconfigured = EasyPostAdapter(api_key="")
    assert not unconfigured.available()
    with pytest.raises(CarrierError, match="not configured"):
        unconfigured.create_label(shipment_request())


# Through the label service and the API ------------------------------------------------------


@pytest.fixture
def easypost_merchant(
    easypost: Replay, merchant: Merchant, settings: Any
) -> tuple[Replay, Merchant]:
    settings.RETURNDESK_EASYPOST_API_KEY = "EZTK_test"
    settings.RETURNDESK_EASYPOST_API_BASE = easypost.url
    with merchant_scope(merchant):
        carrier_settings_update(
            actor=ACTOR,
            merchant=merchant,
            carriers=["easypost", "prepaid"],
            easypost_services=["GroundAdvantage"],
        )
    return easypost, merchant


def test_an_easypost_label_for_a_return(
    api: ApiClient, authorized: dict, easypost_merchant: tuple[Replay, Merchant]
) -> None:
    replay, _ = easypost_merchant
    response = api.post(f"/returns/{authorized['ran']}/label", {})
    assert response.status_code == 201, response.content
    label = response.json()
    assert label["carrier"] == "USPS"
    assert label["tracking_number"] == recorded("shipments-buy.json")["tracking_code"]
    assert label["cost"] == {"amount": 820, "currency": "USD"}
    assert label["merchant_cost"] == {"amount": 820, "currency": "USD"}
    [created] = replay.sent("POST", r"/shipments")
    assert created["shipment"]["reference"] == authorized["ran"].replace("-", "")
    # the facility is the destination, the order's address the origin
    assert created["shipment"]["from_address"]["street1"] == "1 Dock Rd"
    assert created["shipment"]["to_address"]["street1"] == "1 Main St"
    # asking again buys nothing more
    assert api.post(f"/returns/{authorized['ran']}/label", {}).status_code == 200
    assert len(replay.sent("POST", r"/shipments")) == 1


def test_cancelling_refunds_the_easypost_postage(
    api: ApiClient,
    authorized: dict,
    easypost_merchant: tuple[Replay, Merchant],
    django_capture_on_commit_callbacks: Any,
) -> None:
    replay, _ = easypost_merchant
    api.post(f"/returns/{authorized['ran']}/label", {})
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/returns/{authorized['ran']}/cancel", {"reason": "kept it"})
    shipment_id = recorded("shipments-buy.json")["id"]
    assert len(replay.sent("POST", rf"/shipments/{shipment_id}/refund")) == 1
    assert Label.objects.with_scopes_disabled().get().status == "voided"


def test_easypost_refusing_falls_back_to_the_next_carrier(
    api: ApiClient, authorized: dict, easypost_merchant: tuple[Replay, Merchant]
) -> None:
    replay, _ = easypost_merchant
    replay.answer("POST", r"/shipments", {"error": {"code": "ADDRESS.VERIFY.FAILURE"}}, 422)
    label = api.post(f"/returns/{authorized['ran']}/label", {}).json()
    assert label["carrier"] == "ReturnDesk"


def test_no_carrier_left_is_a_clear_502(
    api: ApiClient, authorized: dict, easypost_merchant: tuple[Replay, Merchant]
) -> None:
    replay, merchant = easypost_merchant
    with merchant_scope(merchant):
        carrier_settings_update(actor=ACTOR, merchant=merchant, carriers=["easypost"])
    replay.answer("POST", r"/shipments", {"error": {"code": "ADDRESS.VERIFY.FAILURE"}}, 422)
    response = api.post(f"/returns/{authorized['ran']}/label", {})
    assert response.status_code == 502
    body = json.loads(response.content)
    assert body["code"] == "carrier_unavailable"
    assert "easypost" in body["detail"]
    assert not Label.objects.with_scopes_disabled().exists()
