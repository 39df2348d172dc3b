"""Administration pages: settings, users and roles, API keys, merchants and facilities."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from returndesk.core.actors import Actor
from returndesk.core.models import AuditLogEntry
from returndesk.tenants.models import ApiKey, Facility, Membership, Merchant, User
from returndesk.tenants.services import apikey_create, membership_grant, user_create

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")
PASSWORD = "a-long-passphrase"

# (url, permission-holding role needed); POST-only URLs are tried with POST only
PAGES = [
    "/console/m/acme/admin/settings/",
    "/console/m/acme/admin/users/",
    "/console/m/acme/admin/api-keys/",
    "/console/m/acme/provider/merchants/",
    "/console/m/acme/provider/facilities/",
    "/console/m/acme/audit/",
]
POSTS = [
    ("/console/m/acme/admin/settings/", {"name": "Hacked"}),
    ("/console/m/acme/admin/users/", {"email": "x@example.com", "role": "agent"}),
    ("/console/m/acme/admin/users/role/", {"email": "admin@acme.example", "role": "agent"}),
    ("/console/m/acme/admin/users/remove/", {"email": "admin@acme.example"}),
    ("/console/m/acme/admin/api-keys/", {"name": "sneaky"}),
    ("/console/m/acme/admin/api-keys/KEY/revoke/", {}),
    ("/console/m/acme/provider/merchants/", {"slug": "new", "name": "N", "currency": "USD"}),
    ("/console/m/acme/provider/merchants/acme/active/", {"active": "0"}),
    ("/console/m/acme/provider/facilities/", {"code": "X1"}),
]


def staff(email: str, role: str, merchant: Merchant | None) -> User:
    user = user_create(actor=ACTOR, email=email, password=PASSWORD)
    membership_grant(actor=ACTOR, user=user, role=role, merchant=merchant)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(merchant: Merchant) -> Client:
    return signed_in(staff("admin@acme.example", "merchant_admin", merchant))


@pytest.fixture
def ops(merchant: Merchant) -> Client:
    return signed_in(staff("ops@provider.example", "provider_admin", None))


@pytest.fixture
def acme_key(merchant: Merchant) -> ApiKey:
    key, _ = apikey_create(actor=ACTOR, name="shop sync", merchant=merchant)
    return key


def png(size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, "#336699")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera make: must not survive
    image.save(out, "PNG", exif=exif)
    return out.getvalue()


def snapshot(merchant: Merchant) -> tuple[object, ...]:
    merchant.refresh_from_db()
    return (merchant.name, merchant.support_email, merchant.brand_color, merchant.logo.name)


# --- who may reach what ----------------------------------------------------------------------


def test_another_merchants_admin_gets_404_on_every_admin_url(
    merchant: Merchant, other_merchant: Merchant, acme_key: ApiKey
) -> None:
    client = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    for url in PAGES:
        assert client.get(url).status_code == 404, url
    for url, data in POSTS:
        url = url.replace("KEY", acme_key.public_id)
        assert client.post(url, data).status_code == 404, url
        assert client.get(url).status_code == 404, url  # not 405: the seat is checked first
    assert snapshot(merchant)[0] == "Acme"
    acme_key.refresh_from_db()
    assert acme_key.revoked_at is None


def test_an_agent_is_told_no_on_get_and_refused_on_post(
    merchant: Merchant, acme_key: ApiKey
) -> None:
    staff("admin@acme.example", "merchant_admin", merchant)
    client = signed_in(staff("agent@acme.example", "agent", merchant))
    for url in PAGES:
        page = client.get(url)
        assert page.status_code == 403, url
        assert b"Not allowed" in page.content and b"does not include this page" in page.content
    for url, data in POSTS:
        url = url.replace("KEY", acme_key.public_id)
        assert client.post(url, data).status_code == 403, url
    assert snapshot(merchant)[0] == "Acme"
    assert Membership.objects.filter(user__email="admin@acme.example", role="merchant_admin")
    assert ApiKey.objects.count() == 1 and Facility.objects.count() == 0


def test_a_merchant_admin_may_not_reach_provider_pages(admin: Client) -> None:
    assert admin.get("/console/m/acme/provider/merchants/").status_code == 403
    assert admin.get("/console/m/acme/provider/facilities/").status_code == 403
    created = admin.post(
        "/console/m/acme/provider/merchants/",
        {"slug": "new", "name": "New", "currency": "USD", "timezone": "UTC"},
    )
    assert created.status_code == 403
    assert not Merchant.objects.filter(slug="new").exists()


def test_navigation_shows_each_entry_only_with_its_permission(
    merchant: Merchant, admin: Client, ops: Client
) -> None:
    agent = signed_in(staff("agent@acme.example", "agent", merchant))
    nav = agent.get("/console/m/acme/").content.decode()
    for label in ("Settings", "Users", "API keys", "Merchants", "Facilities", "Audit log"):
        assert f">{label}</a>" not in nav
    nav = admin.get("/console/m/acme/").content.decode()
    for label in ("Settings", "Users", "API keys", "Audit log"):
        assert f">{label}</a>" in nav
    assert ">Merchants</a>" not in nav and ">Facilities</a>" not in nav
    nav = ops.get("/console/m/acme/").content.decode()
    for label in ("Settings", "Users", "API keys", "Merchants", "Facilities", "Audit log"):
        assert f">{label}</a>" in nav


# --- merchant settings -----------------------------------------------------------------------


def test_an_admin_changes_settings_and_uploads_a_logo_without_its_metadata(
    merchant: Merchant, admin: Client
) -> None:
    response = admin.post(
        "/console/m/acme/admin/settings/",
        {
            "name": "Acme Outdoor",
            "support_email": "Help@Acme.example",
            "support_phone": "+1 555 0100",
            "locale": "en_US",
            "timezone": "America/Chicago",
            "brand_color": "#0e7c66",
            "logo": io.BytesIO(png()),
        },
        follow=True,
    )
    assert b"Settings saved." in response.content
    merchant.refresh_from_db()
    assert (merchant.name, merchant.support_email, merchant.timezone) == (
        "Acme Outdoor",
        "help@acme.example",
        "America/Chicago",
    )
    assert merchant.brand_color == "#0E7C66"
    with merchant.logo.open("rb") as stored, Image.open(stored) as image:
        assert image.size == (40, 20) and not image.getexif()
    entry = AuditLogEntry.objects.get(action="merchant.updated")
    assert entry.actor_label == "admin@acme.example" and entry.merchant_id == merchant.pk
    assert entry.changes["name"] == {"from": "Acme", "to": "Acme Outdoor"}
    assert "logo" in entry.changes
    portal = Client().get("/r/acme/")
    if portal.status_code == 200:
        assert merchant.logo.url.encode() in portal.content


def test_bad_settings_are_shown_in_place_and_nothing_is_saved(
    merchant: Merchant, admin: Client
) -> None:
    before = snapshot(merchant)
    response = admin.post(
        "/console/m/acme/admin/settings/",
        {
            "name": "Renamed",
            "support_email": "not-an-email",
            "locale": "en",
            "timezone": "Mars/Olympus",
            "brand_color": "blue",
            "logo": io.BytesIO(b"%PDF-1.4 not an image"),
        },
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert 'id="f-timezone-error"' in text and "not an IANA time zone" in text
    assert 'id="f-brand_color-error"' in text and "#1F6FEB" in text
    assert 'id="f-support_email-error"' in text
    assert 'id="f-logo-error"' in text and "not a readable image" in text
    assert 'value="Renamed"' in text  # what was typed stays in the form
    assert snapshot(merchant) == before
    assert not AuditLogEntry.objects.filter(action="merchant.updated").exists()


# --- users and roles -------------------------------------------------------------------------


def test_an_admin_adds_a_new_user_with_an_initial_password(admin: Client) -> None:
    response = admin.post(
        "/console/m/acme/admin/users/",
        {
            "email": "New.Agent@Acme.example",
            "full_name": "New Agent",
            "role": "agent",
            "password": "correct horse battery",
        },
        follow=True,
    )
    assert b"created" in response.content and b"new.agent@acme.example" in response.content
    client = Client()
    assert client.login(username="new.agent@acme.example", password="correct horse battery")
    assert client.get("/console/m/acme/returns/").status_code == 200
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"user.created", "membership.granted"} <= actions


def test_a_weak_password_is_refused_in_place(admin: Client) -> None:
    response = admin.post(
        "/console/m/acme/admin/users/",
        {"email": "weak@acme.example", "role": "agent", "password": "password"},
    )
    assert response.status_code == 422
    text = response.content.decode()
    assert 'id="f-password-error"' in text and "too common" in text
    assert 'value="weak@acme.example"' in text and 'value="password"' not in text
    assert not User.objects.filter(email="weak@acme.example").exists()


def test_attaching_an_existing_account_keeps_its_password(
    merchant: Merchant, other_merchant: Merchant, admin: Client
) -> None:
    shared = staff("shared@example.com", "agent", other_merchant)
    refused = admin.post(
        "/console/m/acme/admin/users/",
        {"email": "shared@example.com", "role": "finance", "password": "another long phrase"},
    )
    assert refused.status_code == 422 and b"keeps its password" in refused.content
    admin.post("/console/m/acme/admin/users/", {"email": "shared@example.com", "role": "finance"})
    shared.refresh_from_db()
    assert shared.check_password(PASSWORD)
    assert set(Membership.objects.filter(user=shared).values_list("merchant__slug", "role")) == {
        ("globex", "agent"),
        ("acme", "finance"),
    }


def test_a_merchant_admin_cannot_grant_a_provider_role(merchant: Merchant, admin: Client) -> None:
    response = admin.post(
        "/console/m/acme/admin/users/",
        {"email": "boss@acme.example", "role": "provider_admin", "password": "a long enough one"},
    )
    assert response.status_code == 422 and b"merchant roles" in response.content
    assert not User.objects.filter(email="boss@acme.example").exists()
    staff("agent@acme.example", "agent", merchant)
    admin.post(
        "/console/m/acme/admin/users/role/",
        {"email": "agent@acme.example", "role": "provider_admin"},
    )
    assert not Membership.objects.filter(role="provider_admin").exists()


def test_an_admin_changes_a_role_and_removes_access(merchant: Merchant, admin: Client) -> None:
    staff("agent@acme.example", "agent", merchant)
    admin.post(
        "/console/m/acme/admin/users/role/", {"email": "agent@acme.example", "role": "finance"}
    )
    assert list(
        Membership.objects.filter(user__email="agent@acme.example").values_list("role", flat=True)
    ) == ["finance"]
    page = admin.get("/console/m/acme/admin/users/").content.decode()
    assert "agent@acme.example" in page and "Finance" in page
    admin.post("/console/m/acme/admin/users/remove/", {"email": "agent@acme.example"})
    assert not Membership.objects.filter(user__email="agent@acme.example").exists()
    assert User.objects.filter(email="agent@acme.example").exists()  # the account stays
    actions = list(
        AuditLogEntry.objects.filter(object_ref="agent@acme.example")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["membership.changed", "membership.revoked"]


def test_an_admin_cannot_remove_their_own_last_admin_access(admin: Client) -> None:
    removed = admin.post(
        "/console/m/acme/admin/users/remove/", {"email": "admin@acme.example"}, follow=True
    )
    assert b"remove your own admin access" in removed.content
    demoted = admin.post(
        "/console/m/acme/admin/users/role/",
        {"email": "admin@acme.example", "role": "agent"},
        follow=True,
    )
    assert b"remove your own admin access" in demoted.content
    assert Membership.objects.filter(user__email="admin@acme.example", role="merchant_admin")


def test_another_merchants_user_is_out_of_reach(other_merchant: Merchant, admin: Client) -> None:
    staff("agent@globex.example", "agent", other_merchant)
    assert (
        admin.post(
            "/console/m/acme/admin/users/role/",
            {"email": "agent@globex.example", "role": "finance"},
        ).status_code
        == 404
    )
    assert (
        admin.post(
            "/console/m/acme/admin/users/remove/", {"email": "agent@globex.example"}
        ).status_code
        == 404
    )
    assert b"agent@globex.example" not in admin.get("/console/m/acme/admin/users/").content
    assert Membership.objects.get(user__email="agent@globex.example").role == "agent"


# --- API keys --------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_uncached_and_works(admin: Client) -> None:
    response = admin.post("/console/m/acme/admin/api-keys/", {"name": "Shop sync"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    start = text.index('value="rd_m_') + len('value="')
    raw = text[start : text.index('"', start)]
    key = ApiKey.objects.get(name="Shop sync")
    assert raw.startswith(key.prefix) and raw not in key.key_hash
    listing = admin.get("/console/m/acme/admin/api-keys/").content.decode()
    assert key.prefix in listing and raw not in listing and "never" in listing
    api = Client().get("/api/v1/policy", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    assert ">never<" not in admin.get("/console/m/acme/admin/api-keys/").content.decode()


def test_a_key_needs_a_name(admin: Client) -> None:
    response = admin.post("/console/m/acme/admin/api-keys/", {"name": "  "})
    assert response.status_code == 422 and b"needs a name" in response.content
    assert not ApiKey.objects.exists()


def test_an_admin_revokes_a_key_and_it_stops_working(admin: Client) -> None:
    response = admin.post("/console/m/acme/admin/api-keys/", {"name": "Old"})
    text = response.content.decode()
    start = text.index('value="rd_m_') + len('value="')
    raw = text[start : text.index('"', start)]
    key = ApiKey.objects.get(name="Old")
    admin.post(f"/console/m/acme/admin/api-keys/{key.public_id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    api = Client().get("/api/v1/policy", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 401
    assert b"revoked" in admin.get("/console/m/acme/admin/api-keys/").content


def test_another_merchants_key_cannot_be_revoked_here(
    other_merchant: Merchant, admin: Client
) -> None:
    key, _ = apikey_create(actor=ACTOR, name="globex", merchant=other_merchant)
    response = admin.post(f"/console/m/acme/admin/api-keys/{key.public_id}/revoke/")
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert b"globex" not in admin.get("/console/m/acme/admin/api-keys/").content


# --- provider: merchants and facilities ------------------------------------------------------


def test_a_provider_admin_creates_and_deactivates_a_merchant(
    merchant: Merchant, other_merchant: Merchant, ops: Client
) -> None:
    response = ops.post(
        "/console/m/acme/provider/merchants/",
        {"slug": "initech", "name": "Initech", "currency": "eur", "timezone": "Europe/Berlin"},
        follow=True,
    )
    assert b"Merchant Initech created." in response.content
    assert Merchant.objects.get(slug="initech").currency == "EUR"
    globex_admin = signed_in(staff("admin@globex.example", "merchant_admin", other_merchant))
    assert globex_admin.get("/console/m/globex/").status_code == 200
    ops.post("/console/m/acme/provider/merchants/globex/active/", {"active": "0"})
    assert not Merchant.objects.get(slug="globex").is_active
    assert globex_admin.get("/console/m/globex/").status_code == 404
    assert b"deactivated" in ops.get("/console/m/acme/provider/merchants/").content
    ops.post("/console/m/acme/provider/merchants/globex/active/", {"active": "1"})
    assert globex_admin.get("/console/m/globex/").status_code == 200
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"merchant.created", "merchant.deactivated", "merchant.reactivated"} <= actions


def test_a_bad_merchant_is_refused_in_place(merchant: Merchant, ops: Client) -> None:
    response = ops.post(
        "/console/m/acme/provider/merchants/",
        {"slug": "Bad Slug", "name": "", "currency": "XXQ", "timezone": "UTC"},
    )
    assert response.status_code == 422
    text = response.content.decode()
    for name in ("slug", "name", "currency"):
        assert f'id="f-{name}-error"' in text, name
    taken = ops.post(
        "/console/m/acme/provider/merchants/",
        {"slug": "acme", "name": "Again", "currency": "USD", "timezone": "UTC"},
    )
    assert taken.status_code == 409 and b'id="f-slug-error"' in taken.content
    assert list(Merchant.objects.values_list("slug", flat=True)) == ["acme"]


def test_a_provider_admin_creates_a_facility_serving_merchants(
    merchant: Merchant, other_merchant: Merchant, ops: Client
) -> None:
    data = {
        "code": "NWK1",
        "name": "Newark returns",
        "line1": "1 Dock Rd",
        "city": "Newark",
        "postal_code": "07102",
        "country": "us",
        "timezone": "America/New_York",
        "merchants": ["acme", "globex"],
    }
    response = ops.post("/console/m/acme/provider/facilities/", data, follow=True)
    assert b"Facility NWK1 created." in response.content
    assert b"Acme, Globex" in response.content
    facility = Facility.objects.get(code="NWK1")
    assert {m.slug for m in facility.merchants.all()} == {"acme", "globex"}
    again = ops.post(
        "/console/m/acme/provider/facilities/", {**data, "code": "NWK2", "country": "usa"}
    )
    assert again.status_code == 422 and b'id="f-country-error"' in again.content
    assert Facility.objects.count() == 1


def test_the_merchant_switcher_keeps_the_area_when_the_role_allows_it(
    merchant: Merchant, other_merchant: Merchant, ops: Client
) -> None:
    page = ops.get("/console/m/acme/audit/").content.decode()
    assert 'name="to" value="audit"' in page
    switched = ops.get("/console/", {"m": "globex", "to": "audit"})
    assert switched["Location"] == "/console/m/globex/audit/"
    detail = ops.get("/console/", {"m": "globex", "to": "return"})  # one merchant's object
    assert detail["Location"] == "/console/m/globex/"
    both = staff("both@example.com", "merchant_admin", merchant)
    membership_grant(actor=ACTOR, user=both, role="agent", merchant=other_merchant)
    agent_there = signed_in(both).get("/console/", {"m": "globex", "to": "admin_users"})
    assert agent_there["Location"] == "/console/m/globex/"  # no users.manage at globex
