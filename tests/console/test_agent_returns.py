"""An agent creates a return for a customer in the console."""

from __future__ import annotations

from typing import Any

import pytest

from returndesk.returns.models import Return, ReturnEvent
from returndesk.tenants.models import Merchant
from tests.console.test_console import signed_in, staff
from tests.returns.test_returns_api import order  # noqa: F401 - the order fixture

pytestmark = pytest.mark.django_db
URL = "/console/m/acme/new-return/"
LOOKUP = {"order_number": "1001", "email": "", "postal_code": ""}


def form(**overrides: Any) -> dict[str, Any]:
    # lines in order: 0 = SHOE-1 (2 bought), 1 = SOCK-1, 2 = GIFT-1 (final sale)
    body: dict[str, Any] = {
        **LOOKUP,
        "quantity-0": "1",
        "reason-0": "wrong_size",
        "quantity-1": "0",
        "reason-1": "",
        "quantity-2": "0",
        "reason-2": "",
        "resolution": "refund",
        "channel": "phone",
        "note": "customer called about the size",
        "action": "check",
    }
    body.update(overrides)
    return body


def returns() -> list[Return]:
    return list(Return.objects.with_scopes_disabled().order_by("id"))


def test_an_agent_finds_the_order_by_number_alone_or_with_the_email(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    page = client.get(URL)
    assert page.status_code == 200 and b"Find order" in page.content
    found = client.get(URL, {"order_number": "1001"})
    assert b"SHOE-1" in found.content and b"Check with the policy" in found.content
    assert b"Create return" not in found.content  # the policy is seen first
    with_email = client.get(URL, {"order_number": "1001", "email": "Shopper@Example.com"})
    assert b"SHOE-1" in with_email.content
    wrong = client.get(URL, {"order_number": "1001", "email": "someone@else.example"})
    assert wrong.status_code == 404 and b"No order matches" in wrong.content
    unknown = client.get(URL, {"order_number": "9999"})
    assert unknown.status_code == 404 and b"No order 9999" in unknown.content


def test_an_agent_sees_the_policy_then_creates_a_phone_return(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    check = client.post(URL, form())
    text = check.content.decode()
    assert check.status_code == 200
    assert "The policy authorizes this return." in text and "Create return" in text
    assert returns() == []  # checking writes nothing
    created = client.post(URL, form(action="create"))
    [ret] = returns()
    assert created.status_code == 302
    assert created["Location"].endswith(
        f"/returns/{ret.ran[:4]}-{ret.ran[4:8]}-{ret.ran[8:12]}-{ret.ran[12]}/"
    )
    assert (ret.channel, ret.status, ret.note) == (
        "phone",
        "authorized",
        "customer called about the size",
    )
    assert ret.created_by_label == "agent@acme.example"
    detail = client.get(created["Location"])
    assert b"via phone" in detail.content


def test_the_policys_refusal_is_shown_with_its_reason(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    page = client.post(
        URL, form(**{"quantity-0": "0", "quantity-2": "1", "reason-2": "changed_mind"})
    )
    text = page.content.decode()
    assert "The policy refuses this return." in text
    assert "Final sale items can&#x27;t be returned" in text
    assert "Override the policy" in text


def test_an_override_is_recorded_and_shown_on_the_detail_page(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    body = form(
        **{"quantity-0": "0", "quantity-2": "1", "reason-2": "changed_mind"},
        action="create",
        override="on",
        override_reason="goodwill for a loyal customer",
    )
    response = client.post(URL, body)
    assert response.status_code == 302
    [ret] = returns()
    assert ret.status == "authorized"
    detail = client.get(response["Location"]).content.decode()
    assert "Policy overridden" in detail
    assert "agent@acme.example" in detail and "goodwill for a loyal customer" in detail
    assert "The policy said: <strong>rejected</strong>" in detail
    assert "return.policy_overridden" in detail


def test_an_override_without_a_reason_is_refused_in_place(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    body = form(**{"quantity-2": "1", "reason-2": "changed_mind"}, action="create", override="on")
    response = client.post(URL, body)
    assert response.status_code == 422
    assert b'id="override_reason-error"' in response.content
    assert returns() == []


def test_without_the_override_permission_there_is_no_override(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    # a merchant viewer may not create at all; an agent role always has override, so strip it
    viewer = signed_in(staff("viewer@acme.example", "merchant_viewer", merchant))
    assert viewer.get(URL).status_code == 403
    assert viewer.post(URL, form(action="create")).status_code == 403
    assert returns() == []


def test_bad_input_is_shown_next_to_each_field_and_nothing_is_written(
    merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    bad = client.post(
        URL,
        form(
            **{"quantity-0": "two", "quantity-1": "1", "reason-1": ""},
            channel="fax",
            action="create",
        ),
    )
    text = bad.content.decode()
    assert bad.status_code == 422
    assert 'id="quantity-0-error"' in text and "whole number" in text
    assert 'id="reason-1-error"' in text and "Choose the customer" in text
    assert 'id="channel-error"' in text
    none = client.post(URL, form(**{"quantity-0": "0"}, action="create"))
    assert none.status_code == 422 and b"Choose at least one line" in none.content
    photo = client.post(URL, form(**{"reason-0": "defective"}, action="create"))
    assert photo.status_code == 422
    assert b'id="reason-0-error">a photo is required' in photo.content
    assert returns() == []
    assert ReturnEvent.objects.with_scopes_disabled().count() == 0


def test_another_merchants_agent_gets_404(
    merchant: Merchant,
    other_merchant: Merchant,
    order: dict,  # noqa: F811
) -> None:
    client = signed_in(staff("agent@globex.example", "agent", other_merchant))
    assert client.get(URL, {"order_number": "1001"}).status_code == 404
    assert client.post(URL, form(action="create")).status_code == 404
    assert returns() == []
