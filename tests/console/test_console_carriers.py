"""Carrier pages: a merchant admin's shipping settings and facility routes, and the provider's
stored carrier webhooks (list, detail, retry)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from returndesk.core.ids import new_public_id
from returndesk.core.models import AuditLogEntry
from returndesk.core.tenancy import merchant_scope
from returndesk.shipping.models import (
    WEBHOOK_FAILED,
    WEBHOOK_PENDING,
    WEBHOOK_PROCESSED,
    WEBHOOK_REJECTED,
    WEBHOOK_UNMATCHED,
    CarrierSettings,
    CarrierWebhook,
    FacilityRoute,
)
from returndesk.shipping.selectors import facility_for
from returndesk.shipping.services import facility_route_add
from returndesk.tenants.models import Facility, Merchant
from returndesk.tenants.services import facility_create
from tests.conftest import ACTOR, ApiClient
from tests.console.test_console import signed_in, staff
from tests.shipping.tracking_helpers import (
    GENERIC_SECRET,
    TASK_PATH,
    at,
    generic_body,
    return_status,
    run_webhook_tasks,
    travelling_return,
)

pytestmark = pytest.mark.django_db
SHIPPING = "/console/m/acme/admin/shipping/"
WEBHOOKS = "/console/m/acme/provider/carrier-webhooks/"


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("admin@acme.example", "merchant_admin", merchant))


@pytest.fixture
def ops(merchant: Merchant) -> Client:
    return signed_in(staff("ops@provider.example", "provider_admin", None))


def _facility(code: str, *merchants: Merchant, region: str = "NJ") -> Facility:
    return facility_create(
        actor=ACTOR,
        code=code,
        name=f"Facility {code}",
        line1="1 Dock Rd",
        city="Newark",
        region=region,
        postal_code="07102",
        country="US",
        merchant_slugs=[m.slug for m in merchants],
    )


@pytest.fixture
def facility(merchant: Merchant) -> Facility:
    return _facility("NJ1", merchant)


def settings_of(merchant: Merchant) -> CarrierSettings | None:
    with merchant_scope(merchant):
        return CarrierSettings.objects.filter(merchant=merchant).first()


def routes_of(merchant: Merchant) -> list[FacilityRoute]:
    with merchant_scope(merchant):
        return list(FacilityRoute.objects.filter(merchant=merchant))


def hook(state: str, *, carrier: str = "prepaid", body: bytes = b"{}", **fields: Any) -> str:
    return CarrierWebhook.objects.create(
        public_id=new_public_id("cwh"),
        carrier=carrier,
        format="easypost" if carrier == "easypost" else "generic",
        body=body,
        signature_valid=state != WEBHOOK_REJECTED,
        state=state,
        **fields,
    ).public_id


# --- a merchant's carriers ---


def test_it_shows_the_defaults_without_settings(admin: Client, facility: Facility) -> None:
    page = admin.get(SHIPPING)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="prepaid" selected>' in html  # the provider's prepaid label
    assert (
        'id="mode-label" name="mode" value="label" aria-describedby="mode-label-help" checked'
        in html
    )


def test_it_saves_carriers_in_order_with_their_options(admin: Client, merchant: Merchant) -> None:
    response = admin.post(
        SHIPPING,
        {
            "carrier_1": "easypost",
            "carrier_2": "prepaid",
            "mode": "label",
            "easypost_services": "GroundAdvantage, Priority",
            "easypost_carrier_accounts": "ca_123 ca_456",
            "prepaid_price": "4.50",
        },
    )
    assert response.status_code == 302
    saved = settings_of(merchant)
    assert saved is not None
    assert saved.carriers == ["easypost", "prepaid"]
    assert saved.easypost_services == ["GroundAdvantage", "Priority"]
    assert saved.easypost_carrier_accounts == ["ca_123", "ca_456"]
    assert saved.prepaid_cost_amount == 450
    entry = AuditLogEntry.objects.get(action="shipping.carriers_updated")
    assert entry.changes["after"]["prepaid_cost_amount"] == 450
    assert "admin@acme.example" in entry.actor_label and entry.merchant_id == merchant.pk
    page = admin.get(SHIPPING).content.decode()
    assert 'value="4.50"' in page and "GroundAdvantage, Priority" in page


def test_it_saves_box_free_dropoff_without_carriers(admin: Client, merchant: Merchant) -> None:
    response = admin.post(SHIPPING, {"carrier_1": "", "mode": "dropoff", "prepaid_price": ""})
    assert response.status_code == 302
    saved = settings_of(merchant)
    assert saved is not None and saved.mode == "dropoff" and saved.carriers == []


def test_it_shows_every_error_in_place_and_saves_nothing(admin: Client, merchant: Merchant) -> None:
    response = admin.post(
        SHIPPING,
        {
            "carrier_1": "",
            "mode": "label",
            "easypost_services": "Ground<b>",
            "prepaid_price": "1.234",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="f-carriers-error"' in html and "choose at least one carrier" in html
    assert 'id="f-easypost_services-error"' in html and "Ground&lt;b&gt;" in html
    assert 'id="f-prepaid_price-error"' in html and "finer than the currency" in html
    assert "Ground<b>" not in html  # the typed value comes back escaped
    assert settings_of(merchant) is None
    assert not AuditLogEntry.objects.filter(action="shipping.carriers_updated").exists()


def test_a_negative_price_is_flagged_on_the_price(admin: Client, merchant: Merchant) -> None:
    response = admin.post(
        SHIPPING, {"carrier_1": "prepaid", "mode": "label", "prepaid_price": "-1"}
    )
    assert response.status_code == 422
    assert 'id="f-prepaid_price-error"' in response.content.decode()
    assert settings_of(merchant) is None


def test_an_unknown_carrier_is_refused(admin: Client, merchant: Merchant) -> None:
    response = admin.post(SHIPPING, {"carrier_1": "pigeon", "mode": "label"})
    assert response.status_code == 422
    assert "unknown carrier" in response.content.decode()
    assert settings_of(merchant) is None


def test_staff_without_integrations_manage_get_403(merchant: Merchant) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    assert agent.get(SHIPPING).status_code == 403
    assert agent.post(SHIPPING, {"carrier_1": "prepaid", "mode": "label"}).status_code == 403
    assert agent.post(SHIPPING + "routes/", {"facility": "NJ1"}).status_code == 403
    assert settings_of(merchant) is None
    assert "admin/shipping" not in agent.get("/console/m/acme/").content.decode()


def test_the_navigation_offers_shipping_to_admins(admin: Client) -> None:
    home = admin.get("/console/m/acme/").content.decode()
    assert f'href="{SHIPPING}"' in home
    assert WEBHOOKS not in home  # a provider page


# --- facility routes ---


def test_it_adds_a_route_that_routing_then_uses(
    admin: Client, merchant: Merchant, facility: Facility
) -> None:
    other = _facility("IL1", merchant, region="IL")
    response = admin.post(
        SHIPPING + "routes/", {"facility": "IL1", "country": "us", "region": "il", "priority": "5"}
    )
    assert response.status_code == 302
    [route] = routes_of(merchant)
    assert (route.country, route.region, route.priority, route.facility_id) == (
        "US",
        "IL",
        5,
        other.pk,
    )
    with merchant_scope(merchant):
        assert facility_for(merchant=merchant, country="US", region="IL") == other
    assert AuditLogEntry.objects.filter(action="shipping.route_added").count() == 1
    page = admin.get(SHIPPING).content.decode()
    assert "IL1" in page and route.public_id in page


def test_route_errors_show_in_place(admin: Client, merchant: Merchant, facility: Facility) -> None:
    response = admin.post(
        SHIPPING + "routes/",
        {"facility": "NOPE", "country": "USA", "region": "IL", "priority": "soon"},
    )
    assert response.status_code == 422
    assert 'id="f-priority-error"' in response.content.decode()
    response = admin.post(
        SHIPPING + "routes/", {"facility": "NOPE", "country": "USA", "region": "", "priority": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="f-facility-error"' in html and 'id="f-country-error"' in html
    assert 'value="USA"' in html  # what was typed stays
    response = admin.post(SHIPPING + "routes/", {"facility": "NJ1", "region": "IL"})
    assert 'id="f-region-error"' in response.content.decode()
    assert routes_of(merchant) == []


def test_a_facility_serving_another_merchant_only_is_refused(
    admin: Client, merchant: Merchant, other_merchant: Merchant, facility: Facility
) -> None:
    _facility("GLX1", other_merchant)
    response = admin.post(SHIPPING + "routes/", {"facility": "GLX1", "country": "US"})
    assert response.status_code == 422
    assert routes_of(merchant) == []
    assert "GLX1" not in admin.get(SHIPPING).content.decode()  # not offered either


def test_the_same_route_twice_is_refused(
    admin: Client, merchant: Merchant, facility: Facility
) -> None:
    assert admin.post(SHIPPING + "routes/", {"facility": "NJ1", "country": "US"}).status_code == 302
    again = admin.post(SHIPPING + "routes/", {"facility": "NJ1", "country": "us"})
    assert again.status_code == 422 and "already goes to NJ1" in again.content.decode()
    assert len(routes_of(merchant)) == 1


def test_it_removes_a_route_and_records_it(
    admin: Client, merchant: Merchant, facility: Facility
) -> None:
    with merchant_scope(merchant):
        route = facility_route_add(
            actor=ACTOR, merchant=merchant, facility_code="NJ1", country="US"
        )
    response = admin.post(f"{SHIPPING}routes/{route.public_id}/remove/")
    assert response.status_code == 302
    assert routes_of(merchant) == []
    entry = AuditLogEntry.objects.get(action="shipping.route_removed")
    assert entry.merchant_id == merchant.pk and entry.changes["route"] == route.public_id
    assert admin.post(f"{SHIPPING}routes/{route.public_id}/remove/").status_code == 404
    assert admin.get(f"{SHIPPING}routes/{route.public_id}/remove/").status_code == 405


def test_another_merchants_route_is_not_found_under_ones_own_slug(
    merchant: Merchant, other_merchant: Merchant, facility: Facility
) -> None:
    with merchant_scope(merchant):
        route = facility_route_add(
            actor=ACTOR, merchant=merchant, facility_code="NJ1", country="US"
        )
    outsider = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    url = f"/console/m/globex/admin/shipping/routes/{route.public_id}/remove/"
    assert outsider.post(url).status_code == 404
    assert len(routes_of(merchant)) == 1
    assert outsider.get("/console/m/acme/admin/shipping/").status_code == 404


def test_without_a_facility_the_page_says_so(admin: Client) -> None:
    html = admin.get(SHIPPING).content.decode()
    assert "No facility serves you yet" in html


# --- the provider's carrier webhooks ---


def test_merchant_admins_may_not_see_carrier_webhooks(admin: Client) -> None:
    public_id = hook(WEBHOOK_FAILED)
    assert admin.get(WEBHOOKS).status_code == 403
    assert admin.get(f"{WEBHOOKS}{public_id}/").status_code == 403
    assert admin.post(f"{WEBHOOKS}{public_id}/retry/").status_code == 403
    assert CarrierWebhook.objects.get(public_id=public_id).state == WEBHOOK_FAILED


def test_the_list_counts_states_and_filters_newest_first(ops: Client) -> None:
    for state in (WEBHOOK_PROCESSED, WEBHOOK_PROCESSED, WEBHOOK_REJECTED, WEBHOOK_UNMATCHED):
        hook(state)
    newest = hook(WEBHOOK_FAILED, carrier="easypost")
    page = ops.get(WEBHOOKS)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<span class="count">5</span> All' in html
    assert '<span class="count">2</span> Processed' in html
    assert '<span class="count">0</span> Ignored' in html
    assert html.index(newest) < html.index("Processed</span>", html.index("<tbody>"))
    only = ops.get(WEBHOOKS, {"carrier": "easypost"}).content.decode()
    assert newest in only and only.count("/provider/carrier-webhooks/cwh_") == 1
    assert '<span class="count">1</span> All' in only  # the counts follow the carrier
    rejected = ops.get(WEBHOOKS, {"state": "rejected"}).content.decode()
    assert rejected.count("/provider/carrier-webhooks/cwh_") == 1
    assert ops.get(WEBHOOKS, {"state": "bogus", "carrier": "<x>"}).status_code == 200


def test_the_list_uses_the_same_number_of_queries_for_3_and_120(ops: Client) -> None:
    def add(n: int) -> None:
        for i in range(n):
            hook([WEBHOOK_PROCESSED, WEBHOOK_REJECTED, WEBHOOK_FAILED][i % 3], body=b"x" * 2000)

    add(3)
    with CaptureQueriesContext(connection) as few:
        assert ops.get(WEBHOOKS).status_code == 200
    add(117)
    with CaptureQueriesContext(connection) as many:
        first = ops.get(WEBHOOKS)
    assert len(many) == len(few)
    assert first.content.decode().count("/provider/carrier-webhooks/cwh_") == 50
    assert b"Page 1 of 3" in first.content
    assert not any('"body"' in q["sql"] for q in many.captured_queries)  # bodies stay put
    assert ops.get(WEBHOOKS, {"page": "3"}).content.decode().count("carrier-webhooks/cwh_") == 20


def test_the_detail_shows_a_hostile_body_as_text(ops: Client) -> None:
    body = b'<script>alert("x")</script><img src=x onerror=alert(1)>\x1b[2J\xe2\x80\xaeevil\xff'
    public_id = hook(
        WEBHOOK_REJECTED,
        body=body,
        headers={"returndesk-signature": "t=1,v1=<b>bad</b>"},
        detail="No signature matches <i>.",
    )
    page = ops.get(f"{WEBHOOKS}{public_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "t=1,v1=&lt;b&gt;bad&lt;/b&gt;" in html
    assert "No signature matches &lt;i&gt;." in html
    assert "\\u001b[2J" in html and "\\u202eevil" in html  # shown, not obeyed
    assert "\u202e" not in html and "\x1b" not in html
    assert "Retry processing" not in html  # a rejected webhook is never processed


def test_the_detail_caps_a_large_body(ops: Client) -> None:
    public_id = hook(WEBHOOK_FAILED, body=b"A" * 100_000 + b"TAIL")
    html = ops.get(f"{WEBHOOKS}{public_id}/").content.decode()
    assert "TAIL" not in html and "A" * 16384 in html and "A" * 16385 not in html
    assert "of 100004 bytes" in html


def test_an_unknown_webhook_is_404(ops: Client) -> None:
    assert ops.get(f"{WEBHOOKS}cwh_NOPE/").status_code == 404
    assert ops.post(f"{WEBHOOKS}cwh_NOPE/retry/").status_code == 404


def test_a_retried_unmatched_webhook_finds_its_label_and_moves_the_return(
    ops: Client, api: ApiClient, merchant: Merchant, settings: Any
) -> None:
    settings.RETURNDESK_CARRIER_WEBHOOK_SECRETS = f"prepaid={GENERIC_SECRET}"
    body = generic_body("evt-early", "RD000000001US", "in_transit", at(1))
    public_id = hook(WEBHOOK_UNMATCHED, body=body, attempts=4, tracking_number="RD000000001US")
    ran = travelling_return(api, merchant, tracking="RD000000001US", adapter="prepaid")["ran"]
    assert return_status(ran) == "authorized"

    response = ops.post(f"{WEBHOOKS}{public_id}/retry/")

    assert response.status_code == 302 and response["Location"].endswith(f"{public_id}/")
    row = CarrierWebhook.objects.get(public_id=public_id)
    assert (row.state, row.attempts) == (WEBHOOK_PENDING, 0)
    assert DBTaskResult.objects.filter(task_path=TASK_PATH).count() == 1
    entry = AuditLogEntry.objects.get(action="shipping.webhook_retried")
    assert entry.object_ref == public_id
    assert entry.changes["state"] == {"from": WEBHOOK_UNMATCHED, "to": WEBHOOK_PENDING}
    assert entry.actor_user_id is not None
    run_webhook_tasks()
    assert CarrierWebhook.objects.get(public_id=public_id).state == WEBHOOK_PROCESSED
    assert return_status(ran) == "in_transit"


def test_only_failed_or_unmatched_webhooks_are_retried(ops: Client) -> None:
    for state in (WEBHOOK_PROCESSED, WEBHOOK_REJECTED, WEBHOOK_PENDING):
        public_id = hook(state)
        response = ops.post(f"{WEBHOOKS}{public_id}/retry/", follow=True)
        assert "cannot be retried" in response.content.decode()
        assert CarrierWebhook.objects.get(public_id=public_id).state == state
    assert not DBTaskResult.objects.filter(task_path=TASK_PATH).exists()
    assert not AuditLogEntry.objects.filter(action="shipping.webhook_retried").exists()


def test_the_navigation_offers_carrier_webhooks_to_the_provider(ops: Client) -> None:
    home = ops.get("/console/m/acme/").content.decode()
    assert f'href="{WEBHOOKS}"' in home and f'href="{SHIPPING}"' in home
