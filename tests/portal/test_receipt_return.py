"""A shopper whose order is not in the system returns on a receipt, where the policy allows it:
products from the catalogue, at catalogue prices, always to review."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client

from returndesk.core.models import Upload
from returndesk.returns.models import Return, ReturnLine
from tests.conftest import ApiClient
from tests.portal.conftest import confirm, give_reasons, photo, pick, review_token, set_policy, text
from tests.returns.test_returns_api import order, product_body  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
RECEIPT = "/r/acme/receipt/"
ITEMS = "/r/acme/receipt/items/"
RECEIPT_LINK = "Returning without an order number in our system? Use your receipt"


@pytest.fixture
def receipts(api: ApiClient, order: dict[str, Any]) -> None:  # noqa: F811
    set_policy(api, proof_of_purchase="order_or_receipt")


def start(client: Client, number: str = "TILL-0042", **overrides: Any) -> Any:
    body = {"receipt_number": number, "email": "walkin@example.com", "receipt": photo()}
    body.update(overrides)
    return client.post(RECEIPT, body)


def on_receipt(**overrides: Any) -> Client:
    client = Client()
    response = start(client, **overrides)
    assert response.status_code == 302 and response["Location"] == ITEMS, text(response)
    return client


def test_the_receipt_way_is_hidden_when_the_policy_asks_for_the_order(
    api: ApiClient,
    order: dict[str, Any],  # noqa: F811
) -> None:
    client = Client()
    assert RECEIPT_LINK not in text(client.get("/r/acme/"))
    unknown = client.post("/r/acme/", {"order_number": "9999", "email": "a@example.com"})
    assert unknown.status_code == 404 and RECEIPT_LINK not in text(unknown)
    assert client.get(RECEIPT).status_code == 404
    assert start(client).status_code == 404


def test_the_not_found_page_offers_it_in_the_same_words_for_unknown_and_mismatched(
    receipts: None,
) -> None:
    assert RECEIPT_LINK in text(Client().get("/r/acme/"))
    wrong = Client().post("/r/acme/", {"order_number": "1001", "email": "someone@else.com"})
    unknown = Client().post("/r/acme/", {"order_number": "9999", "email": "someone@else.com"})
    assert wrong.status_code == unknown.status_code == 404
    assert text(wrong).replace("1001", "N") == text(unknown).replace("9999", "N")
    assert RECEIPT_LINK in text(wrong) and 'id="receipt-link"' in wrong.content.decode()


def test_a_receipt_return_goes_to_review_at_catalogue_prices(receipts: None) -> None:
    client = on_receipt()
    found = client.get(ITEMS, {"q": "trail"})
    assert "Trail Runner" in text(found) and "SKU SHOE-1" in text(found)
    assert client.post(ITEMS, {"q": "trail", "add": "SHOE-1"}).status_code == 302
    chosen = client.post(ITEMS, {"qty-1": "1", "action": "continue"})
    assert chosen.status_code == 302 and chosen["Location"] == "/r/acme/reasons/"
    assert give_reasons(client, {"reason-1": "wrong_size"}).status_code == 302
    assert pick(client, "refund").status_code == 302
    review = client.get("/r/acme/review/")
    assert "$89.00" in text(review)  # the catalogue's price
    assert "We'll check your receipt before approving this return" in text(review)
    done = confirm(client, review_token(client))
    assert done.status_code == 302
    page = client.get(done["Location"])
    assert "We're reviewing your return" in text(page) and "Trail Runner" in text(page)
    assert "What happens next" in text(page)
    ret = Return.objects.with_scopes_disabled().get()
    assert ret.status == "pending_review" and ret.order_id is None
    assert ret.claimed_order_number == "TILL-0042" and ret.channel == "portal"
    receipt = Upload.objects.with_scopes_disabled().get(public_id=ret.proof_of_purchase_upload_id)
    assert receipt.purpose == "receipt" and b"CameraMaker" not in receipt.file.read()
    line = ReturnLine.objects.with_scopes_disabled().get()
    assert (line.sku, line.value_amount, line.order_line_id) == ("SHOE-1", 8900, None)
    status = Client().get(page.context["status_url"])
    assert status.status_code == 200 and "Trail Runner" in text(status)


def test_a_non_image_receipt_is_refused_in_place(receipts: None) -> None:
    fake = io.BytesIO(b"%PDF-1.4 not really")
    fake.name = "receipt.jpg"
    refused = start(Client(), receipt=fake)
    assert refused.status_code == 422
    assert "“receipt.jpg” can't be used" in text(refused)
    assert 'aria-invalid="true"' in refused.content.decode()
    assert 'value="TILL-0042"' in refused.content.decode()  # what was typed stays
    assert not Upload.objects.with_scopes_disabled().exists()


def test_the_receipt_form_says_what_is_missing(receipts: None) -> None:
    missing = Client().post(RECEIPT, {"receipt_number": "", "email": "nope"})
    assert missing.status_code == 422
    for message in ("Enter the order number", "Enter your e-mail address", "Add a photo"):
        assert message in text(missing)


def test_an_unknown_sku_is_refused_in_place(receipts: None) -> None:
    client = on_receipt()
    refused = client.post(ITEMS, {"add": "NOPE-9"})
    assert refused.status_code == 422
    assert "We don't sell an item with SKU “NOPE-9”" in text(refused)
    nothing = client.post(ITEMS, {"action": "continue"})
    assert nothing.status_code == 422 and "Add at least one item" in text(nothing)


def test_items_can_be_added_counted_and_removed(receipts: None) -> None:
    client = on_receipt()
    client.post(ITEMS, {"add": "SHOE-1"})
    client.post(ITEMS, {"qty-1": "1", "add": "SOCK-1"})
    page = client.post(ITEMS, {"qty-1": "3", "qty-2": "1", "add": "SOCK-1"}, follow=True)
    assert 'name="qty-1"' in page.content.decode() and "Sock" in text(page)
    assert client.session["portal_draft"]["lines"][0]["quantity"] == 3
    assert client.session["portal_draft"]["lines"][1]["quantity"] == 2
    client.post(ITEMS, {"qty-1": "3", "qty-2": "2", "remove": "1"})
    lines = client.session["portal_draft"]["lines"]
    assert [(x["line_id"], x["sku"]) for x in lines] == [("R1", "SOCK-1")]
    bad = client.post(ITEMS, {"qty-1": "99", "action": "continue"})
    assert bad.status_code == 422 and "Choose a number from 1 to 10" in text(bad)


def test_the_search_answers_htmx_with_the_results_alone(receipts: None) -> None:
    client = on_receipt()
    partial = client.get(ITEMS, {"q": "sock"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    assert 'value="SOCK-1"' in partial.content.decode()
    assert "Nothing matches" in text(client.get(ITEMS, {"q": "zzz"}, headers={"HX-Request": "1"}))


def test_another_merchants_products_are_not_offered(
    receipts: None, outsider_api: ApiClient
) -> None:
    body = product_body(name="Globex Gadget")
    assert outsider_api.put("/products/GLX-1", body).status_code == 201
    client = on_receipt()
    assert "Globex" not in text(client.get(ITEMS, {"q": "gadget"}))
    assert "Nothing matches “GLX-1”" in text(client.get(ITEMS, {"q": "GLX-1"}))
    refused = client.post(ITEMS, {"add": "GLX-1"})
    assert refused.status_code == 422 and "We don't sell an item with SKU “GLX-1”" in text(refused)


def test_an_order_in_the_system_takes_the_orders_own_way(receipts: None) -> None:
    client = Client()
    found = start(client, number="1001", email="Shopper@Example.com")
    assert found.status_code == 302 and found["Location"] == "/r/acme/order/"
    assert not Upload.objects.with_scopes_disabled().exists()
    # with another e-mail the order is not this shopper's: a receipt return, as for any number
    assert start(Client(), number="1001", email="else@example.com")["Location"] == ITEMS


def test_the_receipt_way_is_rate_limited_with_the_lookups(receipts: None) -> None:
    client = Client(REMOTE_ADDR="192.0.2.9")
    for n in range(10):
        assert (
            client.post("/r/acme/", {"order_number": f"G-{n}", "email": "a@b.c"}).status_code == 404
        )
    blocked = start(client)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert "Too many attempts" in text(blocked)
    for n in range(5):
        assert start(Client(REMOTE_ADDR=f"10.1.0.{n}"), number="TILL-9").status_code == 302
    assert start(Client(REMOTE_ADDR="10.1.0.99"), number="TILL-9").status_code == 429
